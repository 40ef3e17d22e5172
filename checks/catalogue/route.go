package catalogue

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdojo/meshdojo/checks"
)

// Codes of route-weights.
const (
	CodeWeightsOK       = "MD0610" // pass
	CodeWeightsDiffer   = "MD0611" // traffic shares differ
	CodeVSMissing       = "MD0612" // no such VirtualService
	CodeSubsetUndefined = "MD0613" // a weighted subset has no DestinationRule subset
	CodeNoDefaultRoute  = "MD0614" // no route to judge
	CodeVSIgnored       = "MD0615" // istiod does not read the VirtualService's namespace
)

// The messages of route-weights.
var (
	msgWeightsOK = checks.Msg2[string, string](checks.Code{ID: CodeWeightsOK, Verdict: checks.Pass,
		Template: "%s splits traffic %s",
		Doc:      "the default route splits traffic in the wanted shares"})
	msgWeightsDiffer = checks.Msg2[string, string](checks.Code{ID: CodeWeightsDiffer, Verdict: checks.Fail,
		Template: "%s does not split traffic as wanted: %s",
		Doc:      "the traffic shares differ: set the weights of the default route as the lesson says"})
	msgVSMissing = checks.Msg1[string](checks.Code{ID: CodeVSMissing, Verdict: checks.Fail,
		Template: "%s does not exist",
		Doc:      "no such VirtualService"})
	msgSubsetUndefined = checks.Msg2[string, string](checks.Code{ID: CodeSubsetUndefined, Verdict: checks.Fail,
		Template: "%s routes to subset %s, which no DestinationRule defines (requests there get 503)",
		Doc:      "a subset that gets traffic is defined by no DestinationRule"})
	msgNoDefaultRoute = checks.Msg2[string, error](checks.Code{ID: CodeNoDefaultRoute, Verdict: checks.Fail,
		Template: "%s has no default route to judge: %v",
		Doc:      "the VirtualService has no default route to judge"})
	msgVSIgnored = checks.Msg2[string, string](checks.Code{ID: CodeVSIgnored, Verdict: checks.Fail,
		Template: "%s is ignored: %s",
		Doc:      "the VirtualService is in a namespace the mesh config's discoverySelectors leave out, so istiod ignores it"})
)

var routeWeights = &checks.Check{
	Name: "route-weights",
	Summary: "a VirtualService's default route splits traffic in the wanted shares (weights are relative; a lone destination gets 100), " +
		"and every subset that gets traffic is defined by a DestinationRule; objects in namespaces the mesh config's " +
		"discoverySelectors do not select are ignored, as istiod ignores them",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace of the VirtualService"},
		{Name: "name", Type: checks.ObjectName, Required: true, Doc: "VirtualService name"},
		{Name: "weights", Type: checks.Weights, Required: true, Doc: "wanted weights by subset (or by host when destinations have no subset), e.g. v1=0,v2=0,v4=100; compared as shares of the total, so v1=1,v2=1 equals v1=50,v2=50"},
		{Name: "mesh-namespace", Type: checks.Namespace, Default: "istio-system", Doc: "namespace of istiod's mesh config (ConfigMap istio-<revision>), " +
			"whose discoverySelectors decide which namespaces' routing istiod reads at all"},
	},
	Rules:  []checks.Rule{checks.WeightsRule("weights")},
	Watch:  true,
	Inputs: routeInputs,
	Codes: []checks.Code{
		msgWeightsOK.Code,
		msgWeightsDiffer.Code,
		msgVSMissing.Code,
		msgSubsetUndefined.Code,
		msgNoDefaultRoute.Code,
		msgVSIgnored.Code,
	},
	Eval: evalRouteWeights,
}

func routeInputs(p checks.Params) []checks.Input {
	return []checks.Input{
		{GVR: checks.GVRVirtualSvc, Namespace: p.Str("namespace")},
		{GVR: checks.GVRDestRule}, // subsets may be defined in the host's or the root namespace
		{GVR: checks.GVRConfigMaps, Namespace: p.Str("mesh-namespace")},
		{GVR: checks.GVRNamespaces},
	}
}

// routeDest is one weighted destination of the judged route.
type routeDest struct {
	host, subset string
	weight       int32
}

