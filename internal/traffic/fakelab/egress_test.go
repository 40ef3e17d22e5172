package fakelab

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ingressSvc is the lab's ingress gateway Service: one port, 9080, as
// the chapter's values render it.
const ingressSvc = `apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-ingress}
spec: {selector: {istio: ingressgateway}, ports: [{name: http-productpage, appProtocol: http, port: 9080}]}
`

// activeClusters reads cluster_manager.active_clusters from the pod's
// stats as envoy-stat would.
func activeClusters(t *testing.T, s *Sim, p *Pod) int {
	t.Helper()
	text, ok := s.EnvoyStats(p)
	if !ok {
		t.Fatalf("%s has no stats", p.Key())
	}
	m := regexp.MustCompile(`(?m)^envoy_cluster_manager_active_clusters\{\} (\d+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no envoy_cluster_manager_active_clusters in:\n%s", text)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func gatewayPod(s *Sim) *Pod {
	w, _ := s.world()
	for _, p := range w.Pods {
		if p.Labels["istio"] == "ingressgateway" {
			return p
		}
	}
	return nil
}

func TestSidecarScopesClusters(t *testing.T) {
	// productpage knows the four bookinfo Services, productpage's v2
	// subset and the ingress Service: 6 outbound clusters, one inbound,
	// three of istiod's own and four of Envoy's bootstrap.
	open := lab(t, ingressSvc)
	pp := podOf(open, "productpage")
	if got := activeClusters(t, open, pp); got != 14 {
		w, _ := open.world()
		t.Errorf("no Sidecar: %d clusters, want 14: %v", got, w.Clusters(pp))
	}
	w, _ := open.world()
	for _, c := range []string{"outbound|9080||istio-ingressgateway.istio-ingress.svc.cluster.local", "outbound|9080|v2|productpage.bookinfo.svc.cluster.local",
		"inbound|9080||", "BlackHoleCluster", "PassthroughCluster", "InboundPassthroughCluster", "xds-grpc"} {
		if !slices.Contains(w.Clusters(pp), c) {
			t.Errorf("no Sidecar: %s missing from %v", c, w.Clusters(pp))
		}
	}

	sidecar := func(selector, hosts string) string {
		return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: productpage, namespace: bookinfo}
spec:
  workloadSelector: {labels: {app: ` + selector + `}}
  egress: [{hosts: [` + hosts + `]}]
`
	}
	own := lab(t, ingressSvc, sidecar("productpage", `"./*"`))
	if got := activeClusters(t, own, podOf(own, "productpage")); got != 13 {
		t.Errorf("Sidecar ./*: %d clusters, want 13 (the ingress Service's cluster gone)", got)
	}
	if got := activeClusters(t, own, podOf(own, "reviews")); got != 14 {
		t.Errorf("Sidecar for productpage only: reviews has %d clusters, want 14 (it is not selected)", got)
	}
	typo := lab(t, ingressSvc, sidecar("product-page", `"./*"`))
	if got := activeClusters(t, typo, podOf(typo, "productpage")); got != 14 {
		t.Errorf("Sidecar selecting no pod: %d clusters, want 14", got)
	}
	two := lab(t, ingressSvc, sidecar("productpage", `"./details.bookinfo.svc.cluster.local", "./reviews.bookinfo.svc.cluster.local"`))
	if got := activeClusters(t, two, podOf(two, "productpage")); got != 10 {
		w, _ := two.world()
		t.Errorf("Sidecar with two hosts: %d clusters, want 10: %v", got, w.Clusters(podOf(two, "productpage")))
	}
	// A namespace default without a selector covers every pod; one
	// selecting the pod wins over it.
	def := lab(t, ingressSvc, `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: bookinfo}
spec:
  egress: [{hosts: ["./reviews.bookinfo.svc.cluster.local"]}]
`, sidecar("productpage", `"*/*"`))
	if got := activeClusters(t, def, podOf(def, "reviews")); got != 9 {
		t.Errorf("namespace default with one host: reviews has %d clusters, want 9", got)
	}
	if got := activeClusters(t, def, podOf(def, "productpage")); got != 14 {
		t.Errorf("productpage's own Sidecar (*/*) over the default: %d clusters, want 14", got)
	}
	// The stats list every cluster, used or not.
	text, _ := own.EnvoyStats(podOf(open, "productpage"))
	if !strings.Contains(text, `envoy_cluster_upstream_cx_total{cluster_name="outbound|9080||reviews.bookinfo.svc.cluster.local"} 0`) {
		t.Errorf("no zero upstream_cx_total for an unused cluster:\n%s", text)
	}
}

