package fakelab

// The faults of lesson 14 (troubleshooting), each on the chapter 6 lab
// (Bookinfo under a STRICT PeerAuthentication, ratings routed to subset
// v3): the symptom must show with the fault and be gone with the fix.

import (
	"context"
	"strings"
	"testing"
)

// ch6 is the chapter 6 lab as lesson 6 leaves it, plus docs that
// replace any of its objects.
func ch6(t *testing.T, docs ...string) *Sim {
	t.Helper()
	return lab(t, append([]string{`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: bookinfo, namespace: bookinfo}
spec: {mtls: {mode: STRICT}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: bookinfo}
spec:
  host: ratings.bookinfo.svc.cluster.local
  subsets: [{name: v3, labels: {version: v3}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: bookinfo}
spec:
  hosts: [ratings.bookinfo.svc.cluster.local]
  http:
  - match: [{port: 9080}]
    route: [{destination: {host: ratings.bookinfo.svc.cluster.local, subset: v3}}]
---
` + podYAML("bookinfo", "ratings", "v3", true)}, docs...)...)
}

const ratingsAPI = "/api/v1/products/0/ratings"

// permissive replaces the lab's STRICT policy.
const permissive = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: bookinfo, namespace: bookinfo}
spec: {mtls: {mode: PERMISSIVE}}
`

func TestFaultSubsetWithoutPods(t *testing.T) {
	broken := send(ch6(t, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: bookinfo}
spec:
  host: ratings.bookinfo.svc.cluster.local
  subsets: [{name: v3, labels: {version: v3-canary}}]
`), ratingsAPI, 20, nil)
	if broken.status[503] != 20 || broken.flags["UH"] != 20 {
		t.Errorf("subset without pods: %v, productpage's flags %v; want 503 with UH every time", broken.status, broken.flags)
	}
	fixed := send(ch6(t), ratingsAPI, 20, nil)
	if fixed.status[200] != 20 || fixed.flags["UH"] != 0 {
		t.Errorf("the lab: %v, flags %v; want 200 without UH", fixed.status, fixed.flags)
	}
}

func TestFaultTLSOffAgainstStrict(t *testing.T) {
	off := `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: bookinfo}
spec:
  host: ratings.bookinfo.svc.cluster.local
  trafficPolicy: {tls: {mode: DISABLE}}
  subsets: [{name: v3, labels: {version: v3}}]
`
	broken := send(ch6(t, off), ratingsAPI, 20, nil)
	if broken.status[503] != 20 || broken.flags["UC"]+broken.flags["UF"]+broken.flags["UF,URX"] != 20 {
		t.Errorf("TLS off against STRICT: %v, flags %v; want 503 with UC or UF every time", broken.status, broken.flags)
	}
	accepted := send(ch6(t, off, permissive), ratingsAPI, 10, nil)
	if accepted.status[200] != 10 {
		t.Errorf("TLS off against PERMISSIVE: %v; want 200 (plain text accepted)", accepted.status)
	}
	if fixed := send(ch6(t), ratingsAPI, 10, nil); fixed.status[200] != 10 {
		t.Errorf("the lab: %v", fixed.status)
	}
}

// nosidecarPP is a second productpage-v2 pod without a sidecar (a
// Deployment whose template says sidecar.istio.io/inject: "false").
func nosidecarPP(sidecar bool) string {
	proxy := ""
	if sidecar {
		proxy = "\n  - name: istio-proxy"
	}
	return `apiVersion: v1
kind: Pod
metadata:
  name: productpage-v2-nosidecar-5f7d9c8b6-qwert
  namespace: bookinfo
  labels: {app: productpage, version: v2, pod-template-hash: 5f7d9c8b6}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: productpage-v2-nosidecar-5f7d9c8b6, uid: u2, controller: true}]
spec:
  serviceAccountName: productpage
  containers:
  - name: productpage` + proxy + `
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
`
}

func TestFaultMissingSidecar(t *testing.T) {
	broken := send(ch6(t, nosidecarPP(false)), ratingsAPI, 200, nil)
	// The gateway reaches the pod without a sidecar in plain text (auto
	// mTLS sees no sidecar); that pod's own calls are plain text, which
	// ratings' STRICT sidecar resets.
	if broken.status[200] < 60 || broken.status[200] > 140 {
		t.Errorf("a productpage pod without a sidecar: %v; want about half of the calls to fail", broken.status)
	}
	if fixed := send(ch6(t, nosidecarPP(true)), ratingsAPI, 50, nil); fixed.status[200] != 50 {
		t.Errorf("both productpage pods with sidecars: %v", fixed.status)
	}
	// Under PERMISSIVE the plain-text calls are accepted: the fault hides.
	if hidden := send(ch6(t, nosidecarPP(false), permissive), ratingsAPI, 50, nil); hidden.status[200] != 50 {
		t.Errorf("without a sidecar under PERMISSIVE: %v; want every call to work", hidden.status)
	}
}

func TestFaultPortAsTCP(t *testing.T) {
	tcp := `apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo}
spec: {selector: {app: ratings}, ports: [{name: http, port: 9080, appProtocol: tcp}]}
`
	// A route fault shows which treatment the port gets: HTTP routes
	// apply only when the port is HTTP.
	abort := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: bookinfo}
spec:
  hosts: [ratings.bookinfo.svc.cluster.local]
  http:
  - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: ratings.bookinfo.svc.cluster.local, subset: v3}}]
