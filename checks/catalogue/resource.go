package catalogue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdojo/meshdojo/checks"
)

// Codes of the generic resource checks.
const (
	CodeFieldOK       = "MD0400" // pass
	CodeFieldMismatch = "MD0401" // the field does not satisfy the operator
	CodeObjectMissing = "MD0402" // no object of that name / selector
	CodeCountOK       = "MD0410" // pass
	CodeTooFew        = "MD0411"
	CodeTooMany       = "MD0412"
	CodeCRDServed     = "MD0420" // pass
	CodeCRDMissing    = "MD0421"
	CodeCRDNotReady   = "MD0422" // present but not Established, or terminating
)

// The messages of the generic resource checks.
var (
	msgFieldOK = checks.Msg2[string, string](checks.Code{ID: CodeFieldOK, Verdict: checks.Pass,
		Template: "%s: %s",
		Doc:      "the field satisfies the operator on every chosen object (the object, or how many, and the field as found)"})
	msgFieldMismatch = checks.Msg4[string, string, string, more](checks.Code{ID: CodeFieldMismatch, Verdict: checks.Fail,
		Template: "%s: want %s, found %s%s",
		Doc:      "the field does not satisfy the operator: the first object where it fails, and how many more do; edit the object as the lesson's manifest says"})
	msgObjectMissing = checks.Msg1[string](checks.Code{ID: CodeObjectMissing, Verdict: checks.Fail,
		Template: "%s does not exist",
		Doc:      "no object of that name, or none the selector matches: apply the lesson's manifest that creates it"})
	msgCountOK = checks.Msg3[string, string, string](checks.Code{ID: CodeCountOK, Verdict: checks.Pass,
		Template: "%s %s (%s)",
		Doc:      "the count is within min and max"})
	msgTooFew = checks.Msg3[string, string, string](checks.Code{ID: CodeTooFew, Verdict: checks.Fail,
		Template: "%s %s, want %s",
		Doc:      "fewer objects than min: create the missing ones with the lesson's manifests"})
	msgTooMany = checks.Msg3[string, string, string](checks.Code{ID: CodeTooMany, Verdict: checks.Fail,
		Template: "%s %s, want %s",
		Doc:      "more objects than max: delete the extra ones, as the lesson says"})
	msgCRDServed = checks.Msg1[string](checks.Code{ID: CodeCRDServed, Verdict: checks.Pass,
		Template: "%s is installed and served",
		Doc:      "the CRD is installed, Established and serves a version"})
	msgCRDMissing = checks.Msg1[string](checks.Code{ID: CodeCRDMissing, Verdict: checks.Fail,
		Template: "%s is not installed",
		Doc:      "the CRD is not installed: install the release that brings it (istio-base, the Gateway API's standard-install.yaml)"})
	msgCRDNotReady = checks.Msg2[string, crdState](checks.Code{ID: CodeCRDNotReady, Verdict: checks.Fail,
		Template: "%s is not ready: %s",
		Doc:      "the CRD is present but not Established, serves nothing, or is being deleted"})
)

// crdState is why a CRD that is there cannot be used yet.
type crdState string

const (
	crdDeleting       crdState = "it is being deleted"
	crdNotEstablished crdState = "it is installed but not Established yet"
	crdServesNothing  crdState = "it serves no version"
)

// kindParam is the parameter of the checks that name any kind a lesson
// reads (resource-field, resource-count, can-i).
var kindParam = checks.ParamSpec{Name: "kind", Type: checks.KindName, Required: true, Doc: "Kind (VirtualService, DestinationRule, PeerAuthentication, RequestAuthentication, AuthorizationPolicy, Telemetry, ServiceEntry, Gateway = Istio's networking.istio.io Gateway, HTTPRoute, GatewayClass, Service, Deployment, ConfigMap, Namespace, …) or resource.group (gateways.gateway.networking.k8s.io for the Gateway API's Gateway)"}

