package fakelab

// Each behaviour is tested on two sets of objects, one where the
// behaviour must show and one where it must not, so the simulator cannot
// drift into agreeing with everything.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// podYAML is a running, ready pod of app/version with or without a
// sidecar, owned by a ReplicaSet of the Deployment app-version.
func podYAML(ns, app, version string, sidecar bool) string {
	proxy := ""
	if sidecar {
		proxy = "\n  - name: istio-proxy\n    image: istio/proxyv2"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[2]s-%[3]s-6d8c9b7f5-abcde
  namespace: %[1]s
  labels: {app: %[2]s, version: %[3]s, pod-template-hash: 6d8c9b7f5}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: %[2]s-%[3]s-6d8c9b7f5, uid: u, controller: true}]
spec:
  serviceAccountName: %[2]s
  containers:
  - name: %[2]s%[4]s
status:
  phase: Running
  startTime: "2026-01-01T00:00:00Z"
  conditions: [{type: Ready, status: "True"}]
---
`, ns, app, version, proxy)
}

func svcYAML(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: bookinfo}
spec: {selector: {app: %[1]s}, ports: [{name: http, port: 9080}]}
---
`, name)
}

// base is the chapter 2 lab: Bookinfo with sidecars behind the ingress
// gateway, productpage-v2, details-v3, reviews-v4, ratings-v3.
func base() string {
	var b strings.Builder
	b.WriteString(`apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {istio.io/rev: stable}}
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-ingress, labels: {istio.io/rev: stable}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-1-29-0, namespace: istio-system}
data:
  mesh: |
    rootNamespace: istio-system
    discoverySelectors:
    - matchLabels: {istio.io/rev: stable}
    defaultProviders:
      metrics: [prometheus]
      accessLogging: [envoy-stdout]
    extensionProviders:
    - name: envoy-stdout
      envoyFileAccessLog:
        path: /dev/stdout
        logFormat:
          labels:
            start_time: '%START_TIME%'
            method: '%REQ(:METHOD)%'
            path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%'
            response_code: '%RESPONSE_CODE%'
            response_flags: '%RESPONSE_FLAGS%'
            upstream_cluster: '%UPSTREAM_CLUSTER%'
            duration: '%DURATION%'
            trace_id: '%TRACE_ID%'
---
` + ingressYAML)
	for _, s := range []string{"productpage", "details", "reviews", "ratings"} {
		b.WriteString(svcYAML(s))
	}
	b.WriteString(podYAML("bookinfo", "productpage", "v2", true))
	b.WriteString(podYAML("bookinfo", "details", "v3", true))
	b.WriteString(podYAML("bookinfo", "reviews", "v4", true))
	return b.String()
}

