package checks

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// catalogue is every check meshdojo has, each defined in its own file.
// A new check is its file, its fixtures under testdata/<name>/, and one
// line here; TestCatalogue fails, naming what is missing, when a check
// is defined but not listed, or lacks a fixture or a permission.
func catalogue() []*Check {
	return []*Check{
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
	}
}

var registry struct {
	once   sync.Once
	mu     sync.Mutex
	byName map[string]*Check // the catalogue, and checks tests registered
}

func loadRegistry() {
	registry.once.Do(func() {
		registry.byName = map[string]*Check{}
		for _, c := range catalogue() {
			if _, dup := registry.byName[c.Name]; dup {
				panic("checks: duplicate check " + c.Name)
			}
			registry.byName[c.Name] = c
		}
	})
}

// Lookup returns the named check.
func Lookup(name string) (*Check, bool) {
	loadRegistry()
	registry.mu.Lock()
	defer registry.mu.Unlock()
	c, ok := registry.byName[name]
	return c, ok
}

// All returns every check, sorted by name.
func All() []*Check {
	loadRegistry()
	registry.mu.Lock()
	defer registry.mu.Unlock()
	out := make([]*Check, 0, len(registry.byName))
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
func Register(c *Check) {
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
func Builtin(c *Check) bool { return slices.Contains(catalogue(), c) }

// CommonCodes are the outcomes any check may report: what stops it from
// looking, and what the engine says of it.
var CommonCodes = []Code{
	{CodeNotServed, Error, "a resource the check reads is not served: its CRD is not installed"},
	{CodeForbidden, Error, "the reader's credentials may not read what the check reads"},
	{CodeUnreachable, Error, "the API server could not be reached or did not answer in time"},
	{CodeReadFailed, Error, "a read failed for another reason"},
	{CodeBadParams, Error, "a parameter cannot be used (a lesson bug), found only when the check ran"},
	{CodePanic, Error, "the check crashed: a meshdojo bug"},
	{CodeNotRun, Pending, "the check acts on the cluster and was not asked to run"},
}

// Declares says whether code is one of the check's outcomes or one
// every check shares.
func (c *Check) Declares(code string) bool {
	has := func(cs []Code) bool { return slices.ContainsFunc(cs, func(x Code) bool { return x.ID == code }) }
	return has(c.Codes) || has(CommonCodes)
}

// finish makes every result carry its check's name, parameters and
// time, and keeps its summary to one line of reasonable length (values a
// check quotes may hold newlines).
func finish(r *Result, c *Check, p Params) {
	if c != nil {
		r.Check = c.Name
	}
	if r.Params == nil {
		r.Params = p
	}
	r.Summary = oneLine(r.Summary)
	if r.At.IsZero() {
		r.At = time.Now()
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:299]) + "…"
	}
	return s
}