var resourceField = &checks.Check{
	Name:    "resource-field",
	Summary: "a field of an object (by name, or of every object a selector matches) equals, contains, matches or compares with a value, or exists / is absent",
	Params: []checks.ParamSpec{
		kindParam,
		{Name: "namespace", Type: checks.Namespace, Doc: "namespace of the object (required for namespaced kinds)"},
		{Name: "name", Type: checks.ObjectName, Doc: "object name; without it every object matching selector (or every object of the namespace) must pass"},
		{Name: "selector", Type: checks.Selector, Doc: "label selector, instead of name"},
		{Name: "path", Type: checks.FieldPath, Required: true, Doc: `field path: dots for fields, [n] for list items ([-1] is the last), [*] for all items, [field=value] for the items whose field (itself a path) equals value, ["key.with/dots"] for such keys; e.g. spec.http[0].route[1].weight, spec.subsets[name=v3].labels.version, metadata.labels["istio.io/rev"]`},
		{Name: "op", Type: checks.Enum, Enum: checks.FieldOps, Default: "equals", Doc: "equals / not-equals (numbers, booleans and durations compare by value; lists and objects as YAML), contains (substring, list item or object key), exists, absent, matches (RE2 regular expression), gte / lte (numbers, durations such as 5s, quantities such as 100Mi); several selected values must all pass"},
		{Name: "value", Type: checks.String, Doc: "value to compare with (not used by exists and absent)"},
	},
	Rules:  []checks.Rule{namespacedKindRule, checks.ComparisonRule},
	Watch:  true,
	Inputs: kindInputs,
	Codes:  []checks.Code{msgFieldOK.Code, msgFieldMismatch.Code, msgObjectMissing.Code},
	Eval:   evalField,
}

var resourceCount = &checks.Check{
	Name:    "resource-count",
	Summary: "the number of objects of a kind in a namespace (matching a selector) is within min and max",
	Params: []checks.ParamSpec{
		kindParam,
		{Name: "namespace", Type: checks.Namespace, Doc: "namespace to count in (empty: every namespace, or the cluster for cluster-scoped kinds)"},
		{Name: "selector", Type: checks.Selector, Doc: "label selector"},
		{Name: "min", Type: checks.Int, Min: "0", Doc: "at least this many (default 1 when neither min nor max is given)"},
		{Name: "max", Type: checks.Int, Min: "0", Doc: "at most this many (max: 0 asserts that none is left)"},
	},
	Rules:  []checks.Rule{checks.NotBelow("max", "min")},
	Watch:  true,
	Inputs: kindInputs,
	Codes:  []checks.Code{msgCountOK.Code, msgTooFew.Code, msgTooMany.Code},
	Eval:   evalCount,
}

var crdServed = &checks.Check{
	Name:    "crd-served",
	Summary: "a CustomResourceDefinition is installed, Established and serves at least one version",
	Params: []checks.ParamSpec{
		{Name: "name", Type: checks.ObjectName, Required: true, Rule: crdName, Doc: "CRD name, resource.group, e.g. gateways.gateway.networking.k8s.io or peerauthentications.security.istio.io"},
	},
	Watch: true,
	Inputs: func(p checks.Params) []checks.Input {
		return []checks.Input{{GVR: checks.GVRCRDs}}
	},
	Codes: []checks.Code{msgCRDServed.Code, msgCRDMissing.Code, msgCRDNotReady.Code},
	Eval:  evalCRD,
}

// crdName: a CRD is named resource.group, and the group has a dot.
func crdName(v string) error {
	if _, group, ok := strings.Cut(v, "."); !ok || !strings.Contains(group, ".") {
		return errors.New("a CRD name, resource.group, such as peerauthentications.security.istio.io")
	}
	return nil
}