// ingressYAML is the ingress gateway every lab's Bookinfo sits behind
// (an Envoy in istio-ingress, service account istio-ingressgateway),
// routing all of port 9080 to productpage v2.
const ingressYAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: productpage-ingress, namespace: istio-ingress}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 9080, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: istio-ingressgateway-abc-12345, namespace: istio-ingress, labels: {app: istio-ingressgateway, istio: ingressgateway}}
spec: {serviceAccountName: istio-ingressgateway, containers: [{name: istio-proxy}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: productpage-ingress, namespace: bookinfo}
spec:
  hosts: ["*"]
  gateways: [istio-ingress/productpage-ingress]
  http:
  - route: [{destination: {host: productpage.bookinfo.svc.cluster.local, port: {number: 9080}, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: productpage, namespace: bookinfo}
spec:
  host: productpage.bookinfo.svc.cluster.local
  subsets: [{name: v2, labels: {version: v2}}]
---
`

// lab is the chapter 2 lab (base) with docs added.
func lab(t *testing.T, docs ...string) *Sim {
	t.Helper()
	return simOf(t, 7, append([]string{base()}, docs...)...)
}

// simOf simulates the objects of the YAML documents, in order: a later
// document for an object an earlier one has replaces it, as applying it
// would. seed fixes the simulator's choices, so a test sees the same
// traffic every run.
func simOf(t *testing.T, seed uint64, docs ...string) *Sim {
	t.Helper()
	sim, err := FromYAML(strings.Join(docs, "\n---\n"), Options{Seed: seed, Scale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

// tally is what n requests to path through the ingress got.
type tally struct {
	n        int
	status   map[int]int
	flags    map[string]int
	versions map[string]int // reviews' podname version
	bodies   map[string]int
}

func (t tally) share(status int) float64 { return float64(t.status[status]) / float64(t.n) }

func send(s *Sim, path string, n int, hdr http.Header) tally {
	t := tally{n: n, status: map[int]int{}, flags: map[string]int{}, versions: map[string]int{}, bodies: map[string]int{}}
	for i := 0; i < n; i++ {
		r := s.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: path, Header: hdr})
		t.add(r)
	}
	t.flags = flagsOf(s, "productpage")
	return t
}

// outboundLine says whether an access-log line of base's format is a
// call the proxy made (its upstream cluster is not an inbound one).
func outboundLine(l string) bool {
	return strings.Contains(l, `"upstream_cluster":`) && !strings.Contains(l, `"upstream_cluster":"inbound|`)
}

// flagsOf counts the response flags in the outbound access-log lines of
// app's proxy: what that caller's Envoy saw, while the ingress only sees
// the application's answer.
func flagsOf(s *Sim, app string) map[string]int {
	out := map[string]int{}
	for _, l := range s.AccessLog(podOf(s, app)) {
		if i := strings.Index(l, `"response_flags":"`); i >= 0 && outboundLine(l) {
			f := l[i+len(`"response_flags":"`):]
			out[f[:strings.Index(f, `"`)]]++
		}
	}
	return out
}

func (t *tally) add(r Response) {
	t.status[r.Status]++
	t.flags[r.Flags]++
	t.bodies[r.Body]++
	if i := strings.Index(r.Body, `"podname":"reviews-`); i >= 0 {
		v := r.Body[i+len(`"podname":"reviews-`):]
		t.versions[v[:strings.Index(v, "-")]]++
	}
}

// sorry is the lab's productpage's answer body when a backend failed
// without a JSON body of its own (Envoy's "no healthy upstream",
// "upstream request timeout"): productpage.py puts in its own error.
func sorry(what string) string {
	return `{"error":"Sorry, product ` + what + ` are currently unavailable."}`
}

// TestProductpageAPI: productpage's JSON API passes a backend's failure on
// as the lab's productpage.py does: a 503 or 504 keeps its JSON body and
// loses any other, a 500 gets productpage's error, and a call that got no
// answer at all becomes a 500.
func TestProductpageAPI(t *testing.T) {
	// The 503 version answers JSON: kept.
	got := send(frozen(lab(t, ratingsVS(""), ratingsDR("v-faulty-50percent-503", ""))), "/api/v1/products/0/ratings", 40, nil)
	if got.status[503] == 0 || got.bodies[`{"error":"Service unavailable"}`] != got.status[503] {
		t.Errorf("a JSON 503: %v %v", got.status, got.bodies)
	}
	// An injected abort answers text: replaced, status kept.
	for _, code := range []int{503, 504, 500} {
		got = send(lab(t, ratingsVS(fmt.Sprintf("    fault: {abort: {httpStatus: %d, percentage: {value: 100}}}", code)), ratingsDR("v3", "")),
			"/api/v1/products/0/ratings", 3, nil)
		if got.status[code] != 3 || got.bodies[sorry("ratings")] != 3 {
			t.Errorf("a text %d: %v %v", code, got.status, got.bodies)
		}
	}
	// A plaintext call refused by a STRICT ratings (DISABLE on the
	// caller's side) is Envoy's own 503 with a text body: replaced.
	got = send(lab(t, ratingsDR("v3", "    tls: {mode: DISABLE}"), pa("bookinfo", "STRICT")), "/api/v1/products/0/ratings", 3, nil)
	if got.status[503] != 3 || got.bodies[sorry("ratings")] != 3 {
		t.Errorf("a refused plaintext call: %v %v", got.status, got.bodies)
	}
}

func reviewsVS(weights string) string {
	var routes []string
	for _, kv := range strings.Split(weights, ",") {
		v, w, _ := strings.Cut(kv, "=")
		routes = append(routes, fmt.Sprintf("{destination: {host: reviews, subset: %s}, weight: %s}", v, w))
	}
	return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  http:
  - route: [` + strings.Join(routes, ", ") + `]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews.bookinfo.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: v4, labels: {version: v4}}]
---
` + podYAML("bookinfo", "reviews", "v1", true) + podYAML("bookinfo", "reviews", "v2", true)
}

func TestWeights(t *testing.T) {
	for _, c := range []struct {
		weights string
		lo, hi  float64 // v1's share
	}{{"v1=80,v2=20", 0.72, 0.88}, {"v1=50,v2=50", 0.42, 0.58}, {"v1=0,v2=0,v4=100", 0, 0}} {
		got := send(lab(t, reviewsVS(c.weights), ratingsDR("v3", "")), "/api/v1/products/0/reviews", 400, nil)
		v1 := float64(got.versions["v1"]) / 400
		if v1 < c.lo || v1 > c.hi || got.status[200] != 400 {
			t.Errorf("weights %s: v1 share %.2f, want %.2f-%.2f; %v %v", c.weights, v1, c.lo, c.hi, got.versions, got.status)
		}
	}
	// Without a VirtualService every version of the Service answers.
	got := send(lab(t, podYAML("bookinfo", "reviews", "v1", true), podYAML("bookinfo", "reviews", "v2", true), ratingsDR("v3", "")), "/api/v1/products/0/reviews", 300, nil)
	if len(got.versions) != 3 {
		t.Errorf("no route: versions %v, want all three", got.versions)
	}
}

func TestHeaderMatch(t *testing.T) {
	vs := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
---
` + reviewsVS("v1=1")[strings.Index(reviewsVS("v1=1"), "---\n")+4:]
	s := lab(t, vs, ratingsDR("v3", ""))
	jason := send(s, "/api/v1/products/0/reviews", 20, http.Header{"End-User": {"jason"}})
	other := send(s, "/api/v1/products/0/reviews", 20, http.Header{"End-User": {"bob"}})
	if jason.versions["v2"] != 20 || other.versions["v1"] != 20 {
		t.Errorf("jason got %v, bob got %v", jason.versions, other.versions)
	}
}

