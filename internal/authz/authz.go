// Package authz decides, as an Istio 1.29 sidecar would, whether a
// request reaches a workload: which RequestAuthentications and
// AuthorizationPolicies apply to it, whether its JWT is accepted, and
// which policy and rule allow or deny it.
//
// It is shared by the authz-decision check (which explains a decision
// computed from the cluster's objects) and the simulated lab (which
// answers simulated requests with it), so that both follow one reading
// of Istio's rules:
//
//   - Selection (pilot/pkg/model/policyattachment.go): a policy applies
//     to workloads of its own namespace, or of every namespace when it is
//     in the root namespace, whose labels hold all of its selector's
//     (no selector: every workload). A sidecar ignores a policy that has
//     targetRefs; a Gateway API gateway's pods take those that name their
//     Gateway.
//   - Order (pilot/pkg/security/authz/builder): CUSTOM first, then DENY,
//     then ALLOW. A request any DENY rule matches is denied; when ALLOW
//     policies apply, a request none of their rules match is denied; with
//     none it is allowed. A policy without rules matches nothing (so an
//     ALLOW policy with an empty spec denies everything), a rule without
//     fields matches everything. Dry-run policies are only logged.
//   - Matching (pilot/pkg/security/authz/model): inside a rule from, to
//     and when must all match; each list matches when one item does;
//     inside a source or operation every field set must match; a field
//     matches when one value does, a notX field when none does. Values
//     take a * prefix or suffix wildcard; * alone needs the attribute
//     present.
package authz

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Actions.
const (
	Allow  = "ALLOW"
	Deny   = "DENY"
	Custom = "CUSTOM"
	Audit  = "AUDIT"
)

// Policy is an AuthorizationPolicy reduced to what decides.
type Policy struct {
	Namespace, Name string
	Created         time.Time
	Action          string // ALLOW when unset
	Provider        string // CUSTOM's extension provider
	Selector        map[string]string
	TargetRefs      []TargetRef
	DryRun          bool
	Rules           []Rule
	// Invalid rules (an unknown condition key) are skipped by istiod;
	// their index and why.
	Invalid map[int]string
}

// Ref is namespace/name.
func (p *Policy) Ref() string { return p.Namespace + "/" + p.Name }

// TargetRef is one of a policy's targetRefs.
type TargetRef struct{ Group, Kind, Name, Namespace string }

// Rule is one entry of spec.rules.
type Rule struct {
	From []Source
	To   []Operation
	When []Condition
}

// Source is one from[].source.
type Source struct {
	Principals, NotPrincipals               []string
	RequestPrincipals, NotRequestPrincipals []string
	Namespaces, NotNamespaces               []string
	ServiceAccounts, NotServiceAccounts     []string
	IPBlocks, NotIPBlocks                   []string
	RemoteIPBlocks, NotRemoteIPBlocks       []string
}

// Operation is one to[].operation.
type Operation struct {
	Hosts, NotHosts     []string
	Ports, NotPorts     []string
	Methods, NotMethods []string
	Paths, NotPaths     []string
}

// Condition is one when[] entry.
type Condition struct {
	Key               string
	Values, NotValues []string
}

// Workload is the server side of a request.
type Workload struct {
	Namespace string
	Labels    map[string]string
}

// gatewayName is the Gateway API gateway a workload's pods belong to.
func (w Workload) gatewayName() (string, bool) {
	n, ok := w.Labels["gateway.networking.k8s.io/gateway-name"]
	return n, ok
}

// Request is what the server-side proxy knows of a request.
type Request struct {
	// Principal is the caller's mTLS identity, such as
	// cluster.local/ns/bookinfo/sa/productpage; "" for plain text.
	Principal string
	Method    string
	Path      string
	Host      string
	Port      int
	Headers   map[string]string // lower-case names
	// JWT holds the claims of a token the workload's RequestAuthentications
	// accepted; nil when the request carries none.
	JWT map[string]any
}

// namespace and serviceAccount are read from the principal, as Istio's
// source.namespace and source.serviceAccount are.
func (r Request) namespace() (string, bool) {
	_, rest, ok := strings.Cut(r.Principal, "/ns/")
	if !ok {
		return "", false
	}
	ns, _, _ := strings.Cut(rest, "/")
	return ns, true
}

func (r Request) serviceAccount() (string, bool) {
	ns, ok := r.namespace()
	if !ok {
		return "", false
	}
	_, sa, ok := strings.Cut(r.Principal, "/sa/")
	if !ok {
		return "", false
	}
	return ns + "/" + sa, true
}

// requestPrincipal is iss/sub of the accepted token.
func (r Request) requestPrincipal() (string, bool) {
	if r.JWT == nil {
		return "", false
	}
	iss, _ := r.JWT["iss"].(string)
	sub, _ := r.JWT["sub"].(string)
	return iss + "/" + sub, true
}