// namespacedKindRule: a namespaced kind named by its Kind needs a
// namespace (a resource.group, which may be cluster-scoped, does not).
var namespacedKindRule = checks.Rule{Doc: "namespace is required for namespaced kinds", Check: func(p checks.Params) *checks.ParamError {
	k, err := checks.LookupKind(p.Str("kind"))
	if err == nil && k.Namespaced && p.Str("namespace") == "" && !strings.Contains(p.Str("kind"), ".") {
		return &checks.ParamError{Param: "namespace", Problem: checks.Missing, Want: "the namespace of the " + k.Kind}
	}
	return nil
}}

// kindInputs reads the kind in the namespace; an unknown kind yields no
// input (Eval reports the bad parameter).
func kindInputs(p checks.Params) []checks.Input {
	k, err := checks.LookupKind(p.Str("kind"))
	if err != nil {
		return nil
	}
	ns := p.Str("namespace")
	if !k.Namespaced {
		ns = ""
	}
	in := []checks.Input{{GVR: k.GVR, Namespace: ns, Selector: p.Str("selector")}}
	if k.Also != nil {
		in = append(in, checks.Input{GVR: *k.Also, Namespace: ns, Selector: p.Str("selector")})
	}
	return in
}

// listKind lists every input of a kind. When a bare Kind names two APIs
// (Gateway), one of them not being served is no error.
func listKind(ctx context.Context, env checks.Env, ins []checks.Input) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	var notServed error
	read := 0
	for _, in := range ins {
		objs, err := env.List(ctx, in)
		if err != nil {
			if errors.Is(err, checks.ErrNotServed) && len(ins) > 1 {
				notServed = err
				continue
			}
			return nil, err
		}
		read++
		out = append(out, objs...)
	}
	if read == 0 && notServed != nil {
		return nil, notServed
	}
	return out, nil
}

// objKind names an object's kind, with its API group when the lesson's
// Kind could mean two.
func objKind(k checks.KindInfo, u *unstructured.Unstructured) string {
	if k.Also == nil {
		return k.Kind
	}
	group, _, _ := strings.Cut(u.GetAPIVersion(), "/")
	return k.Kind + " (" + group + ")"
}

func evalField(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	k, err := checks.LookupKind(p.Str("kind"))
	if err != nil {
		return errResult(err)
	}
	ns, name, sel := p.Str("namespace"), p.Str("name"), p.Str("selector")
	path, op, want := p.Str("path"), p.Str("op"), p.Str("value")
	steps, err := checks.ParsePath(path)
	if err != nil {
		return errResult(err)
	}
	objs, err := listKind(ctx, env, kindInputs(p))
	if err != nil {
		return errResult(err)
	}
	chosen := named(objs, name)
	if len(chosen) == 0 {
		return missingObject(k, ns, name, sel, objs)
	}
	if name != "" && len(chosen) > 1 && k.Also != nil {
		return errResult(&checks.ParamError{Param: "kind", Value: p.Str("kind"),
			Want: "gateways.networking.istio.io or gateways.gateway.networking.k8s.io: both an Istio Gateway and a Gateway API Gateway are named " + name})
	}
	sort.Slice(chosen, func(i, j int) bool { return nsName(chosen[i]) < nsName(chosen[j]) })
	exp := expectedText(path, op, want)
	var conds []checks.Condition
	var failed []checks.Condition
	for _, u := range chosen {
		ok, obs, err := compare(evalPath(u.Object, steps), op, want)
		if err != nil {
			return errResult(err)
		}
		c := checks.Condition{Name: objKind(k, u) + " " + nsName(u), OK: ok, Observed: obs, Expected: exp}
		if !ok {
			c.Fix = fieldFix(k, u, path, op, want)
			failed = append(failed, c)
		}
		conds = append(conds, c)
	}
	if len(failed) > 0 {
		f := failed[0]
		return msgFieldMismatch.Result(f.Name, f.Expected, f.Observed, more(len(failed)-1), conds...)
	}
	if len(chosen) == 1 {
		return msgFieldOK.Result(conds[0].Name, conds[0].Observed, conds...)
	}
	return msgFieldOK.Result(fmt.Sprintf("all %d %s objects", len(chosen), k.Kind), exp, conds...)
}