func evalRouteWeights(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	ns, name := p.Str("namespace"), p.Str("name")
	want := p.Weights("weights")
	wantTotal := 0 // above 0: Validate made sure
	for _, w := range want {
		wantTotal += w
	}
	ins := routeInputs(p)
	l := &lister{ctx: ctx, env: env}
	vss := l.list(ins[0])
	drs := l.list(ins[1])
	scope := readDiscoveryScopes(l.list(ins[2]), l.list(ins[3])).forRevision("")
	if l.err != nil {
		return errResult(l.err)
	}
	var vsObj *unstructured.Unstructured
	var names []string
	for _, u := range vss {
		names = append(names, u.GetName())
		if u.GetName() == name {
			vsObj = u
		}
	}
	ref := "VirtualService " + ns + "/" + name
	if vsObj == nil {
		obs := "not found"
		if len(names) > 0 {
			sort.Strings(names)
			obs += "; " + ns + " has " + joinMax(names, 8)
		}
		return msgVSMissing.Result(ref, checks.Condition{Name: ref, Observed: obs, Expected: "exists",
			Fix: "Apply the lesson's routing manifest (the chapter's helmfile variant for " + name + ")."})
	}
	if !scope.selects(ns) {
		return msgVSIgnored.Result(ref, scope.ignoredWhy(ns), checks.Condition{Name: ref, Observed: "exists, but " + scope.ignoredWhy(ns),
			Expected: "in a namespace istiod reads", Fix: "To make istiod read it, " + scope.ignoredFix(ns) + "."})
	}
	var vs networkingv1.VirtualService
	if err := fromUnstructured(vsObj, &vs); err != nil {
		return errResult(fmt.Errorf("%s: %w", ref, err))
	}
	dests, which, err := defaultRoute(&vs.Spec)
	if err != nil {
		return msgNoDefaultRoute.Result(ref, err, checks.Condition{Name: ref + " routes", Observed: err.Error(),
			Expected: "an http (or tcp/tls) rule without match conditions, whose destinations carry the weights",
			Fix:      "Add a catch-all route (an http rule with no match) listing the destinations and their weights."})
	}

	// Effective weights: Istio sends everything to a lone destination
	// whatever its weight; otherwise an unset weight is 0.
	got := map[string]int{}
	var order []string
	total := 0
	for _, d := range dests {
		k := d.subset
		if k == "" {
			k = shortHost(d.host, ns)
		}
		w := int(d.weight)
		if len(dests) == 1 {
			w = 100
		}
		if _, ok := got[k]; !ok {
			order = append(order, k)
		}
		got[k] += w
		total += w
	}
	keys := append([]string{}, order...)
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	share := func(w, t int) float64 { return float64(w) * 100 / float64(t) }
	var obsParts, expParts, off []string
	for _, k := range keys {
		gs, ws := 0.0, share(want[k], wantTotal)
		if total > 0 {
			gs = share(got[k], total)
		}
		obsParts = append(obsParts, fmt.Sprintf("%s %s", k, pct(gs)))
		expParts = append(expParts, fmt.Sprintf("%s %s", k, pct(ws)))
		if math.Abs(gs-ws) >= 0.5 {
			off = append(off, fmt.Sprintf("%s gets %s instead of %s", k, pct(gs), pct(ws)))
		}
	}
	var rawW []string
	for _, d := range dests {
		k := d.subset
		if k == "" {
			k = shortHost(d.host, ns)
		}
		rawW = append(rawW, fmt.Sprintf("%s=%d", k, d.weight))
	}
	if len(dests) == 1 {
		rawW = []string{rawW[0] + " (the only destination, so it gets all traffic)"}
	}
	observed := strings.Join(obsParts, ", ") + " (" + which + " weights " + strings.Join(rawW, ",") + ")"
	if total == 0 {
		observed = "every weight is 0 (" + which + " weights " + strings.Join(rawW, ",") + "); Istio rejects such a route"
	}
	conds := []checks.Condition{{Name: ref + " traffic shares", OK: len(off) == 0 && total > 0, Observed: observed, Expected: strings.Join(expParts, ", ")}}
	if !conds[0].OK {
		conds[0].Fix = fmt.Sprintf("Set the weights in %s to %s (kubectl edit virtualservice %s -n %s), or apply the lesson's variant.", which, p.Str("weights"), name, ns)
	}

	// Every subset that receives traffic must exist, or Envoy answers 503
	// (no cluster) for that share.
	root := rootNamespace(env)
	var missing []string
	for _, d := range dests {
		if d.subset == "" || (d.weight == 0 && len(dests) > 1) {
			continue
		}
		ok, where := subsetDefined(drs, d.host, d.subset, ns, root, scope)
		c := checks.Condition{Name: "subset " + d.subset + " of " + shortHost(d.host, ns), OK: ok, Observed: where,
			Expected: "defined by a DestinationRule for " + shortHost(d.host, ns)}
		if !ok {
			c.Fix = fmt.Sprintf("Add subset %s (with the pod labels it stands for, e.g. version: %s) to the DestinationRule for %s, or route to a subset that exists.", d.subset, d.subset, shortHost(d.host, ns))
			missing = append(missing, d.subset)
		}
		conds = append(conds, c)
	}
	switch {
	case !conds[0].OK:
		s := strings.Join(off, ", ")
		if total == 0 {
			s = "every weight is 0"
		}
		return msgWeightsDiffer.Result(ref, s, conds...)
	case len(missing) > 0:
		return msgSubsetUndefined.Result(ref, strings.Join(missing, ", "), conds...)
	}
	return msgWeightsOK.Result(ref, strings.Join(obsParts, ", "), conds...)
}

