package checks

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ParamType says how a parameter's string value is validated. Every rule
// that holds whatever the cluster contains is a type, a bound, a value
// rule or a rule between parameters, so that the lint and `check --run`
// refuse a wrong value before anything runs.
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

	Namespace  ParamType = "namespace"   // a namespace name: a DNS-1123 label
	ObjectName ParamType = "name"        // an object name: a DNS-1123 subdomain
	LabelValue ParamType = "label-value" // a label value, such as a revision or tag
	Selector   ParamType = "selector"    // a label selector such as app=reviews
	FieldPath  ParamType = "field-path"  // spec.http[0].route[1].weight (see ParsePath)
	KindName   ParamType = "kind"        // a Kind, kubectl short name or resource.group (see LookupKind)
	URL        ParamType = "url"         // an absolute http:// or https:// URL
	HTTPPath   ParamType = "http-path"   // a request path and query starting with /
	Headers    ParamType = "headers"     // Name: value pairs separated by ;
	Ref        ParamType = "ref"         // namespace/name, or name
)

// ParamSpec describes one parameter of a check and every rule its value
// must keep on its own.
type ParamSpec struct {
	Name string
	Type ParamType
	// Required parameters must be given, and not empty. An optional
	// parameter given empty counts as not given.
	Required bool
	Default  string
	Enum     []string // allowed values for Enum
	// Min and Max bound Int, Float and Duration values (inclusive; ""
	// for no bound).
	Min, Max string
	// Rule is any further rule on the value alone; its error says what a
	// good value looks like ("a number between 0.5 and 1").
	Rule func(v string) error
	Doc  string
}

// Rule is a rule between parameters ("give name or selector", "parent
// only with kind HTTPRoute"). Check runs with defaults filled in, after
// every parameter passed its own rules.
type Rule struct {
	Doc   string // the rule in words, for `meshdojo check --list`
	Check func(p Params) *ParamError
}

// Problem says what is wrong with a parameter.
type Problem int

const (
	BadValue Problem = iota // given, but wrong
	Missing                 // required, and not given or empty
	Unknown                 // not a parameter of the check
)

// ParamError is one parameter's problem. Value is what was given, Want
// says what a good value looks like.
type ParamError struct {
	Param   string
	Value   string
	Want    string
	Problem Problem
}

func (e *ParamError) Error() string {
	switch e.Problem {
	case Missing:
		if e.Value == "" && e.Want != "" {
			return fmt.Sprintf("missing required parameter %q (%s)", e.Param, e.Want)
		}
		return fmt.Sprintf("missing required parameter %q", e.Param)
	case Unknown:
		return fmt.Sprintf("unknown parameter %q (known: %s)", e.Param, e.Want)
	}
	if e.Value == "" {
		return fmt.Sprintf("parameter %q: want %s", e.Param, e.Want)
	}
	return fmt.Sprintf("parameter %q: %q is not %s", e.Param, e.Value, e.Want)
}

// InvalidParams is every problem Validate found, one per parameter.
type InvalidParams struct {
	Check    string
	Problems []*ParamError // sorted by parameter
}

func (e *InvalidParams) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return fmt.Sprintf("check %s: %s", e.Check, strings.Join(msgs, "; "))
}

func (e *InvalidParams) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// passesSpec is the parameter every check accepts: flap protection.
var passesSpec = ParamSpec{Name: "passes", Type: Int, Min: "1", Default: "1",
	Doc: "consecutive passing evaluations needed before the check counts as passed (flap protection; every check has it)"}

// AllParams is the check's parameters and the ones every check accepts.
func (c *Check) AllParams() []ParamSpec {
	return append(slices.Clip(c.Params), passesSpec)
}

// Validate checks raw parameters against the check's declarations and
// returns them with defaults filled in. Every problem is reported, one
// per parameter, as an *InvalidParams whose Problems name the parameter:
// an unknown key (a typo in a lesson), a missing or empty required
// value, a value its type or bounds refuse, or a broken rule between
// parameters. So the lint and `check --run` refuse what no cluster could
// make right, before anything runs.
func (c *Check) Validate(raw map[string]string) (Params, error) {
	out := Params{}
	specs := c.AllParams()
	var probs []*ParamError
	for k, v := range raw {
		i := slices.IndexFunc(specs, func(s ParamSpec) bool { return s.Name == k })
		if i < 0 {
			probs = append(probs, &ParamError{Param: k, Value: v, Problem: Unknown, Want: strings.Join(c.paramNames(), ", ")})
			continue
		}
		s := specs[i]
		if strings.TrimSpace(v) == "" {
			if s.Required {
				probs = append(probs, &ParamError{Param: k, Problem: Missing, Want: s.Doc + "; it is empty"})
			}
			continue // optional and empty: as if not given
		}
		if err := s.check(v); err != nil {
			probs = append(probs, err)
			continue
		}
		out[k] = v
	}
	for _, s := range c.Params {
		if _, ok := raw[s.Name]; ok {
			continue // set, and either valid or already reported as wrong
		}
		if s.Required {
			probs = append(probs, &ParamError{Param: s.Name, Problem: Missing, Want: s.Doc})
		} else if s.Default != "" {
			out[s.Name] = s.Default
		}
	}
	if len(probs) == 0 {
		// Rules between parameters only make sense once each is right.
		for _, r := range c.Rules {
			if e := r.Check(out); e != nil {
				probs = append(probs, e)
			}
		}
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Param < probs[j].Param })
		return nil, &InvalidParams{Check: c.Name, Problems: probs}
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

