package catalogue

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshdojo/meshdojo/checks"
)

// Codes of mtls-mode.
const (
	CodeMTLSOK         = "MD0300" // pass
	CodeMTLSMode       = "MD0301" // a workload port has another effective mode
	CodeMTLSNoProxy    = "MD0302" // a workload has no proxy to enforce the mode
	CodeMTLSNoWorkload = "MD0303" // no pods to judge
)

// The messages of mtls-mode.
var (
	msgMTLSOK = checks.Msg3[string, string, string](checks.Code{ID: CodeMTLSOK, Verdict: checks.Pass,
		Template: "mTLS is %s on every port of %s %s",
		Doc:      "every port of every workload has the wanted effective mode, enforced by a proxy"})
	msgMTLSMode = checks.Msg5[string, string, string, string, otherWorkloads](checks.Code{ID: CodeMTLSMode, Verdict: checks.Fail,
		Template: "%s is %s, not %s (%s)%s",
		Doc:      "a workload port has another effective mode: the summary names the first, why (the policy that decides, or the annotation that bypasses the proxy) and how many other workloads are off; change the policy the fix names"})
	msgMTLSNoProxy = checks.Msg3[string, string, otherWorkloads](checks.Code{ID: CodeMTLSNoProxy, Verdict: checks.Fail,
		Template: "%s has no Istio proxy, so nothing enforces %s mTLS%s",
		Doc:      "a workload has no proxy to enforce the mode: put it in the mesh and restart it"})
	msgMTLSNoWorkload = checks.Msg1[string](checks.Code{ID: CodeMTLSNoWorkload, Verdict: checks.Fail,
		Template: "no running pods %s to judge",
		Doc:      "no running pods to judge"})
)

var mtlsMode = &checks.Check{
	Name: "mtls-mode",
	Summary: "every workload in a namespace, on every port, has the effective mTLS mode Istio computes from its PeerAuthentications " +
		"(workload over namespace over mesh, UNSET inherits, port-level overrides, oldest wins; policies in namespaces the mesh " +
		"config's discoverySelectors do not select are ignored) and a proxy that enforces it; for ambient pods, what ztunnel enforces " +
		"from the deny rules istiod derives (STRICT or PERMISSIVE only: DISABLE allows plain text and mTLS alike, and istiod's port-level " +
		"exceptions for ztunnel differ from a sidecar's)",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace whose workloads are judged"},
		{Name: "mode", Type: checks.Enum, Enum: []string{"STRICT", "PERMISSIVE", "DISABLE"}, Default: "STRICT",
			Doc: "mode every port must end up with; a pod without a proxy accepts only plain text, which counts as DISABLE"},
		{Name: "selector", Type: checks.Selector, Doc: "label selector limiting the pods judged (default: every running pod of the namespace)"},
		{Name: "mesh-namespace", Type: checks.Namespace, Default: "istio-system", Doc: "namespace of istiod's mesh config (ConfigMap istio-<revision>), " +
			"whose discoverySelectors decide which namespaces' policies istiod reads at all"},
	},
	Watch:  true,
	Inputs: mtlsInputs,
	Codes: []checks.Code{
		msgMTLSOK.Code,
		msgMTLSMode.Code,
		msgMTLSNoProxy.Code,
		msgMTLSNoWorkload.Code,
	},
	Eval: evalMTLS,
}

// mtlsInputs reads PeerAuthentications of every namespace (there are
// few) so that the check does not depend on knowing the root namespace
// before it runs; Eval keeps the namespace's and the root namespace's.
// The mesh configs and the namespaces' labels say which of those istiod
// reads at all (discoverySelectors).
func mtlsInputs(p checks.Params) []checks.Input {
	return []checks.Input{
		{GVR: checks.GVRPods, Namespace: p.Str("namespace"), Selector: p.Str("selector")},
		{GVR: checks.GVRPeerAuth},
		{GVR: checks.GVRConfigMaps, Namespace: p.Str("mesh-namespace")},
		{GVR: checks.GVRNamespaces},
	}
}

// paPolicy is a PeerAuthentication reduced to what decides the mode.
type paPolicy struct {
	Name, Namespace string
	created         int64 // Unix seconds: the API's creationTimestamp resolution
	Selector        map[string]string
	Mode            string            // "" when UNSET
	Ports           map[uint32]string // "" when UNSET
}

func (p *paPolicy) ref() string { return p.Namespace + "/" + p.Name }

