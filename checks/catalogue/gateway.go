package catalogue

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdojo/meshdojo/checks"
)

// Codes of gateway-condition.
const (
	CodeGWConditionOK   = "MD0500" // pass
	CodeGWCondition     = "MD0501" // the condition has another status
	CodeGWMissing       = "MD0502" // no such Gateway / HTTPRoute / GatewayClass
	CodeGWNoCondition   = "MD0503" // no such condition yet, or reported for an older generation
	CodeGWParentMissing = "MD0504" // the route's status has no entry for that parent
)

// The messages of gateway-condition.
var (
	msgGWConditionOK = checks.Msg4[string, string, string, string](checks.Code{ID: CodeGWConditionOK, Verdict: checks.Pass,
		Template: "%s is %s=%s%s",
		Doc:      "the condition has the wanted status for the current generation (on every parent, for a route)"})
	msgGWCondition = checks.Msg4[string, string, string, string](checks.Code{ID: CodeGWCondition, Verdict: checks.Fail,
		Template: "%s is %s, not %s=%s",
		Doc:      "the condition has another status"})
	msgGWMissing = checks.Msg1[string](checks.Code{ID: CodeGWMissing, Verdict: checks.Fail,
		Template: "%s does not exist",
		Doc:      "no such Gateway, HTTPRoute or GatewayClass"})
	msgGWNoCondition = checks.Msg3[string, string, string](checks.Code{ID: CodeGWNoCondition, Verdict: checks.Fail,
		Template: "%s has no current %s condition: %s",
		Doc:      "no such condition yet, or it was reported for an older generation"})
	msgGWParentMissing = checks.Msg2[string, string](checks.Code{ID: CodeGWParentMissing, Verdict: checks.Fail,
		Template: "%s has no status for %s",
		Doc:      "the route's status has no entry for that parent"})
)

var gatewayCondition = &checks.Check{
	Name:    "gateway-condition",
	Summary: "a Gateway API Gateway, HTTPRoute (per parent) or GatewayClass reports a status condition (Accepted, Programmed, ResolvedRefs…) for its current generation",
	Params: []checks.ParamSpec{
		{Name: "kind", Type: checks.Enum, Enum: []string{"Gateway", "HTTPRoute", "GatewayClass"}, Default: "Gateway", Doc: "Gateway API kind"},
		{Name: "namespace", Type: checks.Namespace, Doc: "namespace of the Gateway or HTTPRoute (not used for GatewayClass)"},
		{Name: "name", Type: checks.ObjectName, Required: true, Doc: "object name"},
		{Name: "condition", Type: checks.String, Required: true, Rule: conditionType, Doc: "condition type: Accepted, Programmed, ResolvedRefs, …"},
		{Name: "status", Type: checks.Enum, Enum: []string{"True", "False", "Unknown"}, Default: "True", Doc: "wanted status"},
		{Name: "parent", Type: checks.String, Rule: func(v string) error { _, err := parseParent(v, "default"); return err },
			Doc: "for routes: the parent whose status to read, as name, namespace/name, or Kind/[namespace/]name (Kind Gateway by default; Service/reviews for a mesh route); empty means every parent in status"},
	},
	Rules: []checks.Rule{
		checks.RequiredUnless("namespace", "kind", "GatewayClass"),
		checks.OnlyWith("parent", "kind", "HTTPRoute"),
	},
	Watch:  true,
	Inputs: gatewayInputs,
	Codes: []checks.Code{
		msgGWConditionOK.Code,
		msgGWCondition.Code,
		msgGWMissing.Code,
		msgGWNoCondition.Code,
		msgGWParentMissing.Code,
	},
	Eval: evalGatewayCondition,
}

func gatewayInputs(p checks.Params) []checks.Input {
	in := checks.Input{GVR: gatewayKindGVR(p.Str("kind")), Namespace: p.Str("namespace")}
	if p.Str("kind") == "GatewayClass" {
		in.Namespace = ""
	}
	return []checks.Input{in}
}

// conditionType: a status condition type, as the Gateway API's
// metav1.Condition defines it (a qualified name such as Accepted or
// example.com/Ready).
func conditionType(v string) error {
	if msgs := validation.IsQualifiedName(v); len(msgs) > 0 {
		return errors.New("a condition type such as Accepted, Programmed or ResolvedRefs: " + checks.Brief(msgs))
	}
	return nil
}

func gatewayKindGVR(kind string) schema.GroupVersionResource {
	switch kind {
	case "HTTPRoute":
		return checks.GVRHTTPRoutes
	case "GatewayClass":
		return checks.GVRGWClasses
	}
	return checks.GVRGateways
}

// parentRef is a route's parent as the lesson names it.
type parentRef struct{ Kind, Namespace, Name string }

func (r parentRef) String() string { return r.Kind + " " + r.Namespace + "/" + r.Name }

