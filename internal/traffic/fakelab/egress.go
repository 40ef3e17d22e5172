package fakelab

// What a proxy knows, and what happens to a call for something it does
// not know, as istiod 1.29 builds it (pilot/pkg/model/sidecar.go,
// pilot/pkg/networking/core/cluster.go, httproute.go, listener_builder.go):
//
//   - A proxy's scope is the Sidecar resource that applies to it: one in
//     its namespace whose workloadSelector matches the pod, else its
//     namespace's Sidecar without a selector, else the root namespace's;
//     without one, every host. A Sidecar's egress hosts are written
//     namespace/host ("./*", "istio-egress/*", "*/www.example.com", "~/*"
//     for none). Gateways have no Sidecar: they know every host exported
//     to their namespace.
//   - A Service is known to a proxy if istiod discovers its namespace, its
//     networking.istio.io/exportTo annotation exports it to the proxy's
//     namespace, and the scope's egress hosts include it (or a
//     VirtualService the scope imports routes to it: scopevs.go); a
//     ServiceEntry's hosts likewise, with its spec.exportTo.
//   - Each known host and port is one outbound cluster, plus one per
//     subset of the DestinationRule the proxy sees for that host. A
//     sidecar adds one inbound cluster per port of the Services selecting
//     its pod and BlackHoleCluster, PassthroughCluster and
//     InboundPassthroughCluster; a gateway adds BlackHoleCluster. Envoy's
//     bootstrap adds prometheus_stats, agent, sds-grpc and xds-grpc (no
//     tracing cluster: the lab's istiod chart sets no tracer). That total
//     is cluster_manager.active_clusters.
//   - A call for a host the proxy does not know follows the
//     outboundTrafficPolicy (the Sidecar's, else the mesh config's):
//     ALLOW_ANY passes it through as plain TCP to where it was going;
//     REGISTRY_ONLY answers 502 if the proxy has an HTTP route for the port
//     (the block_all virtual host), and otherwise closes the connection
//     (the catch-all BlackHoleCluster filter chain).
//
// The internet is a stand-in: a host under com, org, net or io answers
// 200 to any path; any other host that is not the cluster's does not
// resolve.

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Sidecar is an Istio Sidecar resource.
type Sidecar struct {
	Name, Namespace string
	Created         time.Time
	Spec            struct {
		WorkloadSelector *struct {
			Labels map[string]string `json:"labels"`
		} `json:"workloadSelector"`
		Egress []struct {
			Hosts []string `json:"hosts"`
		} `json:"egress"`
		OutboundTrafficPolicy *struct {
			Mode string `json:"mode"`
		} `json:"outboundTrafficPolicy"`
	}
}

// ServiceEntry is an Istio ServiceEntry.
type ServiceEntry struct {
	Name, Namespace string
	Spec            struct {
		Hosts      []string `json:"hosts"`
		ExportTo   []string `json:"exportTo"`
		Location   string   `json:"location"`
		Resolution string   `json:"resolution"`
		Ports      []struct {
			Number   int    `json:"number"`
			Name     string `json:"name"`
			Protocol string `json:"protocol"`
		} `json:"ports"`
	}
}

// Gatewayish says whether a pod's proxy is a gateway (a router), not a
// sidecar: the gateway chart's istio label, or a Gateway API gateway's.
func (p *Pod) Gatewayish() bool {
	switch p.Labels["istio"] {
	case "ingressgateway", "egressgateway":
		return true
	}
	return p.Labels["gateway.istio.io/managed"] != "" || p.Labels["gateway.networking.k8s.io/gateway-name"] != ""
}

