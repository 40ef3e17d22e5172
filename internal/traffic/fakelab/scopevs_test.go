package fakelab

import (
	"slices"
	"testing"
)

// teamB is a second team's namespace in the mesh, with a VirtualService
// it wrote for bookinfo's ratings: every call aborted with 500.
const teamB = `apiVersion: v1
kind: Namespace
metadata: {name: team-b, labels: {istio.io/rev: stable}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings-capture, namespace: team-b}
spec:
  hosts: [ratings.bookinfo.svc.cluster.local]
  http:
  - fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
    route: [{destination: {host: ratings.bookinfo.svc.cluster.local}}]
`

func bookinfoSidecar(hosts string) string {
	return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: bookinfo}
spec:
  egress: [{hosts: [` + hosts + `]}]
`
}

func TestSidecarScopesVirtualServices(t *testing.T) {
	cases := []struct {
		name string
		docs []string
		want int // the status productpage passes on for ratings
	}{
		{"without a Sidecar another namespace's route captures ratings", []string{teamB}, 500},
		{"a Sidecar importing ./* keeps it out", []string{teamB, bookinfoSidecar(`"./*"`)}, 200},
		{"importing team-b/* lets it in", []string{teamB, bookinfoSidecar(`"./*", "team-b/*"`)}, 500},
		{"importing */ratings.bookinfo... from any namespace lets it in", []string{teamB,
			bookinfoSidecar(`"./*", "*/ratings.bookinfo.svc.cluster.local"`)}, 500},
		{"a route exported away from bookinfo never reaches it", []string{teamB[:len(teamB)-1] + "\n  exportTo: [.]\n"}, 200},
	}
	for _, c := range cases {
		got := send(lab(t, append(c.docs, ratingsDR("v3", ""))...), "/api/v1/products/0/ratings", 3, nil)
		if got.status[c.want] != 3 {
			t.Errorf("%s: statuses %v, want 3 × %d", c.name, got.status, c.want)
		}
	}
}

func TestImportedRouteAddsItsDestination(t *testing.T) {
	// bookinfo's ratings route sends everything to team-b's ratings;
	// productpage's Sidecar imports only its own namespace, yet istiod
	// adds the route's destination to its registry (and so a cluster).
	const other = `apiVersion: v1
kind: Namespace
metadata: {name: team-b, labels: {istio.io/rev: stable}}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: team-b}
spec: {selector: {app: ratings-b}, ports: [{name: http, port: 9080}]}
`
	const route = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: bookinfo}
spec:
  hosts: [ratings.bookinfo.svc.cluster.local]
  http:
  - route: [{destination: {host: ratings.team-b.svc.cluster.local}}]
`
	const cluster = "outbound|9080||ratings.team-b.svc.cluster.local"
	has := func(docs ...string) bool {
		s := lab(t, docs...)
		w, _ := s.world()
		return slices.Contains(w.Clusters(podOf(s, "productpage")), cluster)
	}
	if has(other, bookinfoSidecar(`"./*"`)) {
		t.Errorf("./* without a route to team-b: %s should be out of the registry", cluster)
	}
	if !has(other, route, bookinfoSidecar(`"./*"`)) {
		t.Errorf("./* with bookinfo's route to team-b: %s should be in the registry", cluster)
	}
	if !has(other) {
		t.Errorf("no Sidecar: %s should be in the registry", cluster)
	}
}
