package catalogue

// authz-decision answers "may this caller make this request to this
// workload?" from the AuthorizationPolicies and RequestAuthentications
// in the cluster, the way an Istio 1.29 sidecar decides
// (internal/authz), and names the policy and rule that decided.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/authz"
)

// Codes of authz-decision.
const (
	CodeAuthzOK         = "MD0900" // pass: the decision is the expected one
	CodeAuthzAllowed    = "MD0901" // allowed, but expected denied
	CodeAuthzDenied     = "MD0902" // denied, but expected allowed
	CodeAuthzNoWorkload = "MD0903" // no running pod to judge
	CodeAuthzNoGateway  = "MD0904" // caller ingress-gateway, but no ingress gateway pod
	CodeAuthzCustom     = "MD0905" // an external authorizer decides
)

var (
	gvrAuthzPolicies = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}
	gvrRequestAuthn  = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "requestauthentications"}
)

// ingressGatewaySelector finds the ingress gateway's pods, as the
// istio/gateway chart labels them.
const ingressGatewaySelector = "istio=ingressgateway"

// The messages of authz-decision.
var (
	msgAuthzOK = checks.Msg3[string, string, string](checks.Code{ID: CodeAuthzOK, Verdict: checks.Pass,
		Template: "%s: %s (%s)",
		Doc:      "the policies give the expected decision: the summary says which, why (the policy and rule that decide), and for which request"})
	msgAuthzAllowed = checks.Msg2[string, string](checks.Code{ID: CodeAuthzAllowed, Verdict: checks.Fail,
		Template: "allowed, not denied: %s (%s)",
		Doc:      "the request is allowed, but should be denied"})
	msgAuthzDenied = checks.Msg3[denial, string, string](checks.Code{ID: CodeAuthzDenied, Verdict: checks.Fail,
		Template: "%s, not allowed: %s (%s)",
		Doc:      "the request is denied (or refused with 401 before authorization), but should be allowed"})
	msgAuthzNoWorkload = checks.Msg1[string](checks.Code{ID: CodeAuthzNoWorkload, Verdict: checks.Fail,
		Template: "no running pod of %s to judge",
		Doc:      "no running pod of the workload to judge"})
	msgAuthzNoGateway = checks.Msg1[string](checks.Code{ID: CodeAuthzNoGateway, Verdict: checks.Fail,
		Template: "no ingress gateway pod (%s) gives the caller's identity",
		Doc:      "the caller is the ingress gateway, but no gateway pod gives its identity"})
	msgAuthzCustom = checks.Msg2[string, string](checks.Code{ID: CodeAuthzCustom, Verdict: checks.Fail,
		Template: "%s (%s); no object shows its answer",
		Doc:      "a CUSTOM policy hands the request to an external authorizer, whose answer no object shows"})
)

var authzDecision = &checks.Check{
	Name: "authz-decision",
	Summary: "computes whether a caller may make a request to a workload from the AuthorizationPolicies Istio applies to it " +
		"(selector, namespace and root namespace, discoverySelectors; CUSTOM, then DENY, then ALLOW; an ALLOW policy that " +
		"matches nothing denies) and the RequestAuthentications that accept or refuse its token, naming the policy and rule that decide",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace of the workload called"},
		{Name: "workload", Type: checks.Selector, Required: true, Doc: "label selector of the workload's pods, e.g. app=productpage"},
		{Name: "caller", Type: checks.String, Rule: callerRule, Doc: "who calls: NAMESPACE/SERVICEACCOUNT (e.g. bookinfo/reviews), NAMESPACE alone " +
			"(a pod there with the default service account, as pod-probe runs), ingress-gateway (the identity of the pods labelled " +
			ingressGatewaySelector + "), or plaintext (a client outside the mesh, with no identity)"},
		{Name: "value", Type: checks.String, Rule: callerRule, Doc: "the caller, when a question's choice names it (the same forms as caller)"},
		{Name: "gateway-namespace", Type: checks.Namespace, Default: "istio-ingress", Doc: "with caller ingress-gateway: the namespace of the ingress " +
			"gateway's pods (labelled " + ingressGatewaySelector + "), whose service account is its identity"},
		{Name: "method", Type: checks.Enum, Default: "GET", Enum: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, Doc: "request method"},
		{Name: "path", Type: checks.HTTPPath, Default: "/", Doc: "request path"},
		{Name: "host", Type: checks.String, Doc: "Host header (default: the workload's Service name, as its callers write it)"},
		{Name: "port", Type: checks.Int, Min: "1", Max: "65535", Default: "9080", Doc: "port the request reaches on the workload"},
		{Name: "claims", Type: checks.String, Rule: claimsRule, Doc: "the request carries a valid token with these claims, as name=value pairs separated " +
			"by ; (a value with commas is a list claim), e.g. iss=http://localhost:8080/realms/bookinfo; groups=/reviewers. Without it the " +
			"request has no token"},
		{Name: "expect", Type: checks.Enum, Enum: []string{"allowed", "denied"}, Default: "allowed", Doc: "the decision that passes"},
		{Name: "mesh-namespace", Type: checks.Namespace, Default: "istio-system", Doc: "namespace of istiod's mesh config, whose discoverySelectors " +
			"decide which namespaces' policies istiod reads"},
	},
	Rules: []checks.Rule{{Doc: "give caller or value", Check: func(p checks.Params) *checks.ParamError {
		if p.Str("caller") == "" && p.Str("value") == "" {
			return &checks.ParamError{Param: "caller", Problem: checks.Missing, Want: "a caller such as bookinfo/reviews or ingress-gateway"}
		}
		return nil
	}}},
	Watch:  true,
	Inputs: authzInputs,
	Codes: []checks.Code{
		msgAuthzOK.Code,
		msgAuthzAllowed.Code,
		msgAuthzDenied.Code,
		msgAuthzNoWorkload.Code,
		msgAuthzNoGateway.Code,
		msgAuthzCustom.Code,
	},
	Eval: evalAuthz,
}

