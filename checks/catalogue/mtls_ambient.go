package catalogue

// How ztunnel enforces PeerAuthentications for ambient pods. istiod does
// not hand ztunnel a mode per port as it hands a sidecar: it turns the
// policies into L4 DENY rules that either refuse plain text or do not
// (pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go,
// Istio 1.29: convertedSelectorPeerAuthentications picks a static STRICT
// policy and, for some workload policies with portLevelMtls, a converted
// policy that convertPeerAuthentication builds). ztunnel always accepts
// HBONE, which is mutual TLS, so the only two outcomes are STRICT (plain
// text denied) and PERMISSIVE (plain text allowed). The code below
// follows istiod's branches literally, including the cases where the
// result differs from what a sidecar would do with the same policies.

import (
	"fmt"
	"sort"
)

// ztunnelRules is what istiod sends ztunnel for one workload.
type ztunnelRules struct {
	staticStrict bool              // the static STRICT policy is attached
	converted    *ztunnelConverted // the workload policy's converted form, if attached and not empty
	workload     *paPolicy
	// source says which policy made the static STRICT policy apply.
	source string
}

// ztunnelConverted is a converted PeerAuthentication: a DENY policy whose
// groups are OR-ed, each group's rules AND-ed (workloadapi/security).
// Only plain-text connections can match (every rule istiod writes has a
// "no principal" match or sits in a group with one), so a rule is a
// predicate on the destination port.
type ztunnelConverted struct {
	groups [][]func(port uint32) bool
}

func (c *ztunnelConverted) deniesPlain(port uint32) bool {
	for _, g := range c.groups {
		all := true
		for _, r := range g {
			all = all && r(port)
		}
		if all && len(g) > 0 {
			return true
		}
	}
	return false
}

func isStrict(p *paPolicy) bool { return p != nil && p.Mode == "STRICT" }
func isUnset(p *paPolicy) bool  { return p != nil && p.Mode == "" }
func notStrictMode(m string) bool {
	return m == "PERMISSIVE" || m == "DISABLE"
}

// ztunnelFor computes the rules istiod sends for a workload whose
// mesh-wide, namespace-wide and (oldest matching) workload policies are
// given; any may be nil.
func ztunnelFor(mesh, ns, wl *paPolicy) ztunnelRules {
	var r ztunnelRules
	if mesh != nil {
		r.staticStrict = isStrict(mesh)
		if r.staticStrict {
			r.source = "mesh-wide PeerAuthentication " + mesh.ref()
		}
	}
	if ns != nil && !isUnset(ns) {
		r.staticStrict = isStrict(ns)
		r.source = ""
		if r.staticStrict {
			r.source = "namespace-wide PeerAuthentication " + ns.ref()
		}
	}
	if wl == nil {
		return r
	}
	r.workload = wl
	if isStrict(wl) {
		r.staticStrict, r.source = true, "workload PeerAuthentication "+wl.ref()
	}
	if notStrictMode(wl.Mode) {
		r.staticStrict, r.source = false, ""
	}
	if len(wl.Ports) == 0 {
		return r
	}
	anyPort := func(f func(string) bool) bool {
		for _, m := range wl.Ports {
			if f(m) {
				return true
			}
		}
		return false
	}
	attach := false
	switch wl.Mode {
	case "STRICT":
		if anyPort(notStrictMode) {
			attach, r.staticStrict = true, false
		}
	case "PERMISSIVE", "DISABLE":
		attach = anyPort(func(m string) bool { return m == "STRICT" })
	default:
		if r.staticStrict {
			// istiod looks for PERMISSIVE ports only here, not DISABLE.
			if anyPort(func(m string) bool { return m == "PERMISSIVE" }) {
				attach, r.staticStrict = true, false
			}
		} else {
			attach = anyPort(func(m string) bool { return m == "STRICT" })
		}
	}
	if !attach {
		return r
	}
	if !r.staticStrict {
		r.source = ""
	}
	r.converted = convertForZtunnel(mesh, ns, wl)
	return r
}