`
	asTCP := ch6(t, tcp, abort)
	got := send(asTCP, ratingsAPI, 20, nil)
	if got.status[200] != 20 {
		t.Errorf("ratings' port declared tcp: %v; want 200 (the bytes pass, the HTTP route's fault does not apply)", got.status)
	}
	if n := requestsTo(t, asTCP, "ratings"); n != 0 {
		t.Errorf("istio_requests_total counted %v requests to ratings over a TCP port; want none (TCP metrics only)", n)
	}
	for _, l := range asTCP.AccessLog(podOf(asTCP, "productpage")) {
		if strings.Contains(l, `"upstream_cluster":"outbound|9080||ratings`) != strings.Contains(l, `"response_code":0`) {
			t.Errorf("productpage's log line for a TCP connection has a response code: %s", l)
		}
	}
	asHTTP := ch6(t, abort)
	if got := send(asHTTP, ratingsAPI, 20, nil); got.status[418] != 20 {
		t.Errorf("ratings' port http: %v; want the route's 418", got.status)
	}
	plain := ch6(t)
	send(plain, ratingsAPI, 5, nil)
	if n := requestsTo(t, plain, "ratings"); n != 5 {
		t.Errorf("istio_requests_total counted %v requests to ratings over HTTP, want 5", n)
	}
	// A name prefix does the same when there is no appProtocol.
	named := ch6(t, `apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo}
spec: {selector: {app: ratings}, ports: [{name: tcp-web, port: 9080}]}
`, abort)
	if got := send(named, ratingsAPI, 10, nil); got.status[200] != 10 {
		t.Errorf("port named tcp-web: %v; want 200 as TCP", got.status)
	}
}

// gwTally is a tally with the ingress gateway's own access-log flags.
type gwTally struct {
	tally
	gw map[string]int
}

func sendGW(s *Sim, path string, n int, hdr map[string][]string) gwTally {
	t := send(s, path, n, hdr)
	gw := map[string]int{}
	for _, l := range s.AccessLog(podOf(s, "istio-ingressgateway")) {
		if i := strings.Index(l, `"response_flags":"`); i >= 0 {
			f := l[i+len(`"response_flags":"`):]
			gw[f[:strings.Index(f, `"`)]]++
		}
	}
	return gwTally{t, gw}
}

// requestsTo is what Prometheus holds for HTTP requests to a service,
// reported by the destination.
func requestsTo(t *testing.T, s *Sim, svc string) float64 {
	t.Helper()
	out, err := s.Query(`sum(istio_requests_total{destination_service_name="` + svc + `",reporter="destination"})`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, x := range out {
		n += x.Value
	}
	return n
}

func TestFaultVirtualServiceHostMatchesNothing(t *testing.T) {
	broken := sendGW(ch6(t, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: productpage-ingress, namespace: bookinfo}
spec:
  hosts: [productpage.bookinfo.example.com]
  gateways: [istio-ingress/productpage-ingress]
  http:
  - route: [{destination: {host: productpage.bookinfo.svc.cluster.local, port: {number: 9080}, subset: v2}}]
`), "/productpage", 10, nil)
	if broken.status[404] != 10 || broken.gw["NR"] != 10 {
		t.Errorf("a VirtualService host no request has: %v, the gateway's flags %v; want 404 NR", broken.status, broken.gw)
	}
	if fixed := send(ch6(t), "/productpage", 10, nil); fixed.status[200] != 10 {
		t.Errorf("the lab: %v", fixed.status)
	}
}

func TestFaultAuthorizationDeniesTooMuch(t *testing.T) {
	policy := func(principals string) string {
		return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings-callers, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: ratings}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [` + principals + `]}}]
`
	}
	broken := ch6(t, policy("cluster.local/ns/bookinfo/sa/reviews"))
	got := send(broken, ratingsAPI, 10, nil)
	if got.status[403] != 10 {
		t.Errorf("productpage to ratings, only reviews allowed: %v %v; want 403 passed on by productpage", got.status, got.bodies)
	}
	direct := broken.FromPod(context.Background(), "bookinfo", true, Request{Host: "ratings.bookinfo", Port: 9080, Path: "/ratings/0"})
	if direct.Status != 403 || direct.Body != "RBAC: access denied" {
		t.Errorf("a caller in bookinfo (no principal allowed) to ratings: %d %q; want 403 RBAC: access denied", direct.Status, direct.Body)
	}
	r := broken.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: "/api/v1/products/0/reviews"})
	if r.Status != 200 || !strings.Contains(r.Body, `"stars":5`) && !strings.Contains(r.Body, `"rating"`) {
		t.Errorf("reviews to ratings (allowed): %d %s", r.Status, r.Body)
	}
	fixed := send(ch6(t, policy("cluster.local/ns/bookinfo/sa/reviews, cluster.local/ns/bookinfo/sa/productpage")), ratingsAPI, 10, nil)
	if fixed.status[200] != 10 {
		t.Errorf("productpage allowed too: %v", fixed.status)
	}
}

func TestFaultGatewaySelectsNoPods(t *testing.T) {
	s := ch6(t, `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: productpage-ingress, namespace: istio-ingress}
spec:
  selector: {istio: ingress-gateway}
  servers: [{port: {number: 9080, name: http, protocol: HTTP}, hosts: ["*"]}]
`)
	r := s.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: "/productpage"})
	if r.Err == "" || r.Status != 0 {
		t.Errorf("a Gateway that selects no gateway pod: %+v; want the connection refused (no listener on 9080)", r)
	}
	if got := send(ch6(t), "/productpage", 5, nil); got.status[200] != 5 {
		t.Errorf("the lab: %v", got.status)
	}
}
