package catalogue

import "testing"

// Cases the real API server cannot set up: creationTimestamp is set by
// the server, so ties are made here.
func TestComposeTies(t *testing.T) {
	a := &paPolicy{Name: "a-permissive", Namespace: "bookinfo", created: 100, Mode: "PERMISSIVE"}
	b := &paPolicy{Name: "b-strict", Namespace: "bookinfo", created: 100, Mode: "STRICT"}
	// An empty matchLabels is no selector: namespace-wide.
	c := &paPolicy{Name: "c-disable", Namespace: "bookinfo", created: 50, Selector: map[string]string{}, Mode: "DISABLE"}
	s := buildPolicySet("bookinfo", "istio-system", []*paPolicy{b, a}, nil, discoveryScope{})
	if s.ns != a {
		t.Errorf("same second: want the smaller name a-permissive, got %v", s.ns.ref())
	}
	s = buildPolicySet("bookinfo", "istio-system", []*paPolicy{b, a, c}, nil, discoveryScope{})
	if s.ns != c {
		t.Errorf("oldest: want c-disable, got %v", s.ns.ref())
	}
	if got := s.compose(map[string]string{"app": "x"}).Base.Mode; got != "DISABLE" {
		t.Errorf("mode = %s", got)
	}

	// Workload policies: the oldest matching one wins, and its UNSET
	// ports inherit the composed workload mode.
	w1 := &paPolicy{Name: "reviews-new", Namespace: "bookinfo", created: 200, Selector: map[string]string{"app": "reviews"}, Mode: "DISABLE"}
	w2 := &paPolicy{Name: "reviews-old", Namespace: "bookinfo", created: 150, Selector: map[string]string{"app": "reviews"},
		Ports: map[uint32]string{9080: "", 9090: "PERMISSIVE"}}
	mesh := &paPolicy{Name: "default", Namespace: "istio-system", created: 1, Mode: "STRICT"}
	s = buildPolicySet("bookinfo", "istio-system", []*paPolicy{w1, w2}, []*paPolicy{mesh}, discoveryScope{})
	e := s.compose(map[string]string{"app": "reviews", "version": "v4"})
	if e.Base.Mode != "STRICT" || e.Ports[9080].Mode != "STRICT" || e.Ports[9090].Mode != "PERMISSIVE" || len(e.shadowed) != 1 {
		t.Errorf("compose = %+v", e)
	}
	// In the root namespace itself, selector policies are ignored and
	// the mesh-wide policy is the namespace's.
	s = buildPolicySet("istio-system", "istio-system", []*paPolicy{mesh, {Name: "sel", Namespace: "istio-system", Selector: map[string]string{"app": "x"}, Mode: "DISABLE"}},
		[]*paPolicy{mesh, {Name: "sel", Namespace: "istio-system", Selector: map[string]string{"app": "x"}, Mode: "DISABLE"}}, discoveryScope{})
	if got := s.compose(map[string]string{"app": "x"}).Base.Mode; got != "STRICT" {
		t.Errorf("root namespace workload: mode %s, want STRICT", got)
	}
}
