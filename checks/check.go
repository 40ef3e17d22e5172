// Package checks holds meshdojo's live checks: each one is a value in a
// registry that names its parameters, declares the cluster resources it
// reads, and turns what it observes into a verdict a reader can act on.
//
// A check never talks to the cluster by itself. It reads through an Env,
// which the engine backs with shared informers (so a step's checks are
// re-evaluated on every change) and tests back with a real API server.
package checks

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Verdict is the outcome of one evaluation.
type Verdict string

const (
	Pass    Verdict = "pass"
	Fail    Verdict = "fail"
	Error   Verdict = "error"   // the check could not look (CRD missing, forbidden, unreachable)
	Pending Verdict = "pending" // not evaluated yet, or waiting for consecutive passes
)

// Condition is one thing a check compared: what it saw, what it wanted,
// and what the reader can do about the difference.
type Condition struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Observed string `json:"observed"`
	Expected string `json:"expected"`
	Fix      string `json:"fix,omitempty"`
}

// Result is a check's verdict with everything needed to explain it.
type Result struct {
	Check      string            `json:"check"`
	Params     map[string]string `json:"params"`
	Verdict    Verdict           `json:"verdict"`
	Code       string            `json:"code,omitempty"` // e.g. MD0101, stable across releases
	Summary    string            `json:"summary"`
	Conditions []Condition       `json:"conditions,omitempty"`
	Progress   string            `json:"progress,omitempty"` // e.g. "37/100 requests"
	Bars       []Bar             `json:"bars,omitempty"`
	At         time.Time         `json:"at"`
}

// ParamType says how a parameter's string value is validated.
type ParamType string

const (
	String   ParamType = "string"
	Int      ParamType = "int"
	Bool     ParamType = "bool"
	Duration ParamType = "duration"
	Enum     ParamType = "enum"
	List     ParamType = "list"    // comma-separated values
	Weights  ParamType = "weights" // comma-separated name=int pairs, e.g. v1=0,v4=100
	Float    ParamType = "float"
)

// ParamSpec describes one parameter of a check.
type ParamSpec struct {
	Name     string
	Type     ParamType
	Required bool
	Default  string
	Enum     []string // allowed values for Enum
	Doc      string
}

// Input is one set of objects a check reads. The engine watches exactly
// these while the check is on screen.
type Input struct {
	GVR       schema.GroupVersionResource
	Namespace string // "" means all namespaces
	Selector  string // label selector, may be empty
}

func (in Input) String() string {
	s := in.GVR.Resource
	if in.GVR.Group != "" {
		s += "." + in.GVR.Group
	}
	if in.Namespace != "" {
		s += " in " + in.Namespace
	} else {
		s += " in all namespaces"
	}
	if in.Selector != "" {
		s += " (" + in.Selector + ")"
	}
	return s
}

// Env is how a check reads the cluster.
type Env interface {
	// List returns the objects of one input, read from the engine's cache
	// or straight from the API server. A CRD that is not served yields an
	// error wrapping ErrNotServed; a refusal wraps the API's Forbidden.
	List(ctx context.Context, in Input) ([]*unstructured.Unstructured, error)
	// Cluster describes what was discovered at connect time.
	Cluster() ClusterInfo
	// Clients is for checks that act (Acts != ""); nil when offline.
	Clients() *Clients
	// Emit publishes an intermediate result (a probe's progress and its
	// live chart) while Eval is still running. It never blocks.
	Emit(r Result)
}

// ClusterInfo is what discovery learned about the cluster.
type ClusterInfo struct {
	Context       string
	Server        string
	RootNamespace string // Istio's root namespace, istio-system by default
	// Served maps "resource.group" to the version the engine reads it at
	// (v1 preferred), e.g. "peerauthentications.security.istio.io" -> "v1".
	Served map[string]string
}

// Check is one entry of the registry.
type Check struct {
	Name    string
	Summary string // one line for `meshdojo check --list`
	Params  []ParamSpec
	// Watch is false for checks that cannot be driven by informers (HTTP
	// probes); the engine runs those on demand with a bounded retry.
	Watch bool
	// Acts, when not empty, says what the check changes or sends in the
	// reader's cluster ("creates a short-lived probe pod in bookinfo",
	// "sends 100 requests through the ingress gateway"). Such a check runs
	// only when the reader asks (or has consented for the step), never in
	// a loop by itself.
	Acts string
	// Inputs lists what the check reads for the given parameters.
	Inputs func(p Params) []Input
	// Eval looks and judges. It must not panic (the engine recovers if it
	// does) and should return Error verdicts for anything it cannot see.
	Eval func(ctx context.Context, env Env, p Params) Result
}

