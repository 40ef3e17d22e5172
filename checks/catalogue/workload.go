package catalogue

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdojo/meshdojo/checks"
)

// Codes of the enrolment and workload checks.
const (
	CodeEnrolled        = "MD0200" // pass
	CodeNotEnrolled     = "MD0201" // labels do not give the wanted mode
	CodeEnrolConflict   = "MD0202" // labels contradict each other (istio-injection with istio.io/rev, or ambient with injection)
	CodeEnrolRevision   = "MD0203" // enrolled for another revision
	CodeNamespaceAbsent = "MD0204" // no such namespace
	CodeNoInjector      = "MD0205" // labelled, but no istiod webhook serves that revision or tag

	CodeInMesh       = "MD0250" // pass
	CodeNoProxy      = "MD0251" // a pod lacks the wanted proxy
	CodePodNotReady  = "MD0252" // a pod is not Ready
	CodePodRevision  = "MD0253" // a pod was injected by another revision
	CodeNoPods       = "MD0254" // nothing matched
	CodeWorkloadOK   = "MD0510" // workload-ready pass
	CodeWorkloadBusy = "MD0511" // not every replica updated and ready
	CodeWorkloadNone = "MD0512" // not found
)

// The messages of namespace-enrolled.
var (
	msgEnrolled = checks.Msg2[string, string](checks.Code{ID: CodeEnrolled, Verdict: checks.Pass,
		Template: "namespace %s is %s",
		Doc:      "the namespace's labels give the wanted mode (enrolled for sidecar injection and by which revision, in ambient mode, or outside the mesh)"})
	msgNotEnrolled = checks.Msg2[string, string](checks.Code{ID: CodeNotEnrolled, Verdict: checks.Fail,
		Template: "namespace %s is %s",
		Doc:      "the labels do not give the wanted mode: label the namespace as the lesson says (and restart its workloads for sidecars)"})
	msgEnrolConflict = checks.Msg2[string, string](checks.Code{ID: CodeEnrolConflict, Verdict: checks.Fail,
		Template: "namespace %s has conflicting mesh labels: %s",
		Doc:      "the labels contradict each other (istio-injection with istio.io/rev, or ambient with injection): remove the one the lesson does not use"})
	msgEnrolRevision = checks.Msg3[string, string, string](checks.Code{ID: CodeEnrolRevision, Verdict: checks.Fail,
		Template: "namespace %s is enrolled for revision %s, not %s",
		Doc:      "the namespace is enrolled for another revision: relabel istio.io/rev and restart its workloads"})
	msgNamespaceAbsent = checks.Msg1[string](checks.Code{ID: CodeNamespaceAbsent, Verdict: checks.Fail,
		Template: "namespace %s does not exist",
		Doc:      "the namespace does not exist: create it with the lab's labels"})
	msgNoInjector = checks.Msg2[string, string](checks.Code{ID: CodeNoInjector, Verdict: checks.Fail,
		Template: "namespace %s is labelled for revision %s, but no injector serves it",
		Doc:      "labelled for injection, but no istiod webhook serves that revision or tag: install that revision, point the tag at one, or relabel"})
)

// The messages of workloads-in-mesh.
var (
	msgInMesh = checks.Msg4[string, string, string, string](checks.Code{ID: CodeInMesh, Verdict: checks.Pass,
		Template: "all %s %s are Ready and %s (%s)",
		Doc:      "every pod has the wanted proxy (or none, when the step wants the workloads outside the mesh) and is Ready"})
	msgNoProxy = checks.Msg4[string, string, string, more](checks.Code{ID: CodeNoProxy, Verdict: checks.Fail,
		Template: "%s has %s, but the step wants %s%s",
		Doc:      "a pod lacks the wanted proxy: fix the namespace's labels and restart the workload"})
	msgPodNotReady = checks.Msg2[string, more](checks.Code{ID: CodePodNotReady, Verdict: checks.Fail,
		Template: "%s is not Ready%s",
		Doc:      "a pod is not Ready: its events and container states say why"})
	msgPodRevision = checks.Msg4[string, string, string, more](checks.Code{ID: CodePodRevision, Verdict: checks.Fail,
		Template: "%s runs a sidecar from revision %s, not %s%s",
		Doc:      "a pod was injected by another revision: relabel the namespace (or move the tag) and restart the workload"})
	msgNoPods = checks.Msg1[string](checks.Code{ID: CodeNoPods, Verdict: checks.Fail,
		Template: "no running pods %s",
		Doc:      "no running pod to judge: deploy the lab's workloads, or fix the selector"})
)