// SidecarFor is the Sidecar resource that scopes a sidecar in namespace
// ns with labels, or nil when none does (the proxy knows every host).
func (w *World) SidecarFor(ns string, labels map[string]string) *Sidecar {
	var sel, def, root []*Sidecar
	for _, sc := range w.Sidecars {
		ws := sc.Spec.WorkloadSelector
		switch {
		case sc.Namespace == ns && ws != nil && len(ws.Labels) > 0:
			if labelsMatch(ws.Labels, labels) {
				sel = append(sel, sc)
			}
		case sc.Namespace == ns:
			def = append(def, sc)
		case sc.Namespace == w.Mesh.RootNamespace && (ws == nil || len(ws.Labels) == 0):
			root = append(root, sc)
		}
	}
	// Of several, istiod takes the oldest.
	for _, list := range [][]*Sidecar{sel, def, root} {
		if len(list) > 0 {
			sort.Slice(list, func(i, j int) bool {
				if !list[i].Created.Equal(list[j].Created) {
					return list[i].Created.Before(list[j].Created)
				}
				return list[i].Name < list[j].Name
			})
			return list[0]
		}
	}
	return nil
}

// allows says whether the Sidecar's egress hosts include host, a Service
// or ServiceEntry host defined in namespace cfgNS. A Sidecar without
// egress listeners gets istiod's default, */*.
func (sc *Sidecar) allows(cfgNS, host string) bool {
	if sc == nil || len(sc.Spec.Egress) == 0 {
		return true
	}
	for _, e := range sc.Spec.Egress {
		for _, h := range e.Hosts {
			ns, name, ok := strings.Cut(h, "/")
			if !ok {
				continue // istiod's validation refuses a host without a namespace
			}
			switch ns {
			case "*":
			case ".":
				if cfgNS != sc.Namespace {
					continue
				}
			case "~":
				continue
			default:
				if ns != cfgNS {
					continue
				}
			}
			if hostGlob(name, host) {
				return true
			}
		}
	}
	return false
}

// hostGlob matches Istio's host patterns: *, *.suffix, or the host.
func hostGlob(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(host, pattern[1:])
	}
	return pattern == host
}

// outboundPolicy is ALLOW_ANY or REGISTRY_ONLY for a proxy scoped by sc.
func (w *World) outboundPolicy(sc *Sidecar) string {
	if sc != nil && sc.Spec.OutboundTrafficPolicy != nil && sc.Spec.OutboundTrafficPolicy.Mode != "" {
		return strings.ToUpper(sc.Spec.OutboundTrafficPolicy.Mode)
	}
	if w.Mesh.OutboundPolicy != "" {
		return strings.ToUpper(w.Mesh.OutboundPolicy)
	}
	return "ALLOW_ANY"
}

// proxyScope is who a proxy is, for what it knows.
type proxyScope struct {
	ns      string
	gateway bool
	sidecar *Sidecar
}

func (w *World) scopeOf(ns string, labels map[string]string, gateway bool) proxyScope {
	s := proxyScope{ns: ns, gateway: gateway}
	if !gateway {
		s.sidecar = w.SidecarFor(ns, labels)
	}
	return s
}

func (w *World) callerScope(from *caller) proxyScope {
	gw := from.gateway != nil || (from.pod != nil && from.pod.Gatewayish())
	return w.scopeOf(from.ns, from.labels, gw)
}

// knowsService says whether a proxy has the Service in its registry.
func (w *World) knowsService(sc proxyScope, s *Service) bool {
	return w.Selected(s.Namespace) && exported(s.ExportTo, s.Namespace, sc.ns) &&
		(sc.sidecar.allows(s.Namespace, s.FQDN()) || w.routedByImportedVS(sc, s))
}

// knownEntry is a ServiceEntry host a proxy knows.
type knownEntry struct {
	se   *ServiceEntry
	host string
}

func (w *World) knownEntries(sc proxyScope) []knownEntry {
	var out []knownEntry
	for _, se := range w.ServiceEntries {
		if !exported(se.Spec.ExportTo, se.Namespace, sc.ns) {
			continue
		}
		for _, h := range se.Spec.Hosts {
			if sc.sidecar.allows(se.Namespace, h) {
				out = append(out, knownEntry{se, strings.ToLower(h)})
			}
		}
	}
	return out
}

