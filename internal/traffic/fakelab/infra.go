package fakelab

// Pods of the lab that are not Bookinfo but take part in its requests:
// a gateway pod that receives a request routes it on by the Gateways
// that select it (the lab's egress gateway takes the collector's spans
// on to Tempo), and Tempo receives spans over OTLP.

import (
	"context"
	"strings"
)

// infraApp answers for a gateway pod or Tempo; ok is false for any other
// pod.
func (s *Sim) infraApp(ctx context.Context, w *World, self *caller, req Request) (Response, bool) {
	p := self.pod
	if isTempo(p) {
		if req.Path == exportPath {
			return s.tempoReceive(req), true
		}
		return Response{Status: 404, Body: "not found", Header: textHeader()}, true
	}
	for _, g := range w.Gateways {
		if len(g.Spec.Selector) == 0 || !labelsMatch(g.Spec.Selector, p.Labels) || !listens(g, req.Port) {
			continue
		}
		from := &caller{pod: p, ns: p.Namespace, labels: p.Labels, sidecar: true, gateway: g, trace: self.trace}
		return s.send(ctx, w, from, req), true
	}
	return Response{}, false
}

// listens says whether a Gateway has a server on port whose protocol
// carries HTTP requests (HTTP, HTTP2, GRPC).
func listens(g *Gateway, port int) bool {
	for _, sv := range g.Spec.Servers {
		switch strings.ToUpper(sv.Port.Protocol) {
		case "HTTP", "HTTP2", "GRPC":
			if sv.Port.Number == port {
				return true
			}
		}
	}
	return false
}

// hostOf names what a caller calls, for its span: the Service's FQDN,
// or the host as asked.
func hostOf(host string, svc *Service) string {
	if svc != nil {
		return svc.FQDN()
	}
	return host
}
