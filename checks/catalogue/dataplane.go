package catalogue

// data-plane and route-api describe a namespace in one word each, for
// questions a reader answers from their own cluster ("which data plane
// does bookinfo use?", "which API routes its traffic?"): each choice of
// such a question is the check's value, and exactly one can match.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshdojo/meshdojo/checks"
)

// Codes of data-plane (MD087x) and route-api (MD0875-6).
const (
	CodeShapeOK     = "MD0870" // pass
	CodeShapeOther  = "MD0871" // the namespace is something else
	CodeShapeEmpty  = "MD0872" // no pods to judge
	CodeRoutesOK    = "MD0875" // pass
	CodeRoutesOther = "MD0876" // the routes are in another API, or none
)

// The messages of data-plane.
var (
	msgShapeOK = checks.Msg2[string, string](checks.Code{ID: CodeShapeOK, Verdict: checks.Pass,
		Template: "%s runs %s",
		Doc:      "the namespace is what the value says"})
	msgShapeOther = checks.Msg3[string, string, string](checks.Code{ID: CodeShapeOther, Verdict: checks.Fail,
		Template: "%s runs %s, not %s",
		Doc:      "the namespace is something else"})
	msgShapeEmpty = checks.Msg1[string](checks.Code{ID: CodeShapeEmpty, Verdict: checks.Fail,
		Template: "no running pod in %s",
		Doc:      "no running pod to judge by"})
)

var dataPlane = &checks.Check{
	Name: "data-plane",
	Summary: "which data plane the running pods of a namespace use, in one word: native-sidecar, classic-sidecar, ambient, " +
		"none, or mixed when they differ",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace whose pods to look at"},
		{Name: "value", Type: checks.Enum, Required: true, Enum: []string{"native-sidecar", "classic-sidecar", "ambient", "none", "mixed"},
			Doc: "native-sidecar: istio-proxy as an init container with restartPolicy Always; classic-sidecar: istio-proxy in " +
				"containers; ambient: redirected to ztunnel; none: no proxy; mixed: pods of more than one kind"},
	},
	Watch: true,
	Inputs: func(p checks.Params) []checks.Input {
		return []checks.Input{{GVR: checks.GVRPods, Namespace: p.Str("namespace")}}
	},
	Codes: []checks.Code{
		msgShapeOK.Code,
		msgShapeOther.Code,
		msgShapeEmpty.Code,
	},
	Eval: evalDataPlane,
}

// The messages of route-api.
var (
	msgRoutesOK = checks.Msg2[string, string](checks.Code{ID: CodeRoutesOK, Verdict: checks.Pass,
		Template: "%s's routes: %s",
		Doc:      "the routes are written in the API the value says"})
	msgRoutesOther = checks.Msg3[string, string, string](checks.Code{ID: CodeRoutesOther, Verdict: checks.Fail,
		Template: "%s's routes are %s, not %s",
		Doc:      "the routes are written in another API, or there are none"})
)

var routeAPI = &checks.Check{
	Name: "route-api",
	Summary: "which API the routes of a namespace are written in: istio (VirtualServices), gateway-api (HTTPRoutes or " +
		"GRPCRoutes), both, or none",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace whose routes to count"},
		{Name: "value", Type: checks.Enum, Required: true, Enum: []string{"istio", "gateway-api", "both", "none"},
			Doc: "istio: VirtualServices only; gateway-api: HTTPRoutes or GRPCRoutes only; both; none. An API whose CRDs are not " +
				"installed counts as no routes"},
	},
	Watch: true,
	Inputs: func(p checks.Params) []checks.Input {
		ns := p.Str("namespace")
		return []checks.Input{{GVR: checks.GVRVirtualSvc, Namespace: ns}, {GVR: checks.GVRHTTPRoutes, Namespace: ns}, {GVR: gvrGRPCRoutes, Namespace: ns}}
	},
	Codes: []checks.Code{
		msgRoutesOK.Code,
		msgRoutesOther.Code,
	},
	Eval: evalRouteAPI,
}

var gvrGRPCRoutes = checks.GVRHTTPRoutes.GroupVersion().WithResource("grpcroutes")