// Spec returns the declaration of the named parameter.
func (c *Check) Spec(name string) (ParamSpec, bool) {
	for _, s := range c.AllParams() {
		if s.Name == name {
			return s, true
		}
	}
	return ParamSpec{}, false
}

// Valid says whether the parameter accepts v on its own (rules between
// parameters aside), and if not, why.
func (s ParamSpec) Valid(v string) error {
	if e := s.check(v); e != nil {
		return e
	}
	return nil
}

// check validates one non-empty value.
func (s ParamSpec) check(v string) *ParamError {
	bad := func(want string) *ParamError { return &ParamError{Param: s.Name, Value: v, Want: want} }
	if err := checkType(s, v); err != nil {
		return bad(err.Error())
	}
	if err := s.checkBounds(v); err != nil {
		return bad(err.Error())
	}
	if s.Rule != nil {
		if err := s.Rule(v); err != nil {
			return bad(err.Error())
		}
	}
	return nil
}

// checkType returns, for a value its type refuses, what a good one is.
func checkType(s ParamSpec, v string) error {
	want := func(w string) error { return errors.New(w) }
	switch s.Type {
	case Int:
		if _, err := strconv.Atoi(v); err != nil {
			return want("a whole number")
		}
	case Float:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return want("a number")
		}
	case Bool:
		if _, err := strconv.ParseBool(v); err != nil {
			return want("true or false")
		}
	case Duration:
		if _, err := time.ParseDuration(v); err != nil {
			return want("a duration such as 5s or 250ms")
		}
	case Enum:
		if !slices.Contains(s.Enum, v) {
			return want("one of " + strings.Join(s.Enum, ", "))
		}
	case Weights:
		for _, kv := range strings.Split(v, ",") {
			name, val, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(name) == "" {
				return want("a list of name=weight pairs such as v1=0,v4=100")
			}
			if _, err := strconv.Atoi(strings.TrimSpace(val)); err != nil {
				return want(fmt.Sprintf("a list of name=weight pairs with whole numbers (weight %q of %q is not one)", val, name))
			}
		}
	case Namespace:
		if msgs := validation.IsDNS1123Label(v); len(msgs) > 0 {
			return want("a namespace name: " + Brief(msgs))
		}
	case ObjectName:
		if msgs := validation.IsDNS1123Subdomain(v); len(msgs) > 0 {
			return want("an object name: " + Brief(msgs))
		}
	case LabelValue:
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			return want("a label value such as stable or 1-29-0: " + Brief(msgs))
		}
	case Selector:
		if _, err := labels.Parse(v); err != nil {
			return want("a label selector such as app=reviews or app in (reviews,ratings)")
		}
	case FieldPath:
		if _, err := ParsePath(v); err != nil {
			var pe *ParamError
			if errors.As(err, &pe) {
				return want(pe.Want)
			}
			return err
		}
	case KindName:
		if _, err := LookupKind(v); err != nil {
			var pe *ParamError
			if errors.As(err, &pe) {
				return want(pe.Want)
			}
			return err
		}
	case URL:
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return want("an http:// or https:// URL such as http://ratings.bookinfo:9080/ratings/0")
		}
	case HTTPPath:
		u, err := url.Parse(v)
		if !strings.HasPrefix(v, "/") || err != nil || u.Host != "" {
			return want("a path starting with /, such as /api/v1/products/0/reviews")
		}
	case Headers:
		if _, err := ParseHeaders(v); err != nil {
			return err
		}
	case Ref:
		ns, name, ok := strings.Cut(v, "/")
		if !ok {
			ns, name = "", v
		}
		if (ok && len(validation.IsDNS1123Label(ns)) > 0) || len(validation.IsDNS1123Subdomain(name)) > 0 {
			return want("namespace/name or name, such as istio-ingress/istio-ingress")
		}
	}
	return nil
}

// Brief is the first of Kubernetes' validation messages without its
// examples and regular expression.
func Brief(msgs []string) string {
	m, _, _ := strings.Cut(msgs[0], " (e.g.")
	return m
}

// ParseHeaders reads "Name: value; Name2: value2" into name-value pairs.
func ParseHeaders(raw string) ([][2]string, error) {
	var out [][2]string
	for _, h := range strings.Split(raw, ";") {
		if strings.TrimSpace(h) == "" {
			continue
		}
		name, val, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || len(validation.IsHTTPHeaderName(name)) > 0 {
			return nil, errors.New("Name: value pairs separated by ;, such as x-user: jason")
		}
		out = append(out, [2]string{name, strings.TrimSpace(val)})
	}
	return out, nil
}