func ratingsVS(extra string) string {
	return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: bookinfo}
spec:
  hosts: [ratings.bookinfo.svc.cluster.local]
  http:
  - route: [{destination: {host: ratings.bookinfo.svc.cluster.local, subset: s}}]
` + extra + `
---
`
}

// ratingsDR routes subset s to version with policy (YAML under
// trafficPolicy, indented 4) and adds the pod.
func ratingsDR(version, policy string) string {
	tp := ""
	if policy != "" {
		tp = "  trafficPolicy:\n" + policy
	}
	return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: bookinfo}
spec:
  host: ratings.bookinfo.svc.cluster.local
  subsets: [{name: s, labels: {version: ` + version + `}}]
` + tp + `
---
` + podYAML("bookinfo", "ratings", version, true)
}

func TestFaults(t *testing.T) {
	abort := func(status, pct string) string {
		return ratingsVS("    fault: {abort: {httpStatus: " + status + ", percentage: {value: " + pct + "}}}")
	}
	got := send(lab(t, abort("503", "100"), ratingsDR("v3", "")), "/api/v1/products/0/ratings", 20, nil)
	if got.status[503] != 20 || got.flags["FI"] != 20 {
		t.Errorf("abort 100%%: %v %v", got.status, got.flags)
	}
	got = send(lab(t, abort("503", "0"), ratingsDR("v3", "")), "/api/v1/products/0/ratings", 20, nil)
	if got.status[200] != 20 {
		t.Errorf("abort 0%%: %v", got.status)
	}
	// An abort without a percentage injects nothing (Istio's API).
	got = send(lab(t, ratingsVS("    fault: {abort: {httpStatus: 500}}"), ratingsDR("v3", "")), "/api/v1/products/0/ratings", 20, nil)
	if got.status[200] != 20 {
		t.Errorf("abort without percentage: %v", got.status)
	}
	// The lab's delay-and-504: the delay comes first, then the abort;
	// the 503 from an abort is not retried by the default policy.
	got = send(lab(t, ratingsVS("    fault: {delay: {fixedDelay: 7s, percentage: {value: 100}}, abort: {httpStatus: 504, percentage: {value: 100}}}"),
		ratingsDR("v3", "")), "/api/v1/products/0/ratings", 5, nil)
	if got.status[504] != 5 || got.flags["DI,FI"] != 5 {
		t.Errorf("delay then abort: %v %v", got.status, got.flags)
	}
	got = send(lab(t, ratingsVS("    fault: {delay: {fixedDelay: 7s, percentage: {value: 0}}}"), ratingsDR("v3", "")), "/api/v1/products/0/ratings", 5, nil)
	if got.flags["-"] != 5 {
		t.Errorf("delay at 0%%: %v", got.flags)
	}
}

func TestRouteTimeout(t *testing.T) {
	slow := send(lab(t, ratingsVS("    timeout: 5s"), ratingsDR("v-delayed-50percent-delayof7s", "")), "/api/v1/products/0/ratings", 30, nil)
	if slow.status[504] == 0 || slow.status[200] == 0 || slow.flags["UT"] != slow.status[504] || slow.bodies[sorry("ratings")] != slow.status[504] {
		t.Errorf("5s timeout on a half-7s backend: %v %v", slow.status, slow.flags)
	}
	none := send(lab(t, ratingsVS(""), ratingsDR("v-delayed-50percent-delayof7s", "")), "/api/v1/products/0/ratings", 30, nil)
	if none.status[200] != 30 {
		t.Errorf("no timeout: %v", none.status)
	}
	long := send(lab(t, ratingsVS("    timeout: 30s"), ratingsDR("v-delayed-50percent-delayof7s", "")), "/api/v1/products/0/ratings", 30, nil)
	if long.status[200] != 30 {
		t.Errorf("30s timeout: %v", long.status)
	}
}

