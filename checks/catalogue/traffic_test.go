package catalogue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/engine"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
	"github.com/meshdojo/meshdojo/internal/traffic/pfserver"
)

// emitEnv is a DirectEnv that keeps what the check emits while it runs.
type emitEnv struct {
	*engine.DirectEnv
	mu      sync.Mutex
	emitted []checks.Result
}

func newEmitEnv(clients *checks.Clients) *emitEnv {
	d := engine.NewDirectEnv(clients, checks.ClusterInfo{}).(*engine.DirectEnv)
	e := &emitEnv{DirectEnv: d}
	d.OnEmit = func(r checks.Result) {
		e.mu.Lock()
		e.emitted = append(e.emitted, r)
		e.mu.Unlock()
	}
	return e
}

// runTraffic validates raw as a lesson's check block would be and runs
// the check once, as the engine's Run does after the reader's consent,
// holding it to the codes it declares.
func runTraffic(t *testing.T, env checks.Env, name string, raw map[string]string) checks.Result {
	t.Helper()
	c, ok := Lookup(name)
	if !ok {
		t.Fatalf("no check %s", name)
	}
	p, err := c.Validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Evaluate(context.Background(), env, checks.Bound{Key: "t", Check: c, Params: p})
	if !c.Declares(r.Code) {
		t.Errorf("%s reported code %s, which it does not declare (Codes)", name, r.Code)
	}
	if err := c.Conforms(r); err != nil {
		t.Errorf("%s reported a result that is not one of its codes' messages: %v", name, err)
	}
	return r
}

func trafficClients(t testing.TB, rc *rest.Config) *checks.Clients {
	t.Helper()
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &checks.Clients{Kube: kube, Dynamic: dyn, Config: rc}
}

func explain(r checks.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", r.Verdict, r.Code, r.Summary)
	for _, c := range r.Conditions {
		fmt.Fprintf(&b, "\n  [%v] %s: %s (want %s) %s", c.OK, c.Name, c.Observed, c.Expected, c.Fix)
	}
	return b.String()
}

// lessonProbe is an http-probe as a lesson writes it, with a lab that
// behaves as the step intends and one that does not.
type lessonProbe struct {
	name         string
	params       map[string]string
	right, wrong fakelab.Config
}