func evalDataPlane(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	ns, want := p.Str("namespace"), p.Str("value")
	objs, err := env.List(ctx, checks.Input{GVR: checks.GVRPods, Namespace: ns})
	if err != nil {
		return errResult(err)
	}
	byKind := map[string][]string{}
	var infra []string
	for _, u := range objs {
		var pod corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &pod); err != nil {
			return errResult(fmt.Errorf("pod %s/%s: %w", u.GetNamespace(), u.GetName(), err))
		}
		// meshdojo's own probe pods come and go; finished pods run nothing.
		if pod.Labels["app.kubernetes.io/managed-by"] == "meshdojo" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		// The mesh's own proxies are not workloads: the chapter 11 lab
		// runs ztunnel and its waypoint in bookinfo, and both have a
		// container named istio-proxy.
		if meshProxyPod(&pod) {
			infra = append(infra, pod.Name)
			continue
		}
		kind, _ := podProxy(&pod)
		byKind[kind] = append(byKind[kind], pod.Name)
	}
	if len(byKind) == 0 {
		return msgShapeEmpty.Result(ns, checks.Condition{
			Name: "pods in " + ns, Observed: "none", Expected: want,
			Fix: "Build the lab the lesson names (kubectl get pods -n " + ns + " shows what runs).",
		})
	}
	words := map[string]string{proxyNative: "native-sidecar", proxyClassic: "classic-sidecar", proxyAmbient: "ambient", proxyNone: "none"}
	got := "mixed"
	var parts []string
	for kind, pods := range byKind {
		sort.Strings(pods)
		parts = append(parts, fmt.Sprintf("%s: %s", words[kind], joinMax(pods, 4)))
		if len(byKind) == 1 {
			got = words[kind]
		}
	}
	sort.Strings(parts)
	if len(infra) > 0 {
		sort.Strings(infra)
		parts = append(parts, "not counted, the mesh's own proxies: "+joinMax(infra, 4))
	}
	cond := checks.Condition{Name: "data plane of " + ns, OK: got == want, Observed: got + " (" + strings.Join(parts, "; ") + ")", Expected: want}
	if cond.OK {
		return msgShapeOK.Result(ns, got, cond)
	}
	cond.Fix = "See for yourself: kubectl get pods -n " + ns + " -o jsonpath='{range .items[*]}{.metadata.name}: init {.spec.initContainers[*].name}, containers {.spec.containers[*].name}{\"\\n\"}{end}'"
	return msgShapeOther.Result(ns, got, want, cond)
}

func evalRouteAPI(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	ns, want := p.Str("namespace"), p.Str("value")
	count := func(in checks.Input) (int, error) {
		objs, err := env.List(ctx, in)
		if errors.Is(err, checks.ErrNotServed) {
			return 0, nil // no CRDs, no routes of that API
		}
		return len(objs), err
	}
	vs, err := count(checks.Input{GVR: checks.GVRVirtualSvc, Namespace: ns})
	if err != nil {
		return errResult(err)
	}
	hr, err := count(checks.Input{GVR: checks.GVRHTTPRoutes, Namespace: ns})
	if err != nil {
		return errResult(err)
	}
	gr, err := count(checks.Input{GVR: gvrGRPCRoutes, Namespace: ns})
	if err != nil {
		return errResult(err)
	}
	got := "none"
	switch {
	case vs > 0 && hr+gr > 0:
		got = "both"
	case vs > 0:
		got = "istio"
	case hr+gr > 0:
		got = "gateway-api"
	}
	cond := checks.Condition{Name: "routes in " + ns, OK: got == want, Expected: want,
		Observed: fmt.Sprintf("%s (%s, %s, %s)", got, plural(vs, "VirtualService", "VirtualServices"), plural(hr, "HTTPRoute", "HTTPRoutes"), plural(gr, "GRPCRoute", "GRPCRoutes"))}
	if cond.OK {
		return msgRoutesOK.Result(ns, got, cond)
	}
	cond.Fix = "See for yourself: kubectl get virtualservices,httproutes -n " + ns + " (an API whose CRDs are not installed answers with an error)"
	return msgRoutesOther.Result(ns, got, want, cond)
}

// meshProxyPod says whether a pod is one of the mesh's own proxies rather
// than a workload: a ztunnel or istio-cni node agent, or a gateway or
// waypoint Istio deploys (Gateway API labels) or the gateway chart
// injects (the gateway injection template).
func meshProxyPod(p *corev1.Pod) bool {
	switch {
	case p.Labels["app"] == "ztunnel", p.Labels["k8s-app"] == "istio-cni-node":
		return true
	case p.Labels["gateway.networking.k8s.io/gateway-name"] != "", p.Labels["gateway.istio.io/managed"] != "":
		return true
	}
	return strings.Contains(p.Annotations["inject.istio.io/templates"], "gateway")
}