func TestRetries(t *testing.T) {
	faulty := ratingsDR("v-faulty-50percent-503", "")
	cases := []struct {
		name    string
		retries string
		lo, hi  float64 // share of 503
	}{
		// Istio's default policy retries connect failures, not a 503.
		{"default policy", "", 0.4, 0.6},
		{"lab's retry variant", "    retries: {attempts: 3, perTryTimeout: 5s, retryOn: 'connect-failure,reset-before-request'}", 0.4, 0.6},
		{"one retry on 5xx", "    retries: {attempts: 1, retryOn: 5xx}", 0.17, 0.33},
		{"three retries on 5xx", "    retries: {attempts: 3, retryOn: 'connect-failure,reset-before-request,5xx'}", 0.02, 0.11},
		{"gateway-error", "    retries: {attempts: 1, retryOn: gateway-error}", 0.17, 0.33},
		{"status code 503", "    retries: {attempts: 1, retryOn: '503'}", 0.17, 0.33},
		{"retries off", "    retries: {attempts: 0}", 0.4, 0.6},
	}
	for _, c := range cases {
		s := lab(t, ratingsVS(c.retries), faulty)
		got := send(s, "/api/v1/products/0/ratings", 400, nil)
		if sh := got.share(503); sh < c.lo || sh > c.hi {
			t.Errorf("%s: 503 share %.2f, want %.2f-%.2f (%v)", c.name, sh, c.lo, c.hi, got.status)
		}
		stats, _ := s.EnvoyStats(podOf(s, "productpage"))
		retried := strings.Contains(stats, "envoy_cluster_upstream_rq_retry{cluster_name=\"outbound|9080|s|ratings.bookinfo.svc.cluster.local\"}")
		if want := c.lo < 0.4; retried != want {
			t.Errorf("%s: retry stat present %v, want %v:\n%s", c.name, retried, want, stats)
		}
	}
	// 500s are retried by 5xx but not by gateway-error.
	err500 := ratingsDR("v-50percent-internal-server-error-500", "")
	if sh := send(lab(t, ratingsVS("    retries: {attempts: 1, retryOn: gateway-error}"), err500), "/api/v1/products/0/ratings", 400, nil).share(500); sh < 0.4 {
		t.Errorf("gateway-error retried a 500: share %.2f", sh)
	}
}

// TestDefaultRetryPolicy: with no retries in the route, Istio's default
// policy (2 retries on connect-failure, other hosts first) hides an
// endpoint whose handshake fails; with retries off it does not.
func TestDefaultRetryPolicy(t *testing.T) {
	// Two ratings pods, one without a sidecar; ISTIO_MUTUAL to it fails.
	plain := strings.Replace(podYAML("bookinfo", "ratings", "v3", false), "ratings-v3-6d8c9b7f5-abcde", "ratings-v3-6d8c9b7f5-plain", 1)
	dr := ratingsDR("v3", "    tls: {mode: ISTIO_MUTUAL}") + plain
	def := send(lab(t, ratingsVS(""), dr), "/api/v1/products/0/ratings", 100, nil)
	off := send(lab(t, ratingsVS("    retries: {attempts: 0}"), dr), "/api/v1/products/0/ratings", 100, nil)
	if def.status[200] != 100 {
		t.Errorf("default policy: %v %v", def.status, def.flags)
	}
	if sh := off.share(503); sh < 0.35 || off.flags["UF"] == 0 {
		t.Errorf("retries off: 503 share %.2f, flags %v", sh, off.flags)
	}
}

func podOf(s *Sim, app string) *Pod {
	w, _ := s.world()
	for _, p := range w.Pods {
		if p.Labels["app"] == app {
			return p
		}
	}
	return nil
}

func TestOutlierDetection(t *testing.T) {
	od := "    outlierDetection: {consecutive5xxErrors: 5, interval: 60s, baseEjectionTime: 180s, maxEjectionPercent: 100}"
	s := frozen(lab(t, ratingsVS(""), ratingsDR("v-50percent-internal-server-error-500", od)))
	got := send(s, "/api/v1/products/0/ratings", 200, nil)
	if got.flags["UH"] == 0 || got.status[503] != got.flags["UH"] || got.bodies[sorry("ratings")] != got.status[503]+got.status[500] {
		t.Fatalf("ejection: %v %v", got.status, got.flags)
	}
	stats, _ := s.EnvoyStats(podOf(s, "productpage"))
	if !strings.Contains(stats, `envoy_cluster_outlier_detection_ejections_active{cluster_name="outbound|9080|s|ratings.bookinfo.svc.cluster.local"} 1`) {
		t.Errorf("productpage's proxy does not show the ejection:\n%s", stats)
	}
	// Ejection is per caller: reviews' proxy still calls ratings.
	rev := send(s, "/api/v1/products/0/reviews", 40, nil)
	if rev.status[200] == 0 || rev.status[500] == 0 {
		t.Errorf("reviews' own calls to ratings: %v", rev.status)
	}
	// Without outlier detection nothing is ejected.
	none := send(lab(t, ratingsVS(""), ratingsDR("v-50percent-internal-server-error-500", "")), "/api/v1/products/0/ratings", 200, nil)
	if none.flags["UH"] != 0 || none.status[500] == 0 {
		t.Errorf("no outlier detection: %v %v", none.status, none.flags)
	}
	// A threshold that 50% failures rarely reach.
	rare := "    outlierDetection: {consecutive5xxErrors: 40, baseEjectionTime: 180s}"
	if got := send(lab(t, ratingsVS(""), ratingsDR("v-50percent-internal-server-error-500", rare)), "/api/v1/products/0/ratings", 100, nil); got.flags["UH"] != 0 {
		t.Errorf("40 consecutive: %v", got.flags)
	}
}