func pct(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f%%", f)
	}
	return fmt.Sprintf("%.1f%%", f)
}

// defaultRoute picks the rule whose weights decide where ordinary
// traffic goes: the first http rule without match conditions (rules
// after it are never reached), else the only http rule; then the same
// for tcp and tls rules.
func defaultRoute(vs *networkingv1alpha3.VirtualService) ([]routeDest, string, error) {
	for i, r := range vs.Http {
		if len(r.Match) == 0 {
			return httpDests(r), fmt.Sprintf("http[%d]", i), nil
		}
	}
	if len(vs.Http) == 1 {
		return httpDests(vs.Http[0]), "http[0]", nil
	}
	if len(vs.Http) > 1 {
		return nil, "", fmt.Errorf("all %d http rules have match conditions, so none is the default route", len(vs.Http))
	}
	for _, set := range []l4Routes{tcpRoutes(vs.Tcp), tlsRoutes(vs.Tls)} {
		for i, rs := range set.routes {
			if !set.match[i] || len(set.routes) == 1 {
				var out []routeDest
				for _, d := range rs {
					out = append(out, routeDest{host: d.GetDestination().GetHost(), subset: d.GetDestination().GetSubset(), weight: d.Weight})
				}
				return out, fmt.Sprintf("%s[%d]", set.kind, i), nil
			}
		}
	}
	if len(vs.Tcp)+len(vs.Tls) > 0 {
		return nil, "", fmt.Errorf("all its tcp/tls rules have match conditions, so none is the default route")
	}
	return nil, "", fmt.Errorf("it has no http, tcp or tls route")
}

func httpDests(r *networkingv1alpha3.HTTPRoute) []routeDest {
	var out []routeDest
	for _, d := range r.Route {
		out = append(out, routeDest{host: d.GetDestination().GetHost(), subset: d.GetDestination().GetSubset(), weight: d.Weight})
	}
	return out
}

// l4Routes are the tcp or tls rules of a VirtualService.
type l4Routes struct {
	kind   string
	routes [][]*networkingv1alpha3.RouteDestination
	match  []bool // whether each rule has match conditions
}

func tcpRoutes(rs []*networkingv1alpha3.TCPRoute) l4Routes {
	s := l4Routes{kind: "tcp"}
	for _, r := range rs {
		s.routes = append(s.routes, r.Route)
		s.match = append(s.match, len(r.Match) > 0)
	}
	return s
}

func tlsRoutes(rs []*networkingv1alpha3.TLSRoute) l4Routes {
	s := l4Routes{kind: "tls"}
	for _, r := range rs {
		s.routes = append(s.routes, r.Route)
		s.match = append(s.match, len(r.Match) > 0)
	}
	return s
}

// fqdn expands a short host the way Istio does, relative to the
// namespace of the object that names it.
func fqdn(host, ns string) string {
	if strings.Contains(host, ".") || host == "*" {
		return host
	}
	return host + "." + ns + ".svc.cluster.local"
}

func shortHost(host, ns string) string {
	return strings.TrimSuffix(host, "."+ns+".svc.cluster.local")
}

// subsetDefined looks for the subset in DestinationRules for the host in
// the VirtualService's namespace, the host's namespace and the root
// namespace, where a caller's proxy would find them.
func subsetDefined(drs []*unstructured.Unstructured, host, subset, vsNS, root string, scope discoveryScope) (bool, string) {
	h := fqdn(host, vsNS)
	hostNS := ""
	if parts := strings.Split(h, "."); len(parts) >= 3 && parts[2] == "svc" {
		hostNS = parts[1]
	}
	var found []string
	for _, u := range drs {
		dns := u.GetNamespace()
		if dns != vsNS && dns != hostNS && dns != root {
			continue
		}
		var dr networkingv1.DestinationRule
		if err := fromUnstructured(u, &dr); err != nil {
			continue
		}
		if fqdn(dr.Spec.Host, dns) != h {
			continue
		}
		if !scope.selects(dns) {
			found = append(found, fmt.Sprintf("DestinationRule %s is ignored: %s", nsName(u), scope.ignoredWhy(dns)))
			continue
		}
		var subsets []string
		for _, s := range dr.Spec.Subsets {
			if s.Name == subset {
				return true, fmt.Sprintf("DestinationRule %s defines subset %s (labels %s)", nsName(u), subset, labelMapText(s.Labels))
			}
			subsets = append(subsets, s.Name)
		}
		found = append(found, fmt.Sprintf("DestinationRule %s has subsets [%s]", nsName(u), strings.Join(subsets, ", ")))
	}
	if len(found) == 0 {
		return false, "no DestinationRule for " + h
	}
	return false, strings.Join(found, "; ")
}

func labelMapText(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