func TestServiceExportTo(t *testing.T) {
	has := func(s *Sim, p *Pod, host string) bool {
		w, _ := s.world()
		return slices.ContainsFunc(w.Clusters(p), func(c string) bool { return strings.HasSuffix(c, "|"+host) })
	}
	const ratings = "ratings.bookinfo.svc.cluster.local"
	open := lab(t, ingressSvc)
	if !has(open, gatewayPod(open), ratings) {
		t.Fatal("without exportTo the gateway should know ratings")
	}
	private := lab(t, ingressSvc, `apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo, annotations: {networking.istio.io/exportTo: "."}}
spec: {selector: {app: ratings}, ports: [{name: http, port: 9080}]}
`)
	if has(private, gatewayPod(private), ratings) {
		t.Error("exportTo . : the gateway in istio-ingress still has a ratings cluster")
	}
	if !has(private, podOf(private, "productpage"), ratings) {
		t.Error("exportTo . : productpage, in bookinfo, lost its ratings cluster")
	}
	// A gateway ignores Sidecars.
	scoped := lab(t, ingressSvc, `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-ingress}
spec: {egress: [{hosts: ["./*"]}]}
`)
	if !has(scoped, gatewayPod(scoped), ratings) {
		t.Error("a Sidecar in the gateway's namespace changed the gateway's clusters")
	}
}

func TestOutboundTrafficPolicy(t *testing.T) {
	mesh := func(mode string) string {
		return `apiVersion: v1
kind: ConfigMap
metadata: {name: istio-1-29-0, namespace: istio-system}
data:
  mesh: |
    rootNamespace: istio-system
    outboundTrafficPolicy: {mode: ` + mode + `}
    discoverySelectors:
    - matchLabels: {istio.io/rev: stable}
`
	}
	entry := func(exportTo string, port int, proto string) string {
		return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: example, namespace: bookinfo}
spec:
  hosts: [www.example.com]
  exportTo: ["` + exportTo + `"]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: ` + strconv.Itoa(port) + `, name: http, protocol: ` + proto + `}]
`
	}
	call := func(s *Sim, ns string, sidecar bool, host string) Response {
		return s.FromPod(context.Background(), ns, sidecar, Request{Host: host, Port: 80, Path: "/"})
	}
	const host = "www.example.com"
	cases := []struct {
		name    string
		docs    []string
		ns      string
		sidecar bool
		host    string
		status  int
		err     string
	}{
		{"ALLOW_ANY passes an unknown host through", nil, "bookinfo", true, host, 200, ""},
		{"no proxy reaches the internet", []string{mesh("REGISTRY_ONLY")}, "bookinfo", false, host, 200, ""},
		{"REGISTRY_ONLY closes a call on a port without HTTP routes", []string{mesh("REGISTRY_ONLY")}, "bookinfo", true, host, 0, "reset"},
		{"the ServiceEntry lets it leave", []string{mesh("REGISTRY_ONLY"), entry(".", 80, "HTTP")}, "bookinfo", true, host, 200, ""},
		{"exported to . only: istio-ingress does not see it", []string{mesh("REGISTRY_ONLY"), entry(".", 80, "HTTP")}, "istio-ingress", true, host, 0, "reset"},
		{"an entry for another port does not", []string{mesh("REGISTRY_ONLY"), entry(".", 443, "TLS")}, "bookinfo", true, host, 0, "reset"},
		{"another host on a port with HTTP routes gets 502", []string{mesh("REGISTRY_ONLY"), entry(".", 80, "HTTP")}, "bookinfo", true, "www.example.org", 502, ""},
		{"ALLOW_ANY with the entry for another host passes", []string{mesh("ALLOW_ANY"), entry(".", 80, "HTTP")}, "bookinfo", true, "www.example.org", 200, ""},
		{"a Sidecar's REGISTRY_ONLY overrides the mesh's ALLOW_ANY", []string{`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: bookinfo}
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
`}, "bookinfo", true, host, 0, "reset"},
		{"a made-up domain does not resolve", nil, "bookinfo", true, "nothing.invalid", 0, "dns"},
	}
	for _, c := range cases {
		s := lab(t, c.docs...)
		r := call(s, c.ns, c.sidecar, c.host)
		if r.Status != c.status || r.Err != c.err {
			t.Errorf("%s: got status %d err %q, want %d %q", c.name, r.Status, r.Err, c.status, c.err)
		}
	}
	// In-mesh calls to known Services are untouched by REGISTRY_ONLY.
	s := lab(t, mesh("REGISTRY_ONLY"), podYAML("bookinfo", "ratings", "v3", true))
	if r := s.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: "/api/v1/products/0/reviews", Header: http.Header{}}); r.Status != 200 {
		t.Errorf("REGISTRY_ONLY broke bookinfo's own calls: %d %s", r.Status, r.Err)
	}
	// A Service the proxy's Sidecar leaves out is unknown to it.
	hidden := lab(t, mesh("REGISTRY_ONLY"), podYAML("bookinfo", "ratings", "v3", true), `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: productpage, namespace: bookinfo}
spec:
  workloadSelector: {labels: {app: productpage}}
  egress: [{hosts: ["./details.bookinfo.svc.cluster.local"]}]
`)
	if r := hidden.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: "/api/v1/products/0/reviews", Header: http.Header{}}); r.Status != 502 {
		t.Errorf("productpage calling reviews, which its Sidecar leaves out, under REGISTRY_ONLY: %d, want 502 (port 9080 has HTTP routes)", r.Status)
	}
	if r := hidden.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: "/api/v1/products/0", Header: http.Header{}}); r.Status != 200 {
		t.Errorf("productpage calling details, which its Sidecar keeps: %d, want 200", r.Status)
	}
}