// checkBounds applies Min and Max.
func (s ParamSpec) checkBounds(v string) error {
	if s.Min == "" && s.Max == "" {
		return nil
	}
	num := func(x string) (float64, bool) {
		if s.Type == Duration {
			d, err := time.ParseDuration(x)
			return float64(d), err == nil
		}
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	got, ok := num(v)
	if !ok {
		return nil // the type check reports it
	}
	lo, hasLo := num(s.Min)
	hi, hasHi := num(s.Max)
	if (hasLo && got < lo) || (hasHi && got > hi) {
		return errors.New(s.bounds())
	}
	return nil
}

// bounds says Min and Max in words.
func (s ParamSpec) bounds() string {
	switch {
	case s.Min != "" && s.Max != "":
		return s.Min + " to " + s.Max
	case s.Min != "":
		return s.Min + " or more"
	case s.Max != "":
		return "at most " + s.Max
	}
	return ""
}

// Bounds says the parameter's bounds in words ("1 to 1000"), or "".
func (s ParamSpec) Bounds() string { return s.bounds() }

// The rules between parameters that checks share.

// NeedOneOf: at least one of the parameters must be given.
func NeedOneOf(a, b string) Rule {
	return Rule{Doc: "give " + a + " or " + b, Check: func(p Params) *ParamError {
		if p[a] == "" && p[b] == "" {
			return &ParamError{Param: a, Problem: Missing, Want: "a value for " + a + ", or " + b}
		}
		return nil
	}}
}

// OnlyWith: param may only be given when other has one of values.
func OnlyWith(param, other string, values ...string) Rule {
	return Rule{Doc: param + " only with " + other + " " + strings.Join(values, " or "), Check: func(p Params) *ParamError {
		if p[param] != "" && !slices.Contains(values, p[other]) {
			return &ParamError{Param: param, Value: p[param],
				Want: fmt.Sprintf("allowed with %s %s: %s is for %s %s only; leave it out", other, p[other], param, other, strings.Join(values, " or "))}
		}
		return nil
	}}
}

// RequiredUnless: param must be given unless other has one of values.
func RequiredUnless(param, other string, values ...string) Rule {
	return Rule{Doc: param + " is required unless " + other + " is " + strings.Join(values, " or "), Check: func(p Params) *ParamError {
		if p[param] == "" && !slices.Contains(values, p[other]) {
			return &ParamError{Param: param, Problem: Missing, Want: fmt.Sprintf("the namespace of the %s", p[other])}
		}
		return nil
	}}
}

// NotBelow: hi, when given with lo, must not be below it.
func NotBelow(hi, lo string) Rule {
	return Rule{Doc: hi + " is not below " + lo, Check: func(p Params) *ParamError {
		if p[hi] != "" && p[lo] != "" && p.Float(hi) < p.Float(lo) {
			return &ParamError{Param: hi, Value: p[hi], Want: "at least " + lo + " (" + p[lo] + ")"}
		}
		return nil
	}}
}

// ComparisonRule: the value parameter fits the op of a field comparison
// (resource-field, mesh-config): present for the ops that compare with
// one, a regular expression for matches, and something ordered for gte
// and lte.
var ComparisonRule = Rule{Doc: "value is given for every op but exists and absent; a regular expression for matches; " +
	"a number, duration or quantity for gte and lte", Check: func(p Params) *ParamError {
	op, v := p.Str("op"), p.Str("value")
	switch op {
	case "exists", "absent":
		return nil
	case "equals", "not-equals":
		return nil // comparing with "" is a lesson's choice
	}
	if v == "" {
		return &ParamError{Param: "value", Problem: Missing, Want: "a value for op " + op}
	}
	switch op {
	case "matches":
		if _, err := regexp.Compile(v); err != nil {
			return &ParamError{Param: "value", Value: v, Want: "a regular expression (RE2 syntax)"}
		}
	case "gte", "lte":
		if !orderable(v) {
			return &ParamError{Param: "value", Value: v, Want: "a number, a duration such as 5s, or a quantity such as 100Mi, for op " + op}
		}
	}
	return nil
}}

// WeightsRule: wanted weights are not negative and one is above 0.
func WeightsRule(param string) Rule {
	return Rule{Doc: param + " are not negative, and at least one is above 0", Check: func(p Params) *ParamError {
		if p[param] == "" {
			return nil
		}
		total := 0
		for _, w := range p.Weights(param) {
			if w < 0 {
				return &ParamError{Param: param, Value: p[param], Want: "a set of weights without negative ones"}
			}
			total += w
		}
		if total == 0 {
			return &ParamError{Param: param, Value: p[param], Want: "a set of weights with at least one above 0"}
		}
		return nil
	}}
}
