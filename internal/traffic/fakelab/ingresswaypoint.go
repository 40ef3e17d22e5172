package fakelab

// Ingress through a waypoint. A gateway is an Envoy that routes by
// itself, so its calls to an ambient Service go straight to the pods,
// waypoint or not, unless the Service, or else its namespace, carries
// istio.io/ingress-use-waypoint: "true" (compared without case; a
// Service's label, whatever its value, wins over its namespace's:
// pilot/pkg/serviceregistry/kube/controller/ambient/sidecar_interop.go
// ingressUseWaypoint, Istio 1.29). istiod then gives the gateway's
// cluster for the Service the waypoint as its only endpoint
// (ENABLE_INGRESS_WAYPOINT_ROUTING, on with ambient;
// pilot/pkg/xds/endpoints/endpoint_builder.go), so a subset the
// gateway's route names no longer picks the pods: the waypoint routes
// the request with the Service's own mesh routes and reports it with
// reporter="waypoint", the gateway as its source.

import (
	"context"
	"strings"
)

// ingressUsesWaypoint reads istio.io/ingress-use-waypoint from the
// Service, else from its namespace.
func (w *World) ingressUsesWaypoint(svc *Service) bool {
	const key = "istio.io/ingress-use-waypoint"
	if v, ok := w.ambient.svcLabels[svc.Namespace+"/"+svc.Name][key]; ok {
		return strings.EqualFold(v, "true")
	}
	return strings.EqualFold(w.Namespaces[svc.Namespace][key], "true")
}

// gatewayViaWaypoint carries one attempt of a gateway's request to svc
// through svc's waypoint when the labels ask for it; ok is false when
// the gateway sends to the pods itself.
func (s *Sim) gatewayViaWaypoint(ctx context.Context, w *World, from *caller, svc *Service, req Request) (Response, bool) {
	if from.gateway == nil || from.pod == nil || svc == nil || !w.ingressUsesWaypoint(svc) {
		return Response{}, false
	}
	if w.waypointDown(svc) {
		// The gateway's cluster has the waypoint as its only endpoint,
		// and it has no pod.
		r := Response{Status: 503, Body: "no healthy upstream", Header: textHeader(), Flags: "UH"}
		s.recordRequest(from, nil, svc, r, "unknown", false)
		return r, true
	}
	wp := w.WaypointFor(svc)
	if wp == nil {
		return Response{}, false
	}
	via := &caller{pod: wp, ns: wp.Namespace, labels: wp.Labels, sidecar: true, trace: from.trace, origin: from.pod}
	rule, vs, resp := s.pickRule(w, via, svc, req)
	r := Response{}
	if resp != nil {
		r = *resp
	} else {
		r, _ = s.forward(ctx, w, via, rule, vs, svc, req)
	}
	// The gateway reports the call too, to the waypoint it reached.
	s.recordRequest(from, wp, svc, r, "mutual_tls", false)
	return r, true
}