// convertForZtunnel is convertPeerAuthentication: nil when the converted
// policy would be empty (then the workload references a policy that
// does not exist, and ztunnel applies nothing for it).
func convertForZtunnel(mesh, ns, wl *paPolicy) *ztunnelConverted {
	plain := func(uint32) bool { return true }
	var rules []func(uint32) bool
	var groups [][]func(uint32) bool
	if isStrict(wl) {
		rules = append(rules, plain)
	}
	ports := make([]uint32, 0, len(wl.Ports))
	for p := range wl.Ports {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	foundNonStrict := false
	for _, port := range ports {
		p := port
		switch m := wl.Ports[port]; {
		case m == "STRICT":
			// Go's precedence in istiod: A || ((B && C) || D), so D
			// skips the port whatever the workload's own mode.
			if isStrict(wl) || (isUnset(wl) && isStrict(ns)) || ((ns == nil || isUnset(ns)) && isStrict(mesh)) {
				continue
			}
			groups = append(groups, []func(uint32) bool{func(q uint32) bool { return q == p }})
		case notStrictMode(m):
			if notStrictMode(wl.Mode) {
				continue
			}
			if isUnset(wl) && ((ns != nil && !isStrict(ns)) || (ns == nil && mesh != nil && !isStrict(mesh)) || (ns == nil && mesh == nil)) {
				continue
			}
			foundNonStrict = true
			rules = append(rules, func(q uint32) bool { return q != p })
		}
	}
	if isStrict(wl) && !foundNonStrict {
		return nil
	}
	if len(rules) == 0 && len(groups) == 0 {
		return nil
	}
	merge := (isStrict(mesh) && (ns == nil || isUnset(ns) || isStrict(ns))) || isStrict(ns)
	if merge && foundNonStrict {
		rules = append(rules, plain)
	}
	if len(rules) > 0 {
		groups = append(groups, rules)
	}
	return &ztunnelConverted{groups: groups}
}

// mode is what ztunnel does with plain text on a port.
func (r ztunnelRules) mode(port uint32) string {
	if r.staticStrict || (r.converted != nil && r.converted.deniesPlain(port)) {
		return "STRICT"
	}
	return "PERMISSIVE"
}

// ambientVerdicts rewrites the sidecar verdicts of an ambient pod with
// what ztunnel enforces, saying why wherever the two differ. Port 0 is
// "every other port": a port no portLevelMtls entry names.
func ambientVerdicts(set policySet, eff effective, vs []portVerdict) {
	r := ztunnelFor(set.mesh, set.ns, eff.Workload)
	other := uint32(0)
	if r.workload != nil {
		// A port number no entry uses stands for "every other port".
		for other = 1; ; other++ {
			if _, named := r.workload.Ports[other]; !named {
				break
			}
		}
	}
	for i := range vs {
		port := vs[i].Port
		if port == 0 {
			port = other
		}
		got := r.mode(port)
		side := vs[i].Mode
		switch {
		case got == side:
			continue
		case side == "DISABLE" && got == "PERMISSIVE":
			vs[i].Mode = got
			vs[i].Why += "; in ambient mode ztunnel treats DISABLE as PERMISSIVE (it still accepts mTLS)"
		case got == "STRICT" && isUnset(r.workload):
			vs[i].Mode = got
			vs[i].Why = fmt.Sprintf("a sidecar would make this %s, but istiod 1.29 gives ztunnel no exception for it: with %s's own mode UNSET under a STRICT parent it honours a port's PERMISSIVE and not DISABLE, so ztunnel keeps denying plain text (%s)",
				side, ref(r.workload), r.describe())
		case got == "STRICT":
			vs[i].Mode = got
			vs[i].Why = fmt.Sprintf("a sidecar would make this %s, but the rules istiod 1.29 derives for ztunnel from %s deny plain text here (%s)",
				side, ref(r.workload), r.describe())
		default:
			vs[i].Mode = got
			vs[i].Why = fmt.Sprintf("a sidecar would make this %s, but the rules istiod 1.29 derives for ztunnel from %s leave plain text allowed (%s)",
				side, ref(r.workload), r.describe())
		}
	}
}

func ref(p *paPolicy) string {
	if p == nil {
		return "the policies"
	}
	return "PeerAuthentication " + p.ref()
}

// describe says what ztunnel was sent.
func (r ztunnelRules) describe() string {
	var parts []string
	if r.staticStrict {
		parts = append(parts, "the static STRICT policy, from "+r.source)
	}
	if r.converted != nil {
		parts = append(parts, "a converted DENY policy from "+ref(r.workload))
	} else if r.workload != nil && len(r.workload.Ports) > 0 && !r.staticStrict {
		parts = append(parts, "no converted policy for "+ref(r.workload))
	}
	if len(parts) == 0 {
		return "ztunnel was sent no deny rule"
	}
	return "ztunnel was sent " + joinAnd(parts)
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return parts[0] + " and " + parts[1]
}