// older orders policies as Istio does: creation time, then name, then
// namespace.
func older(a, b *paPolicy) bool {
	if a.created != b.created {
		return a.created < b.created
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Namespace < b.Namespace
}

func parsePeerAuth(u *unstructured.Unstructured) (*paPolicy, error) {
	var pa securityv1.PeerAuthentication
	if err := fromUnstructured(u, &pa); err != nil {
		return nil, fmt.Errorf("PeerAuthentication %s: %w", nsName(u), err)
	}
	out := &paPolicy{Name: pa.Name, Namespace: pa.Namespace, created: pa.CreationTimestamp.Unix(),
		Selector: pa.Spec.GetSelector().GetMatchLabels(), Mode: modeName(pa.Spec.GetMtls())}
	if len(pa.Spec.PortLevelMtls) > 0 {
		out.Ports = map[uint32]string{}
		for port, m := range pa.Spec.PortLevelMtls {
			out.Ports[port] = modeName(m)
		}
	}
	return out, nil
}

func modeName(m *securityv1beta1.PeerAuthentication_MutualTLS) string {
	if m == nil || m.Mode == securityv1beta1.PeerAuthentication_MutualTLS_UNSET {
		return ""
	}
	return m.Mode.String()
}

// policySet is what applies to one namespace.
type policySet struct {
	mesh, ns *paPolicy
	workload []*paPolicy // selector policies of the namespace, oldest first
	notes    []string    // policies Istio ignores, and why
	// unseen are the policies istiod never reads because the discovery
	// selectors leave their namespace out, with the reason and the fix.
	unseen          []*paPolicy
	unseenWhy       map[string]string // namespace -> why
	unseenFix       map[string]string // namespace -> fix
	scope           discoveryScope
	meshUnseenModes string // what the ignored mesh-wide policy would have set
}

// buildPolicySet mirrors Istio's ComposePeerAuthentication input: the
// oldest selector-less policy of the root namespace is mesh-wide, the
// oldest selector-less policy of the namespace is namespace-wide, and
// selector policies count only outside the root namespace. A selector
// with no labels is no selector.
//
// Policies in a namespace the discovery selectors leave out are dropped
// first: istiod never reads them (see discovery.go).
func buildPolicySet(ns, root string, nsPolicies, rootPolicies []*paPolicy, scope discoveryScope) policySet {
	s := policySet{scope: scope, unseenWhy: map[string]string{}, unseenFix: map[string]string{}}
	sort.Slice(nsPolicies, func(i, j int) bool { return older(nsPolicies[i], nsPolicies[j]) })
	sort.Slice(rootPolicies, func(i, j int) bool { return older(rootPolicies[i], rootPolicies[j]) })
	drop := func(where string, ps []*paPolicy) []*paPolicy {
		if scope.selects(where) || len(ps) == 0 {
			return ps
		}
		s.unseen = append(s.unseen, ps...)
		s.unseenWhy[where], s.unseenFix[where] = scope.ignoredWhy(where), scope.ignoredFix(where)
		for _, p := range ps {
			if where == root && len(p.Selector) == 0 && s.meshUnseenModes == "" {
				s.meshUnseenModes = p.Mode
			}
		}
		return nil
	}
	rootPolicies = drop(root, rootPolicies)
	if ns == root {
		nsPolicies = rootPolicies
	} else {
		nsPolicies = drop(ns, nsPolicies)
	}
	for _, p := range rootPolicies {
		switch {
		case len(p.Selector) > 0 && ns != root:
			// Not for this namespace at all; mention only root selector
			// policies, which readers often expect to be mesh-wide.
			s.notes = append(s.notes, p.ref()+" has a selector in the root namespace, so Istio applies it to no workload")
		case len(p.Selector) > 0:
		case s.mesh == nil:
			s.mesh = p
		default:
			s.notes = append(s.notes, fmt.Sprintf("%s is ignored: %s is an older mesh-wide policy", p.ref(), s.mesh.ref()))
		}
	}
	if ns == root {
		for _, p := range nsPolicies {
			if len(p.Selector) > 0 {
				s.notes = append(s.notes, p.ref()+" has a selector in the root namespace, so Istio applies it to no workload")
			}
		}
		return s
	}
	for _, p := range nsPolicies {
		switch {
		case len(p.Selector) > 0:
			s.workload = append(s.workload, p)
		case s.ns == nil:
			s.ns = p
		default:
			s.notes = append(s.notes, fmt.Sprintf("%s is ignored: %s is an older namespace-wide policy", p.ref(), s.ns.ref()))
		}
	}
	return s
}

// modeSource is an effective mode and where it came from.
type modeSource struct {
	Mode   string
	Level  string // default, mesh, namespace, workload, port
	Policy *paPolicy
	Port   uint32
	Why    string
}

// effective is the composed policy of one workload.
type effective struct {
	Base  modeSource
	Ports map[uint32]modeSource
	// shadowed are the other selector policies that match but lose.
	shadowed []*paPolicy
	// Workload is the selector policy that applies, if any.
	Workload *paPolicy
}

// compose applies Istio's rules to one workload's labels.
func (s policySet) compose(podLabels map[string]string) effective {
	e := effective{Base: modeSource{Mode: "PERMISSIVE", Level: "default", Why: "Istio's default: no PeerAuthentication sets a mode"}}
	if len(s.unseen) > 0 {
		var names []string
		for _, p := range s.unseen {
			names = append(names, p.ref())
		}
		e.Base.Why = "Istio's default: no PeerAuthentication istiod reads sets a mode (it ignores " + strings.Join(names, ", ") + ": not in a namespace the discoverySelectors select)"
	}
	inherit := func(p *paPolicy, level string) {
		if p == nil {
			return
		}
		if p.Mode == "" {
			e.Base.Why += fmt.Sprintf("; %s PeerAuthentication %s leaves the mode UNSET, so it inherits %s", level, p.ref(), e.Base.Mode)
			return
		}
		e.Base = modeSource{Mode: p.Mode, Level: level, Policy: p, Why: level + " PeerAuthentication " + p.ref()}
	}
	inherit(s.mesh, "mesh-wide")
	inherit(s.ns, "namespace-wide")
	var wl *paPolicy
	for _, p := range s.workload {
		if labels.SelectorFromSet(p.Selector).Matches(labels.Set(podLabels)) {
			if wl == nil {
				wl = p
			} else {
				e.shadowed = append(e.shadowed, p)
			}
		}
	}
	if wl != nil {
		e.Workload = wl
		inherit(wl, "workload")
		if len(wl.Ports) > 0 {
			e.Ports = map[uint32]modeSource{}
			for port, m := range wl.Ports {
				if m == "" {
					e.Ports[port] = modeSource{Mode: e.Base.Mode, Level: "port", Policy: wl, Port: port,
						Why: fmt.Sprintf("portLevelMtls %d of PeerAuthentication %s is UNSET, so it inherits the workload's %s", port, wl.ref(), e.Base.Mode)}
					continue
				}
				e.Ports[port] = modeSource{Mode: m, Level: "port", Policy: wl, Port: port,
					Why: fmt.Sprintf("portLevelMtls %d of PeerAuthentication %s", port, wl.ref())}
			}
		}
	}
	return e
}

// podPorts are the TCP ports the pod's own containers declare (not the
// proxy's), which are the keys portLevelMtls matches.
func podPorts(p *corev1.Pod) []uint32 {
	seen := map[uint32]bool{}
	add := func(cs []corev1.Container, restartableOnly bool) {
		for _, c := range cs {
			if c.Name == "istio-proxy" || (restartableOnly && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways)) {
				continue
			}
			for _, cp := range c.Ports {
				if cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP {
					seen[uint32(cp.ContainerPort)] = true
				}
			}
		}
	}
	add(p.Spec.Containers, false)
	add(p.Spec.InitContainers, true)
	var out []uint32
	for port := range seen {
		out = append(out, port)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// portVerdict is the judged mode of one port (0 = every other port).
type portVerdict struct {
	Port uint32
	modeSource
}

func (v portVerdict) label() string {
	if v.Port == 0 {
		return "other ports"
	}
	return "port " + strconv.Itoa(int(v.Port))
}

func evalMTLS(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	root := rootNamespace(env)
	ns, want := p.Str("namespace"), p.Str("mode")
	ins := mtlsInputs(p)
	l := &lister{ctx: ctx, env: env}
	podObjs := l.list(ins[0])
	allPAs := l.list(ins[1])
	cms := l.list(ins[2])
	nss := l.list(ins[3])
	if l.err != nil {
		return errResult(l.err)
	}
	var nsPAs, rootPAs []*unstructured.Unstructured
	for _, u := range allPAs {
		switch u.GetNamespace() {
		case ns:
			nsPAs = append(nsPAs, u)
		case root:
			rootPAs = append(rootPAs, u)
		}
	}
	if ns == root {
		rootPAs = nsPAs
	}
	parse := func(objs []*unstructured.Unstructured) ([]*paPolicy, error) {
		var out []*paPolicy
		for _, u := range objs {
			pa, err := parsePeerAuth(u)
			if err != nil {
				return nil, err
			}
			out = append(out, pa)
		}
		return out, nil
	}
	nsPol, err := parse(nsPAs)
	if err != nil {
		return errResult(err)
	}
	rootPol, err := parse(rootPAs)
	if err != nil {
		return errResult(err)
	}
	scopes := readDiscoveryScopes(cms, nss)
	// The policy set depends on the mesh config of the revision serving
	// each pod (its discoverySelectors); usually there is one.
	sets := map[string]policySet{}
	var setOrder []string
	setFor := func(pod *corev1.Pod) policySet {
		sc := scopes.forRevision(podRevision(pod))
		if set, ok := sets[sc.config]; ok {
			return set
		}
		set := buildPolicySet(ns, root, slices.Clone(nsPol), slices.Clone(rootPol), sc)
		sets[sc.config] = set
		setOrder = append(setOrder, sc.config)
		return set
	}
	pods, err := livePods(podObjs)
	if err != nil {
		return errResult(err)
	}
	if len(pods) == 0 {
		setFor(&corev1.Pod{})
	}
	for _, pod := range pods {
		setFor(pod)
	}
	var conds []checks.Condition
	for _, k := range setOrder {
		conds = append(conds, policiesCondition(sets[k], ns, root))
	}
	for _, pr := range scopes.problems {
		conds = append(conds, checks.Condition{Name: "mesh config", OK: true, Observed: pr + "; its discoverySelectors were not applied",
			Expected: "valid discoverySelectors"})
	}
	scope := "in " + ns
	if p.Str("selector") != "" {
		scope += " matching " + p.Str("selector")
	}
	if len(pods) == 0 {
		return msgMTLSNoWorkload.Result(scope, append(conds, checks.Condition{
			Name: "workloads " + scope, Observed: "no running pods", Expected: "at least one running pod",
			Fix: "Deploy the lab's workloads into " + ns + " (or fix the selector), then wait for the pods to start.",
		})...)
	}

	type podOutcome struct {
		pod      *corev1.Pod
		ok       bool
		observed string
		fix      string
		// first is the result of the first problem, counting the
		// other workloads that are off.
		first func(otherWorkloads, []checks.Condition) checks.Result
	}
	byWorkload := map[string][]podOutcome{}
	var order []string
	for _, pod := range pods {
		w := workloadName(pod)
		if _, seen := byWorkload[w]; !seen {
			order = append(order, w)
		}
		kind, why := podProxy(pod)
		set := setFor(pod)
		eff := set.compose(pod.Labels)
		var verdicts []portVerdict
		for _, port := range podPorts(pod) {
			if ms, ok := eff.Ports[port]; ok {
				verdicts = append(verdicts, portVerdict{port, ms})
			} else {
				verdicts = append(verdicts, portVerdict{port, eff.Base})
			}
		}
		for port, ms := range eff.Ports {
			if !containsPort(verdicts, port) {
				verdicts = append(verdicts, portVerdict{port, ms})
			}
		}
		sort.Slice(verdicts, func(i, j int) bool { return verdicts[i].Port < verdicts[j].Port })
		verdicts = append(verdicts, portVerdict{0, eff.Base})
		if kind == proxyNative || kind == proxyClassic {
			bypass(pod, verdicts)
		}
		if kind == proxyAmbient {
			// ztunnel, not a sidecar, enforces the policies (mtls_ambient.go).
			ambientVerdicts(set, eff, verdicts)
		}

		o := podOutcome{pod: pod, ok: true}
		o.observed = proxyWords(kind) + "; " + describeVerdicts(verdicts)
		if len(eff.shadowed) > 0 {
			var names []string
			for _, s := range eff.shadowed {
				names = append(names, s.ref())
			}
			o.observed += "; also matched but newer, so ignored: " + strings.Join(names, ", ")
		}
		if kind == proxyNone {
			o.observed = "no proxy (" + why + "): the pod accepts only plain text, whatever the policies say (they would give " + describeVerdicts(verdicts) + ")"
			if want != "DISABLE" {
				o.ok = false
				o.first = func(n otherWorkloads, cs []checks.Condition) checks.Result {
					return msgMTLSNoProxy.Result(w, want, n, cs...)
				}
				o.fix = noProxyFix(pod, ns, w)
			}
		} else {
			// One fix per policy to change, so the reader does not fix
			// port 9080 only to learn that the other ports are wrong too.
			var fixes []string
			for _, v := range verdicts {
				if v.Mode == want {
					continue
				}
				if o.ok {
					o.ok = false
					who, found := w, v.Mode
					switch {
					case sameVerdicts(verdicts):
						found += " on every port"
					case v.Port == 0:
						found += " on its other ports"
					default:
						who += " " + v.label()
					}
					why := v.Why
					o.first = func(n otherWorkloads, cs []checks.Condition) checks.Result {
						return msgMTLSMode.Result(who, found, want, why, n, cs...)
					}
				}
				f := modeFix(v, eff, set, want, ns, root)
				if v.Level == levelBypass {
					f = fmt.Sprintf("Remove the port from the %s annotation (or set %s to \"*\") in %s's pod template, then restart it: kubectl rollout restart deployment/%s -n %s.",
						annExcludeInbound, annIncludeInbound, w, w, ns)
				}
				if !slices.Contains(fixes, f) {
					fixes = append(fixes, f)
				}
			}
			o.fix = strings.Join(fixes, " Also: ")
			if !o.ok && kind == proxyAmbient && want == "DISABLE" {
				o.fix = fmt.Sprintf("In ambient mode ztunnel always accepts mTLS, so no policy gives DISABLE; expect PERMISSIVE instead, or take %s out of ambient (kubectl label namespace %s istio.io/dataplane-mode-).", ns, ns)
			}
		}
		byWorkload[w] = append(byWorkload[w], o)
	}

	expected := want + " on every port, enforced by a proxy"
	if want == "DISABLE" {
		expected = "DISABLE on every port (plain text; a pod without a proxy counts)"
	}
	var bad []string
	var first func(otherWorkloads, []checks.Condition) checks.Result
	for _, w := range order {
		outs := byWorkload[w]
		// Pods of one workload usually agree; show one condition then,
		// and one per differing pod otherwise.
		groups := map[string][]podOutcome{}
		var keys []string
		for _, o := range outs {
			k := fmt.Sprint(o.ok, o.observed)
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], o)
		}
		for _, k := range keys {
			g := groups[k]
			name := w
			switch {
			case len(keys) > 1:
				var names []string
				for _, o := range g {
					names = append(names, o.pod.Name)
				}
				name = w + " (pod " + joinMax(names, 3) + ")"
			case w != g[0].pod.Name:
				name = fmt.Sprintf("%s (%s)", w, plural(len(g), "pod", "pods"))
			}
			conds = append(conds, checks.Condition{Name: name, OK: g[0].ok, Observed: g[0].observed, Expected: expected, Fix: g[0].fix})
			if !g[0].ok {
				if first == nil {
					first = g[0].first
				}
			}
		}
		for _, o := range outs {
			if !o.ok {
				bad = append(bad, w)
				break
			}
		}
	}
	if len(bad) > 0 {
		return first(otherWorkloads{bad: len(bad), of: len(order), scope: scope, want: want}, conds)
	}
	return msgMTLSOK.Result(want, plural(len(order), "workload", "workloads"), scope, conds...)
}