// Params are a check's validated parameters, defaults filled in.
type Params map[string]string

func (p Params) Str(k string) string { return p[k] }

func (p Params) Int(k string) int {
	n, _ := strconv.Atoi(p[k])
	return n
}

func (p Params) Bool(k string) bool {
	b, _ := strconv.ParseBool(p[k])
	return b
}

func (p Params) Float(k string) float64 {
	f, _ := strconv.ParseFloat(p[k], 64)
	return f
}

func (p Params) Duration(k string) time.Duration {
	d, _ := time.ParseDuration(p[k])
	return d
}

func (p Params) List(k string) []string {
	if strings.TrimSpace(p[k]) == "" {
		return nil
	}
	var out []string
	for _, s := range strings.Split(p[k], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Weights parses "v1=0,v4=100" into a map.
func (p Params) Weights(k string) map[string]int {
	out := map[string]int{}
	for _, kv := range p.List(k) {
		name, val, _ := strings.Cut(kv, "=")
		n, _ := strconv.Atoi(strings.TrimSpace(val))
		out[strings.TrimSpace(name)] = n
	}
	return out
}

// registry holds every check by name. Checks add themselves from init
// functions in this package, so the registry is data, not a switch.
var registry = map[string]*Check{}

// Register adds a check; it panics on a duplicate name, which is a
// programming error caught by any test run.
func Register(c *Check) {
	if _, dup := registry[c.Name]; dup {
		panic("checks: duplicate check " + c.Name)
	}
	registry[c.Name] = c
}

// Lookup returns the named check.
func Lookup(name string) (*Check, bool) {
	c, ok := registry[name]
	return c, ok
}

// All returns every registered check, sorted by name.
func All() []*Check {
	out := make([]*Check, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Validate checks raw parameters against the check's specs and returns
// them with defaults filled in. Unknown keys are errors, so a typo in a
// lesson is caught by the lint test rather than by a puzzled reader.
func (c *Check) Validate(raw map[string]string) (Params, error) {
	out := Params{}
	known := map[string]ParamSpec{}
	for _, s := range c.Params {
		known[s.Name] = s
	}
	// Generic parameters every check accepts.
	known["passes"] = ParamSpec{Name: "passes", Type: Int, Doc: "consecutive passes needed before the gate opens"}
	var errs []string
	for k, v := range raw {
		s, ok := known[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("unknown parameter %q (known: %s)", k, strings.Join(c.paramNames(), ", ")))
			continue
		}
		if err := s.check(v); err != nil {
			errs = append(errs, fmt.Sprintf("parameter %q: %v", k, err))
			continue
		}
		if n, _ := strconv.Atoi(v); k == "passes" && n < 1 {
			errs = append(errs, fmt.Sprintf("parameter \"passes\": %s is not a count of consecutive passes; use 1 or more", v))
			continue
		}
		out[k] = v
	}
	for _, s := range c.Params {
		if _, ok := raw[s.Name]; ok {
			continue // set, and either valid or already reported as wrong
		}
		if s.Required {
			errs = append(errs, fmt.Sprintf("missing required parameter %q (%s)", s.Name, s.Doc))
		} else if s.Default != "" {
			out[s.Name] = s.Default
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("check %s: %s", c.Name, strings.Join(errs, "; "))
	}
	return out, nil
}

func (c *Check) paramNames() []string {
	var names []string
	for _, s := range c.Params {
		names = append(names, s.Name)
	}
	return names
}

func (s ParamSpec) check(v string) error {
	switch s.Type {
	case Int:
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
	case Float:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
	case Bool:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
	case Duration:
		if _, err := time.ParseDuration(v); err != nil {
			return fmt.Errorf("%q is not a duration such as 5s or 250ms", v)
		}
	case Enum:
		for _, e := range s.Enum {
			if v == e {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(s.Enum, ", "))
	case Weights:
		for _, kv := range strings.Split(v, ",") {
			name, val, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(name) == "" {
				return fmt.Errorf("%q is not a list of name=weight pairs such as v1=0,v4=100", v)
			}
			if _, err := strconv.Atoi(strings.TrimSpace(val)); err != nil {
				return fmt.Errorf("weight %q of %q is not a whole number", val, name)
			}
		}
	}
	return nil
}

// Bar is one bar of a live chart (a probe's responses per version or per
// status code), carried by intermediate and final results.
type Bar struct {
	Group string `json:"group"` // e.g. "version", "status"
	Label string `json:"label"` // e.g. "v4", "503"
	Value int    `json:"value"`
}

// Clients gives direct API access to checks that act rather than read
// (probe pods, port-forwards, service proxies). Nil when offline.
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	Config  *rest.Config
}
