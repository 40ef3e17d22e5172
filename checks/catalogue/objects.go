package catalogue

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshdojo/meshdojo/checks"
)

// rootNamespace is Istio's root namespace as discovered, istio-system
// when discovery did not say.
func rootNamespace(env checks.Env) string {
	if ns := env.Cluster().RootNamespace; ns != "" {
		return ns
	}
	return "istio-system"
}

// lister reads a check's inputs and remembers the first error, so an
// Eval can read several inputs and check once.
type lister struct {
	ctx context.Context
	env checks.Env
	err error
}

func (l *lister) list(in checks.Input) []*unstructured.Unstructured {
	if l.err != nil {
		return nil
	}
	objs, err := l.env.List(l.ctx, in)
	if err != nil {
		l.err = err
	}
	return objs
}

// more is how many further items a summary counts without naming them:
// " (and 2 more)", or nothing when there are none.
type more int

func (m more) String() string {
	if m <= 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more)", int(m))
}

// errResult is ErrorResult for an Eval.
func errResult(err error) checks.Result { return checks.ErrorResult(err) }

// toPod converts a listed object to a typed Pod.
func toPod(u *unstructured.Unstructured) (*corev1.Pod, error) {
	var p corev1.Pod
	err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p)
	return &p, err
}

// fromUnstructured converts via JSON, for typed structs (such as Istio's
// protobuf-backed ones) that the reflection converter cannot fill.
func fromUnstructured(u *unstructured.Unstructured, into any) error {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// livePods drops pods that finished or are being deleted: they no longer
// say anything about the workload.
func livePods(objs []*unstructured.Unstructured) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	for _, u := range objs {
		p, err := toPod(u)
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s: %w", u.GetNamespace(), u.GetName(), err)
		}
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// workloadName is the name a reader knows a pod by: its Deployment (the
// ReplicaSet name minus the pod-template-hash), StatefulSet, DaemonSet or
// Job, or the pod itself.
func workloadName(p *corev1.Pod) string {
	for _, o := range p.OwnerReferences {
		if o.Controller == nil || !*o.Controller {
			continue
		}
		if o.Kind == "ReplicaSet" {
			if h := p.Labels["pod-template-hash"]; h != "" {
				return strings.TrimSuffix(o.Name, "-"+h)
			}
		}
		return o.Name
	}
	return p.Name
}

// Proxy kinds a pod can have.
const (
	proxyClassic = "classic" // istio-proxy in spec.containers
	proxyNative  = "native"  // istio-proxy in spec.initContainers with restartPolicy Always
	proxyAmbient = "ambient" // redirected to ztunnel by istio-cni
	proxyNone    = "none"
)

// podProxy says which Istio data plane serves the pod, and why not when
// none does.
func podProxy(p *corev1.Pod) (kind, why string) {
	for _, c := range p.Spec.Containers {
		if c.Name == "istio-proxy" {
			return proxyClassic, ""
		}
	}
	for _, c := range p.Spec.InitContainers {
		if c.Name == "istio-proxy" {
			if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
				return proxyNative, ""
			}
			return proxyNone, "istio-proxy is an init container without restartPolicy: Always, so it does not keep running"
		}
	}
	if p.Annotations["ambient.istio.io/redirection"] == "enabled" {
		return proxyAmbient, ""
	}
	switch {
	case injectOptOut(p) != "":
		return proxyNone, injectOptOut(p)
	case p.Labels["istio.io/dataplane-mode"] == "none":
		return proxyNone, "istio.io/dataplane-mode is \"none\" on the pod"
	}
	return proxyNone, "no istio-proxy container and no ambient redirection"
}

func proxyWords(kind string) string {
	switch kind {
	case proxyClassic:
		return "classic sidecar"
	case proxyNative:
		return "native sidecar"
	case proxyAmbient:
		return "ambient (ztunnel)"
	}
	return "no proxy"
}

// podRevision is the control-plane revision that injected the pod: the
// sidecar.istio.io/status annotation's revision, else the istio.io/rev
// label.
func podRevision(p *corev1.Pod) string {
	if s := p.Annotations["sidecar.istio.io/status"]; s != "" {
		var st struct {
			Revision string `json:"revision"`
		}
		if json.Unmarshal([]byte(s), &st) == nil && st.Revision != "" {
			return st.Revision
		}
	}
	return p.Labels["istio.io/rev"]
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// tagInput reads the revision-tag webhooks, which map a tag such as
// stable to the revision it points at (labels istio.io/tag and istio.io/rev).
func tagInput(tag string) checks.Input {
	return checks.Input{GVR: checks.GVRMutating, Selector: "istio.io/tag=" + tag}
}

// resolveTag returns the revision the tag points at, or "" when no
// revision-tag webhook carries that tag.
func resolveTag(mwcs []*unstructured.Unstructured, tag string) string {
	for _, m := range mwcs {
		if m.GetLabels()["istio.io/tag"] == tag {
			if rev := m.GetLabels()["istio.io/rev"]; rev != "" {
				return rev
			}
		}
	}
	return ""
}

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// list joins names for a message, eliding after max.
func joinMax(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

func nsName(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

// named keeps the objects called name; an empty name keeps them all. It
// returns a new slice, which callers may sort (objs may be shared).
func named(objs []*unstructured.Unstructured, name string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range objs {
		if name == "" || u.GetName() == name {
			out = append(out, u)
		}
	}
	return out
}

// injectOptOut says why the injector skips the pod, or "" if the pod
// does not opt out. As in Istio's injector (injectRequired), the
// sidecar.istio.io/inject label wins over the annotation of that name,
// and only the value "false" opts out.
func injectOptOut(p *corev1.Pod) string {
	if v, ok := p.Labels["sidecar.istio.io/inject"]; ok {
		if v == "false" {
			return `the pod's label sidecar.istio.io/inject is "false"`
		}
		return ""
	}
	if p.Annotations["sidecar.istio.io/inject"] == "false" {
		return `the pod's annotation sidecar.istio.io/inject is "false"`
	}
	return ""
}

// listWithWebhooks reads a check's first input and, when the check
// declared one, its second: the MutatingWebhookConfigurations that map
// revision tags (or serve injection). Several checks read that pair.
func listWithWebhooks(ctx context.Context, env checks.Env, ins []checks.Input) (objs, mwcs []*unstructured.Unstructured, err error) {
	l := &lister{ctx: ctx, env: env}
	objs = l.list(ins[0])
	if len(ins) > 1 {
		mwcs = l.list(ins[1])
	}
	return objs, mwcs, l.err
}
