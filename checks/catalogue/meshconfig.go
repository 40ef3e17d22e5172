package catalogue

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/meshdojo/meshdojo/checks"
)

// Codes of mesh-config.
const (
	CodeMeshOK       = "MD0600" // pass
	CodeMeshMismatch = "MD0601" // the field does not satisfy the operator
	CodeMeshMissing  = "MD0602" // no mesh ConfigMap (for that revision)
	CodeMeshInvalid  = "MD0603" // data.mesh is not valid YAML
)

// The messages of mesh-config.
var (
	msgMeshOK = checks.Msg2[string, string](checks.Code{ID: CodeMeshOK, Verdict: checks.Pass,
		Template: "mesh config %s: %s",
		Doc:      "the field satisfies the operator in every chosen mesh config"})
	msgMeshMismatch = checks.Msg4[string, string, string, more](checks.Code{ID: CodeMeshMismatch, Verdict: checks.Fail,
		Template: "mesh config %s: want %s, found %s%s",
		Doc:      "the field does not satisfy the operator: set meshConfig in the istiod Helm values and apply the release"})
	msgMeshMissing = checks.Msg2[string, string](checks.Code{ID: CodeMeshMissing, Verdict: checks.Fail,
		Template: "no Istio mesh config in %s%s",
		Doc:      "no mesh ConfigMap (for that revision)"})
	msgMeshInvalid = checks.Msg1[string](checks.Code{ID: CodeMeshInvalid, Verdict: checks.Fail,
		Template: "the mesh config in %s is not valid YAML",
		Doc:      "data.mesh is not valid YAML"})
)

var meshConfig = &checks.Check{
	Name:    "mesh-config",
	Summary: "a field of Istio's mesh config (ConfigMap istio-<revision>, key mesh) equals, contains, matches or compares with a value, or exists / is absent",
	Params: []checks.ParamSpec{
		{Name: "revision", Type: checks.LabelValue, Doc: "revision (1-29-0) or tag (stable) whose ConfigMap istio-<revision> to read; empty reads every mesh ConfigMap found (istio and istio-*) and all must pass"},
		{Name: "path", Type: checks.FieldPath, Required: true, Doc: `field path inside the mesh config, e.g. rootNamespace, discoverySelectors[0].matchLabels["istio.io/rev"], defaultProviders.accessLogging, extensionProviders[name=envoy-stdout].envoyFileAccessLog.path, defaultConfig.drainDuration`},
		{Name: "op", Type: checks.Enum, Enum: checks.FieldOps, Default: "equals", Doc: "as for resource-field"},
		{Name: "value", Type: checks.String, Doc: "value to compare with (not used by exists and absent)"},
		{Name: "namespace", Type: checks.Namespace, Default: "istio-system", Doc: "namespace istiod and its mesh ConfigMap live in"},
	},
	Rules:  []checks.Rule{checks.ComparisonRule},
	Watch:  true,
	Inputs: meshConfigInputs,
	Codes: []checks.Code{
		msgMeshOK.Code,
		msgMeshMismatch.Code,
		msgMeshMissing.Code,
		msgMeshInvalid.Code,
	},
	Eval: evalMeshConfig,
}

func meshConfigInputs(p checks.Params) []checks.Input {
	in := []checks.Input{{GVR: checks.GVRConfigMaps, Namespace: p.Str("namespace")}}
	if r := p.Str("revision"); r != "" {
		in = append(in, tagInput(r))
	}
	return in
}

func evalMeshConfig(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	ns, rev, path, op, want := p.Str("namespace"), p.Str("revision"), p.Str("path"), p.Str("op"), p.Str("value")
	steps, err := checks.ParsePath(path)
	if err != nil {
		return errResult(err)
	}
	cms, mwcs, err := listWithWebhooks(ctx, env, meshConfigInputs(p))
	if err != nil {
		return errResult(err)
	}
	var all []*unstructured.Unstructured
	var names []string
	for _, u := range cms {
		n := u.GetName()
		if n != "istio" && !strings.HasPrefix(n, "istio-") {
			continue
		}
		if _, ok, _ := unstructured.NestedString(u.Object, "data", "mesh"); ok {
			all = append(all, u)
			names = append(names, n)
		}
	}
	sort.Strings(names)
	chosen := all
	if rev != "" {
		r, via := rev, ""
		if t := resolveTag(mwcs, rev); t != "" {
			r, via = t, " (tag "+rev+")"
		}
		want := "istio-" + r
		if r == "default" {
			want = "istio"
		}
		chosen = nil
		for _, u := range all {
			if u.GetName() == want {
				chosen = append(chosen, u)
			}
		}
		if len(chosen) == 0 {
			return msgMeshMissing.Result(ns, fmt.Sprintf(" for revision %s%s", r, via), checks.Condition{
				Name: "ConfigMap " + ns + "/" + want, Observed: foundText(names), Expected: "ConfigMap " + want + " with key mesh",
				Fix: "Install istiod with that revision (its Helm chart writes the ConfigMap), or give the revision that is installed."})
		}
	}
	if len(chosen) == 0 {
		return msgMeshMissing.Result(ns, "", checks.Condition{
			Name: "mesh ConfigMap in " + ns, Observed: "none", Expected: "ConfigMap istio or istio-<revision> with key mesh",
			Fix: "Install istiod (the lab's istio-istiod release); the mesh config comes from its meshConfig values."})
	}
	exp := expectedText(path, op, want)
	var conds []checks.Condition
	var failed []func(more, []checks.Condition) checks.Result
	for _, u := range chosen {
		text, _, _ := unstructured.NestedString(u.Object, "data", "mesh")
		var mesh any
		if err := yaml.Unmarshal([]byte(text), &mesh); err != nil {
			return msgMeshInvalid.Result(nsName(u), checks.Condition{
				Name: "ConfigMap " + nsName(u) + " key mesh", Observed: err.Error(), Expected: "valid YAML",
				Fix: "Fix meshConfig in the istiod Helm values and apply the release again."})
		}
		if mesh == nil {
			mesh = map[string]any{}
		}
		ok, obs, err := compare(evalPath(mesh, steps), op, want)
		if err != nil {
			return errResult(err)
		}
		if strings.HasPrefix(obs, "absent") {
			obs += " (Istio's built-in default applies)"
		}
		c := checks.Condition{Name: "ConfigMap " + nsName(u) + " key mesh", OK: ok, Observed: obs, Expected: exp}
		if !ok {
			c.Fix = fmt.Sprintf("Set meshConfig.%s in the istiod Helm values (the lab's istio-istiod values.yaml) and apply the release; istiod reloads the mesh config without a restart.", strings.SplitN(path, "[", 2)[0])
			name := u.GetName()
			failed = append(failed, func(n more, cs []checks.Condition) checks.Result {
				return msgMeshMismatch.Result(name, exp, obs, n, cs...)
			})
		}
		conds = append(conds, c)
	}
	if len(failed) > 0 {
		return failed[0](more(len(failed)-1), conds)
	}
	return msgMeshOK.Result(strings.Join(chosenNames(chosen), ", "), conds[0].Observed, conds...)
}

func foundText(names []string) string {
	if len(names) == 0 {
		return "no mesh ConfigMap"
	}
	return "mesh ConfigMaps found: " + strings.Join(names, ", ")
}

func chosenNames(us []*unstructured.Unstructured) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.GetName())
	}
	return out
}
