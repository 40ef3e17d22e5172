package catalogue

import (
	"errors"
	"testing"

	"github.com/meshdojo/meshdojo/checks"
)

// TestRefusedBeforeRun lists every parameter value that is wrong whatever
// the cluster holds (most of them were found only when the check ran, in
// front of a reader, as "a lesson bug"): Validate, which the lint and
// `check --run` call, refuses each, naming the parameter, with this exact
// error.
func TestRefusedBeforeRun(t *testing.T) {
	for _, tc := range []struct {
		check  string
		params map[string]string
		param  string
		want   string
	}{
		{"gateway-condition", map[string]string{"kind": "HTTPRoute", "namespace": "a", "name": "r", "condition": "Accepted", "parent": "a/b/c/d"},
			"parent", "check gateway-condition: parameter \"parent\": \"a/b/c/d\" is not name, namespace/name or Kind/[namespace/]name, e.g. istio-ingress/istio-ingress or Service/reviews"},
		{"gateway-condition", map[string]string{"kind": "HTTPRoute", "namespace": "a", "name": "r", "condition": "Accepted", "parent": "istio-ingress/"},
			"parent", "check gateway-condition: parameter \"parent\": \"istio-ingress/\" is not name, namespace/name or Kind/[namespace/]name, with neither part empty"},
		{"gateway-condition", map[string]string{"name": "g", "condition": "Programmed"},
			"namespace", "check gateway-condition: missing required parameter \"namespace\" (the namespace of the Gateway)"},
		{"gateway-condition", map[string]string{"namespace": "a", "name": "g", "condition": "Programmed", "parent": "x"},
			"parent", "check gateway-condition: parameter \"parent\": \"x\" is not allowed with kind Gateway: parent is for kind HTTPRoute only; leave it out"},
		{"gateway-condition", map[string]string{"namespace": "a", "name": "g", "condition": "Not a type!"},
			"condition", "check gateway-condition: parameter \"condition\": \"Not a type!\" is not a condition type such as Accepted, Programmed or ResolvedRefs: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"},
		{"mtls-mode", map[string]string{"namespace": "bookinfo", "selector": "app in (("},
			"selector", "check mtls-mode: parameter \"selector\": \"app in ((\" is not a label selector such as app=reviews or app in (reviews,ratings)"},
		{"mtls-mode", map[string]string{"namespace": ""},
			"namespace", "check mtls-mode: missing required parameter \"namespace\" (namespace whose workloads are judged; it is empty)"},
		{"mtls-mode", map[string]string{"namespace": "Bookinfo"},
			"namespace", "check mtls-mode: parameter \"namespace\": \"Bookinfo\" is not a namespace name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"},
		{"resource-field", map[string]string{"kind": "Virtualservce", "namespace": "a", "path": "spec", "op": "exists"},
			"kind", "check resource-field: parameter \"kind\": \"Virtualservce\" is not a Kind such as VirtualService, DestinationRule, PeerAuthentication, Telemetry, Gateway, HTTPRoute, Service, Deployment, ConfigMap, Namespace, or resource.group such as gateways.gateway.networking.k8s.io"},
		{"resource-count", map[string]string{"kind": "Virtualservce"},
			"kind", "check resource-count: parameter \"kind\": \"Virtualservce\" is not a Kind such as VirtualService, DestinationRule, PeerAuthentication, Telemetry, Gateway, HTTPRoute, Service, Deployment, ConfigMap, Namespace, or resource.group such as gateways.gateway.networking.k8s.io"},
		{"resource-field", map[string]string{"kind": "VirtualService", "namespace": "a", "path": "spec.http[0", "op": "exists"},
			"path", "check resource-field: parameter \"path\": \"spec.http[0\" is not a field path such as spec.http[0].route[1].weight or spec.subsets[name=v3].labels (a [ is not closed)"},
		{"mesh-config", map[string]string{"path": "spec..x", "op": "exists"},
			"path", "check mesh-config: parameter \"path\": \"spec..x\" is not a field path such as spec.http[0].route[1].weight or spec.subsets[name=v3].labels (a dot must be followed by a field name)"},
		{"resource-field", map[string]string{"kind": "VirtualService", "namespace": "a", "path": "spec", "op": "matches", "value": "("},
			"value", "check resource-field: parameter \"value\": \"(\" is not a regular expression (RE2 syntax)"},
		{"mesh-config", map[string]string{"path": "defaultConfig.drainDuration", "op": "gte", "value": "soon"},
			"value", "check mesh-config: parameter \"value\": \"soon\" is not a number, a duration such as 5s, or a quantity such as 100Mi, for op gte"},
		{"resource-field", map[string]string{"kind": "VirtualService", "namespace": "a", "path": "spec", "op": "contains"},
			"value", "check resource-field: missing required parameter \"value\" (a value for op contains)"},
		{"resource-field", map[string]string{"kind": "VirtualService", "path": "spec", "op": "exists"},
			"namespace", "check resource-field: missing required parameter \"namespace\" (the namespace of the VirtualService)"},
		{"resource-field", map[string]string{"kind": "VirtualService", "namespace": "a", "selector": "app in ((", "path": "spec", "op": "exists"},
			"selector", "check resource-field: parameter \"selector\": \"app in ((\" is not a label selector such as app=reviews or app in (reviews,ratings)"},
		{"resource-count", map[string]string{"kind": "Pod", "selector": "app in (("},
			"selector", "check resource-count: parameter \"selector\": \"app in ((\" is not a label selector such as app=reviews or app in (reviews,ratings)"},
		{"resource-count", map[string]string{"kind": "Pod", "min": "2", "max": "1"},
			"max", "check resource-count: parameter \"max\": \"1\" is not at least min (2)"},
		{"crd-served", map[string]string{"name": "gateways"},
			"name", "check crd-served: parameter \"name\": \"gateways\" is not a CRD name, resource.group, such as peerauthentications.security.istio.io"},
		{"route-weights", map[string]string{"namespace": "a", "name": "reviews", "weights": "v1=-10,v2=110"},
			"weights", "check route-weights: parameter \"weights\": \"v1=-10,v2=110\" is not a set of weights without negative ones"},
		{"route-weights", map[string]string{"namespace": "a", "name": "reviews", "weights": "v1=0"},
			"weights", "check route-weights: parameter \"weights\": \"v1=0\" is not a set of weights with at least one above 0"},
		{"pod-probe", map[string]string{"namespace": "default", "url": "ratings:9080"},
			"url", "check pod-probe: parameter \"url\": \"ratings:9080\" is not an http:// or https:// URL such as http://ratings.bookinfo:9080/ratings/0"},
		{"pod-probe", map[string]string{"namespace": "default", "url": "http://ratings:9080/", "timeout": "0s"},
			"timeout", "check pod-probe: parameter \"timeout\": \"0s\" is not 1ms or more"},
		{"pod-probe", map[string]string{"namespace": "default", "url": "http://ratings:9080/", "start-timeout": "-1s"},
			"start-timeout", "check pod-probe: parameter \"start-timeout\": \"-1s\" is not 1ms or more"},
		{"pod-probe", map[string]string{"namespace": "default", "url": "http://ratings:9080/", "header": "no colon"},
			"header", "check pod-probe: parameter \"header\": \"no colon\" is not Name: value pairs separated by ;, such as x-user: jason"},
		{"pod-probe", map[string]string{"namespace": "default", "url": "http://ratings:9080/", "image": "curl image"},
			"image", "check pod-probe: parameter \"image\": \"curl image\" is not an image reference such as curlimages/curl:8.11.1"},
		{"http-probe", map[string]string{"path": "productpage"},
			"path", "check http-probe: parameter \"path\": \"productpage\" is not a path starting with /, such as /api/v1/products/0/reviews"},
		{"http-probe", map[string]string{"count": "0"},
			"count", "check http-probe: parameter \"count\": \"0\" is not 1 to 1000"},
		{"http-probe", map[string]string{"count": "5000"},
			"count", "check http-probe: parameter \"count\": \"5000\" is not 1 to 1000"},
		{"http-probe", map[string]string{"concurrency": "100"},
			"concurrency", "check http-probe: parameter \"concurrency\": \"100\" is not 1 to 64"},
		{"http-probe", map[string]string{"deadline": "10m"},
			"deadline", "check http-probe: parameter \"deadline\": \"10m\" is not 1ms to 5m0s"},
		{"http-probe", map[string]string{"timeout": "0s"},
			"timeout", "check http-probe: parameter \"timeout\": \"0s\" is not 1ms or more"},
		{"http-probe", map[string]string{"header": "no colon here"},
			"header", "check http-probe: parameter \"header\": \"no colon here\" is not Name: value pairs separated by ;, such as x-user: jason"},
		{"http-probe", map[string]string{"confidence": "1.5"},
			"confidence", "check http-probe: parameter \"confidence\": \"1.5\" is not a number between 0.5 and 1, such as 0.99"},
		{"http-probe", map[string]string{"ingress": "ftp://example"},
			"ingress", "check http-probe: parameter \"ingress\": \"ftp://example\" is not an address such as http://localhost:9080 (ingress address \"ftp://example\" is not an http:// or https:// address such as http://localhost:9080)"},
		{"http-probe", map[string]string{"namespace": "istio-ingress"},
			"namespace", "check http-probe: parameter \"namespace\": \"istio-ingress\" is not allowed without service: give service too, or leave namespace out"},
		{"http-probe", map[string]string{"versions": "v1=0,v2=0"},
			"versions", "check http-probe: parameter \"versions\": \"v1=0,v2=0\" is not a set of weights with at least one above 0"},
		{"http-probe", map[string]string{"port": "70000"},
			"port", "check http-probe: parameter \"port\": \"70000\" is not 1 to 65535"},
		{"http-probe", map[string]string{"min-latency": "2s", "max-latency": "1s"},
			"max-latency", "check http-probe: parameter \"max-latency\": \"1s\" is not at least min-latency (2s)"},
		{"workloads-in-mesh", map[string]string{"namespace": "a", "selector": "app in (("},
			"selector", "check workloads-in-mesh: parameter \"selector\": \"app in ((\" is not a label selector such as app=reviews or app in (reviews,ratings)"},
		{"workload-ready", map[string]string{"namespace": "a"},
			"name", "check workload-ready: missing required parameter \"name\" (a value for name, or selector)"},
		{"workload-ready", map[string]string{"namespace": "a", "selector": "app in (("},
			"selector", "check workload-ready: parameter \"selector\": \"app in ((\" is not a label selector such as app=reviews or app in (reviews,ratings)"},
		{"namespace-enrolled", map[string]string{"namespace": "a", "mode": "ambient", "revision": "stable"},
			"revision", "check namespace-enrolled: parameter \"revision\": \"stable\" is not allowed with mode ambient: revision is for mode sidecar only; leave it out"},
		{"istiod-ready", map[string]string{"revision": "not a revision"},
			"revision", "check istiod-ready: parameter \"revision\": \"not a revision\" is not a label value such as stable or 1-29-0: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"},
		{"envoy-stat", map[string]string{"namespace": "a", "selector": "app in ((", "stat": "x"},
			"selector", "check envoy-stat: parameter \"selector\": \"app in ((\" is not a label selector such as app=reviews or app in (reviews,ratings)"},
		{"envoy-stat", map[string]string{"namespace": "a", "selector": "app=productpage", "stat": "envoy-cluster"},
			"stat", "check envoy-stat: parameter \"stat\": \"envoy-cluster\" is not a Prometheus metric name such as envoy_cluster_upstream_rq_retry"},
		{"prometheus-query", map[string]string{"query": "up", "port": "0"},
			"port", "check prometheus-query: parameter \"port\": \"0\" is not 1 to 65535"},
	} {
		c, ok := Lookup(tc.check)
		if !ok {
			t.Fatalf("no check %s", tc.check)
		}
		_, err := c.Validate(tc.params)
		var inv *checks.InvalidParams
		if !errors.As(err, &inv) {
			t.Errorf("%s %v: accepted, want %q", tc.check, tc.params, tc.want)
			continue
		}
		if len(inv.Problems) != 1 || inv.Problems[0].Param != tc.param || err.Error() != tc.want {
			t.Errorf("%s %v:\n got %q\nwant %q (one problem, of %s)", tc.check, tc.params, err, tc.want, tc.param)
		}
	}
}
