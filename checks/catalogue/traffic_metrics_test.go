package catalogue

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
)

// fakeProm answers instant queries from a table: query -> JSON result
// list; a query not in the table gets an empty vector.
func fakeProm(answers map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("query")
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(q, "bad(") {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
			return
		}
		res, ok := answers[q]
		if !ok {
			res = "[]"
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":%s}}`, res)
	})
}

const caller = `# TYPE envoy_cluster_upstream_rq_retry counter
envoy_cluster_upstream_rq_retry{cluster_name="outbound|9080|v-faulty-50percent-503|ratings.bookinfo.svc.cluster.local"} 12
envoy_cluster_upstream_rq_retry{cluster_name="outbound|9080||details.bookinfo.svc.cluster.local"} 0
envoy_cluster_outlier_detection_ejections_active{cluster_name="outbound|9080|v-50percent-internal-server-error-500|ratings.bookinfo.svc.cluster.local"} 1
envoy_cluster_upstream_rq_pending_overflow{cluster_name="outbound|9080|v-delayed-50percent-delayof7s|ratings.bookinfo.svc.cluster.local"} 0
envoy_server_days_until_first_cert_expiring{} 0
`

func TestMetricChecksOnCluster(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	pn := testcluster.SharedPodNet(t)
	ip := pn.IP
	waypoint := `[{"metric":{"reporter":"waypoint","destination_service_name":"reviews"},"value":[1,"42"]}]`
	prom := pn.Serve(t, fakeProm(map[string]string{
		`sum(istio_requests_total{reporter="waypoint",destination_service_name="reviews"})`: `[{"metric":{},"value":[1,"42"]}]`,
		`istio_requests_total{reporter="waypoint"}`:                                         waypoint,
		`absent(istio_requests_total)`:                                                      `[{"metric":{},"value":[1,"1"]}]`,
	}))
	envoy := pn.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, caller) }))
	c.ApplyT(t, fakelab.Metrics(ns, ip, prom))
	env := newEmitEnv(trafficClients(t, c.Config))
	pq := func(raw map[string]string) checks.Result {
		raw["namespace"] = ns
		return runTraffic(t, env, "prometheus-query", raw)
	}
	// The API server reads EndpointSlices from a cache: wait for it.
	for i := 0; i < 100; i++ {
		if r := pq(map[string]string{"query": "up", "op": "absent"}); r.Verdict == checks.Pass {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cases := []struct {
		check string
		raw   map[string]string
		want  checks.Verdict
		code  string
	}{
		// ch. 11: traffic reported by the waypoint.
		{"prometheus-query", map[string]string{"query": `sum(istio_requests_total{reporter="waypoint",destination_service_name="reviews"})`}, checks.Pass, CodeMetricOK},
		{"prometheus-query", map[string]string{"query": `istio_requests_total{reporter="waypoint"}`, "op": "gte", "value": "50"}, checks.Fail, CodeMetricFailed},
		{"prometheus-query", map[string]string{"query": `istio_requests_total{reporter="waypoint"}`, "op": "exists"}, checks.Pass, CodeMetricOK},
		// ch. 1: no mesh, no Istio metrics.
		{"prometheus-query", map[string]string{"query": `absent(istio_requests_total)`, "op": "equals", "value": "1"}, checks.Pass, CodeMetricOK},
		{"prometheus-query", map[string]string{"query": `istio_requests_total{reporter="source"}`}, checks.Fail, CodeMetricNoData},
		{"prometheus-query", map[string]string{"query": `istio_requests_total{reporter="source"}`, "op": "absent"}, checks.Pass, CodeMetricOK},
		{"prometheus-query", map[string]string{"query": `bad(`}, checks.Error, CodePromUnavailable},
		// No Prometheus Service: not installed yet, a state the lesson changes.
		{"prometheus-query", map[string]string{"query": `up`, "service": "nope"}, checks.Fail, CodePromMissing},
		// ch. 10: retries, ejection and overflow seen by the caller's proxy.
		{"envoy-stat", map[string]string{"selector": "app=productpage", "stat": "envoy_cluster_upstream_rq_retry", "match": "v-faulty"}, checks.Pass, CodeMetricOK},
		{"envoy-stat", map[string]string{"selector": "app=productpage", "stat": "envoy_cluster_upstream_rq_retry", "match": "details"}, checks.Fail, CodeMetricFailed},
		{"envoy-stat", map[string]string{"selector": "app=productpage", "stat": "envoy_cluster_outlier_detection_ejections_active", "op": "equals", "value": "1"}, checks.Pass, CodeMetricOK},
		{"envoy-stat", map[string]string{"selector": "app=productpage", "stat": "envoy_cluster_upstream_rq_pending_overflow"}, checks.Fail, CodeMetricFailed},
		{"envoy-stat", map[string]string{"selector": "app=productpage", "stat": "envoy_cluster_upstream_rq_retry", "aggregate": "each"}, checks.Fail, CodeMetricFailed},
		// ch. 6: the workload certificate expires within a day.
		{"envoy-stat", map[string]string{"selector": "app=productpage", "stat": "envoy_server_days_until_first_cert_expiring", "op": "lte", "value": "1"}, checks.Pass, CodeMetricOK},
		{"envoy-stat", map[string]string{"selector": "app=productpage", "stat": "envoy_no_such_stat"}, checks.Fail, CodeMetricNoData},
		{"envoy-stat", map[string]string{"selector": "app=reviews", "stat": "x"}, checks.Error, CodeStatsUnreadable},
	}
	for _, tc := range cases {
		raw := map[string]string{"namespace": ns}
		for k, v := range tc.raw {
			raw[k] = v
		}
		if tc.check == "envoy-stat" {
			raw["port"] = fmt.Sprint(envoy)
		}
		r := runTraffic(t, env, tc.check, raw)
		if r.Verdict != tc.want || r.Code != tc.code {
			t.Errorf("%s %v: want %s %s:\n%s", tc.check, tc.raw, tc.want, tc.code, explain(r))
		}
	}
}