// TestEjectionTime: an ejection lasts baseEjectionTime times the number
// of ejections so far, capped at Envoy's max_ejection_time (300s), and
// ends after it: the clock here moves only when the test moves it.
func TestEjectionTime(t *testing.T) {
	var mu sync.Mutex
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return at }
	wait := func(d time.Duration) { mu.Lock(); at = at.Add(d); mu.Unlock() }
	od := "    outlierDetection: {consecutive5xxErrors: 5, interval: 60s, baseEjectionTime: 180s, maxEjectionPercent: 100}"
	s := NewSim(lab(t, ratingsVS(""), ratingsDR("v-50percent-internal-server-error-500", od)).src, Options{Seed: 7, Now: clock})
	one := func() int { return send(s, "/api/v1/products/0/ratings", 1, nil).status[503] }
	ejectNow := func() {
		t.Helper()
		for i := 0; i < 1000; i++ {
			if one() == 1 {
				return
			}
		}
		t.Fatal("never ejected")
	}
	ejectNow()
	wait(170 * time.Second)
	if one() != 1 {
		t.Errorf("the first ejection ended before its 180s")
	}
	wait(20 * time.Second)
	if one() != 0 {
		t.Errorf("the first ejection lasted more than 180s")
	}
	// The second lasts 2 x 180s = 360s, capped at 300s.
	ejectNow()
	wait(290 * time.Second)
	if one() != 1 {
		t.Errorf("the second ejection ended before 300s")
	}
	wait(20 * time.Second)
	if one() != 0 {
		t.Errorf("the second ejection was not capped at 300s")
	}
}

// frozen is s with its clock stopped, so an ejection lasts however long
// the test takes.
func frozen(s *Sim) *Sim {
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	return NewSim(s.src, Options{Seed: 7, Scale: s.opts.Scale, Now: func() time.Time { return at }})
}

func TestConnectionPool(t *testing.T) {
	pool := "    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 3, maxRequestsPerConnection: 3}}"
	burst := func(s *Sim, n int) tally {
		t := tally{n: n, status: map[int]int{}, flags: map[string]int{}, versions: map[string]int{}, bodies: map[string]int{}}
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := s.Ingress(context.Background(), Request{Port: 9080, Path: "/api/v1/products/0/ratings"})
				mu.Lock()
				t.add(r)
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		t.flags = flagsOf(s, "productpage")
		return t
	}
	mk := func(policy string) *Sim {
		s := lab(t, ratingsVS(""), ratingsDR("v3", policy))
		// A connection takes long to set up, so the burst is all there
		// while the first one waits for it.
		return NewSim(s.src, Options{Seed: 7, Scale: 0.01, ConnectTime: 500 * time.Millisecond})
	}
	s := mk(pool)
	got := burst(s, 20)
	if got.flags["UO"] == 0 || got.status[503] != got.flags["UO"] {
		t.Errorf("burst of 20 on 1 connection + 3 pending: %v %v", got.status, got.flags)
	}
	stats, _ := s.EnvoyStats(podOf(s, "productpage"))
	if !strings.Contains(stats, "envoy_cluster_upstream_rq_pending_overflow{cluster_name=\"outbound|9080|s|ratings.bookinfo.svc.cluster.local\"}") {
		t.Errorf("no overflow stat:\n%s", stats)
	}
	if got := burst(mk(""), 20); got.status[200] != 20 {
		t.Errorf("burst without a pool limit: %v %v", got.status, got.flags)
	}
	if got := send(mk(pool), "/api/v1/products/0/ratings", 8, nil); got.status[200] != 8 {
		t.Errorf("one at a time within the pool: %v %v", got.status, got.flags)
	}
}

