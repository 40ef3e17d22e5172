package fakelab

import (
	"context"
	"strings"
	"testing"
)

// gatewayAPILab is Bookinfo with sidecars under STRICT mTLS, no Istio
// Gateway, and a Gateway API Gateway istio-ingress/istio-ingress of the
// given class with the routes given.
func gatewayAPILab(t *testing.T, class string, routes ...string) *Sim {
	t.Helper()
	docs := `apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {istio.io/rev: stable}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: istio-ingress, namespace: istio-ingress}
spec:
  gatewayClassName: ` + class + `
  listeners: [{name: http-productpage, protocol: HTTP, port: 9080}]
---
` + svcYAML("productpage") + svcYAML("reviews") + svcYAML("details") + svcYAML("ratings") +
		podYAML("bookinfo", "productpage", "v2", true) + podYAML("bookinfo", "reviews", "v4", true) +
		podYAML("bookinfo", "details", "v3", true) + podYAML("bookinfo", "ratings", "v3", true) + pa("bookinfo", "STRICT") +
		strings.Join(routes, "---\n")
	return simOf(t, 3, docs)
}

func httpRoute(name, parents, backend string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ` + name + `, namespace: bookinfo}
spec:
  parentRefs: ` + parents + `
  rules: [{backendRefs: [{kind: Service, name: ` + backend + `, port: 9080}]}]
`
}

// TestGatewayAPIIngress: only a route attached to a Gateway that exists
// leads ingress traffic; GAMMA routes (parent a Service) lead none; a
// Gateway of class istio calls the backend with mTLS, another class as
// plain text, which STRICT refuses.
func TestGatewayAPIIngress(t *testing.T) {
	north := httpRoute("productpage", "[{name: istio-ingress, namespace: istio-ingress}]", "productpage")
	gamma := httpRoute("details", `[{group: "", kind: Service, name: details, port: 9080}]`, "details") + "---\n" +
		httpRoute("reviews", `[{group: "", kind: Service, name: reviews, port: 9080}]`, "reviews")
	for _, c := range []struct {
		name   string
		class  string
		routes []string
		status int
		err    string
	}{
		{"an istio gateway with a route", "istio", []string{north, gamma}, 200, ""},
		{"mesh routes only", "istio", []string{gamma}, 0, "refused"},
		{"a route to a Gateway in another namespace that does not exist", "istio",
			[]string{httpRoute("productpage", "[{name: istio-ingress}]", "productpage")}, 0, "refused"},
		{"a gateway outside the mesh under STRICT", "nginx", []string{north}, 0, "reset"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := gatewayAPILab(t, c.class, c.routes...)
			r := s.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: "/productpage"})
			if r.Status != c.status || r.Err != c.err {
				t.Errorf("got status %d err %q, want %d %q", r.Status, r.Err, c.status, c.err)
			}
		})
	}
}
