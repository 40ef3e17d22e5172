// Package checks is the contract of meshdojo's live checks: what a check
// is (Check: its parameters and their rules, the objects it reads, the
// capabilities it uses beyond reading, its codes), what it is given (Env,
// Input, ClusterInfo), what it says (Result, Condition, Code), and the
// validation of parameters that the lesson lint and `check --run` share
// (Check.Validate).
//
// The checks themselves live in package catalogue, which lists them all;
// package engine evaluates them against a cluster. Neither is imported
// here, so the contract reads on its own.
//
// A check never talks to the cluster by itself. It reads its declared
// Inputs through an Env, which the engine backs with shared informers (so
// a step's checks are re-evaluated on every change) and tests back with a
// real API server, and it acts only through the capabilities it declares.
package checks

import (
	"context"
	"reflect"
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

	args []any // what the code's template was filled with (Args)
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
	// error wrapping ErrNotServed; a refusal wraps the API's Forbidden;
	// an input the check does not declare, ErrUndeclared.
	List(ctx context.Context, in Input) ([]*unstructured.Unstructured, error)
	// Cluster describes what was discovered at connect time.
	Cluster() ClusterInfo
	// Clients is for checks that declare capabilities (Check.Uses); nil
	// when offline, and for a check that declares none.
	Clients() *Clients
	// Traffic is the reader's settings for the checks that send traffic
	// (--ingress, --probe-image), set for the run.
	Traffic() TrafficSettings
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

// Check is one check, described by itself: its parameters with every
// rule they keep, what it reads, what it may do beyond reading, the
// outcomes it reports, and how it judges. Everything else about a check
// (the lint, `check --run` validation, the RBAC roles, doctor's
// permission list, the tests' coverage) is derived from this.
type Check struct {
	Name    string
	Summary string // one line for `meshdojo check --list`
	Params  []ParamSpec
	// Rules are the rules between parameters (which go together, which
	// exclude each other); Validate applies them.
	Rules []Rule
	// Watch is false for checks that cannot be driven by informers (HTTP
	// probes); the engine runs those on demand with a bounded retry.
	Watch bool
	// Chart says the check's Bars are worth a glance while reading the
	// step: the check panel draws them as a small chart under its row,
	// refreshed with every result (request-rate's series). Probes' bars
	// are shown in their own view instead.
	Chart bool
	// Acts, when not empty, says what the check changes or sends in the
	// reader's cluster ("creates a short-lived probe pod in bookinfo",
	// "sends 100 requests through the ingress gateway"). Such a check runs
	// only when the reader asks (or has consented for the step), never in
	// a loop by itself.
	Acts string
	// Inputs lists what the check reads for the given parameters. The
	// engine watches exactly these, and Env.List refuses any other
	// (UndeclaredError, code MD0092), so Eval cannot read anything else.
	Inputs func(p Params) []Input
	// Uses are the capabilities through which the check reaches the
	// cluster beyond its Inputs (probe pods, port-forwards, the API
	// server's proxies). Env.Clients is nil for a check that declares
	// none.
	Uses []*Capability
	// Codes are the outcomes Eval reports, besides the ones every check
	// shares (CommonCodes).
	Codes []Code
	// Eval looks and judges. It must not panic (the engine recovers if it
	// does) and should return Error verdicts for anything it cannot see.
	Eval func(ctx context.Context, env Env, p Params) Result
}

// NeedsMesh says whether the check needs a live mesh behind the API
// server (pods that run, proxies that answer, traffic), not only objects:
// true for every check that uses a capability.
func (c *Check) NeedsMesh() bool {
	for _, u := range c.Uses {
		if u.Live {
			return true
		}
	}
	return false
}

// Code is one outcome a check reports: a stable identifier (MD0101),
// the verdict it comes with, the template of its summary and what it
// means, for `meshdojo check --list` and for readers of `-o json`. A code
// is declared with Msg0 to Msg5, which record the types of its
// template's arguments (see message.go).
type Code struct {
	ID      string
	Verdict Verdict
	// Template is the summary, with a fmt verb for each argument:
	// "%s is not installed".
	Template string
	// Doc says what the outcome means and what the reader can do.
	Doc string

	args []reflect.Type // the template's arguments; nil when not declared by a Msg
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

// Bar is one bar of a live chart (a probe's responses per version or per
// status code), carried by intermediate and final results.
type Bar struct {
	Group string `json:"group"` // e.g. "version", "status"
	Label string `json:"label"` // e.g. "v4", "503"
	Value int    `json:"value"`
	// Series marks a bar of a chart over time: the group's bars are
	// consecutive buckets in time order (Label names each, e.g. "12s"),
	// drawn as columns from left to right instead of as shares.
	Series bool `json:"series,omitempty"`
}

// Clients gives direct API access to checks that act rather than read
// (probe pods, port-forwards, service proxies). Nil when offline.
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	Config  *rest.Config
}