func TestSubsets(t *testing.T) {
	// reviews routed to v2, whose pods do not exist.
	vs := reviewsVS("v2=100")
	noV2 := vs[:strings.Index(vs, "apiVersion: v1\nkind: Pod")]
	got := send(lab(t, noV2), "/api/v1/products/0/reviews", 10, nil)
	if got.status[503] != 10 || got.flags["UH"] != 10 || got.bodies[sorry("reviews")] != 10 {
		t.Errorf("subset without pods: %v %v", got.status, got.flags)
	}
	if got := send(lab(t, vs), "/api/v1/products/0/reviews", 10, nil); got.versions["v2"] != 10 {
		t.Errorf("subset with pods: %v %v", got.versions, got.status)
	}
	// A subset the DestinationRule does not define has no cluster.
	undefined := strings.Replace(noV2, "{name: v2, labels: {version: v2}}, ", "", 1)
	if got := send(lab(t, undefined), "/api/v1/products/0/reviews", 10, nil); got.flags["NC"] != 10 || got.status[503] != 10 {
		t.Errorf("undefined subset: %v %v", got.status, got.flags)
	}
	// A pod that is not ready is no endpoint.
	notReady := strings.Replace(podYAML("bookinfo", "ratings", "v3", true), `status: "True"`, `status: "False"`, 1)
	if got := send(lab(t, notReady), "/api/v1/products/0/ratings", 5, nil); got.flags["UH"] != 5 {
		t.Errorf("ratings not ready: %v %v", got.status, got.flags)
	}
}

func pa(ns, mode string) string {
	return fmt.Sprintf("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: %s}\nspec: {mtls: {mode: %s}}\n---\n", ns, mode)
}

func TestTLSModes(t *testing.T) {
	ratings := ratingsDR("v3", "")
	url := Request{Host: "ratings.bookinfo", Port: 9080, Path: "/ratings/0"}
	probe := func(s *Sim, ns string, sidecar bool) Response {
		return s.FromPod(context.Background(), ns, sidecar, url)
	}

	strict := lab(t, ratings, pa("bookinfo", "STRICT"))
	if r := probe(strict, "default", false); r.Err != "reset" {
		t.Errorf("STRICT, plain-text client: %+v", r)
	}
	if r := probe(strict, "bookinfo", true); r.Status != 200 {
		t.Errorf("STRICT, client in the mesh: %+v", r)
	}
	if r := probe(lab(t, ratings, pa("bookinfo", "PERMISSIVE")), "default", false); r.Status != 200 {
		t.Errorf("PERMISSIVE, plain-text client: %+v", r)
	}
	// A mesh-wide policy in istio-system is ignored here: the namespace
	// is outside discoverySelectors.
	if r := probe(lab(t, ratings, pa("istio-system", "STRICT")), "default", false); r.Status != 200 {
		t.Errorf("root-namespace STRICT outside discoverySelectors: %+v", r)
	}
	// The client side: DestinationRule tls DISABLE to a STRICT server.
	plainDR := ratingsDR("v3", "    tls: {mode: DISABLE}")
	got := send(lab(t, ratingsVS(""), plainDR, pa("bookinfo", "STRICT")), "/api/v1/products/0/ratings", 5, nil)
	if got.status[503] != 5 || got.flags["UC"] != 5 {
		t.Errorf("DISABLE to STRICT: %v %v", got.status, got.flags)
	}
	if got := send(lab(t, ratingsVS(""), plainDR, pa("bookinfo", "PERMISSIVE")), "/api/v1/products/0/ratings", 5, nil); got.status[200] != 5 {
		t.Errorf("DISABLE to PERMISSIVE: %v %v", got.status, got.flags)
	}
	simple := ratingsDR("v3", "    tls: {mode: SIMPLE}")
	// A failed handshake is a connect failure, which Istio's default
	// policy retries twice before giving up (URX).
	if got := send(lab(t, ratingsVS(""), simple, pa("bookinfo", "STRICT")), "/api/v1/products/0/ratings", 5, nil); got.flags["UF,URX"] != 5 {
		t.Errorf("SIMPLE to STRICT: %v %v", got.status, got.flags)
	}
}

func TestMirror(t *testing.T) {
	details := `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: bookinfo}
spec:
  host: details
  subsets: [{name: v1, labels: {version: v1}}, {name: v3, labels: {version: v3}}]
---
` + podYAML("bookinfo", "details", "v1", true)
	vs := func(mirror string) string {
		return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: details, namespace: bookinfo}\nspec:\n  hosts: [details]\n  http:\n  - route: [{destination: {host: details, subset: v1}, weight: 100}]\n" + mirror + "\n---\n"
	}
	mirrored := func(s *Sim) string {
		st, _ := s.EnvoyStats(podOf3(s, "details", "v3"))
		return st
	}
	s := lab(t, details, vs("    mirror: {host: details, subset: v3}\n    mirrorPercentage: {value: 100.0}"))
	got := send(s, "/api/v1/products/0", 10, nil)
	if got.bodies[""] != 0 || !strings.Contains(fmt.Sprint(got.bodies), "PublisherA") || len(got.bodies) != 1 {
		t.Errorf("callers should get v1 only: %v", got.bodies)
	}
	if st := mirrored(s); !strings.Contains(st, `destination_workload="details-v3"`) || !strings.Contains(st, `reporter="destination"`) {
		t.Errorf("details-v3 saw no mirrored request:\n%s", st)
	}
	s = lab(t, details, vs(""))
	send(s, "/api/v1/products/0", 10, nil)
	if st := mirrored(s); strings.Contains(st, "istio_requests_total") {
		t.Errorf("without a mirror details-v3 got requests:\n%s", st)
	}
}

