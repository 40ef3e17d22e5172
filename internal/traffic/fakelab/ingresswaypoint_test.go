package fakelab

import (
	"fmt"
	"testing"
)

// TestIngressUseWaypoint: the ingress gateway's calls to productpage go
// through productpage's waypoint only when istio.io/ingress-use-waypoint
// is "true" on the Service or, without a Service label, on its
// namespace; the waypoint then reports them (reporter="waypoint", the
// gateway as source). Otherwise the gateway calls the pods itself and
// the waypoint sees none of it, as in the chapter 11 lab, whose label
// sits on an Istio Gateway where nothing reads it.
func TestIngressUseWaypoint(t *testing.T) {
	const productpage = `apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: bookinfo%s}
spec: {selector: {app: productpage}, ports: [{name: http, port: 9080}]}
---
`
	plain := fmt.Sprintf(productpage, "")
	labelled := func(v string) string {
		return fmt.Sprintf(productpage, `, labels: {istio.io/ingress-use-waypoint: "`+v+`"}`)
	}
	reviews := fmt.Sprintf(reviewsSvc, "")
	for _, c := range []struct {
		name    string
		ns      string
		extra   []string
		through bool
	}{
		{"the Service says true", ambientNS, []string{labelled("true"), reviews, waypointYAML("service", true)}, true},
		{"compared without case", ambientNS, []string{labelled("True"), reviews, waypointYAML("service", true)}, true},
		{"the namespace says true", ambientNS + `, istio.io/ingress-use-waypoint: "true"`, []string{plain, reviews, waypointYAML("service", true)}, true},
		{"the Service's false wins over the namespace", ambientNS + `, istio.io/ingress-use-waypoint: "true"`, []string{labelled("false"), reviews, waypointYAML("service", true)}, false},
		{"another value is false", ambientNS, []string{labelled("yes"), reviews, waypointYAML("service", true)}, false},
		{"no label", ambientNS, []string{plain, reviews, waypointYAML("service", true)}, false},
		{"labelled, but no waypoint runs", ambientNS, []string{labelled("true"), reviews, waypointYAML("service", false)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := ambientLab(t, c.ns, c.extra...)
			got := send(s, "/api/v1/products/0/reviews", 40, nil)
			if got.status[200] != 40 {
				t.Fatalf("statuses %v", got.status)
			}
			q, err := s.Query(`sum(istio_requests_total{reporter="waypoint",destination_service_name="productpage"})`)
			if err != nil {
				t.Fatal(err)
			}
			if !c.through {
				if len(q) != 0 {
					t.Errorf("the waypoint reported the gateway's calls: %v", q)
				}
				return
			}
			if len(q) != 1 || q[0].Value != 40 {
				t.Fatalf("waypoint-reported calls to productpage: %v, want 40", q)
			}
			src, _ := s.Query(`sum(istio_requests_total{reporter="waypoint",destination_service_name="productpage",source_workload_namespace="istio-ingress"})`)
			if len(src) != 1 || src[0].Value != 40 {
				t.Errorf("calls reported with the gateway as source: %v, want 40", src)
			}
		})
	}
}