// otherWorkloads says, after the first workload a summary names, how
// many are off in all: "; 2 of 4 workloads in bookinfo are not STRICT",
// or nothing when the first is the only one.
type otherWorkloads struct {
	bad, of     int
	scope, want string
}

func (o otherWorkloads) String() string {
	if o.bad <= 1 {
		return ""
	}
	return fmt.Sprintf("; %d of %d workloads %s are not %s", o.bad, o.of, o.scope, o.want)
}

// Pod annotations that keep inbound ports away from the sidecar: the
// init container (or istio-cni) redirects only the included ports minus
// the excluded ones, so traffic to any other port reaches the app as
// plain text whatever the PeerAuthentications say.
const (
	annExcludeInbound = "traffic.sidecar.istio.io/excludeInboundPorts"
	annIncludeInbound = "traffic.sidecar.istio.io/includeInboundPorts"
	levelBypass       = "bypass"
)

// bypass marks the ports of a sidecar pod that its proxy never sees.
// Only the ports already judged count: the injector itself excludes the
// proxy's status port (15020) on every pod, which is no app port.
func bypass(p *corev1.Pod, vs []portVerdict) {
	excl := portSet(p.Annotations[annExcludeInbound])
	incl, hasIncl := p.Annotations[annIncludeInbound]
	all := !hasIncl || strings.TrimSpace(incl) == "*"
	inc := portSet(incl)
	for i, v := range vs {
		var why string
		switch {
		case v.Port != 0 && excl[v.Port]:
			why = fmt.Sprintf("%s lists %d, so the sidecar never sees this port and plain text reaches the app", annExcludeInbound, v.Port)
		case !all && (v.Port == 0 || !inc[v.Port]):
			why = fmt.Sprintf("%s is %q, so the sidecar does not receive this port's traffic and plain text reaches the app", annIncludeInbound, incl)
		default:
			continue
		}
		vs[i].modeSource = modeSource{Mode: "DISABLE", Level: levelBypass, Port: v.Port, Why: why}
	}
}

