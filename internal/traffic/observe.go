package traffic

// Asking the lab's log and trace stores, Loki and Tempo, through the API
// server's service proxy, as Prometheus is asked (metrics.go): no
// port-forward, and the same errors for a store that is not installed,
// one that refuses, and credentials that may not use the proxy.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// StoreTarget is a Service answering HTTP: Loki (grafana-loki:3100) or
// Tempo (grafana-tempo:3200) in the lab.
type StoreTarget struct {
	Namespace, Service string
	Port               int
}

func (t StoreTarget) String() string { return fmt.Sprintf("%s/%s:%d", t.Namespace, t.Service, t.Port) }

// ErrStoreMissing: the store's Service does not exist (not installed).
var ErrStoreMissing = errors.New("not installed")

// get asks the Service through the service proxy. found is false for a
// 404 from the store itself (Tempo's "trace not found").
func (t StoreTarget) get(ctx context.Context, kube kubernetes.Interface, path string, query url.Values) (body []byte, found bool, err error) {
	if _, err := kube.CoreV1().Services(t.Namespace).Get(ctx, t.Service, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, fmt.Errorf("%w: there is no Service %s/%s", ErrStoreMissing, t.Namespace, t.Service)
		}
		if apierrors.IsForbidden(err) {
			return nil, false, fmt.Errorf("your credentials may not get Services in %s: %v", t.Namespace, apiMessage(err))
		}
		return nil, false, fmt.Errorf("%s: %v", t, apiMessage(err))
	}
	req := kube.CoreV1().RESTClient().Get().Namespace(t.Namespace).Resource("services").
		Name(t.Service+":"+strconv.Itoa(t.Port)).SubResource("proxy").Suffix(path).SetHeader("Accept", "application/json")
	for k, vs := range query {
		for _, v := range vs {
			req = req.Param(k, v)
		}
	}
	raw, err := req.DoRaw(ctx)
	if err != nil {
		var st apierrors.APIStatus
		if errors.As(err, &st) && st.Status().Code == 404 && !strings.Contains(string(raw), `"kind":"Status"`) {
			return raw, false, nil // the store answered 404 itself
		}
		if apierrors.IsForbidden(err) {
			return nil, false, fmt.Errorf("your credentials may not use the service proxy (services/proxy) in %s: %v", t.Namespace, apiMessage(err))
		}
		return nil, false, fmt.Errorf("%s: %s", t, proxyMessage(err, raw))
	}
	return raw, true, nil
}

// LokiLine is one log line Loki returned, with its stream's labels.
type LokiLine struct {
	Labels map[string]string
	At     time.Time
	Line   string
}

// LokiQuery runs a LogQL log query over the last since and returns at
// most limit lines, newest first.
func LokiQuery(ctx context.Context, kube kubernetes.Interface, t StoreTarget, query string, since time.Duration, limit int) ([]LokiLine, error) {
	raw, found, err := t.get(ctx, kube, "loki/api/v1/query_range", url.Values{
		"query": {query}, "since": {since.String()}, "limit": {strconv.Itoa(limit)}, "direction": {"backward"}})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s answered 404: is it Loki?", t)
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Stream map[string]string `json:"stream"`
				Values [][2]string       `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Status != "success" {
		return nil, fmt.Errorf("Loki rejected the query or did not answer in JSON: %s", strings.TrimSpace(string(raw)))
	}
	var out []LokiLine
	for _, st := range r.Data.Result {
		for _, v := range st.Values {
			ns, _ := strconv.ParseInt(v[0], 10, 64)
			out = append(out, LokiLine{Labels: st.Stream, At: time.Unix(0, ns), Line: v[1]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}

// Trace is what Tempo holds of one trace.
type Trace struct {
	Spans    int
	Services []string // service.name of each resource, sorted
}

// TempoTrace asks Tempo for a trace by ID (GET /api/traces/<id>). found
// is false when Tempo does not hold it (yet).
func TempoTrace(ctx context.Context, kube kubernetes.Interface, t StoreTarget, id string) (tr Trace, found bool, err error) {
	raw, found, err := t.get(ctx, kube, "api/traces/"+id, nil)
	if err != nil || !found {
		return tr, false, err
	}
	type resourceSpans struct {
		Resource struct {
			Attributes []struct {
				Key   string `json:"key"`
				Value struct {
					StringValue string `json:"stringValue"`
				} `json:"value"`
			} `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Spans []json.RawMessage `json:"spans"`
		} `json:"scopeSpans"`
		InstrumentationLibrarySpans []struct {
			Spans []json.RawMessage `json:"spans"`
		} `json:"instrumentationLibrarySpans"`
	}
	var r struct {
		Batches []resourceSpans `json:"batches"`
		Trace   struct {
			ResourceSpans []resourceSpans `json:"resourceSpans"`
		} `json:"trace"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return tr, false, fmt.Errorf("Tempo's answer is not OTLP JSON: %v", err)
	}
	seen := map[string]bool{}
	for _, b := range append(r.Batches, r.Trace.ResourceSpans...) {
		for _, a := range b.Resource.Attributes {
			if a.Key == "service.name" && !seen[a.Value.StringValue] {
				seen[a.Value.StringValue] = true
				tr.Services = append(tr.Services, a.Value.StringValue)
			}
		}
		for _, s := range b.ScopeSpans {
			tr.Spans += len(s.Spans)
		}
		for _, s := range b.InstrumentationLibrarySpans {
			tr.Spans += len(s.Spans)
		}
	}
	sort.Strings(tr.Services)
	return tr, tr.Spans > 0, nil
}