// Selects reports whether a policy with this namespace, selector and
// targetRefs applies to the workload, the root namespace being root.
func Selects(ns string, selector map[string]string, refs []TargetRef, root string, w Workload) bool {
	if ns != w.Namespace && ns != root {
		return false
	}
	gw, isGateway := w.gatewayName()
	if !isGateway || len(refs) == 0 {
		if len(refs) > 0 {
			return false // a sidecar ignores targetRefs policies
		}
		for k, v := range selector {
			if lv, ok := w.Labels[k]; !ok || lv != v {
				return false
			}
		}
		return true
	}
	if ns != w.Namespace {
		return false
	}
	for _, r := range refs {
		if (r.Namespace == "" || r.Namespace == w.Namespace) && r.Group == "gateway.networking.k8s.io" && r.Kind == "Gateway" && r.Name == gw {
			return true
		}
	}
	return false
}

// Applicable returns the policies that apply to w, oldest first (the
// order istiod lists them in), as Selects decides.
func Applicable(policies []*Policy, root string, w Workload) []*Policy {
	var out []*Policy
	for _, p := range policies {
		if Selects(p.Namespace, p.Selector, p.TargetRefs, root, w) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Namespace < b.Namespace
	})
	return out
}

// Decision is the outcome for one request.
type Decision struct {
	Allowed bool
	// Action is what decided: CUSTOM, DENY or ALLOW, or "" when no policy
	// applies (allowed) .
	Action string
	// Policy and Rule (index into spec.rules) name what decided: the
	// matching rule for CUSTOM, DENY and ALLOW, or nil and -1 when ALLOW
	// policies apply but none of their rules match.
	Policy *Policy
	Rule   int
	// Why says it in words.
	Why string
	// Misses says, for each ALLOW policy that did not match, why its
	// rules did not (for a denial "no ALLOW rule matches").
	Misses []string
	// Notes are things istiod does that a reader may not expect (dry-run
	// policies, skipped rules).
	Notes []string
}

// Decide evaluates the applicable policies in Istio's order.
func Decide(applicable []*Policy, r Request) Decision {
	var notes []string
	by := map[string][]*Policy{}
	for _, p := range applicable {
		a := p.Action
		if a == "" {
			a = Allow
		}
		for i, why := range p.Invalid {
			notes = append(notes, fmt.Sprintf("rule %d of %s is skipped by istiod: %s", i, p.Ref(), why))
		}
		if p.DryRun {
			notes = append(notes, p.Ref()+" is a dry run (istio.io/dry-run): it is only logged, never enforced")
			continue
		}
		by[a] = append(by[a], p)
	}
	sort.Strings(notes)
	for _, p := range by[Custom] {
		if i, ok := firstMatch(p, r); ok {
			return Decision{Allowed: false, Action: Custom, Policy: p, Rule: i, Notes: notes,
				Why: fmt.Sprintf("rule %d of CUSTOM policy %s matches, so the external authorizer %q decides (it is asked first)", i, p.Ref(), p.Provider)}
		}
	}
	for _, p := range by[Deny] {
		if i, ok := firstMatch(p, r); ok {
			return Decision{Action: Deny, Policy: p, Rule: i, Notes: notes,
				Why: fmt.Sprintf("rule %d of DENY policy %s matches (DENY is evaluated before ALLOW)", i, p.Ref())}
		}
	}
	allows := by[Allow]
	if len(allows) == 0 {
		return Decision{Allowed: true, Rule: -1, Notes: notes, Why: "no ALLOW policy applies to the workload, so whatever no DENY policy refuses is allowed"}
	}
	var misses []string
	for _, p := range allows {
		if i, ok := firstMatch(p, r); ok {
			return Decision{Allowed: true, Action: Allow, Policy: p, Rule: i, Notes: notes,
				Why: fmt.Sprintf("rule %d of ALLOW policy %s matches", i, p.Ref())}
		}
		misses = append(misses, p.Ref()+": "+missWhy(p, r))
	}
	var names []string
	for _, p := range allows {
		names = append(names, p.Ref())
	}
	return Decision{Action: Allow, Rule: -1, Notes: notes, Misses: misses,
		Why: "ALLOW policies apply (" + strings.Join(names, ", ") + ") and none of their rules matches, so the request is denied"}
}

// firstMatch is the first rule of p that matches r.
func firstMatch(p *Policy, r Request) (int, bool) {
	for i, rule := range p.Rules {
		if _, bad := p.Invalid[i]; bad {
			continue
		}
		if ok, _ := matchRule(rule, r); ok {
			return i, true
		}
	}
	return -1, false
}