func missingObject(k checks.KindInfo, ns, name, sel string, objs []*unstructured.Unstructured) checks.Result {
	where := ""
	if ns != "" && k.Namespaced {
		where = " in " + ns
	}
	what := k.Kind + " " + name + where
	switch {
	case name == "" && sel != "":
		what = k.Kind + " matching " + sel + where
	case name == "":
		what = "any " + k.Kind + where
	case ns != "" && k.Namespaced:
		what = k.Kind + " " + ns + "/" + name
	}
	var names []string
	for _, u := range objs {
		names = append(names, nsName(u))
	}
	sort.Strings(names)
	obs := "not found"
	if len(names) > 0 {
		obs += "; existing: " + joinMax(names, 8)
	} else {
		obs += "; there is no " + k.Kind + where
	}
	return msgObjectMissing.Result(what, checks.Condition{
		Name: what, Observed: obs, Expected: "exists",
		Fix: "Apply the lesson's manifest (or helmfile release) that creates it, and check its name and namespace.",
	})
}

func fieldFix(k checks.KindInfo, u *unstructured.Unstructured, path, op, want string) string {
	edit := "kubectl edit " + strings.ToLower(k.GVR.Resource)
	if group, _, ok := strings.Cut(u.GetAPIVersion(), "/"); ok {
		edit += "." + group
	}
	edit += " " + u.GetName()
	if u.GetNamespace() != "" {
		edit += " -n " + u.GetNamespace()
	}
	var what string
	switch op {
	case "equals":
		what = "set " + path + " to " + want
	case "not-equals":
		what = "change " + path + " away from " + want
	case "contains":
		what = "make " + path + " contain " + want
	case "exists":
		what = "add " + path
	case "absent":
		what = "remove " + path
	case "matches":
		what = "make " + path + " match " + want
	case "gte":
		what = "raise " + path + " to at least " + want
	case "lte":
		what = "lower " + path + " to at most " + want
	}
	return fmt.Sprintf("Apply the lesson's manifest, or %s (%s).", what, edit)
}

func evalCount(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	k, err := checks.LookupKind(p.Str("kind"))
	if err != nil {
		return errResult(err)
	}
	_, hasMin := p["min"]
	_, hasMax := p["max"]
	lo, hi := p.Int("min"), p.Int("max")
	if !hasMin && !hasMax {
		lo, hasMin = 1, true
	}
	objs, err := listKind(ctx, env, kindInputs(p))
	if err != nil {
		return errResult(err)
	}
	var names []string
	for _, u := range objs {
		names = append(names, nsName(u))
	}
	sort.Strings(names)
	where := "in the cluster"
	if ns := p.Str("namespace"); ns != "" && k.Namespaced {
		where = "in " + ns
	} else if k.Namespaced {
		where = "in all namespaces"
	}
	if s := p.Str("selector"); s != "" {
		where += " matching " + s
	}
	n := len(objs)
	obs := fmt.Sprintf("%d", n)
	if n > 0 {
		obs += ": " + joinMax(names, 10)
	}
	var exp string
	switch {
	case hasMin && hasMax && lo == hi:
		exp = fmt.Sprintf("exactly %d", lo)
	case hasMin && hasMax:
		exp = fmt.Sprintf("between %d and %d", lo, hi)
	case hasMin:
		exp = fmt.Sprintf("at least %d", lo)
	default:
		exp = fmt.Sprintf("at most %d", hi)
	}
	c := checks.Condition{Name: k.Kind + " objects " + where, OK: true, Observed: obs, Expected: exp}
	switch {
	case hasMin && n < lo:
		c.OK, c.Fix = false, "Create the missing "+k.Kind+" objects with the lesson's manifests."
		return msgTooFew.Result(plural(n, k.Kind, k.Kind+"s"), where, exp, c)
	case hasMax && n > hi:
		c.OK, c.Fix = false, "Delete the extra ones (kubectl delete "+strings.ToLower(k.GVR.Resource)+" <name> -n <namespace>), as the lesson says."
		return msgTooMany.Result(plural(n, k.Kind, k.Kind+"s"), where, exp, c)
	}
	return msgCountOK.Result(plural(n, k.Kind, k.Kind+"s"), where, exp, c)
}

