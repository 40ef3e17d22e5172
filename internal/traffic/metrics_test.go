package traffic

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
)

const envoyText = `# TYPE envoy_cluster_upstream_rq_retry counter
envoy_cluster_upstream_rq_retry{cluster_name="outbound|9080|v-faulty-50percent-503|ratings.bookinfo.svc.cluster.local"} 17
envoy_cluster_upstream_rq_retry{cluster_name="outbound|9080|v3|ratings.bookinfo.svc.cluster.local"} 0
envoy_cluster_upstream_rq_retry_success{cluster_name="outbound|9080|v-faulty-50percent-503|ratings.bookinfo.svc.cluster.local"} 9
envoy_cluster_outlier_detection_ejections_active{cluster_name="outbound|9080|v-50percent-internal-server-error-500|ratings.bookinfo.svc.cluster.local"} 1
envoy_server_days_until_first_cert_expiring{} 0
weird{a="x}y",b="q\"uote"} 3 1700000000000
`

func TestParseText(t *testing.T) {
	got := ParseText(envoyText, "envoy_cluster_upstream_rq_retry")
	if len(got) != 2 || got[0].Value != 17 || !strings.Contains(got[0].Labels, "v-faulty") {
		t.Fatalf("retry series %+v", got)
	}
	if got := ParseText(envoyText, "envoy_server_days_until_first_cert_expiring"); len(got) != 1 || got[0].Value != 0 || got[0].Labels != "" {
		t.Fatalf("cert series %+v", got)
	}
	if got := ParseText(envoyText, "weird"); len(got) != 1 || got[0].Value != 3 || got[0].Labels != `{a="x}y",b="q\"uote"}` {
		t.Fatalf("quoted labels %+v", got)
	}
	if got := ParseText(envoyText, "envoy_cluster_upstream"); len(got) != 0 {
		t.Fatalf("prefix matched longer names: %+v", got)
	}
}

func TestParsePromResponse(t *testing.T) {
	vec := `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"reporter":"waypoint","destination_service_name":"reviews"},"value":[1700000000.1,"42"]}]}}`
	s, err := parsePromResponse([]byte(vec))
	if err != nil || len(s) != 1 || s[0].Value != 42 || s[0].Labels != `{destination_service_name="reviews",reporter="waypoint"}` {
		t.Fatalf("vector: %+v %v", s, err)
	}
	s, err = parsePromResponse([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1700000000,"NaN"]}}`))
	if err != nil || len(s) != 1 || !math.IsNaN(s[0].Value) {
		t.Fatalf("scalar: %+v %v", s, err)
	}
	s, err = parsePromResponse([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"5"]]}]}}`))
	if err != nil || len(s) != 1 || s[0].Value != 5 {
		t.Fatalf("matrix: %+v %v", s, err)
	}
	if _, err := parsePromResponse([]byte(`<html>`)); err == nil {
		t.Fatal("want an error for HTML")
	}
	for op, want := range map[string]bool{"equals": false, "not-equals": true, "gt": true, "gte": true, "lt": false, "lte": false, "bogus": false} {
		if Compare(op, 2, 1) != want {
			t.Errorf("Compare(%s, 2, 1) != %v", op, want)
		}
	}
}

// TestQueryAndStatsThroughAPIServerProxy: the API server refuses to
// proxy to loopback, so the fake Prometheus and Envoy listen in the pod
// network namespace, whose address stands in for a pod IP.
func TestQueryAndStatsThroughAPIServerProxy(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	pn := testcluster.SharedPodNet(t)
	ip := pn.IP
	prom := pn.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("query")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path != "/api/v1/query":
			http.NotFound(w, r)
		case strings.Contains(q, "("):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}`)
		default:
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"q":%q},"value":[1,"3"]}]}}`, q)
		}
	}))
	envoy := pn.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stats/prometheus" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, envoyText)
	}))
	c.ApplyT(t, fakelab.Metrics(ns, ip, prom))
	kube, _ := clients(t, c.Config)
	target := PromTarget{Namespace: ns, Service: "prometheus-server", Port: 9090}

	// The API server's service proxy reads EndpointSlices from a cache;
	// give it a moment to see the new one.
	var (
		s   []Series
		err error
	)
	for i := 0; i < 100; i++ {
		s, err = Query(t.Context(), kube, target, `istio_requests_total{reporter="waypoint"}`)
		if err == nil || !strings.Contains(err.Error(), "no endpoints available") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || len(s) != 1 || s[0].Value != 3 || !strings.Contains(s[0].Labels, `reporter=\"waypoint\"`) {
		t.Fatalf("query: %+v %v", s, err)
	}
	if _, err := Query(t.Context(), kube, target, `sum(x`); err == nil || !strings.Contains(err.Error(), "unclosed left parenthesis") {
		t.Fatalf("want Prometheus's own complaint, got %v", err)
	}
	if _, err := Query(t.Context(), kube, PromTarget{Namespace: ns, Service: "nope", Port: 9090}, "up"); err == nil || !strings.Contains(err.Error(), "no Service "+ns+"/nope") {
		t.Fatalf("want a missing-service error, got %v", err)
	}
	ro, _ := clients(t, c.Impersonate("reader@example.com"))
	if _, err := Query(t.Context(), ro, target, "up"); err == nil || !strings.Contains(err.Error(), "services/proxy") {
		t.Fatalf("want a forbidden explanation, got %v", err)
	}

	got, problems, err := EnvoyStats(t.Context(), kube, StatQuery{Namespace: ns, Selector: "app=productpage", Metric: "envoy_cluster_upstream_rq_retry", Match: "v-faulty", Port: envoy})
	if err != nil || len(problems) != 0 || len(got) != 1 || got[0].Value != 17 || got[0].Pod != fakelab.ProductPagePod {
		t.Fatalf("envoy stats: %+v %v %v", got, problems, err)
	}
	if _, _, err := EnvoyStats(t.Context(), kube, StatQuery{Namespace: ns, Selector: "app=reviews", Metric: "x"}); err == nil || !strings.Contains(err.Error(), "no running pod") {
		t.Fatalf("want no-pod error, got %v", err)
	}
	// Nothing listens on the port: every pod fails, and the error says why.
	if _, _, err := EnvoyStats(context.Background(), kube, StatQuery{Namespace: ns, Selector: "app=productpage", Metric: "x", Port: 9}); err == nil || !strings.Contains(err.Error(), fakelab.ProductPagePod) {
		t.Fatalf("want an unreadable-stats error, got %v", err)
	}
}