// portSet parses a comma-separated port list; bad entries are skipped.
func portSet(s string) map[uint32]bool {
	out := map[uint32]bool{}
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16); err == nil && n > 0 {
			out[uint32(n)] = true
		}
	}
	return out
}

// sameVerdicts says whether every port has the same mode for the same
// reason.
func sameVerdicts(vs []portVerdict) bool {
	for _, v := range vs {
		if v.Mode != vs[0].Mode || v.Why != vs[0].Why {
			return false
		}
	}
	return true
}

func containsPort(vs []portVerdict, port uint32) bool {
	for _, v := range vs {
		if v.Port == port {
			return true
		}
	}
	return false
}

// describeVerdicts says each port's mode, merging ports that agree:
// "STRICT on all ports (namespace-wide PeerAuthentication bookinfo/bookinfo)".
func describeVerdicts(vs []portVerdict) string {
	type group struct {
		labels []string
		v      portVerdict
	}
	var groups []*group
	for _, v := range vs {
		var g *group
		for _, x := range groups {
			if x.v.Mode == v.Mode && x.v.Why == v.Why {
				g = x
			}
		}
		if g == nil {
			g = &group{v: v}
			groups = append(groups, g)
		}
		g.labels = append(g.labels, v.label())
	}
	if len(groups) == 1 {
		return fmt.Sprintf("%s on all ports (%s)", groups[0].v.Mode, groups[0].v.Why)
	}
	var parts []string
	for _, g := range groups {
		parts = append(parts, fmt.Sprintf("%s: %s (%s)", strings.Join(g.labels, ", "), g.v.Mode, g.v.Why))
	}
	return strings.Join(parts, "; ")
}

