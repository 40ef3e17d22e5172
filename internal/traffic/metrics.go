package traffic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Series is one labelled value, from Prometheus or from Envoy.
type Series struct {
	Labels string // rendered {a="b",...}, "" when there are none
	Value  float64
	Pod    string // for Envoy stats: the pod it came from
}

// PromTarget is where Prometheus runs, reached through the API server's
// service proxy (no port-forward needed).
type PromTarget struct {
	Namespace, Service string
	Port               int
	Scheme             string // http (default) or https
}

// ErrPrometheus wraps failures to reach or ask Prometheus.
var ErrPrometheus = errors.New("prometheus unavailable")

// ErrNoPrometheus is ErrPrometheus when its Service does not exist:
// Prometheus is not installed (yet), a state of the cluster rather than
// a failure to look.
var ErrNoPrometheus = fmt.Errorf("%w: not installed", ErrPrometheus)

// Query runs an instant PromQL query and returns its series. Scalars and
// strings come back as one series with no labels.
func Query(ctx context.Context, kube kubernetes.Interface, t PromTarget, query string) ([]Series, error) {
	scheme := t.Scheme
	if scheme == "" {
		scheme = "http"
	}
	raw, err := kube.CoreV1().Services(t.Namespace).ProxyGet(scheme, t.Service, strconv.Itoa(t.Port), "api/v1/query", map[string]string{"query": query}).DoRaw(ctx)
	if err != nil {
		// Prometheus answers a bad query with 400 and a JSON error body,
		// which the proxy passes through.
		if msg := promError(raw); msg != "" {
			return nil, fmt.Errorf("Prometheus rejected the query: %s", msg)
		}
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: there is no Service %s/%s (port %d)", ErrNoPrometheus, t.Namespace, t.Service, t.Port)
		}
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("%w: your credentials may not use the service proxy (services/proxy) in %s: %v", ErrPrometheus, t.Namespace, apiMessage(err))
		}
		return nil, fmt.Errorf("%w: %s/%s:%d: %s", ErrPrometheus, t.Namespace, t.Service, t.Port, proxyMessage(err, raw))
	}
	return parsePromResponse(raw)
}

// proxyMessage prefers the API server's own words (a Status body such
// as "no endpoints available for service") to client-go's generic text.
func proxyMessage(err error, raw []byte) string {
	var st struct {
		Kind, Message string
	}
	if json.Unmarshal(raw, &st) == nil && st.Kind == "Status" && st.Message != "" {
		return st.Message
	}
	return apiMessage(err)
}

func promError(raw []byte) string {
	var r struct {
		Status, Error, ErrorType string
	}
	if json.Unmarshal(raw, &r) == nil && r.Status == "error" {
		return strings.TrimSpace(r.ErrorType + ": " + r.Error)
	}
	return ""
}

func parsePromResponse(raw []byte) ([]Series, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%w: the answer is not Prometheus JSON: %v", ErrPrometheus, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("Prometheus rejected the query: %s", r.Error)
	}
	switch r.Data.ResultType {
	case "vector":
		var vs []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &vs); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPrometheus, err)
		}
		var out []Series
		for _, v := range vs {
			out = append(out, Series{Labels: renderLabels(v.Metric), Value: promValue(v.Value[1])})
		}
		return out, nil
	case "matrix":
		var ms []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		}
		if err := json.Unmarshal(r.Data.Result, &ms); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPrometheus, err)
		}
		var out []Series
		for _, m := range ms {
			if n := len(m.Values); n > 0 {
				out = append(out, Series{Labels: renderLabels(m.Metric), Value: promValue(m.Values[n-1][1])})
			}
		}
		return out, nil
	case "scalar", "string":
		var v [2]any
		if err := json.Unmarshal(r.Data.Result, &v); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPrometheus, err)
		}
		return []Series{{Value: promValue(v[1])}}, nil
	}
	return nil, fmt.Errorf("%w: unknown result type %q", ErrPrometheus, r.Data.ResultType)
}

func promValue(v any) float64 {
	s, _ := v.(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

func renderLabels(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.Quote(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// StatQuery picks one metric out of the Envoy stats of some pods.
type StatQuery struct {
	Namespace string
	Selector  string // label selector of the pods
	Metric    string // e.g. envoy_cluster_upstream_rq_retry
	// Match, when not empty, must be a substring of a series' labels (for
	// example part of a cluster name, such as v-faulty).
	Match string
	Port  int // default 15090, Envoy's Prometheus port in Istio proxies
}

// EnvoyStats reads a metric from the Envoy stats (Prometheus text at
// /stats/prometheus) of every running pod the query selects, through the
// API server's pod proxy. Port 15090 is outside the sidecar's inbound
// capture, so this works under STRICT mTLS. Pods that could not be read
// are listed in problems.
func EnvoyStats(ctx context.Context, kube kubernetes.Interface, q StatQuery) (series []Series, problems []string, err error) {
	ns, selector, metric, match := q.Namespace, q.Selector, q.Metric, q.Match
	port := q.Port
	if port == 0 {
		port = 15090
	}
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, nil, fmt.Errorf("your credentials may not list pods in %s: %v", ns, apiMessage(err))
		}
		return nil, nil, fmt.Errorf("listing pods %s in %s: %v", selector, ns, apiMessage(err))
	}
	var (
		out   []Series
		asked int
	)
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		asked++
		raw, err := kube.CoreV1().Pods(ns).ProxyGet("http", p.Name, strconv.Itoa(port), "stats/prometheus", nil).DoRaw(ctx)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s", p.Name, proxyMessage(err, raw)))
			continue
		}
		for _, s := range ParseText(string(raw), metric) {
			if match == "" || strings.Contains(s.Labels, match) {
				s.Pod = p.Name
				out = append(out, s)
			}
		}
	}
	if asked == 0 {
		return nil, nil, fmt.Errorf("no running pod in %s matches %q", ns, selector)
	}
	if len(problems) == asked {
		return nil, problems, fmt.Errorf("could not read Envoy stats from any pod: %s", strings.Join(problems, "; "))
	}
	return out, problems, nil
}

// ParseText picks the samples of one metric out of the Prometheus text
// exposition format. Histograms' _bucket, _sum and _count series are
// separate metric names, as in the format itself.
func ParseText(text, metric string) []Series {
	var out []Series
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, metric) {
			continue
		}
		rest := line[len(metric):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ' && rest[0] != '\t') {
			continue // a longer name with the same prefix
		}
		labels := ""
		if rest[0] == '{' {
			end := labelsEnd(rest)
			if end < 0 {
				continue
			}
			labels, rest = rest[:end+1], rest[end+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		if labels == "{}" {
			labels = ""
		}
		out = append(out, Series{Labels: labels, Value: v})
	}
	return out
}

// labelsEnd finds the closing brace of a label set, skipping quoted
// values (cluster names hold | and . and may hold braces).
func labelsEnd(s string) int {
	inQuote, esc := false, false
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			inQuote = !inQuote
		case c == '}' && !inQuote:
			return i
		}
	}
	return -1
}

// Compare applies a comparison operator: equals, not-equals, gt, gte, lt
// or lte.
func Compare(op string, got, want float64) bool {
	switch op {
	case "equals", "eq":
		return got == want
	case "not-equals", "ne":
		return got != want
	case "gt":
		return got > want
	case "gte":
		return got >= want
	case "lt":
		return got < want
	case "lte":
		return got <= want
	}
	return false
}