// missWhy says why no rule of p matches.
func missWhy(p *Policy, r Request) string {
	if len(p.Rules) == 0 {
		return "it has no rules, so it matches nothing (an empty ALLOW policy denies every request)"
	}
	var parts []string
	for i, rule := range p.Rules {
		if why, bad := p.Invalid[i]; bad {
			parts = append(parts, fmt.Sprintf("rule %d is skipped (%s)", i, why))
			continue
		}
		_, why := matchRule(rule, r)
		parts = append(parts, fmt.Sprintf("rule %d: %s", i, why))
	}
	return strings.Join(parts, "; ")
}

// matchRule says whether rule matches r, and if not, why.
func matchRule(rule Rule, r Request) (bool, string) {
	if len(rule.From) > 0 {
		var whys []string
		ok := false
		for _, s := range rule.From {
			m, why := matchSource(s, r)
			if m {
				ok = true
				break
			}
			whys = append(whys, why)
		}
		if !ok {
			return false, "from: " + strings.Join(whys, ", or ")
		}
	}
	if len(rule.To) > 0 {
		var whys []string
		ok := false
		for _, o := range rule.To {
			m, why := matchOperation(o, r)
			if m {
				ok = true
				break
			}
			whys = append(whys, why)
		}
		if !ok {
			return false, "to: " + strings.Join(whys, ", or ")
		}
	}
	for _, c := range rule.When {
		if m, why := matchCondition(c, r); !m {
			return false, "when: " + why
		}
	}
	return true, ""
}