// The messages of workload-ready.
var (
	msgWorkloadOK = checks.Msg2[string, string](checks.Code{ID: CodeWorkloadOK, Verdict: checks.Pass,
		Template: "%s is ready (%s)",
		Doc:      "every replica is updated, ready and available"})
	msgWorkloadBusy = checks.Msg3[string, string, string](checks.Code{ID: CodeWorkloadBusy, Verdict: checks.Fail,
		Template: "%s %s not ready yet: %s",
		Doc:      "not every replica is updated and ready yet: wait for the rollout, or look at why its pods do not start"})
	msgWorkloadNone = checks.Msg1[string](checks.Code{ID: CodeWorkloadNone, Verdict: checks.Fail,
		Template: "%s does not exist",
		Doc:      "no such workload: install it with the lesson's command"})
)

var namespaceEnrolled = &checks.Check{
	Name: "namespace-enrolled",
	Summary: "a namespace's labels put its new pods in the mesh the way the lesson wants: sidecar injection " +
		"(istio.io/rev or istio-injection), ambient (istio.io/dataplane-mode=ambient) or none",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace to look at"},
		{Name: "mode", Type: checks.Enum, Enum: []string{"sidecar", "ambient", "none"}, Default: "sidecar",
			Doc: "sidecar: injection is on; ambient: istio.io/dataplane-mode=ambient and no injection label; none: neither"},
		{Name: "revision", Type: checks.LabelValue, Doc: "for mode sidecar, the value istio.io/rev must have (a revision such as 1-29-0 or a tag such as stable); istio-injection=enabled selects the default revision instead"},
	},
	Rules:  []checks.Rule{checks.OnlyWith("revision", "mode", "sidecar")},
	Watch:  true,
	Inputs: enrolledInputs,
	Codes: []checks.Code{msgEnrolled.Code, msgNotEnrolled.Code, msgEnrolConflict.Code, msgEnrolRevision.Code,
		msgNamespaceAbsent.Code, msgNoInjector.Code},
	Eval: evalEnrolled,
}

func enrolledInputs(p checks.Params) []checks.Input {
	in := []checks.Input{{GVR: checks.GVRNamespaces, Selector: "kubernetes.io/metadata.name=" + p.Str("namespace")}}
	if p.Str("mode") == "sidecar" {
		// The injector webhooks: labels alone inject nothing when
		// no istiod (or tag) serves the revision they name.
		in = append(in, checks.Input{GVR: checks.GVRMutating, Selector: "app=sidecar-injector"})
	}
	return in
}

var workloadsInMesh = &checks.Check{
	Name:    "workloads-in-mesh",
	Summary: "every running pod of a namespace (or selector) has the wanted Istio proxy, is Ready, and optionally was injected by a given revision",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace of the pods"},
		{Name: "selector", Type: checks.Selector, Doc: "label selector limiting the pods (default: every running pod)"},
		{Name: "proxy", Type: checks.Enum, Enum: []string{"any", "sidecar", "native", "classic", "ambient", "none"}, Default: "any",
			Doc: "any: some proxy; sidecar: native or classic istio-proxy; native: istio-proxy in initContainers with restartPolicy Always; classic: istio-proxy in containers; ambient: ambient.istio.io/redirection=enabled; none: no proxy at all"},
		{Name: "revision", Type: checks.LabelValue, Doc: "revision (1-29-0) or tag (stable, resolved through the revision-tag webhook) that must have injected each sidecar pod (sidecar.istio.io/status revision, else the istio.io/rev label)"},
	},
	Watch:  true,
	Inputs: inMeshInputs,
	Codes:  []checks.Code{msgInMesh.Code, msgNoProxy.Code, msgPodNotReady.Code, msgPodRevision.Code, msgNoPods.Code},
	Eval:   evalInMesh,
}

func inMeshInputs(p checks.Params) []checks.Input {
	in := []checks.Input{{GVR: checks.GVRPods, Namespace: p.Str("namespace"), Selector: p.Str("selector")}}
	if r := p.Str("revision"); r != "" {
		in = append(in, tagInput(r))
	}
	return in
}

