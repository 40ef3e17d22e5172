package fakelab

import (
	"fmt"
	"strings"
	"testing"
)

// TestWaypointLostItsPods: once a waypoint has had a ready pod, istiod
// has written addresses into its Gateway's status and keeps the Services
// bound to it; when its pods are gone, calls to those Services fail
// instead of falling back to ztunnel alone. A waypoint that never had
// an address (its first pod not ready yet) binds nothing, and ztunnel
// goes straight to the pods.
func TestWaypointLostItsPods(t *testing.T) {
	addressed := strings.Replace(waypointYAML("service", false), "listeners: [{name: ztunnel, port: 15008, protocol: HBONE}]",
		"listeners: [{name: ztunnel, port: 15008, protocol: HBONE}]\nstatus:\n  addresses: [{type: Hostname, value: istio-waypoint-proxy.bookinfo.svc.cluster.local}]", 1)
	if addressed == waypointYAML("service", false) {
		t.Fatal("the waypoint's YAML changed; the test no longer adds status.addresses")
	}
	plainSvc := fmt.Sprintf(reviewsSvc, "")
	for _, c := range []struct {
		name string
		wp   string
		ok   bool
	}{
		{"bound, its pods gone", addressed, false},
		{"never ready", waypointYAML("service", false), true},
		{"bound and running", strings.Replace(waypointYAML("service", true), "listeners: [{name: ztunnel, port: 15008, protocol: HBONE}]",
			"listeners: [{name: ztunnel, port: 15008, protocol: HBONE}]\nstatus:\n  addresses: [{type: Hostname, value: istio-waypoint-proxy.bookinfo.svc.cluster.local}]", 1), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := ambientLab(t, ambientNS, plainSvc, c.wp)
			got := send(s, "/api/v1/products/0/reviews", 30, nil)
			answered := got.versions["v1"] + got.versions["v2"] + got.versions["v4"]
			if c.ok && answered != 30 {
				t.Errorf("statuses %v, versions %v: want every call answered by reviews", got.status, got.versions)
			}
			if !c.ok && answered != 0 {
				t.Errorf("statuses %v, versions %v: reviews answered although its waypoint has no pod", got.status, got.versions)
			}
		})
	}
}

// TestIngressToWaypointWithoutPods: a gateway told to use productpage's
// waypoint, bound but without pods, has no endpoint for productpage: 503
// no healthy upstream, not a silent fall back to the pods.
func TestIngressToWaypointWithoutPods(t *testing.T) {
	addressed := strings.Replace(waypointYAML("service", false), "listeners: [{name: ztunnel, port: 15008, protocol: HBONE}]",
		"listeners: [{name: ztunnel, port: 15008, protocol: HBONE}]\nstatus:\n  addresses: [{type: Hostname, value: istio-waypoint-proxy.bookinfo.svc.cluster.local}]", 1)
	productpage := `apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: bookinfo, labels: {istio.io/ingress-use-waypoint: "true"}}
spec: {selector: {app: productpage}, ports: [{name: http, port: 9080}]}
---
`
	s := ambientLab(t, ambientNS, productpage, fmt.Sprintf(reviewsSvc, ""), addressed)
	got := send(s, "/productpage", 10, nil)
	if got.status[503] != 10 || got.bodies["no healthy upstream"] != 10 {
		t.Errorf("statuses %v, bodies %v: want 10 × 503 no healthy upstream", got.status, got.bodies)
	}
}