func authzCaller(p checks.Params) string {
	if c := p.Str("caller"); c != "" {
		return c
	}
	return p.Str("value")
}

func authzInputs(p checks.Params) []checks.Input {
	in := []checks.Input{
		{GVR: gvrAuthzPolicies},
		{GVR: gvrRequestAuthn},
		{GVR: checks.GVRPods, Namespace: p.Str("namespace"), Selector: p.Str("workload")},
		{GVR: checks.GVRConfigMaps, Namespace: p.Str("mesh-namespace")},
		{GVR: checks.GVRNamespaces},
	}
	if authzCaller(p) == "ingress-gateway" {
		in = append(in, checks.Input{GVR: checks.GVRPods, Namespace: p.Str("gateway-namespace"), Selector: ingressGatewaySelector})
	}
	return in
}

func callerRule(v string) error {
	if _, err := parseCaller(v); err != nil {
		return err
	}
	return nil
}

// parseCaller turns a caller into a principal ("" for plain text), or
// "ingress-gateway" to be looked up.
func parseCaller(v string) (string, error) {
	bad := errors.New("a caller such as bookinfo/reviews, bookinfo, ingress-gateway or plaintext")
	v = strings.TrimSpace(v)
	switch {
	case v == "ingress-gateway" || v == "plaintext":
		return v, nil
	case strings.Contains(v, "/ns/") && strings.Contains(v, "/sa/"):
		return strings.TrimPrefix(v, "spiffe://"), nil
	}
	ns, sa, found := strings.Cut(v, "/")
	if !found {
		sa = "default"
	}
	if validName(ns) != nil || validName(sa) != nil {
		return "", bad
	}
	return "cluster.local/ns/" + ns + "/sa/" + sa, nil
}

func validName(s string) error {
	if s == "" || len(s) > 253 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" {
		return errors.New("not a name")
	}
	return nil
}

func claimsRule(v string) error {
	_, err := parseClaims(v)
	return err
}

// parseClaims reads "iss=...; groups=/a,/b".
func parseClaims(v string) (map[string]any, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	out := map[string]any{}
	for _, kv := range strings.Split(v, ";") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || k == "" {
			return nil, errors.New("claims as name=value pairs separated by ;, e.g. iss=http://localhost:8080/realms/bookinfo; groups=/reviewers")
		}
		if strings.Contains(val, ",") {
			var list []any
			for _, e := range strings.Split(val, ",") {
				list = append(list, strings.TrimSpace(e))
			}
			out[k] = list
		} else {
			out[k] = val
		}
	}
	return out, nil
}