// field matches one attribute against a field and its not-field.
func field(name string, v string, present bool, values, notValues []string, match func(pattern, v string) bool) (bool, string) {
	shown := v
	if !present {
		shown = "none"
	}
	if len(values) > 0 {
		ok := false
		if present {
			for _, p := range values {
				if match(p, v) {
					ok = true
					break
				}
			}
		}
		if !ok {
			return false, fmt.Sprintf("%s %s is not one of %s", name, shown, strings.Join(values, ", "))
		}
	}
	if len(notValues) > 0 && present {
		for _, p := range notValues {
			if match(p, v) {
				return false, fmt.Sprintf("%s %s is excluded by not%s %s", name, shown, title(name), p)
			}
		}
	}
	return true, ""
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func matchSource(s Source, r Request) (bool, string) {
	ns, hasNS := r.namespace()
	sa, hasSA := r.serviceAccount()
	rp, hasRP := r.requestPrincipal()
	checks := []struct {
		name      string
		v         string
		present   bool
		vals, not []string
	}{
		{"principals", r.Principal, r.Principal != "", s.Principals, s.NotPrincipals},
		{"namespaces", ns, hasNS, s.Namespaces, s.NotNamespaces},
		{"serviceAccounts", sa, hasSA, s.ServiceAccounts, s.NotServiceAccounts},
		{"requestPrincipals", rp, hasRP, s.RequestPrincipals, s.NotRequestPrincipals},
	}
	for _, c := range checks {
		if ok, why := field(c.name, c.v, c.present, c.vals, c.not, Wildcard); !ok {
			if !c.present && len(c.vals) > 0 && c.name != "requestPrincipals" {
				why += " (plain text carries no peer identity: it needs mutual TLS)"
			}
			if !c.present && len(c.vals) > 0 && c.name == "requestPrincipals" {
				why += " (no token was accepted)"
			}
			return false, why
		}
	}
	if len(s.IPBlocks)+len(s.NotIPBlocks)+len(s.RemoteIPBlocks)+len(s.NotRemoteIPBlocks) > 0 {
		return false, "ipBlocks and remoteIpBlocks are not judged here (they depend on addresses)"
	}
	return true, ""
}

func matchOperation(o Operation, r Request) (bool, string) {
	host := strings.ToLower(r.Host)
	hostOnly := host
	if h, _, ok := strings.Cut(host, ":"); ok {
		hostOnly = h
	}
	if ok, why := field("hosts", host, host != "", o.Hosts, o.NotHosts, func(p, v string) bool {
		p = strings.ToLower(p)
		return Wildcard(p, v) || Wildcard(p, hostOnly)
	}); !ok {
		return false, why
	}
	port := ""
	if r.Port > 0 {
		port = strconv.Itoa(r.Port)
	}
	if ok, why := field("ports", port, port != "", o.Ports, o.NotPorts, func(p, v string) bool { return p == v }); !ok {
		return false, why
	}
	if ok, why := field("methods", r.Method, r.Method != "", o.Methods, o.NotMethods, Wildcard); !ok {
		return false, why
	}
	path, _, _ := strings.Cut(r.Path, "?")
	if ok, why := field("paths", path, path != "", o.Paths, o.NotPaths, Path); !ok {
		return false, why
	}
	return true, ""
}

// ClaimPath parses request.auth.claims[a][b] into [a b].
func ClaimPath(key string) ([]string, bool) {
	rest, ok := strings.CutPrefix(key, "request.auth.claims")
	if !ok || rest == "" {
		return nil, false
	}
	var out []string
	for rest != "" {
		if rest[0] != '[' {
			return nil, false
		}
		end := strings.IndexByte(rest, ']')
		if end < 2 {
			return nil, false
		}
		out = append(out, rest[1:end])
		rest = rest[end+1:]
	}
	return out, true
}

// ValidKey reports whether istiod accepts a when key.
func ValidKey(k string) error {
	switch k {
	case "source.ip", "remote.ip", "source.namespace", "source.serviceAccount", "source.principal", "request.auth.principal",
		"request.auth.audiences", "request.auth.presenter", "destination.ip", "destination.port", "connection.sni":
		return nil
	}
	if strings.HasPrefix(k, "experimental.envoy.filters.") {
		return nil
	}
	if strings.HasPrefix(k, "request.headers[") && strings.HasSuffix(k, "]") && len(k) > len("request.headers[]") {
		return nil
	}
	if _, ok := ClaimPath(k); ok {
		return nil
	}
	return fmt.Errorf("unknown attribute %s", k)
}

// claimValues are the strings a claim holds: a string, or each string
// of a list (a list claim matches when one element does).
func claimValues(jwt map[string]any, path []string) ([]string, bool) {
	var cur any = jwt
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	switch v := cur.(type) {
	case string:
		return []string{v}, true
	case bool:
		return []string{strconv.FormatBool(v)}, true
	case float64:
		return []string{strconv.FormatFloat(v, 'f', -1, 64)}, true
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out, true
	case []string:
		return v, true
	}
	return nil, false
}

func matchCondition(c Condition, r Request) (bool, string) {
	var got []string
	present := false
	switch {
	case c.Key == "source.principal":
		got, present = []string{r.Principal}, r.Principal != ""
	case c.Key == "source.namespace":
		ns, ok := r.namespace()
		got, present = []string{ns}, ok
	case c.Key == "source.serviceAccount":
		sa, ok := r.serviceAccount()
		got, present = []string{sa}, ok
	case c.Key == "request.auth.principal":
		rp, ok := r.requestPrincipal()
		got, present = []string{rp}, ok
	case c.Key == "destination.port":
		got, present = []string{strconv.Itoa(r.Port)}, r.Port > 0
	case strings.HasPrefix(c.Key, "request.headers["):
		name := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(c.Key, "request.headers["), "]"))
		v, ok := r.Headers[name]
		got, present = []string{v}, ok
	default:
		if path, ok := ClaimPath(c.Key); ok {
			if r.JWT != nil {
				got, present = claimValues(r.JWT, path)
			}
			break
		}
		return false, c.Key + " is not judged here"
	}
	shown := strings.Join(got, ",")
	if !present {
		shown = "absent"
		if strings.HasPrefix(c.Key, "request.auth.") && r.JWT == nil {
			shown = "absent (no token was accepted)"
		}
	}
	any := func(pats []string) (string, bool) {
		for _, p := range pats {
			for _, g := range got {
				if Wildcard(p, g) {
					return p, true
				}
			}
		}
		return "", false
	}
	if len(c.Values) > 0 {
		if _, ok := any(c.Values); !ok || !present {
			return false, fmt.Sprintf("%s is %s, not one of %s", c.Key, shown, strings.Join(c.Values, ", "))
		}
	}
	if len(c.NotValues) > 0 && present {
		if p, ok := any(c.NotValues); ok {
			return false, fmt.Sprintf("%s is %s, which notValues %s excludes", c.Key, shown, p)
		}
	}
	return true, ""
}

// Wildcard matches Istio's string patterns: exact, "*" (anything
// present), "prefix*" and "*suffix".
func Wildcard(pattern, v string) bool {
	switch {
	case pattern == "*":
		return v != ""
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(v, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(v, strings.TrimPrefix(pattern, "*"))
	}
	return pattern == v
}

// Path matches a paths entry: a Wildcard pattern, or a template with
// {*} (one segment) and {**} (the rest).
func Path(pattern, v string) bool {
	if !strings.Contains(pattern, "{*") {
		return Wildcard(pattern, v)
	}
	ps, vs := strings.Split(pattern, "/"), strings.Split(v, "/")
	for i, p := range ps {
		if p == "{**}" {
			return i == len(ps)-1 && len(vs) > i
		}
		if i >= len(vs) {
			return false
		}
		if p == "{*}" {
			if vs[i] == "" {
				return false
			}
			continue
		}
		if p != vs[i] {
			return false
		}
	}
	return len(ps) == len(vs)
}