// subsetsFor counts the subsets of the DestinationRule a proxy in ns
// applies to host: the one in its own namespace first, as resolve picks.
func (w *World) subsetsFor(ns, host string) int {
	var dr *DestinationRule
	for _, r := range w.DestinationRules {
		if fqdn(r.Spec.Host, r.Namespace) == host && exported(r.Spec.ExportTo, r.Namespace, ns) {
			if dr == nil || r.Namespace == ns {
				dr = r
			}
		}
	}
	if dr == nil {
		return 0
	}
	return len(dr.Spec.Subsets)
}

// Clusters are the names of the clusters a pod's proxy holds, sorted:
// istiod's outbound, inbound and fixed clusters and Envoy's bootstrap
// clusters. Nil for a pod without a proxy.
func (w *World) Clusters(p *Pod) []string {
	if p == nil || !p.Sidecar {
		return nil
	}
	gw := p.Gatewayish()
	sc := w.scopeOf(p.Namespace, p.Labels, gw)
	out := []string{"prometheus_stats", "agent", "sds-grpc", "xds-grpc", "BlackHoleCluster"}
	if !gw {
		out = append(out, "PassthroughCluster", "InboundPassthroughCluster")
		seen := map[int]bool{}
		for _, s := range w.Services {
			if s.Namespace != p.Namespace || len(s.Selector) == 0 || !labelsMatch(s.Selector, p.Labels) {
				continue
			}
			for _, port := range s.Ports {
				if !seen[port] {
					seen[port] = true
					out = append(out, fmt.Sprintf("inbound|%d||", port))
				}
			}
		}
	}
	add := func(host string, port int) {
		out = append(out, fmt.Sprintf("outbound|%d||%s", port, host))
		for i := 0; i < w.subsetsFor(p.Namespace, host); i++ {
			out = append(out, fmt.Sprintf("outbound|%d|%s|%s", port, w.subsetName(p.Namespace, host, i), host))
		}
	}
	for _, s := range w.Services {
		if w.knowsService(sc, s) {
			for _, port := range s.Ports {
				add(s.FQDN(), port)
			}
		}
	}
	for _, k := range w.knownEntries(sc) {
		for _, port := range k.se.Spec.Ports {
			add(k.host, port.Number)
		}
	}
	sort.Strings(out)
	return out
}

func (w *World) subsetName(ns, host string, i int) string {
	var dr *DestinationRule
	for _, r := range w.DestinationRules {
		if fqdn(r.Spec.Host, r.Namespace) == host && exported(r.Spec.ExportTo, r.Namespace, ns) {
			if dr == nil || r.Namespace == ns {
				dr = r
			}
		}
	}
	return dr.Spec.Subsets[i].Name
}

// httpPort says whether a proxy has an HTTP route for port: some host it
// knows is served there by HTTP, or by a protocol Istio sniffs.
func (w *World) httpPort(sc proxyScope, port int) bool {
	for _, s := range w.Services {
		if w.knowsService(sc, s) {
			for i, p := range s.Ports {
				if p == port && httpish(s.protocol(i)) {
					return true
				}
			}
		}
	}
	for _, k := range w.knownEntries(sc) {
		for _, p := range k.se.Spec.Ports {
			if p.Number == port && httpish(p.Protocol) {
				return true
			}
		}
	}
	return false
}

// httpish: the protocol gets an HTTP route; "" is sniffed, which does.
func httpish(proto string) bool {
	switch strings.ToUpper(proto) {
	case "", "HTTP", "HTTP2", "GRPC", "GRPC-WEB":
		return true
	}
	return false
}

// protocol is the Istio protocol of the Service's i-th port: appProtocol,
// else the port name's prefix (http, http-web, tcp-db …), else "".
func (s *Service) protocol(i int) string {
	if i < len(s.AppProtocols) && s.AppProtocols[i] != "" {
		return s.AppProtocols[i]
	}
	if i < len(s.PortNames) {
		p, _, _ := strings.Cut(s.PortNames[i], "-")
		switch strings.ToLower(p) {
		case "http", "http2", "grpc", "grpc-web", "tcp", "tls", "https", "mysql", "mongo", "redis":
			return p
		}
	}
	return ""
}