// The chapters' traffic steps. Delays are 300 ms where the lab has 7 s
// and route timeouts 200 ms where it has 5 s, to keep the tests short;
// latency bounds are scaled to match.
var lessonProbes = []lessonProbe{
	{"ch5 all reviews traffic to v4",
		map[string]string{"path": "/api/v1/products/0/reviews", "count": "30", "versions": "v1=0,v2=0,v4=100"},
		fakelab.Config{Seed: 1, Weights: map[string]int{"v1": 0, "v2": 0, "v4": 100}},
		fakelab.Config{Seed: 1, Weights: map[string]int{"v1": 50, "v4": 50}}},
	{"ch5 80/20 canary",
		map[string]string{"path": "/api/v1/products/0/reviews", "count": "100", "concurrency": "4", "versions": "v1=80,v2=20"},
		fakelab.Config{Seed: 2, Weights: map[string]int{"v1": 80, "v2": 20}},
		fakelab.Config{Seed: 2, Weights: map[string]int{"v1": 50, "v2": 50}}},
	{"ch5 phased release to three versions",
		map[string]string{"path": "/api/v1/products/0/reviews", "count": "60", "versions": "v1=33,v2=33,v4=33"},
		fakelab.Config{Seed: 3, Weights: map[string]int{"v1": 33, "v2": 33, "v4": 33}},
		fakelab.Config{Seed: 3, Weights: map[string]int{"v4": 100}}},
	{"ch5 red stars from v4",
		map[string]string{"path": "/api/v1/products/0/reviews", "count": "5", "body-field": "reviews.0.rating.color=red"},
		fakelab.Config{Seed: 4},
		fakelab.Config{Seed: 4, Weights: map[string]int{"v2": 100}}},
	{"ch9 fault abort 500",
		map[string]string{"path": "/api/v1/products/0/ratings", "count": "10", "expect-status": "500"},
		fakelab.Config{Seed: 5, AbortStatus: 500, AbortPercent: 100},
		fakelab.Config{Seed: 5}},
	{"ch9 fault abort 503",
		map[string]string{"path": "/api/v1/products/0/ratings", "count": "10", "expect-status": "503"},
		fakelab.Config{Seed: 6, AbortStatus: 503, AbortPercent: 100},
		fakelab.Config{Seed: 6, AbortStatus: 500, AbortPercent: 100}},
	{"ch9 delay then 504",
		map[string]string{"path": "/api/v1/products/0/ratings", "count": "4", "concurrency": "4", "expect-status": "504", "min-latency": "250ms"},
		fakelab.Config{Seed: 7, FixedDelay: 300 * time.Millisecond, DelayPercent: 100, AbortStatus: 504, AbortPercent: 100},
		fakelab.Config{Seed: 7, AbortStatus: 504, AbortPercent: 100}},
	{"ch10 route timeout cuts slow calls",
		map[string]string{"path": "/api/v1/products/0/ratings", "count": "20", "concurrency": "4", "expect-status": "200,504",
			"min-status": "504=1", "max-latency": "5s"},
		fakelab.Config{Seed: 8, SlowDelay: 300 * time.Millisecond, SlowPercent: 50, Timeout: 200 * time.Millisecond},
		fakelab.Config{Seed: 8, SlowDelay: 300 * time.Millisecond, SlowPercent: 50}},
	{"ch10 retries on 5xx hide most 503s",
		map[string]string{"path": "/api/v1/products/0/ratings", "count": "40", "expect-status": "200,503", "max-status-share": "5xx=20"},
		fakelab.Config{Seed: 9, FailStatus: 503, FailPercent: 50, Retries: 3},
		fakelab.Config{Seed: 9, FailStatus: 503, FailPercent: 50}},
	{"ch10 without 5xx retries about half fail",
		map[string]string{"path": "/api/v1/products/0/ratings", "count": "60", "status-split": "200=50,503=50"},
		fakelab.Config{Seed: 10, FailStatus: 503, FailPercent: 50},
		fakelab.Config{Seed: 10, FailStatus: 503, FailPercent: 50, Retries: 3}},
	{"ch10 outlier ejection",
		map[string]string{"path": "/api/v1/products/0/ratings", "count": "40", "expect-status": "200,500,503", "min-status": "503=1",
			"body-contains": "no healthy upstream"},
		fakelab.Config{Seed: 11, FailStatus: 500, FailPercent: 90, EjectAfter: 5},
		fakelab.Config{Seed: 11, FailStatus: 500, FailPercent: 90}},
	{"ch10 connection pool overflow",
		map[string]string{"path": "/api/v1/products/0/ratings", "count": "30", "concurrency": "20", "expect-status": "200,503",
			"min-status": "503=1", "header-present": "x-envoy-overloaded=true"},
		fakelab.Config{Seed: 12, SlowDelay: 100 * time.Millisecond, SlowPercent: 100, MaxPending: 3},
		fakelab.Config{Seed: 12, SlowDelay: 100 * time.Millisecond, SlowPercent: 100}},
	{"ch11 L7 routing through the waypoint",
		map[string]string{"path": "/api/v1/products/0/reviews", "count": "30", "versions": "v4=100"},
		fakelab.Config{Seed: 13},
		fakelab.Config{Seed: 13, Weights: map[string]int{"v1": 33, "v2": 33, "v4": 33}}},
}

func TestHTTPProbeLessons(t *testing.T) {
	env := newEmitEnv(nil) // --ingress given: no cluster needed
	for _, lp := range lessonProbes {
		t.Run(lp.name, func(t *testing.T) {
			for _, side := range []struct {
				lab  fakelab.Config
				want checks.Verdict
			}{{lp.right, checks.Pass}, {lp.wrong, checks.Fail}} {
				srv := httptest.NewServer(fakelab.New(side.lab))
				raw := map[string]string{"ingress": srv.URL}
				for k, v := range lp.params {
					raw[k] = v
				}
				r := runTraffic(t, env, "http-probe", raw)
				srv.Close()
				if r.Verdict != side.want {
					t.Errorf("want %s:\n%s", side.want, explain(r))
				}
			}
		})
	}
}