func podOf3(s *Sim, app, version string) *Pod {
	w, _ := s.world()
	for _, p := range w.Pods {
		if p.Labels["app"] == app && p.Labels["version"] == version {
			return p
		}
	}
	return nil
}

func TestRequestMetricsAndCerts(t *testing.T) {
	s := lab(t, ratingsDR("v3", ""), pa("bookinfo", "STRICT"))
	send(s, "/api/v1/products/0/ratings", 3, nil)
	st, ok := s.EnvoyStats(podOf(s, "ratings"))
	want := []string{`reporter="destination"`, `connection_security_policy="mutual_tls"`, `source_workload="productpage-v2"`,
		`destination_workload="ratings-v3"`, `destination_version="v3"`, `response_code="200"`}
	for _, w := range want {
		if !ok || !strings.Contains(st, w) {
			t.Errorf("ratings' stats lack %s:\n%s", w, st)
		}
	}
	if _, ok := s.EnvoyStats(&Pod{Name: "x", Namespace: "bookinfo"}); ok {
		t.Error("a pod without a sidecar serves Envoy stats")
	}
	// The certificate: issued at start, renewed every 12 hours, 24 hours'
	// life, so less than a day is always left, and a pod 30 hours old
	// holds one issued 6 hours ago.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(30 * time.Hour)
	s2 := NewSim(s.src, Options{Now: func() time.Time { return now }})
	p := &Pod{Start: start, Sidecar: true}
	if got := s2.CertExpiry(p); !got.Equal(start.Add(48 * time.Hour)) {
		t.Errorf("certificate expiry %v", got)
	}
	if st, _ := s2.EnvoyStats(p); !strings.Contains(st, "envoy_server_days_until_first_cert_expiring{} 0") {
		t.Errorf("days until expiry:\n%s", st)
	}
	// istio-agent's count-down: 18 hours left at 30 hours, 24 hours for a
	// pod started now.
	if st, _ := s2.MergedStats(p); !strings.Contains(st, `istio_agent_cert_expiry_seconds{resource_name="default"} 64800`) {
		t.Errorf("agent metrics of an old pod:\n%s", st)
	}
	if st, _ := s2.MergedStats(&Pod{Start: now, Sidecar: true}); !strings.Contains(st, `istio_agent_cert_expiry_seconds{resource_name="default"} 86400`) {
		t.Errorf("agent metrics of a new pod:\n%s", st)
	}
	// The caller's proxy reports the same call as its source.
	st, _ = s.EnvoyStats(podOf(s, "productpage"))
	if !strings.Contains(st, `reporter="source"`) || !strings.Contains(st, `destination_workload="ratings-v3"`) {
		t.Errorf("productpage does not report its calls to ratings:\n%s", st)
	}
}

func TestAccessLog(t *testing.T) {
	s := lab(t, ratingsVS("    fault: {abort: {httpStatus: 500, percentage: {value: 100}}}"), ratingsDR("v3", ""))
	send(s, "/api/v1/products/0/ratings", 2, nil)
	outbound := func(s *Sim) []string {
		var out []string
		for _, l := range s.AccessLog(podOf(s, "productpage")) {
			if outboundLine(l) {
				out = append(out, l)
			}
		}
		return out
	}
	lines := outbound(s)
	if len(lines) != 2 || !strings.Contains(lines[0], `"response_flags":"FI"`) || !strings.Contains(lines[0], `"trace_id":"`) {
		t.Errorf("productpage's access log: %q", lines)
	}
	// Envoy picks the route's cluster before the fault filter runs, so an
	// abort is logged against it (the lessons select log entries by it).
	for _, l := range lines {
		if !strings.Contains(l, `"upstream_cluster":"outbound|9080|s|ratings.bookinfo.svc.cluster.local"`) {
			t.Errorf("an aborted call's log line names no upstream cluster: %s", l)
		}
	}
	// The lines carry the time they were written, and age with the counters.
	pl := s.ProxyLog("bookinfo", podOf(s, "productpage").Name)
	if len(pl) == 0 || time.Since(pl[0].At) > time.Minute {
		t.Errorf("productpage's log lines: %v", pl)
	}
	s.Age(10 * time.Minute)
	if pl := s.ProxyLog("bookinfo", podOf(s, "productpage").Name); len(pl) == 0 || time.Since(pl[0].At) < 10*time.Minute {
		t.Errorf("aged log lines: %v", pl)
	}
	s = lab(t, ratingsVS(""), ratingsDR("v3", ""))
	send(s, "/api/v1/products/0/ratings", 2, nil)
	if lines := outbound(s); len(lines) != 2 || strings.Contains(lines[0], "FI") {
		t.Errorf("without a fault: %q", lines)
	}
}