func evalAuthz(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	root := rootNamespace(env)
	ns := p.Str("namespace")
	ins := authzInputs(p)
	l := &lister{ctx: ctx, env: env}
	apObjs := l.list(ins[0])
	raObjs := l.list(ins[1])
	podObjs := l.list(ins[2])
	cms := l.list(ins[3])
	nss := l.list(ins[4])
	var gwObjs []*unstructured.Unstructured
	if len(ins) > 5 {
		gwObjs = l.list(ins[5])
	}
	if l.err != nil {
		return errResult(l.err)
	}
	pods, err := livePods(podObjs)
	if err != nil {
		return errResult(err)
	}
	target := fmt.Sprintf("%s in %s", p.Str("workload"), ns)
	if len(pods) == 0 {
		return msgAuthzNoWorkload.Result(target, checks.Condition{
			Name: "workload " + target, Observed: "no running pods", Expected: "at least one running pod",
			Fix: "Deploy the lab's workloads into " + ns + " (or fix the workload selector), then wait for the pods to start.",
		})
	}
	pod := pods[0]
	w := authz.Workload{Namespace: ns, Labels: pod.Labels}
	scope := readDiscoveryScopes(cms, nss).forRevision(podRevision(pod))

	// The caller's identity.
	callerText := authzCaller(p)
	principal, _ := parseCaller(callerText)
	var conds []checks.Condition
	switch principal {
	case "plaintext":
		principal = ""
	case "ingress-gateway":
		gws, err := livePods(gwObjs)
		if err != nil {
			return errResult(err)
		}
		if len(gws) == 0 {
			return msgAuthzNoGateway.Result(ingressGatewaySelector, checks.Condition{
				Name: "caller ingress-gateway", Observed: "no running pod labelled " + ingressGatewaySelector + " in " + p.Str("gateway-namespace"), Expected: "the ingress gateway's pods",
				Fix: "Install the ingress gateway as the lab's set-up does (helmfile -f chapter-07/istio/istio-ingress/helmfile.yaml apply).",
			})
		}
		principal = gatewayPrincipal(gws[0])
		conds = append(conds, checks.Condition{Name: "caller", OK: true, Observed: "the ingress gateway, identity " + principal +
			" (pod " + gws[0].Namespace + "/" + gws[0].Name + ")", Expected: "a caller"})
	}

	// Policies istiod reads.
	var policies []*authz.Policy
	var ignored []string
	for _, u := range apObjs {
		pol, err := authz.ParsePolicy(u)
		if err != nil {
			return errResult(err)
		}
		if !scope.selects(pol.Namespace) {
			if pol.Namespace == ns || pol.Namespace == root {
				ignored = append(ignored, pol.Ref()+" ("+scope.ignoredWhy(pol.Namespace)+")")
			}
			continue
		}
		policies = append(policies, pol)
	}
	var ras []*authz.RequestAuthn
	for _, u := range raObjs {
		ra, err := authz.ParseRequestAuthn(u)
		if err != nil {
			return errResult(err)
		}
		if scope.selects(ra.Namespace) {
			ras = append(ras, ra)
		}
	}
	applicable := authz.Applicable(policies, root, w)
	host := p.Str("host")
	if host == "" {
		host = pod.Labels["app"]
	}
	req := authz.Request{Principal: principal, Method: p.Str("method"), Path: p.Str("path"), Host: host, Port: p.Int("port")}
	claims, _ := parseClaims(p.Str("claims"))

	desc := fmt.Sprintf("%s %s from %s to %s", req.Method, req.Path, describeCaller(callerText, principal), target)
	if claims != nil {
		desc += " with a token (" + p.Str("claims") + ")"
	}
	conds = append(conds, policiesApplying(applicable, ignored, root, w))

	// Authentication first: a refused token never reaches authorization.
	var tok *authz.Token
	if claims != nil {
		tok = &authz.Token{Valid: true, Claims: claims}
	}
	an := authz.Authenticate(authz.ApplicableAuthn(ras, root, w), tok)
	conds = append(conds, checks.Condition{Name: "request authentication", OK: true, Observed: an.Why + refsSuffix(an.By), Expected: "a token the workload's RequestAuthentications accept, or none"})
	want := p.Str("expect")
	expected := "the request " + want
	if an.Status == 401 {
		c := checks.Condition{Name: "decision", OK: want == "denied", Observed: "refused with 401 before authorization: " + an.Why, Expected: expected}
		if !c.OK {
			c.Fix = "Give the RequestAuthentication that selects the workload a jwtRules entry whose issuer is the token's iss (kubectl edit requestauthentication -n " + ns + ")."
			return msgAuthzDenied.Result(refused401, an.Why, desc, append(conds, c)...)
		}
		return msgAuthzOK.Result("refused (401) as expected", an.Why, desc, append(conds, c)...)
	}
	req.JWT = an.Claims

	d := authz.Decide(applicable, req)
	observed := d.Why
	if len(d.Misses) > 0 {
		observed += " — " + strings.Join(d.Misses, "; ")
	}
	if len(d.Notes) > 0 {
		observed += "; note: " + strings.Join(d.Notes, "; ")
	}
	decided := "denied"
	if d.Allowed {
		decided = "allowed"
	}
	c := checks.Condition{Name: "decision", OK: decided == want && d.Action != authz.Custom, Observed: observed, Expected: expected}
	if d.Action == authz.Custom {
		c.Fix = "The external authorizer " + d.Policy.Provider + " decides this request; no object shows its answer. Send real traffic (http-probe) to see it."
		return msgAuthzCustom.Result(d.Why, desc, append(conds, c)...)
	}
	if c.OK {
		return msgAuthzOK.Result(decided, d.Why, desc, append(conds, c)...)
	}
	if d.Allowed {
		c.Fix = allowedFix(d, ns, w)
		return msgAuthzAllowed.Result(d.Why, desc, append(conds, c)...)
	}
	c.Fix = deniedFix(d, ns)
	return msgAuthzDenied.Result(deniedByPolicy, d.Why, desc, append(conds, c)...)
}