func parseParent(s, routeNS string) (parentRef, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	ref := parentRef{Kind: "Gateway", Namespace: routeNS}
	if len(parts) > 1 && parts[0] != "" && parts[0][0] >= 'A' && parts[0][0] <= 'Z' {
		ref.Kind, parts = parts[0], parts[1:]
	}
	switch len(parts) {
	case 1:
		ref.Name = parts[0]
	case 2:
		ref.Namespace, ref.Name = parts[0], parts[1]
	default:
		return ref, errors.New("name, namespace/name or Kind/[namespace/]name, e.g. istio-ingress/istio-ingress or Service/reviews")
	}
	if ref.Name == "" || ref.Namespace == "" {
		return ref, errors.New("name, namespace/name or Kind/[namespace/]name, with neither part empty")
	}
	return ref, nil
}

// statusParent reads a status.parents[] entry's parentRef with the
// Gateway API defaults filled in.
func statusParent(m map[string]any, routeNS string) parentRef {
	pr, _ := m["parentRef"].(map[string]any)
	ref := parentRef{Kind: "Gateway", Namespace: routeNS}
	if k, _ := pr["kind"].(string); k != "" {
		ref.Kind = k
	}
	if ns, _ := pr["namespace"].(string); ns != "" {
		ref.Namespace = ns
	}
	ref.Name, _ = pr["name"].(string)
	if sec, _ := pr["sectionName"].(string); sec != "" {
		ref.Name += " (listener " + sec + ")"
	}
	return ref
}

func evalGatewayCondition(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	kind, ns, name := p.Str("kind"), p.Str("namespace"), p.Str("name")
	ctype, want := p.Str("condition"), p.Str("status")
	var parent *parentRef
	if s := p.Str("parent"); s != "" {
		ref, err := parseParent(s, ns) // valid: Validate parsed it
		if err != nil {
			return errResult(err)
		}
		parent = &ref
	}
	ins := gatewayInputs(p)
	objs, err := env.List(ctx, ins[0])
	if err != nil {
		return errResult(err)
	}
	var obj *unstructured.Unstructured
	for _, u := range objs {
		if u.GetName() == name {
			obj = u
		}
	}
	ref := kind + " " + name
	if kind != "GatewayClass" {
		ref = kind + " " + ns + "/" + name
	}
	if obj == nil {
		return msgGWMissing.Result(ref, checks.Condition{Name: ref, Observed: "not found", Expected: "exists",
			Fix: "Apply the lesson's manifest that creates it (kubectl get " + strings.ToLower(kind) + "s -A shows what exists)."})
	}
	gen := obj.GetGeneration()
	if kind != "HTTPRoute" {
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		c := judgeCondition(ref, conds, ctype, want, gen, controllerHint(kind, obj))
		if !c.OK {
			return c.fail(c.Condition)
		}
		return msgGWConditionOK.Result(ref, ctype, want, "", c.Condition)
	}

	parents, _, _ := unstructured.NestedSlice(obj.Object, "status", "parents")
	var out []checks.Condition
	var firstBad *judged
	seen := 0
	var reported []string
	for _, pv := range parents {
		m, _ := pv.(map[string]any)
		pr := statusParent(m, ns)
		reported = append(reported, pr.String())
		if parent != nil && (pr.Kind != parent.Kind || pr.Namespace != parent.Namespace || strings.SplitN(pr.Name, " ", 2)[0] != parent.Name) {
			continue
		}
		seen++
		conds, _ := m["conditions"].([]any)
		ctrl, _ := m["controllerName"].(string)
		c := judgeCondition(fmt.Sprintf("%s on parent %s (reported by %s)", ref, pr.String(), ctrl), conds, ctype, want, gen, "controller "+ctrl)
		out = append(out, c.Condition)
		if !c.OK && firstBad == nil {
			firstBad = &c
		}
	}
	if seen == 0 {
		obs := "status.parents is empty: no controller has accepted or rejected this route yet"
		if len(reported) > 0 {
			obs = "status reports only " + strings.Join(reported, ", ")
		}
		inSpec := specHasParent(obj, parent, ns)
		fix := "Check the route's parentRefs and that the parent's controller is running (istiod for class istio, NGINX Gateway Fabric for class nginx)."
		if parent != nil && !inSpec {
			fix = "Add " + parent.String() + " to the route's spec.parentRefs."
		}
		want := "a status entry for every parent"
		if parent != nil {
			want = "a status entry for parent " + parent.String()
		}
		return msgGWParentMissing.Result(ref, strings.TrimPrefix(want, "a status entry for "), checks.Condition{
			Name: ref, Observed: obs, Expected: want, Fix: fix})
	}
	if firstBad != nil {
		return firstBad.fail(out...)
	}
	return msgGWConditionOK.Result(ref, ctype, want, " on "+plural(seen, "parent", "parents"), out...)
}