func policiesCondition(s policySet, ns, root string) checks.Condition {
	describe := func(p *paPolicy) string {
		m := p.Mode
		if m == "" {
			m = "UNSET"
		}
		return p.ref() + " " + m
	}
	var parts []string
	if s.mesh != nil {
		parts = append(parts, "mesh-wide "+describe(s.mesh))
	} else {
		parts = append(parts, "no mesh-wide policy in "+root)
	}
	if ns != root {
		if s.ns != nil {
			parts = append(parts, "namespace-wide "+describe(s.ns))
		} else {
			parts = append(parts, "no namespace-wide policy in "+ns)
		}
	}
	for _, w := range s.workload {
		var sel []string
		for k, v := range w.Selector {
			sel = append(sel, k+"="+v)
		}
		sort.Strings(sel)
		d := "workload " + describe(w) + " (selector " + strings.Join(sel, ",")
		if len(w.Ports) > 0 {
			var ports []string
			for port, m := range w.Ports {
				if m == "" {
					m = "UNSET"
				}
				ports = append(ports, fmt.Sprintf("%d %s", port, m))
			}
			sort.Strings(ports)
			d += "; ports " + strings.Join(ports, ", ")
		}
		parts = append(parts, d+")")
	}
	for _, p := range s.unseen {
		parts = append(parts, fmt.Sprintf("%s %s is ignored: %s", p.ref(), modeOrUnset(p.Mode), s.unseenWhy[p.Namespace]))
	}
	parts = append(parts, s.notes...)
	name := "PeerAuthentications that apply"
	if s.scope.config != "" && len(s.scope.selectors) > 0 {
		name += " (discoverySelectors of " + s.scope.config + ")"
	}
	return checks.Condition{Name: name, OK: true, Observed: strings.Join(parts, "; "),
		Expected: "workload over namespace-wide over mesh-wide; UNSET inherits; the oldest wins among equals"}
}