var workloadReady = &checks.Check{
	Name:    "workload-ready",
	Summary: "a Deployment, DaemonSet or StatefulSet (by name or selector) has every replica updated, ready and available, as kubectl rollout status judges it",
	Params: []checks.ParamSpec{
		{Name: "kind", Type: checks.Enum, Enum: []string{"Deployment", "DaemonSet", "StatefulSet"}, Default: "Deployment", Doc: "kind of workload"},
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace of the workload"},
		{Name: "name", Type: checks.ObjectName, Doc: "name of the workload (or give selector)"},
		{Name: "selector", Type: checks.Selector, Doc: "label selector: every matching workload must be ready (at least one must exist)"},
	},
	Rules:  []checks.Rule{checks.NeedOneOf("name", "selector")},
	Watch:  true,
	Inputs: workloadInputs,
	Codes:  []checks.Code{msgWorkloadOK.Code, msgWorkloadBusy.Code, msgWorkloadNone.Code},
	Eval:   evalWorkloadReady,
}

func workloadInputs(p checks.Params) []checks.Input {
	return []checks.Input{{GVR: workloadGVR(p.Str("kind")), Namespace: p.Str("namespace"), Selector: p.Str("selector")}}
}

func evalEnrolled(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	ns, mode, want := p.Str("namespace"), p.Str("mode"), p.Str("revision")
	objs, mwcs, err := listWithWebhooks(ctx, env, enrolledInputs(p))
	if err != nil {
		return errResult(err)
	}
	var nsObj *unstructured.Unstructured
	for _, u := range objs {
		if u.GetName() == ns {
			nsObj = u
		}
	}
	if nsObj == nil {
		return msgNamespaceAbsent.Result(ns, checks.Condition{
			Name: "namespace " + ns, Observed: "not found", Expected: "exists",
			Fix: "Create it with the lab's labels (kubectl apply --server-side -f the chapter's shared/namespace.yaml).",
		})
	}
	l := nsObj.GetLabels()
	inj, hasInj := l["istio-injection"]
	rev, hasRev := l["istio.io/rev"]
	amb := l["istio.io/dataplane-mode"]
	shown := labelsText(l, "istio-injection", "istio.io/rev", "istio.io/dataplane-mode")
	name := "labels of namespace " + ns

	// What Istio's injector webhooks (the istiod chart's
	// mutatingwebhook.yaml) do with these labels: istio-injection, when
	// present, decides alone (enabled = the default revision, any other
	// value = no injection); otherwise istio.io/rev picks a revision or
	// tag, and an empty istio.io/rev matches no webhook at all.
	injects, injRev, conflict := false, "", ""
	switch {
	case !hasInj && hasRev && rev == "":
		shown += " (empty: no injector matches it, so nothing is injected)"
	case hasInj && inj == "enabled":
		injects, injRev = true, "default"
		if hasRev {
			conflict = fmt.Sprintf("istio-injection=enabled overrides istio.io/rev=%s: pods get the default revision's sidecar", rev)
		}
	case hasInj:
		if hasRev {
			conflict = fmt.Sprintf("istio-injection=%s turns injection off even though istio.io/rev=%s is set", inj, rev)
		}
	case hasRev:
		injects, injRev = true, rev
	}

	switch mode {
	case "sidecar":
		if conflict != "" {
			// istioctl analyze warns about this too: the labels say two
			// things, and revision upgrades will not move such a namespace.
			return msgEnrolConflict.Result(ns, "its injection labels disagree", checks.Condition{
				Name: name, Observed: shown + "; " + conflict, Expected: sidecarExpected(want),
				Fix: fmt.Sprintf("Remove the legacy label: kubectl label namespace %s istio-injection-", ns),
			})
		}
		if !injects {
			return msgNotEnrolled.Result(ns, "not enrolled for sidecar injection", checks.Condition{
				Name: name, Observed: shown, Expected: sidecarExpected(want),
				Fix: fmt.Sprintf("kubectl label namespace %s istio.io/rev=%s --overwrite, then restart its workloads so the injector adds istio-proxy", ns, orDefault(want, "stable")),
			})
		}
		if want != "" && want != injRev {
			return msgEnrolRevision.Result(ns, injRev, want, checks.Condition{
				Name: name, Observed: shown, Expected: sidecarExpected(want),
				Fix: fmt.Sprintf("kubectl label namespace %s istio.io/rev=%s --overwrite, then restart its workloads", ns, want),
			})
		}
		// With no injector at all, istiod is simply not installed yet:
		// istiod-ready reports that, and the labels are still the right
		// ones. An injector that serves other revisions only means the
		// labels name the wrong one.
		if len(mwcs) > 0 && !servesRevision(mwcs, injRev) {
			via := "istio.io/rev=" + injRev
			if injRev == "default" && hasInj {
				via = "istio-injection=enabled (the default revision)"
			}
			return msgNoInjector.Result(ns, injRev, checks.Condition{
				Name: name, Observed: shown + "; no sidecar-injector webhook of istiod serves " + via + ": " + injectorsText(mwcs),
				Expected: sidecarExpected(want) + ", served by an installed istiod or revision tag",
				Fix:      injectorFix(ns, injRev, hasInj),
			})
		}
		c := checks.Condition{Name: name, OK: true, Observed: shown, Expected: sidecarExpected(want)}
		if len(mwcs) == 0 {
			c.Observed += "; no istiod injector webhook is installed yet, so pods get a sidecar only once istiod serves revision " + injRev
		}
		if amb == "ambient" {
			c.Observed += "; istio.io/dataplane-mode=ambient is also set, but injected pods keep their sidecar and are not captured by ztunnel"
		}
		return msgEnrolled.Result(ns, fmt.Sprintf("enrolled for sidecar injection (revision %s)", injRev), c)
	case "ambient":
		exp := "istio.io/dataplane-mode=ambient and no injection label"
		if amb != "ambient" {
			return msgNotEnrolled.Result(ns, "not in ambient mode", checks.Condition{
				Name: name, Observed: shown, Expected: exp,
				Fix: fmt.Sprintf("kubectl label namespace %s istio.io/dataplane-mode=ambient (pods join without a restart)", ns),
			})
		}
		if injects {
			return msgEnrolConflict.Result(ns, "it is labelled for ambient but still injects sidecars", checks.Condition{
				Name: name, Observed: shown, Expected: exp,
				Fix: fmt.Sprintf("Remove the injection label (kubectl label namespace %s istio.io/rev- istio-injection-) and restart the workloads so they lose their sidecars; sidecar pods are not captured by ztunnel.", ns),
			})
		}
		return msgEnrolled.Result(ns, "in ambient mode", checks.Condition{Name: name, OK: true, Observed: shown, Expected: exp})
	default: // none
		exp := "no istio-injection=enabled, no istio.io/rev, no istio.io/dataplane-mode=ambient"
		if injects || amb == "ambient" {
			return msgNotEnrolled.Result(ns, "still in the mesh", checks.Condition{
				Name: name, Observed: shown, Expected: exp,
				Fix: fmt.Sprintf("kubectl label namespace %s istio.io/rev- istio-injection- istio.io/dataplane-mode-, then restart its workloads", ns),
			})
		}
		return msgEnrolled.Result(ns, "outside the mesh", checks.Condition{Name: name, OK: true, Observed: shown, Expected: exp})
	}
}