func TestHTTPProbeProgressAndBars(t *testing.T) {
	srv := httptest.NewServer(fakelab.New(fakelab.Config{Weights: map[string]int{"v1": 1, "v4": 1}}))
	defer srv.Close()
	env := newEmitEnv(nil)
	r := runTraffic(t, env, "http-probe", map[string]string{"ingress": srv.URL, "path": "/api/v1/products/0/reviews",
		"count": "25", "concurrency": "5", "versions": "v1=50,v2=0,v4=50"})
	if r.Verdict != checks.Pass || r.Code != CodeProbeOK || r.Progress != "25/25 requests" || !strings.Contains(r.Summary, "via override") {
		t.Fatalf("result:\n%s\nprogress %q", explain(r), r.Progress)
	}
	if len(env.emitted) == 0 || env.emitted[len(env.emitted)-1].Progress != "25/25 requests" {
		t.Fatalf("emitted %d results, last %+v", len(env.emitted), env.emitted)
	}
	groups := map[string]int{}
	labels := map[string]bool{}
	for _, b := range r.Bars {
		groups[b.Group] += b.Value
		labels[b.Group+"/"+b.Label] = true
	}
	// Every request counts once per group, and v2, expected at zero,
	// is on the chart so the reader sees it missing.
	if groups["version"] != 25 || groups["status"] != 25 || groups["latency"] != 25 || !labels["version/v2"] || !labels["status/200"] {
		t.Fatalf("bars %+v", r.Bars)
	}
	if r.Conditions[0].Name != "ingress" || !strings.Contains(r.Conditions[0].Observed, srv.URL) {
		t.Fatalf("first condition should say how the ingress was reached: %+v", r.Conditions[0])
	}
}

func TestHTTPProbeBadInput(t *testing.T) {
	t.Setenv("MESHDOJO_INGRESS", "") // the reader's shell must not change what is tested
	env := newEmitEnv(nil)
	// Wrong whatever the cluster holds: refused before anything runs.
	c, _ := Lookup("http-probe")
	for _, tc := range []struct {
		raw   map[string]string
		param string
		text  string
	}{
		{map[string]string{"ingress": "http://127.0.0.1:1", "count": "5000"}, "count", "1 to 1000"},
		{map[string]string{"ingress": "http://127.0.0.1:1", "path": "productpage"}, "path", "starting with /"},
		{map[string]string{"ingress": "http://127.0.0.1:1", "header": "no colon here"}, "header", "Name: value"},
		{map[string]string{"ingress": "ftp://example"}, "ingress", "http://localhost:9080"},
	} {
		_, err := c.Validate(tc.raw)
		var inv *checks.InvalidParams
		if !errors.As(err, &inv) || inv.Problems[0].Param != tc.param || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%v: want a refusal of %s mentioning %q, got %v", tc.raw, tc.param, tc.text, err)
		}
	}
	// Only known when it runs: the environment, and the cluster.
	cases := []struct {
		raw  map[string]string
		code string
		text string
	}{
		{map[string]string{"ingress": "http://127.0.0.1:1", "bearer": "$MESHDOJO_TEST_UNSET_TOKEN"}, checks.CodeBadParams, "export MESHDOJO_TEST_UNSET_TOKEN"},
		{map[string]string{}, CodeProbeOffline, "--ingress"},
	}
	for _, c := range cases {
		r := runTraffic(t, env, "http-probe", c.raw)
		if r.Verdict != checks.Error || r.Code != c.code || !strings.Contains(explain(r), c.text) {
			t.Errorf("%v: want error %s mentioning %q, got\n%s", c.raw, c.code, c.text, explain(r))
		}
	}
	// Nothing listens at the override: a failure that says what to do.
	r := runTraffic(t, env, "http-probe", map[string]string{"ingress": "http://127.0.0.1:1", "count": "2"})
	if r.Verdict != checks.Fail || r.Code != CodeProbeUnreachable || !strings.Contains(explain(r), "kubectl port-forward") {
		t.Errorf("want an unreachable failure with a fix:\n%s", explain(r))
	}
}

