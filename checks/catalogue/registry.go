// Package catalogue holds meshdojo's checks, one file per check or per
// family of checks (istio.go, workload.go, mtls.go, ...), each a
// *checks.Check value that describes itself, and the explicit list of
// them all (catalogue() in registry.go), with their fixtures in
// testdata/<check>/. Package checks is the contract they keep; package
// engine runs them.
package catalogue

import (
	"slices"
	"sort"
	"sync"

	"github.com/meshdojo/meshdojo/checks"
)

// catalogue is every check meshdojo has, each defined in its own file.
// A new check is its file, its fixtures under testdata/<name>/, and one
// line here; TestCatalogue fails, naming what is missing, when a check
// is defined but not listed, or lacks a fixture or a permission.
func catalogue() []*checks.Check {
	return []*checks.Check{
		// The control plane (istio.go).
		istiodReady, caRootCert,
		// Enrolment and workloads (workload.go).
		namespaceEnrolled, workloadsInMesh, workloadReady,
		// Mutual TLS (mtls.go), and who may call what (authz.go).
		mtlsMode, authzDecision,
		// Any object, and the mesh config (resource.go, meshconfig.go).
		resourceField, resourceCount, crdServed, meshConfig,
		// Gateway API and routing (gateway.go, route.go).
		gatewayCondition, routeWeights,
		// What the mesh does: traffic, metrics and the proxies' own
		// logs (traffic.go, probe_pod.go, traffic_metrics.go,
		// access_log.go).
		httpProbe, podProbe, prometheusQuery, envoyStat, accessLog,
		// Who may do what: the API server's authorizer (access_review.go).
		canI,
		// A namespace in one word, for questions (dataplane.go).
		dataPlane, routeAPI,
		// One request followed through logs, Loki and Tempo, and the
		// request rate charted live (follow_request.go, request_rate.go).
		followRequest, requestRate, uptimeProbe,
	}
}

var registry struct {
	once   sync.Once
	mu     sync.Mutex
	byName map[string]*checks.Check // the catalogue, and checks tests registered
}

func loadRegistry() {
	registry.once.Do(func() {
		registry.byName = map[string]*checks.Check{}
		for _, c := range catalogue() {
			if _, dup := registry.byName[c.Name]; dup {
				panic("checks: duplicate check " + c.Name)
			}
			registry.byName[c.Name] = c
		}
	})
}

// Lookup returns the named check.
func Lookup(name string) (*checks.Check, bool) {
	loadRegistry()
	registry.mu.Lock()
	defer registry.mu.Unlock()
	c, ok := registry.byName[name]
	return c, ok
}

// All returns every check, sorted by name.
func All() []*checks.Check {
	loadRegistry()
	registry.mu.Lock()
	defer registry.mu.Unlock()
	out := make([]*checks.Check, 0, len(registry.byName))
	for _, c := range registry.byName {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Register adds a check made by a test of another package (a check with
// given behaviour for the UI's or the lint's tests). meshdojo's own
// checks are listed in catalogue, not registered. It panics on a
// duplicate name, which is a programming error caught by any test run.
func Register(c *checks.Check) {
	loadRegistry()
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if _, dup := registry.byName[c.Name]; dup {
		panic("checks: duplicate check " + c.Name)
	}
	registry.byName[c.Name] = c
}

// Builtin says whether c is one of meshdojo's own checks, not one a test
// registered.
func Builtin(c *checks.Check) bool { return slices.Contains(catalogue(), c) }