// internalHost says whether a host names something in the cluster (a
// Service, by short or long name), as opposed to the internet.
func (w *World) internalHost(host string) bool {
	host, _, _ = strings.Cut(host, ":")
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if strings.HasSuffix(host, ".svc.cluster.local") || strings.HasSuffix(host, ".svc") || !strings.Contains(host, ".") {
		return true
	}
	parts := strings.Split(host, ".")
	_, isNS := w.Namespaces[parts[len(parts)-1]]
	return len(parts) == 2 && isNS
}

// public says whether the stand-in internet has the host.
func public(host string) bool {
	host, _, _ = strings.Cut(host, ":")
	for _, tld := range []string{".com", ".org", ".net", ".io"} {
		if strings.HasSuffix(strings.ToLower(host), tld) {
			return true
		}
	}
	return false
}

func internet(req Request) Response {
	return Response{Status: 200, Body: "<html><body>" + req.Host + "</body></html>", Header: http.Header{"Content-Type": {"text/html"}}, Flags: "-"}
}

// egress handles a call from a sidecar for a host outside the proxy's
// registry, or for one on the internet; ok is false when the call is an
// ordinary one for a Service the proxy knows. cluster is the one the
// access log names.
func (s *Sim) egress(ctx context.Context, w *World, from *caller, svc *Service, req Request) (r Response, cluster string, ok bool) {
	if from.gateway != nil {
		return Response{}, "", false // a request arriving at a gateway's listener: its routes decide
	}
	sc := w.callerScope(from)
	if svc != nil && w.knowsService(sc, svc) {
		return Response{}, "", false
	}
	if svc != nil {
		// A Service of a namespace istiod does not watch is still in the
		// registry when a ServiceEntry names its host (the chapter 8
		// lab's Tempo): its routes decide, as for any known host.
		for _, k := range w.knownEntries(sc) {
			if hostGlob(k.host, svc.FQDN()) {
				return Response{}, "", false
			}
		}
	}
	if svc == nil {
		if w.internalHost(req.Host) {
			return Response{}, "", false // a name the cluster's DNS does not have
		}
		if !public(req.Host) {
			return Response{Err: "dns", Flags: "-"}, "-", true
		}
		host, _, _ := strings.Cut(strings.ToLower(req.Host), ":")
		for _, k := range w.knownEntries(sc) {
			if !hostGlob(k.host, host) {
				continue
			}
			for _, p := range k.se.Spec.Ports {
				if p.Number == req.Port {
					c := fmt.Sprintf("outbound|%d||%s", p.Number, k.host)
					s.metrics.add(from.key(), "envoy_cluster_upstream_rq_total", c, 1)
					return internet(req), c, true
				}
			}
		}
	}
	// Not in the registry.
	if w.outboundPolicy(sc.sidecar) == "ALLOW_ANY" {
		s.metrics.add(from.key(), "envoy_cluster_upstream_rq_total", "PassthroughCluster", 1)
		if svc == nil {
			return internet(req), "PassthroughCluster", true
		}
		// Passed through to the Service's address as plain TCP: no mutual
		// TLS, since the proxy does not know the destination is a mesh
		// workload.
		eps := w.Endpoints(svc, nil)
		if len(eps) == 0 {
			return Response{Err: "refused", Flags: "-"}, "PassthroughCluster", true
		}
		ep := eps[s.intn(len(eps))]
		if s.handshake(w, ep, req.Port, "plain") != "" {
			return Response{Err: "reset", Flags: "-"}, "PassthroughCluster", true
		}
		return s.inbound(ctx, w, from, ep, svc, req, "plain"), "PassthroughCluster", true
	}
	if w.httpPort(sc, req.Port) {
		return Response{Status: 502, Header: http.Header{}, Flags: "-"}, "-", true
	}
	return Response{Err: "reset", Flags: "-"}, "BlackHoleCluster", true
}