func evalCRD(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	name := strings.TrimSpace(p.Str("name"))
	objs, err := env.List(ctx, checks.Input{GVR: checks.GVRCRDs})
	if err != nil {
		return errResult(err)
	}
	var crd *unstructured.Unstructured
	for _, u := range objs {
		if u.GetName() == name {
			crd = u
		}
	}
	cname := "CustomResourceDefinition " + name
	if crd == nil {
		var similar []string
		_, group, _ := strings.Cut(name, ".")
		for _, u := range objs {
			if _, g, _ := strings.Cut(u.GetName(), "."); g == group {
				similar = append(similar, u.GetName())
			}
		}
		obs := "not installed"
		if len(similar) > 0 {
			sort.Strings(similar)
			obs += "; the cluster has " + joinMax(similar, 6)
		}
		return msgCRDMissing.Result(name, checks.Condition{Name: cname, Observed: obs, Expected: "installed and Established", Fix: crdFix(group)})
	}
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	established, accepted := "", ""
	for _, c := range conds {
		m, _ := c.(map[string]any)
		switch m["type"] {
		case "Established":
			established = fmt.Sprint(m["status"])
		case "NamesAccepted":
			accepted = fmt.Sprintf("%v (%v)", m["status"], m["message"])
		}
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var vs []string
	served := 0
	for _, v := range versions {
		m, _ := v.(map[string]any)
		var flags []string
		if m["served"] == true {
			flags = append(flags, "served")
			served++
		} else {
			flags = append(flags, "not served")
		}
		if m["storage"] == true {
			flags = append(flags, "storage")
		}
		vs = append(vs, fmt.Sprintf("%v (%s)", m["name"], strings.Join(flags, ", ")))
	}
	obs := "Established=" + orDefault(established, "not reported") + "; versions " + strings.Join(vs, ", ")
	switch {
	case crd.GetDeletionTimestamp() != nil:
		return msgCRDNotReady.Result(name, crdDeleting, checks.Condition{Name: cname, Observed: "terminating; " + obs, Expected: "installed and Established",
			Fix: "Wait for the deletion to finish, then install the CRD again."})
	case established != "True":
		if accepted != "" && !strings.HasPrefix(accepted, "True") {
			obs += "; NamesAccepted=" + accepted
		}
		return msgCRDNotReady.Result(name, crdNotEstablished, checks.Condition{Name: cname, Observed: obs, Expected: "Established=True",
			Fix: "Wait a few seconds; if it stays so, another CRD may claim the same names (kubectl describe crd " + name + ")."})
	case served == 0:
		return msgCRDNotReady.Result(name, crdServesNothing, checks.Condition{Name: cname, Observed: obs, Expected: "at least one served version",
			Fix: "Install the CRD release the lesson names; this one serves nothing."})
	}
	return msgCRDServed.Result(name, checks.Condition{Name: cname, OK: true, Observed: obs, Expected: "installed and Established"})
}

func crdFix(group string) string {
	switch {
	case group == "gateway.networking.k8s.io":
		return "Install the Gateway API CRDs: kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.4.0/standard-install.yaml (the lab's charts need them before NGINX Gateway Fabric or Istio's gateway)."
	case strings.HasSuffix(group, "istio.io"):
		return "Install Istio's CRDs with the istio-base Helm release (helmfile apply in the chapter's istio folder)."
	}
	return "Install the CRDs of the component the lesson sets up."
}
