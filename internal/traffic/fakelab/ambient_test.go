package fakelab

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// ambientPod is a running pod of app/version that istio-cni handed to
// ztunnel: no istio-proxy, the redirection annotation.
func ambientPod(app, version string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s-%[2]s-5c4b3a2f1-vwxyz
  namespace: bookinfo
  labels: {app: %[1]s, version: %[2]s, pod-template-hash: 5c4b3a2f1}
  annotations: {ambient.istio.io/redirection: enabled}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: %[1]s-%[2]s-5c4b3a2f1, uid: u, controller: true}]
spec:
  serviceAccountName: %[1]s
  containers: [{name: %[1]s}]
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
---
`, app, version)
}

// waypointYAML is the chapter 11 waypoint: the Gateway, and its pod when
// running.
func waypointYAML(waypointFor string, running bool) string {
	s := `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: istio-waypoint-proxy
  namespace: bookinfo
  labels: {istio.io/waypoint-for: ` + waypointFor + `}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: ztunnel, port: 15008, protocol: HBONE}]
---
`
	if running {
		s += `apiVersion: v1
kind: Pod
metadata:
  name: istio-waypoint-proxy-6f8b9c7d5-w4x7z
  namespace: bookinfo
  labels: {gateway.networking.k8s.io/gateway-name: istio-waypoint-proxy, istio.io/dataplane-mode: none}
spec: {containers: [{name: istio-proxy}]}
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
---
`
	}
	return s
}

// ambientLab is the chapter 11 lab: Bookinfo in ambient mode behind the
// ingress gateway (an Envoy of its own), with the routes of
// chapter-11's *-istio charts (reviews all to v4). extra adds or
// replaces objects; nsLabels are bookinfo's labels.
func ambientLab(t *testing.T, nsLabels string, extra ...string) *Sim {
	t.Helper()
	var b strings.Builder
	b.WriteString(`apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {` + nsLabels + `}}
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-ingress, labels: {istio.io/dataplane-mode: ambient, istio.io/rev: stable}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-1-29-0, namespace: istio-system}
data:
  mesh: |
    rootNamespace: istio-system
    discoverySelectors:
    - matchLabels: {istio.io/dataplane-mode: ambient}
---
` + ingressYAML)
	for _, s := range []string{"productpage", "details", "ratings"} {
		b.WriteString(svcYAML(s))
	}
	for _, p := range [][2]string{{"productpage", "v2"}, {"details", "v3"}, {"ratings", "v3"}, {"reviews", "v1"}, {"reviews", "v2"}, {"reviews", "v4"}} {
		b.WriteString(ambientPod(p[0], p[1]))
	}
	b.WriteString(strings.Replace(reviewsVS("v1=0,v2=0,v4=100"), podYAML("bookinfo", "reviews", "v1", true)+podYAML("bookinfo", "reviews", "v2", true), "", 1))
	return simOf(t, 11, append([]string{b.String()}, extra...)...)
}

const (
	ambientNS  = "istio.io/dataplane-mode: ambient, istio.io/use-waypoint: istio-waypoint-proxy"
	reviewsSvc = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo%s}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
`
)

// TestWaypointRoutes: a Service bound to a running waypoint is routed by
// it (every reviews answer from v4, reported with reporter="waypoint");
// without one, ztunnel alone balances over every version and nobody
// applies the route.
func TestWaypointRoutes(t *testing.T) {
	plainSvc := fmt.Sprintf(reviewsSvc, "")
	for _, c := range []struct {
		name     string
		ns       string
		extra    []string
		waypoint bool
	}{
		{"bound through the namespace label", ambientNS, []string{plainSvc, waypointYAML("service", true)}, true},
		{"bound through the Service label", "istio.io/dataplane-mode: ambient", []string{fmt.Sprintf(reviewsSvc, ", labels: {istio.io/use-waypoint: istio-waypoint-proxy}"), waypointYAML("service", true)}, true},
		{"no waypoint yet", ambientNS, []string{plainSvc}, false},
		{"the waypoint's pod is not running", ambientNS, []string{plainSvc, waypointYAML("service", false)}, false},
		{"the Service opts out", ambientNS, []string{fmt.Sprintf(reviewsSvc, ", labels: {istio.io/use-waypoint: none}"), waypointYAML("service", true)}, false},
		{"a waypoint for workloads only", ambientNS, []string{plainSvc, waypointYAML("workload", true)}, false},
		{"no label", "istio.io/dataplane-mode: ambient", []string{plainSvc, waypointYAML("service", true)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := ambientLab(t, c.ns, c.extra...)
			got := send(s, "/api/v1/products/0/reviews", 90, nil)
			if got.status[200] != 90 {
				t.Fatalf("statuses %v", got.status)
			}
			q, err := s.Query(`sum(istio_requests_total{reporter="waypoint",destination_service_name="reviews",source_workload="productpage-v2"})`)
			if err != nil {
				t.Fatal(err)
			}
			src, _ := s.Query(`istio_requests_total{reporter="source",source_workload="productpage-v2"}`)
			if len(src) != 0 {
				t.Errorf("productpage has no proxy, yet it reported %v", src)
			}
			if c.waypoint {
				if got.versions["v4"] != 90 {
					t.Errorf("versions %v, want all v4", got.versions)
				}
				if len(q) != 1 || q[0].Value != 90 {
					t.Errorf("waypoint-reported calls: %v, want 90", q)
				}
				return
			}
			if got.versions["v1"] < 15 || got.versions["v2"] < 15 || got.versions["v4"] < 15 {
				t.Errorf("versions %v, want a spread over v1, v2 and v4", got.versions)
			}
			if len(q) != 0 {
				t.Errorf("waypoint-reported calls without a waypoint: %v", q)
			}
		})
	}
}

// TestZtunnelPeerAuthentication: ztunnel refuses plain text under
// STRICT and accepts it under DISABLE (it has no way to refuse mTLS),
// while ambient callers, over HBONE, get through in both.
func TestZtunnelPeerAuthentication(t *testing.T) {
	plainSvc := fmt.Sprintf(reviewsSvc, "")
	for _, c := range []struct {
		mode       string
		plainReset bool
	}{{"STRICT", true}, {"DISABLE", false}, {"PERMISSIVE", false}} {
		s := ambientLab(t, ambientNS, plainSvc, waypointYAML("service", true), pa("bookinfo", c.mode))
		r := s.FromPod(context.Background(), "default", false, Request{Host: "ratings.bookinfo", Port: 9080, Path: "/ratings/0"})
		if reset := r.Err == "reset"; reset != c.plainReset {
			t.Errorf("%s: a plain-text client got %+v, want reset %v", c.mode, r, c.plainReset)
		}
		got := send(s, "/api/v1/products/0/ratings", 10, nil)
		if got.status[200] != 10 {
			t.Errorf("%s: in-mesh calls got %v, want every one 200", c.mode, got.status)
		}
	}
}