func specHasParent(obj *unstructured.Unstructured, parent *parentRef, ns string) bool {
	if parent == nil {
		return true
	}
	refs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "parentRefs")
	for _, r := range refs {
		m, _ := r.(map[string]any)
		pr := statusParent(map[string]any{"parentRef": m}, ns)
		if pr.Kind == parent.Kind && pr.Namespace == parent.Namespace && strings.SplitN(pr.Name, " ", 2)[0] == parent.Name {
			return true
		}
	}
	return false
}

type judged struct {
	checks.Condition
	fail func(...checks.Condition) checks.Result // the result when not OK
}

// judgeCondition finds ctype in conds and says whether it has status
// want for the object's current generation.
func judgeCondition(name string, conds []any, ctype, want string, gen int64, hint string) judged {
	exp := ctype + "=" + want + " for generation " + fmt.Sprint(gen)
	var types []string
	for _, cv := range conds {
		m, _ := cv.(map[string]any)
		t, _ := m["type"].(string)
		types = append(types, fmt.Sprintf("%s=%v", t, m["status"]))
		if t != ctype {
			continue
		}
		status := fmt.Sprint(m["status"])
		obs := fmt.Sprintf("%s=%s", ctype, status)
		if r, _ := m["reason"].(string); r != "" {
			obs += " (" + r + ")"
		}
		if msg, _ := m["message"].(string); msg != "" {
			obs += ": " + msg
		}
		og, _, _ := unstructured.NestedInt64(m, "observedGeneration")
		if og != 0 && og < gen {
			return judged{checks.Condition{Name: name, Observed: fmt.Sprintf("%s, but reported for generation %d while the object is at generation %d", obs, og, gen), Expected: exp,
				Fix: "The controller has not processed the latest change yet; wait a few seconds, and check its logs if it stays so (" + hint + ")."},
				func(cs ...checks.Condition) checks.Result {
					return msgGWNoCondition.Result(name, ctype, fmt.Sprintf("the one reported is stale (generation %d < %d)", og, gen), cs...)
				}}
		}
		if status != want {
			return judged{checks.Condition{Name: name, Observed: obs, Expected: exp, Fix: conditionFix(ctype, m)},
				func(cs ...checks.Condition) checks.Result {
					return msgGWCondition.Result(name, strings.SplitN(obs, ":", 2)[0], ctype, want, cs...)
				}}
		}
		return judged{Condition: checks.Condition{Name: name, OK: true, Observed: obs, Expected: exp}}
	}
	obs := "no " + ctype + " condition"
	if len(types) > 0 {
		obs += " (has " + strings.Join(types, ", ") + ")"
	} else {
		obs += ": no controller has reported status yet"
	}
	return judged{checks.Condition{Name: name, Observed: obs, Expected: exp,
		Fix: "Make sure the controller for its class is installed and running (" + hint + ")."},
		func(cs ...checks.Condition) checks.Result {
			return msgGWNoCondition.Result(name, ctype, "none is reported yet", cs...)
		}}
}

// conditionFix explains a condition in the Gateway API's own terms; the
// reasons are the API's constants, so a renamed reason fails to compile
// rather than silently never matching.
func conditionFix(ctype string, m map[string]any) string {
	reason, _ := m["reason"].(string)
	switch reason {
	case string(gwv1.RouteReasonBackendNotFound), string(gwv1.RouteReasonRefNotPermitted):
		return "Check the backendRefs: the Service must exist (and a ReferenceGrant must allow cross-namespace references)."
	case string(gwv1.RouteReasonNoMatchingParent), string(gwv1.RouteReasonNotAllowedByListeners), string(gwv1.RouteReasonNoMatchingListenerHostname):
		return "Check the parentRefs: the Gateway and listener must exist and allow routes from this namespace (allowedRoutes)."
	case string(gwv1.GatewayReasonInvalid), string(gwv1.RouteReasonUnsupportedValue), string(gwv1.ListenerReasonUnsupportedProtocol):
		return "The spec has an invalid value; the condition's message says which (a listener needs protocol: HTTP, for example)."
	}
	if ctype == string(gwv1.GatewayConditionProgrammed) {
		return "The controller could not deploy the data plane yet; check its Deployment and Service (kubectl get deploy,svc -l gateway.networking.k8s.io/gateway-name=<name>)."
	}
	return "Read the condition's reason and message above, fix the spec, and wait for the controller to report again."
}

func controllerHint(kind string, obj *unstructured.Unstructured) string {
	if kind == "GatewayClass" {
		c, _, _ := unstructured.NestedString(obj.Object, "spec", "controllerName")
		return "controller " + c
	}
	c, _, _ := unstructured.NestedString(obj.Object, "spec", "gatewayClassName")
	return "gatewayClassName " + c
}
