package fakelab

// A Service port Istio treats as TCP. Istio picks a port's protocol from
// its appProtocol, else its name's prefix (http-, tcp-, ...), else it
// sniffs (pilot/pkg/model/service.go, protocol/instance.go). A port
// declared tcp (appProtocol: tcp, or a name such as tcp-web) carrying
// HTTP gets a TCP proxy in every sidecar: the bytes still arrive, so
// the application answers, but nothing HTTP applies. The
// VirtualService's http routes (subsets, weights, faults, retries,
// timeouts) are not used: the connection goes to the Service's default
// cluster, outbound|9080||host, any endpoint. No istio_requests_total is
// counted on either side (Istio reports istio_tcp_* for it), the
// caller's access log has no response code, and HTTP-level
// authorization rules cannot match. Gateways are not affected: a
// gateway's listener is HTTP and routes by its own VirtualServices.

import (
	"context"
	"fmt"
	"time"
)

// tcpSend is a sidecar's TCP proxy for a Service port Istio does not
// treat as HTTP; ok is false when the request is not such a one.
func (s *Sim) tcpSend(ctx context.Context, w *World, from *caller, svc *Service, req Request) (Response, string, bool) {
	if from.gateway != nil || svc == nil || httpish(portProtocol(svc, req.Port)) {
		return Response{}, "", false
	}
	up, bad := s.resolve(w, from, Destination{Host: svc.FQDN()}, svc.Namespace, req.Port)
	if bad != nil {
		return *bad, "-", true
	}
	cluster := fmt.Sprintf("outbound|%d||%s", req.Port, svc.FQDN())
	s.metrics.add(from.key(), "envoy_cluster_upstream_cx_total", cluster, 1)
	start := time.Now()
	logTCP := func(flags string) {
		if from.sidecar {
			s.logAccess(w, from.pod, from.key(), "CLIENT", accessEvent{tcp: true, flags: flags, cluster: cluster, duration: time.Since(start)})
		}
	}
	eps := w.Endpoints(svc, nil)
	if len(eps) == 0 {
		logTCP("UH")
		return Response{Err: "reset", Flags: "UH"}, cluster, true
	}
	ep := eps[s.intn(len(eps))]
	mode := s.clientTLS(up, ep)
	if s.handshake(w, ep, req.Port, mode) != "" {
		logTCP("UF")
		return Response{Err: "reset", Flags: "UF"}, cluster, true
	}
	tcp := *from
	tcp.tcp = true
	r := s.inbound(ctx, w, &tcp, ep, svc, req, mode)
	logTCP("-")
	return r, cluster, true
}

// portProtocol is the Istio protocol of a Service's port ("" when the
// port is not the Service's, which Istio sniffs).
func portProtocol(svc *Service, port int) string {
	for i, p := range svc.Ports {
		if p == port {
			return svc.protocol(i)
		}
	}
	return ""
}