// denial is how a request the step wants allowed is stopped.
type denial string

const (
	deniedByPolicy denial = "denied"
	refused401     denial = "refused (401)"
)

func refsSuffix(by []string) string {
	if len(by) == 0 {
		return ""
	}
	return " (" + strings.Join(by, ", ") + ")"
}

func describeCaller(text, principal string) string {
	switch {
	case principal == "":
		return "a plain-text client (no identity)"
	case text == "ingress-gateway":
		return "the ingress gateway"
	}
	return principal
}

// gatewayPrincipal is a gateway pod's SPIFFE identity (trust domain
// cluster.local, the lab's).
func gatewayPrincipal(p *corev1.Pod) string {
	sa := p.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	return "cluster.local/ns/" + p.Namespace + "/sa/" + sa
}

func policiesApplying(applicable []*authz.Policy, ignored []string, root string, w authz.Workload) checks.Condition {
	var parts []string
	for _, p := range applicable {
		a := p.Action
		where := "namespace " + p.Namespace
		if p.Namespace == root && root != w.Namespace {
			where = "root namespace"
		}
		sel := "every workload"
		if len(p.Selector) > 0 {
			var kv []string
			for k, v := range p.Selector {
				kv = append(kv, k+"="+v)
			}
			slices.Sort(kv)
			sel = strings.Join(kv, ",")
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s, %s, %s)", a, p.Ref(), where, sel, plural(len(p.Rules), "rule", "rules")))
	}
	obs := "none"
	if len(parts) > 0 {
		obs = strings.Join(parts, "; ")
	}
	for _, i := range ignored {
		obs += "; ignored: " + i
	}
	return checks.Condition{Name: "AuthorizationPolicies that apply", OK: true, Observed: obs,
		Expected: "policies of the workload's namespace and of the root namespace " + root + " whose selector the workload's labels match"}
}

func allowedFix(d authz.Decision, ns string, w authz.Workload) string {
	if d.Policy == nil {
		return fmt.Sprintf("No ALLOW policy applies, so everything is allowed. Add an AuthorizationPolicy in %s with a selector matching the workload (app=%s) and rules that allow only the callers you want; "+
			"any ALLOW policy denies what its rules do not match.", ns, w.Labels["app"])
	}
	return fmt.Sprintf("Rule %d of %s allows it: narrow that rule (its from, to or when) in kubectl edit authorizationpolicy %s -n %s, or add a DENY policy, which is evaluated first.",
		d.Rule, d.Policy.Ref(), d.Policy.Name, d.Policy.Namespace)
}

func deniedFix(d authz.Decision, ns string) string {
	if d.Action == authz.Deny {
		return fmt.Sprintf("Rule %d of DENY policy %s matches; DENY wins over any ALLOW. Change or remove that rule (kubectl edit authorizationpolicy %s -n %s).",
			d.Rule, d.Policy.Ref(), d.Policy.Name, d.Policy.Namespace)
	}
	return "No rule of the ALLOW policies matches this request. Add a rule (or a value to a rule's from, to or when) that matches it, in the ALLOW policy of " + ns +
		" that selects the workload; the observation says which part of each rule did not match."
}