// servesRevision says whether one of istiod's MutatingWebhookConfigurations
// (app=sidecar-injector) injects for rev, as the istiod chart builds them
// (mutatingwebhook.yaml, revision-tags-mwc.yaml): a tag's webhook carries
// istio.io/tag=<tag>; a revision's own carries istio.io/rev=<rev> and no
// tag; "default" (istio-injection=enabled, istio.io/rev=default) is served
// by the default revision's webhook or by the tag named default.
func servesRevision(mwcs []*unstructured.Unstructured, rev string) bool {
	for _, m := range mwcs {
		l := m.GetLabels()
		tag, isTag := l["istio.io/tag"]
		switch {
		case isTag && tag == rev:
			return true
		case !isTag && orDefault(l["istio.io/rev"], "default") == rev:
			return true
		}
	}
	return false
}

// injectorsText lists what the injector webhooks serve, for the reader.
func injectorsText(mwcs []*unstructured.Unstructured) string {
	var parts []string
	for _, m := range mwcs {
		l := m.GetLabels()
		if tag, ok := l["istio.io/tag"]; ok {
			parts = append(parts, fmt.Sprintf("tag %s (revision %s)", tag, orDefault(l["istio.io/rev"], "default")))
		} else {
			parts = append(parts, "revision "+orDefault(l["istio.io/rev"], "default"))
		}
	}
	sort.Strings(parts)
	return "installed are " + strings.Join(parts, ", ")
}

