package fakelab

// Ambient mode, as the chapter 11 lab runs it: a pod whose traffic
// istio-cni handed to ztunnel (annotation ambient.istio.io/redirection:
// enabled, no istio-proxy) has no Envoy of its own. ztunnel carries its
// connections as HBONE (mutual TLS) and balances them over the Service's
// endpoints without looking at HTTP. A Service that names a waypoint
// (istio.io/use-waypoint on the Service, else on its namespace; "none"
// opts out) is reached through that waypoint when one of its pods runs:
// the waypoint is an Envoy that applies the Service's VirtualService and
// DestinationRule and reports istio_requests_total with
// reporter="waypoint". Gateways (and sidecars) send straight to the pods,
// unless istio.io/ingress-use-waypoint asks otherwise (ingresswaypoint.go).
//
// ztunnel enforces PeerAuthentications only as "deny plain text or not":
// the simulator takes the sidecar's effective mode (PeerMode) and treats
// DISABLE as PERMISSIVE. The port-level cases where istiod's rules for
// ztunnel differ from a sidecar's are the mtls-mode check's business
// (checks/mtls_ambient.go), not simulated here.

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ambientWorld is what ambient mode reads beyond the sidecar world.
type ambientWorld struct {
	svcLabels map[string]map[string]string // namespace/name -> the Service's labels
	waypoints map[string]*waypoint         // namespace/name
}

// waypoint is a Gateway API Gateway of class istio-waypoint.
type waypoint struct {
	Name, Namespace string
	For             string // istio.io/waypoint-for; "" means service
	// Addressed: the Gateway's status has addresses, which istiod writes
	// once the waypoint's Deployment had a ready pod and never takes
	// back (ambient/waypoints.go): Services stay bound to it from then
	// on, even when its pods are gone.
	Addressed bool
}

// Ambient reports whether the pod's traffic goes through ztunnel.
func (p *Pod) Ambient() bool {
	return !p.Sidecar && p.Annotations["ambient.istio.io/redirection"] == "enabled"
}

func (w *World) readAmbient(objs []*unstructured.Unstructured) {
	w.ambient = ambientWorld{svcLabels: map[string]map[string]string{}, waypoints: map[string]*waypoint{}}
	for _, o := range objs {
		key := o.GetNamespace() + "/" + o.GetName()
		switch o.GetKind() {
		case "Service":
			w.ambient.svcLabels[key] = o.GetLabels()
		case "Gateway":
			if !strings.HasPrefix(o.GetAPIVersion(), "gateway.networking.k8s.io/") {
				continue
			}
			if class, _, _ := unstructured.NestedString(o.Object, "spec", "gatewayClassName"); class == "istio-waypoint" {
				addrs, _, _ := unstructured.NestedSlice(o.Object, "status", "addresses")
				w.ambient.waypoints[key] = &waypoint{Name: o.GetName(), Namespace: o.GetNamespace(), For: o.GetLabels()["istio.io/waypoint-for"], Addressed: len(addrs) > 0}
			}
		}
	}
}

// useWaypoint is the waypoint a labelled object (a Service or its
// namespace) names: its name and namespace, and whether it opts out.
func useWaypoint(labels map[string]string, ns string) (name, wns string, none bool) {
	name = labels["istio.io/use-waypoint"]
	if name == "none" {
		return "", "", true
	}
	wns = ns
	if v := labels["istio.io/use-waypoint-namespace"]; v != "" {
		wns = v
	}
	return name, wns, false
}

// WaypointFor is the running waypoint pod that serves traffic to svc, or
// nil when the Service has none (no label, opted out, no such waypoint,
// a waypoint for workloads only, or one that never had a ready pod:
// istiod then reports the Service unbound and ztunnel goes straight to
// the pods). A Service bound to a waypoint that has lost its pods is
// bound all the same: see waypointDown.
func (w *World) WaypointFor(svc *Service) *Pod {
	wp := w.boundWaypoint(svc)
	if wp == nil {
		return nil
	}
	return w.waypointPod(wp)
}

// waypointDown reports whether svc is bound to a waypoint (its Gateway
// has addresses) none of whose pods runs: traffic for svc then has
// nowhere to go, since istiod keeps the binding.
func (w *World) waypointDown(svc *Service) bool {
	wp := w.boundWaypoint(svc)
	return wp != nil && wp.Addressed && w.waypointPod(wp) == nil
}

func (w *World) waypointPod(wp *waypoint) *Pod {
	for _, p := range w.Pods {
		if p.Namespace == wp.Namespace && p.Running && p.Labels["gateway.networking.k8s.io/gateway-name"] == wp.Name {
			return p
		}
	}
	return nil
}

// boundWaypoint is the waypoint svc's labels (or its namespace's) name,
// when it exists and serves Services.
func (w *World) boundWaypoint(svc *Service) *waypoint {
	if svc == nil {
		return nil
	}
	name, wns, none := useWaypoint(w.ambient.svcLabels[svc.Namespace+"/"+svc.Name], svc.Namespace)
	if none {
		return nil
	}
	if name == "" {
		if name, wns, none = useWaypoint(w.Namespaces[svc.Namespace], svc.Namespace); none || name == "" {
			return nil
		}
	}
	wp := w.ambient.waypoints[wns+"/"+name]
	if wp == nil || (wp.For != "" && wp.For != "service" && wp.For != "all") {
		return nil
	}
	return wp
}

// ambientSend carries a request that leaves an ambient pod: through the
// Service's waypoint when it has one, else by ztunnel alone. ok is false
// for any other caller.
func (s *Sim) ambientSend(ctx context.Context, w *World, from *caller, svc *Service, req Request) (Response, bool) {
	if from.pod == nil || !from.pod.Ambient() || from.origin != nil {
		return Response{}, false
	}
	if svc == nil {
		return Response{Err: "dns", Flags: "-"}, true
	}
	if w.waypointDown(svc) {
		// ztunnel tunnels to the waypoint's address, which no pod
		// serves: the caller's connection is cut.
		return Response{Err: "reset", Flags: "-"}, true
	}
	if wp := w.WaypointFor(svc); wp != nil {
		via := &caller{pod: wp, ns: wp.Namespace, labels: wp.Labels, sidecar: true, trace: from.trace, origin: from.pod}
		rule, vs, resp := s.pickRule(w, via, svc, req)
		if resp != nil {
			return *resp, true
		}
		r, _ := s.forward(ctx, w, via, rule, vs, svc, req)
		return r, true
	}
	// L4 only: ztunnel balances connections over every endpoint; no
	// route, subset or retry applies.
	eps := w.Endpoints(svc, nil)
	if len(eps) == 0 {
		return Response{Err: "refused", Flags: "-"}, true
	}
	ep := eps[s.intn(len(eps))]
	mode := "plain"
	if ep.Sidecar || ep.Ambient() {
		mode = "mtls"
	}
	if s.handshake(w, ep, req.Port, mode) != "" {
		return Response{Err: "reset", Flags: "-"}, true
	}
	return s.inbound(ctx, w, from, ep, svc, req, mode), true
}

// ztunnelHandshake is how the destination's ztunnel takes a connection:
// HBONE (mutual TLS) always; plain text unless the policies make the
// port STRICT; anything else is no protocol ztunnel speaks.
func ztunnelHandshake(w *World, ep *Pod, port int, mode string) string {
	switch mode {
	case "mtls":
		return ""
	case "plain":
		if PeerMode(w, ep, port) == "STRICT" {
			return "reset"
		}
		return ""
	}
	return "tls"
}