func modeOrUnset(m string) string {
	if m == "" {
		return "UNSET"
	}
	return m
}

func noProxyFix(p *corev1.Pod, ns, w string) string {
	if injectOptOut(p) != "" {
		return fmt.Sprintf("Remove sidecar.istio.io/inject=false from %s's pod template, then restart it (kubectl rollout restart deployment/%s -n %s).", w, w, ns)
	}
	return fmt.Sprintf("A pod gets istio-proxy only if it was created in a namespace labelled for injection. Check with kubectl get namespace %s --show-labels; "+
		"if istio.io/rev is missing, add it (kubectl label namespace %s istio.io/rev=stable in the lab). Then restart the workload so its pods are created again: kubectl rollout restart deployment/%s -n %s.", ns, ns, w, ns)
}

// modeFix says how to give v's port the wanted mode, changing the
// policy closest to the workload.
func modeFix(v portVerdict, eff effective, set policySet, want, ns, root string) string {
	edit := func(p *paPolicy) string {
		return fmt.Sprintf("kubectl edit peerauthentication %s -n %s", p.Name, p.Namespace)
	}
	switch v.Level {
	case "port":
		if v.Policy.Ports[v.Port] == "" {
			return fmt.Sprintf("Port %d inherits %s; set spec.mtls.mode: %s in PeerAuthentication %s or give portLevelMtls %d mode %s (%s).", v.Port, v.Mode, want, v.Policy.ref(), v.Port, want, edit(v.Policy))
		}
		fix := fmt.Sprintf("Set portLevelMtls %d mode to %s in PeerAuthentication %s (%s)", v.Port, want, v.Policy.ref(), edit(v.Policy))
		if eff.Base.Mode == want {
			fix += fmt.Sprintf(", or delete that port entry so the port gets the workload's %s", want)
		}
		return fix + "."
	case "workload":
		return fmt.Sprintf("Set spec.mtls.mode: %s in PeerAuthentication %s (%s), or delete it if the namespace-wide policy already says %s.", want, v.Policy.ref(), edit(v.Policy), want)
	}
	if w := eff.Workload; w != nil && w.Mode == "" {
		// A selector policy matches but leaves the mode UNSET: setting it
		// there changes this workload only.
		return fmt.Sprintf("PeerAuthentication %s selects this workload but leaves the mode UNSET, so it inherits %s; set spec.mtls.mode: %s there (%s).", w.ref(), v.Mode, want, edit(w))
	}
	switch v.Level {
	case "namespace-wide":
		return fmt.Sprintf("Set spec.mtls.mode: %s in PeerAuthentication %s (%s).", want, v.Policy.ref(), edit(v.Policy))
	case "mesh-wide":
		return fmt.Sprintf("Create a namespace-wide PeerAuthentication in %s with spec.mtls.mode: %s (no selector), or change the mesh-wide %s.", ns, want, v.Policy.ref())
	}
	if len(set.unseen) > 0 {
		var parts []string
		for _, where := range []string{root, ns} {
			if why := set.unseenWhy[where]; why != "" {
				parts = append(parts, why+"; to change that, "+set.unseenFix[where])
			}
		}
		return fmt.Sprintf("No PeerAuthentication istiod reads sets a mode, so Istio's default PERMISSIVE applies. %s. The simplest fix: create a PeerAuthentication in %s with spec.mtls.mode: %s and no selector.",
			strings.Join(parts, ". "), ns, want)
	}
	if !set.scope.selects(root) {
		return fmt.Sprintf("No PeerAuthentication that applies sets a mode (UNSET inherits), so Istio's default PERMISSIVE applies: create one in %s with spec.mtls.mode: %s and no selector. (A policy in the root namespace %s would be ignored: %s.)", ns, want, root, set.scope.ignoredWhy(root))
	}
	return fmt.Sprintf("No PeerAuthentication that applies sets a mode (UNSET inherits), so Istio's default PERMISSIVE applies: create one in %s with spec.mtls.mode: %s and no selector (for the namespace), or one in %s for the whole mesh.", ns, want, root)
}