func injectorFix(ns, rev string, legacy bool) string {
	if legacy {
		return fmt.Sprintf("Nothing serves istio-injection=enabled unless a default revision exists. Label the namespace for an installed revision or tag instead: kubectl label namespace %s istio-injection- istio.io/rev=stable (the lab's tag), or make one the default (revisionTags: [default] in the istiod Helm values, or istioctl tag set default --revision <revision>).", ns)
	}
	return fmt.Sprintf("Install istiod (the lab's istio-istiod Helm release with revisionTags: [stable]) or create the tag (istioctl tag set %s --revision <revision>), or label the namespace for a revision or tag that exists (kubectl label namespace %s istio.io/rev=<revision or tag> --overwrite).", rev, ns)
}

func sidecarExpected(want string) string {
	if want == "" {
		return "istio.io/rev=<revision or tag>, or istio-injection=enabled (not both)"
	}
	if want == "default" {
		return "istio-injection=enabled or istio.io/rev=default"
	}
	return "istio.io/rev=" + want + " and no istio-injection label"
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// labelsText shows the named labels as key=value, or says none is set.
func labelsText(l map[string]string, keys ...string) string {
	var parts []string
	for _, k := range keys {
		if v, ok := l[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		return "none of " + strings.Join(keys, ", ") + " is set"
	}
	return strings.Join(parts, ", ")
}

func proxyMatches(want, got string) bool {
	switch want {
	case "any":
		return got != proxyNone
	case "sidecar":
		return got == proxyNative || got == proxyClassic
	}
	return want == got
}

// proxyHas names what a pod has, for "<workload> has …".
func proxyHas(kind string) string {
	switch kind {
	case proxyNone:
		return "no Istio proxy"
	case proxyAmbient:
		return "no sidecar (it is in ambient mode, served by ztunnel)"
	}
	return "a " + proxyWords(kind)
}

func proxyWanted(want string) string {
	switch want {
	case "any":
		return "an Istio proxy (sidecar or ambient)"
	case "sidecar":
		return "an istio-proxy sidecar (native or classic)"
	case "none":
		return "no Istio proxy"
	}
	return "a " + proxyWords(want)
}

func evalInMesh(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	ns, want, wantRev := p.Str("namespace"), p.Str("proxy"), p.Str("revision")
	objs, mwcs, err := listWithWebhooks(ctx, env, inMeshInputs(p))
	if err != nil {
		return errResult(err)
	}
	pods, err := livePods(objs)
	if err != nil {
		return errResult(err)
	}
	scope := "in " + ns
	if s := p.Str("selector"); s != "" {
		scope += " matching " + s
	}
	revs := map[string]bool{}
	revText := ""
	if wantRev != "" {
		revs[wantRev] = true
		revText = "revision " + wantRev
		if t := resolveTag(mwcs, wantRev); t != "" {
			revs[t] = true
			revText = fmt.Sprintf("revision %s (tag %s)", t, wantRev)
		}
	}
	if len(pods) == 0 {
		return msgNoPods.Result(scope, checks.Condition{
			Name: "pods " + scope, Observed: "none running", Expected: "at least one running pod",
			Fix: "Deploy the lab's workloads (or fix the selector) and wait for the pods to start.",
		})
	}
	expected := proxyWanted(want) + ", Ready"
	if revText != "" && want != "none" && want != "ambient" {
		expected += ", injected by " + revText
	}

	type outcome struct {
		ok       bool
		observed string
		fix      string
		// problem is the result a failing pod makes, counting the
		// other problems it does not name.
		problem func(more, []checks.Condition) checks.Result
	}
	var conds []checks.Condition
	var problems int
	var first func(more, []checks.Condition) checks.Result
	byWorkload := map[string][]*corev1.Pod{}
	var order []string
	for _, pod := range pods {
		w := workloadName(pod)
		if byWorkload[w] == nil {
			order = append(order, w)
		}
		byWorkload[w] = append(byWorkload[w], pod)
	}
	for _, w := range order {
		groups := map[string][]string{}
		outs := map[string]outcome{}
		var keys []string
		for _, pod := range byWorkload[w] {
			kind, why := podProxy(pod)
			o := outcome{ok: true}
			facts := []string{proxyWords(kind)}
			if kind == proxyNone && why != "" {
				facts[0] += " (" + why + ")"
			}
			rev := podRevision(pod)
			if kind == proxyNative || kind == proxyClassic {
				facts = append(facts, "revision "+orDefault(rev, "unknown"))
			}
			ready := podReady(pod)
			if ready {
				facts = append(facts, "Ready")
			} else {
				facts = append(facts, "not Ready (phase "+string(pod.Status.Phase)+")")
			}
			switch {
			case !proxyMatches(want, kind):
				has := proxyHas(kind)
				o = outcome{problem: func(n more, cs []checks.Condition) checks.Result {
					return msgNoProxy.Result(w, has, proxyWanted(want), n, cs...)
				}, fix: proxyFix(want, kind, ns, w)}
			case wantRev != "" && (kind == proxyNative || kind == proxyClassic) && !revs[rev]:
				got := orDefault(rev, "unknown")
				o = outcome{problem: func(n more, cs []checks.Condition) checks.Result {
					return msgPodRevision.Result(w, got, revText, n, cs...)
				},
					fix: fmt.Sprintf("Make sure %s is labelled istio.io/rev=%s and the tag points where you expect, then kubectl rollout restart deployment/%s -n %s so pods are injected again.", ns, wantRev, w, ns)}
			case !ready:
				o = outcome{problem: func(n more, cs []checks.Condition) checks.Result { return msgPodNotReady.Result(w, n, cs...) },
					fix: fmt.Sprintf("Look at the pod's events and container states (kubectl describe pod -n %s %s); with a sidecar, check the istio-proxy logs too.", ns, pod.Name)}
			}
			o.observed = strings.Join(facts, ", ")
			k := fmt.Sprint(o.ok, o.observed)
			if _, ok := outs[k]; !ok {
				keys = append(keys, k)
				outs[k] = o
			}
			groups[k] = append(groups[k], pod.Name)
		}
		for _, k := range keys {
			o := outs[k]
			name := w
			switch {
			case len(keys) > 1:
				name = w + " (pod " + joinMax(groups[k], 3) + ")"
			case w != groups[k][0]:
				name = fmt.Sprintf("%s (%s)", w, plural(len(groups[k]), "pod", "pods"))
			}
			conds = append(conds, checks.Condition{Name: name, OK: o.ok, Observed: o.observed, Expected: expected, Fix: o.fix})
			if !o.ok {
				if first == nil {
					first = o.problem
				}
				problems++
			}
		}
	}
	if first != nil {
		return first(more(problems-1), conds)
	}
	what := "in the mesh"
	if want == "none" {
		what = "outside the mesh"
	}
	return msgInMesh.Result(plural(len(order), "workload", "workloads"), scope, what, proxyWanted(want), conds...)
}

func proxyFix(want, got, ns, w string) string {
	restart := fmt.Sprintf("kubectl rollout restart deployment/%s -n %s", w, ns)
	switch {
	case want == "none":
		return fmt.Sprintf("Take %s out of the mesh (remove istio.io/rev / istio-injection / istio.io/dataplane-mode from the namespace), then %s.", ns, restart)
	case want == "ambient":
		return fmt.Sprintf("Label the namespace for ambient (kubectl label namespace %s istio.io/dataplane-mode=ambient) without an injection label; sidecar pods need a restart to lose their sidecar (%s).", ns, restart)
	case want == "native" && got == proxyClassic:
		return fmt.Sprintf("Remove the pod annotation sidecar.istio.io/nativeSidecar: \"false\" (native sidecars are the default in Istio 1.29 on Kubernetes 1.33+), then %s.", restart)
	case want == "classic" && got == proxyNative:
		return fmt.Sprintf("Annotate the pod template with sidecar.istio.io/nativeSidecar: \"false\", then %s.", restart)
	case got == proxyAmbient:
		return fmt.Sprintf("The pod is in ambient mode; for a sidecar, label the namespace istio.io/rev=stable (and remove istio.io/dataplane-mode), then %s.", restart)
	}
	return fmt.Sprintf("Label the namespace for injection (kubectl label namespace %s istio.io/rev=stable), make sure istiod is running, then %s; pods created before the label never get a sidecar.", ns, restart)
}

func workloadGVR(kind string) schema.GroupVersionResource {
	switch kind {
	case "DaemonSet":
		return checks.GVRDaemonSets
	case "StatefulSet":
		return checks.GVRStatefulSets
	}
	return checks.GVRDeployments
}

func evalWorkloadReady(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	kind, ns, name := p.Str("kind"), p.Str("namespace"), p.Str("name")
	sel := p.Str("selector")
	objs, err := env.List(ctx, workloadInputs(p)[0])
	if err != nil {
		return errResult(err)
	}
	chosen := named(objs, name)
	what := kind + " " + ns + "/" + name
	if name == "" {
		what = kind + "s in " + ns + " matching " + sel
	}
	if len(chosen) == 0 {
		var others []string
		for _, u := range objs {
			others = append(others, u.GetName())
		}
		obs := "not found"
		if len(others) > 0 && name != "" {
			obs += " (" + kind + "s in " + ns + ": " + joinMax(others, 8) + ")"
		}
		return msgWorkloadNone.Result(what, checks.Condition{
			Name: what, Observed: obs, Expected: "exists and is ready",
			Fix: "Install it with the lesson's command (helmfile apply … for the lab), and check the namespace and name.",
		})
	}
	sort.Slice(chosen, func(i, j int) bool { return chosen[i].GetName() < chosen[j].GetName() })
	var conds []checks.Condition
	var bad []string
	for _, u := range chosen {
		ok, obs, err := workloadStatus(kind, u)
		if err != nil {
			return errResult(err)
		}
		c := checks.Condition{Name: kind + " " + nsName(u), OK: ok, Observed: obs, Expected: "every replica updated, ready and available"}
		if !ok {
			bad = append(bad, u.GetName())
			c.Fix = fmt.Sprintf("Wait for the rollout (kubectl rollout status %s/%s -n %s); if pods stay Pending, check node labels and resources (kubectl describe pod -n %s).",
				strings.ToLower(kind), u.GetName(), ns, ns)
		}
		conds = append(conds, c)
	}
	if len(bad) > 0 {
		return msgWorkloadBusy.Result(kind, strings.Join(bad, ", "), firstObserved(conds), conds...)
	}
	if len(chosen) == 1 {
		return msgWorkloadOK.Result(kind+" "+nsName(chosen[0]), conds[0].Observed, conds...)
	}
	return msgWorkloadOK.Result(fmt.Sprintf("each of the %d %ss in %s matching %s", len(chosen), kind, ns, sel), "every replica updated, ready and available", conds...)
}

func firstObserved(conds []checks.Condition) string {
	for _, c := range conds {
		if !c.OK {
			return c.Observed
		}
	}
	return ""
}

// workloadStatus judges one workload the way kubectl rollout status does.
func workloadStatus(kind string, u *unstructured.Unstructured) (bool, string, error) {
	switch kind {
	case "DaemonSet":
		var d appsv1.DaemonSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
			return false, "", err
		}
		s := d.Status
		obs := fmt.Sprintf("%d/%d nodes ready, %d/%d updated, %d/%d available", s.NumberReady, s.DesiredNumberScheduled,
			s.UpdatedNumberScheduled, s.DesiredNumberScheduled, s.NumberAvailable, s.DesiredNumberScheduled)
		switch {
		case s.ObservedGeneration < d.Generation:
			return false, obs + "; the controller has not processed the latest change yet", nil
		case s.DesiredNumberScheduled == 0:
			return false, "scheduled on no node: no node matches its nodeSelector/affinity (the lab needs the node.kubernetes.io/nodegroup labels)", nil
		}
		return s.UpdatedNumberScheduled == s.DesiredNumberScheduled && s.NumberReady == s.DesiredNumberScheduled &&
			s.NumberAvailable == s.DesiredNumberScheduled, obs, nil
	case "StatefulSet":
		var st appsv1.StatefulSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &st); err != nil {
			return false, "", err
		}
		want := int32(1)
		if st.Spec.Replicas != nil {
			want = *st.Spec.Replicas
		}
		s := st.Status
		obs := fmt.Sprintf("%d/%d ready, %d/%d updated", s.ReadyReplicas, want, s.UpdatedReplicas, want)
		ok := s.ObservedGeneration >= st.Generation && s.ReadyReplicas >= want && s.UpdatedReplicas >= want && s.AvailableReplicas >= want
		if s.UpdateRevision != "" && s.CurrentRevision != s.UpdateRevision && want > 0 {
			ok = false
			obs += "; rolling update in progress"
		}
		if s.ObservedGeneration < st.Generation {
			obs += "; the controller has not processed the latest change yet"
		}
		return ok, obs, nil
	}
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
		return false, "", err
	}
	ok, obs := deploymentReady(&d)
	return ok, obs, nil
}