func TestHTTPProbeHeadersReachTheServer(t *testing.T) {
	t.Setenv("MESHDOJO_TEST_TOKEN", "tok123")
	seen := make(chan map[string]string, 1)
	srv := httptest.NewServer(httpHandlerFunc(func(h map[string]string) { seen <- h }))
	defer srv.Close()
	r := runTraffic(t, newEmitEnv(nil), "http-probe", map[string]string{"ingress": srv.URL, "count": "1", "host": "bookinfo.example",
		"header": "x-user: jason; x-debug: 1", "cookie": "session=abc", "bearer": "$MESHDOJO_TEST_TOKEN"})
	if r.Verdict != checks.Pass {
		t.Fatal(explain(r))
	}
	h := <-seen
	if h["Host"] != "bookinfo.example" || h["X-User"] != "jason" || h["X-Debug"] != "1" || h["Cookie"] != "session=abc" || h["Authorization"] != "Bearer tok123" {
		t.Fatalf("headers %v", h)
	}
}

func TestParseTraffic(t *testing.T) {
	t.Setenv("MESHDOJO_INGRESS", "localhost:9080")
	s, err := checks.ParseTraffic(checks.TrafficFromEnv())
	if err != nil || s.Ingress != "http://localhost:9080" {
		t.Fatalf("from the environment: %q, %v", s.Ingress, err)
	}
	if _, err := checks.ParseTraffic(checks.TrafficSettings{Ingress: "http://localhost:9080/productpage"}); err == nil || !strings.Contains(err.Error(), "--ingress") {
		t.Fatalf("want an error naming --ingress, got %v", err)
	}
	if _, err := checks.ParseTraffic(checks.TrafficSettings{ProbeImage: "curl image"}); err == nil || !strings.Contains(err.Error(), "--probe-image") {
		t.Fatalf("want an error naming --probe-image, got %v", err)
	}
	s, err = checks.ParseTraffic(checks.TrafficSettings{Ingress: "http://127.0.0.1:9080/", ProbeImage: "mirror.example/curl:8"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Ingress != "http://127.0.0.1:9080" || s.ProbeImage != "mirror.example/curl:8" {
		t.Fatalf("settings %+v", s)
	}
}

// The settings reach a check through its Env, per run: an engine with
// --ingress set sends there, and one without looks for the ingress.
func TestTrafficSettingsPerEngine(t *testing.T) {
	srv := httptest.NewServer(httpHandlerFunc(func(map[string]string) {}))
	defer srv.Close()
	c, _ := Lookup("http-probe")
	p, err := c.Validate(map[string]string{"count": "1"})
	if err != nil {
		t.Fatal(err)
	}
	b := checks.Bound{Key: "t", Check: c, Params: p}
	with := engine.NewEngine(nil, checks.ClusterInfo{})
	with.Traffic = checks.TrafficSettings{Ingress: srv.URL}
	if r := with.Run(context.Background(), b, nil); r.Verdict != checks.Pass {
		t.Errorf("with --ingress: %s", explain(r))
	}
	if r := engine.NewEngine(nil, checks.ClusterInfo{}).Run(context.Background(), b, nil); r.Code != CodeProbeOffline {
		t.Errorf("without --ingress and offline: %s", explain(r))
	}
}

// TestHTTPProbeOnCluster finds the ingress on the real API server and
// reaches it by port-forward. The API server sits behind a proxy that
// serves the port-forward itself (there is no kubelet) and passes every
// other request through, so discovery reads real objects and client-go's
// port-forward code runs for real.
func TestHTTPProbeOnCluster(t *testing.T) {
	t.Setenv("MESHDOJO_INGRESS", "") // discovery is what is tested
	c := testcluster.Shared(t)
	lab := httptest.NewServer(fakelab.New(fakelab.Config{Seed: 1, Weights: map[string]int{"v4": 100}}))
	defer lab.Close()
	target, _ := url.Parse(c.Config.Host)
	rt, err := rest.TransportFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = rt
	api := httptest.NewServer(&pfserver.Server{Dial: pfserver.To(lab.Listener.Addr().String()), Fallback: rp})
	defer api.Close()
	viaProxy := newEmitEnv(trafficClients(t, &rest.Config{Host: api.URL}))
	direct := newEmitEnv(trafficClients(t, c.Config))

	t.Run("through a port-forward", func(t *testing.T) {
		ns := c.Namespace(t)
		c.ApplyT(t, fakelab.Ingress(ns, 9080, "", "Running"))
		r := runTraffic(t, viaProxy, "http-probe", map[string]string{"gateway": ns + "/productpage-ingress",
			"path": "/api/v1/products/0/reviews", "count": "20", "versions": "v4=100"})
		if r.Verdict != checks.Pass || !strings.Contains(r.Conditions[0].Observed, "port-forward to pod "+ns+"/"+fakelab.IngressPod+" port 9080") {
			t.Fatal(explain(r))
		}
	})
	t.Run("no ingress", func(t *testing.T) {
		ns := c.Namespace(t)
		r := runTraffic(t, direct, "http-probe", map[string]string{"gateway": ns + "/productpage-ingress"})
		if r.Verdict != checks.Error || r.Code != CodeNoIngress || !strings.Contains(explain(r), "--ingress") {
			t.Fatal(explain(r))
		}
	})
	t.Run("gateway pod not ready", func(t *testing.T) {
		ns := c.Namespace(t)
		c.ApplyT(t, fakelab.Ingress(ns, 9080, "", "Pending"))
		r := runTraffic(t, direct, "http-probe", map[string]string{"gateway": ns + "/productpage-ingress"})
		if r.Verdict != checks.Error || r.Code != CodeNoGatewayPod || !strings.Contains(explain(r), "1 Pending") {
			t.Fatal(explain(r))
		}
	})
	t.Run("port-forward refused by the API server", func(t *testing.T) {
		ns := c.Namespace(t)
		c.ApplyT(t, fakelab.Ingress(ns, 9080, "", "Running"))
		r := runTraffic(t, direct, "http-probe", map[string]string{"gateway": ns + "/productpage-ingress"})
		if r.Verdict != checks.Error || r.Code != CodeForwardRefused || !strings.Contains(explain(r), "kubectl port-forward -n "+ns+" svc/istio-ingressgateway 9080:9080") {
			t.Fatal(explain(r))
		}
	})
	t.Run("port-forward forbidden", func(t *testing.T) {
		ns := c.Namespace(t)
		c.ApplyT(t, fakelab.Ingress(ns, 9080, "", "Running"))
		// A reader who may read everything but not port-forward.
		c.ApplyT(t, (`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: meshdojo-traffic-test-reader}
rules:
- {apiGroups: ["*"], resources: ["*"], verbs: [get, list, watch]}
`))
		reader := trafficClients(t, c.Impersonate("traffic-reader@example.com"))
		env := newEmitEnv(reader)
		// Without the binding, even finding the ingress is refused.
		r := runTraffic(t, env, "http-probe", map[string]string{"gateway": ns + "/productpage-ingress"})
		if r.Verdict != checks.Error || r.Code != checks.CodeForbidden || !strings.Contains(explain(r), "meshdojo doctor --rbac | kubectl apply -f -") {
			t.Fatal(explain(r))
		}
		c.ApplyT(t, fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: meshdojo-traffic-test-reader-%s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: meshdojo-traffic-test-reader}
subjects: [{kind: User, name: traffic-reader@example.com}]
`, ns))
		// RBAC reads bindings from a cache; wait until it knows.
		for i := 0; i < 100; i++ {
			if _, err := reader.Kube.CoreV1().Services("").List(t.Context(), metav1.ListOptions{Limit: 1}); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		r = runTraffic(t, env, "http-probe", map[string]string{"gateway": ns + "/productpage-ingress"})
		if r.Verdict != checks.Error || r.Code != CodeForwardRefused || !strings.Contains(explain(r), "may not create pods/portforward") {
			t.Fatal(explain(r))
		}
	})
}

// httpHandlerFunc reports the request headers (and Host) it receives.
func httpHandlerFunc(report func(map[string]string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := map[string]string{"Host": r.Host}
		for k := range r.Header {
			h[k] = r.Header.Get(k)
		}
		report(h)
	}
}