func TestPrometheusQueries(t *testing.T) {
	s := lab(t, ratingsDR("v3", ""), pa("bookinfo", "STRICT"))
	if got, err := s.Query(`istio_requests_total`); err != nil || len(got) != 0 {
		t.Fatalf("before any traffic: %v %v", got, err)
	}
	if got, err := s.Query(`absent(istio_requests_total)`); err != nil || len(got) != 1 {
		t.Fatalf("absent before any traffic: %v %v", got, err)
	}
	send(s, "/api/v1/products/0/ratings", 4, nil)
	cases := []struct {
		q    string
		want float64 // -1: no series
	}{
		{`sum(istio_requests_total{destination_workload="ratings-v3",reporter="destination",connection_security_policy="mutual_tls"})`, 4},
		{`sum(istio_requests_total{destination_workload="ratings-v3",reporter="destination",connection_security_policy="none"})`, -1},
		{`sum(istio_requests_total{destination_workload="reviews-v4"})`, -1},
		{`sum(increase(istio_requests_total{destination_workload=~"ratings.*",reporter="source"}[5m]))`, 4},
		{`count(istio_requests_total{reporter!="source"})`, 2}, // productpage and ratings
		{`absent(istio_requests_total)`, -1},
		{`sum by (reporter) (istio_requests_total{destination_workload="ratings-v3"})`, 4},
		{`sum(istio_requests_total{destination_workload="ratings-v3"}) > 5`, 8},
		{`sum(istio_requests_total{destination_workload="ratings-v3"}) > 8`, -1},
		{`sum(istio_requests_total{destination_workload="ratings-v3"}) and on() sum(istio_requests_total{destination_workload="productpage-v2"}) > 0`, 8},
		{`sum(istio_requests_total{destination_workload="ratings-v3"}) and on() sum(istio_requests_total{destination_workload="details-v3"}) > 0`, -1},
		{`sum(istio_requests_total{destination_workload="details-v3"}) or sum(istio_requests_total{destination_workload="ratings-v3"})`, 8},
	}
	for _, c := range cases {
		got, err := s.Query(c.q)
		switch {
		case err != nil:
			t.Errorf("%s: %v", c.q, err)
		case c.want < 0 && len(got) != 0:
			t.Errorf("%s: %v, want no series", c.q, got)
		case c.want >= 0 && (len(got) == 0 || got[0].Value != c.want):
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}
	// Counted ten minutes ago: outside a 5-minute window, still in the total.
	s.Age(10 * time.Minute)
	if got, _ := s.Query(`sum(increase(istio_requests_total{destination_workload=~"ratings.*",reporter="source"}[5m]))`); len(got) != 1 || got[0].Value != 0 {
		t.Errorf("aged counts in a 5m window: %v", got)
	}
	if got, _ := s.Query(`sum(istio_requests_total{destination_workload=~"ratings.*",reporter="source"})`); len(got) != 1 || got[0].Value != 4 {
		t.Errorf("aged counts in total: %v", got)
	}
	if _, err := s.Query(`histogram_quantile(0.9, x)`); err == nil || !strings.Contains(err.Error(), "simulates") {
		t.Errorf("an unsupported query: %v", err)
	}
}

// TestDegradedPage follows a ratings abort up to the page as the lab's
// reviews-v4 and productpage answer it (lesson 9's 500 and 503 steps):
// on the page, for a 500 productpage puts in its own error; for a 503
// it keeps reviews' JSON, whose ratings carry the "temporarily unavailable" note.
func TestDegradedPage(t *testing.T) {
	abort := func(status string) *Sim {
		return lab(t, ratingsVS("    fault: {abort: {httpStatus: "+status+", percentage: {value: 100}}}"), ratingsDR("v3", ""))
	}
	body := func(s *Sim, path string) (int, string) {
		r := s.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: path})
		return r.Status, r.Body
	}
	s := abort("500")
	if st, b := body(s, "/productpage"); st != 200 || !strings.Contains(b, "Sorry, product reviews are currently unavailable") || strings.Contains(b, "temporarily") {
		t.Errorf("500: page %d %q", st, b)
	}
	s = abort("503")
	if st, b := body(s, "/api/v1/products/0/reviews"); st != 503 || !strings.Contains(b, "temporarily unavailable") || !strings.Contains(b, "Reviewer1") {
		t.Errorf("503: reviews %d %q", st, b)
	}
	if st, b := body(s, "/productpage"); st != 200 || !strings.Contains(b, "temporarily unavailable") || strings.Contains(b, "Sorry, product reviews") {
		t.Errorf("503: page %d %q", st, b)
	}
	s = lab(t, ratingsVS(""), ratingsDR("v3", ""))
	if st, b := body(s, "/productpage"); st != 200 || strings.Contains(b, "unavailable") || !strings.Contains(b, `"stars"`) {
		t.Errorf("no fault: page %d %q", st, b)
	}
}
