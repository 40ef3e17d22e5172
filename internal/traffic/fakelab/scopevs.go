package fakelab

// Which VirtualServices a sidecar applies, as istiod 1.29 scopes them
// (pilot/pkg/model/virtualservice.go SelectVirtualServices, sidecar.go
// collectImportedServices):
//
//   - A Sidecar's egress hosts import a VirtualService only if one of its
//     hosts matches an egress host written for the VirtualService's own
//     namespace ("./*" for the Sidecar's namespace, "ns/*", or "*/…" for
//     any). A VirtualService another namespace writes for bookinfo's hosts
//     therefore does not reach a bookinfo proxy scoped to "./*": that is
//     how a Sidecar keeps another team's routes out.
//   - The Services an imported VirtualService routes to join the proxy's
//     registry even when the egress hosts leave them out, so the route has
//     somewhere to go.
//
// Without a Sidecar (or one with no egress listener) a proxy applies
// every VirtualService exported to its namespace.

import "strings"

// importsVS says whether a proxy scoped by sc applies v.
func (sc proxyScope) importsVS(v *VirtualService) bool {
	if sc.gateway || sc.sidecar == nil || len(sc.sidecar.Spec.Egress) == 0 {
		return true
	}
	for _, h := range v.Spec.Hosts {
		if sc.sidecar.importsHost(v.Namespace, fqdn(h, v.Namespace)) {
			return true
		}
	}
	return false
}

// importsHost is allows for a VirtualService's host, which may itself be
// a wildcard: Istio matches the two patterns either way.
func (sc *Sidecar) importsHost(cfgNS, host string) bool {
	if sc.allows(cfgNS, host) {
		return true
	}
	if host != "*" && !strings.HasPrefix(host, "*.") {
		return false
	}
	for _, e := range sc.Spec.Egress {
		for _, h := range e.Hosts {
			ns, name, ok := strings.Cut(h, "/")
			if ok && nsImports(sc, ns, cfgNS) && hostGlob(host, name) {
				return true
			}
		}
	}
	return false
}

// nsImports says whether an egress host's namespace part covers config
// defined in cfgNS.
func nsImports(sc *Sidecar, ns, cfgNS string) bool {
	switch ns {
	case "*":
		return true
	case ".":
		return cfgNS == sc.Namespace
	case "~":
		return false
	}
	return ns == cfgNS
}

// routedByImportedVS says whether a VirtualService the proxy applies (in
// the mesh, exported to its namespace) routes to the Service.
func (w *World) routedByImportedVS(sc proxyScope, s *Service) bool {
	if sc.gateway || sc.sidecar == nil || len(sc.sidecar.Spec.Egress) == 0 {
		return false // the proxy knows every Service already
	}
	for _, v := range w.VirtualServices {
		if !exported(v.Spec.ExportTo, v.Namespace, sc.ns) || !meshBound(v.Spec.Gateways) || !sc.importsVS(v) {
			continue
		}
		for _, r := range v.Spec.HTTP {
			for _, d := range r.Route {
				if fqdn(d.Destination.Host, v.Namespace) == s.FQDN() {
					return true
				}
			}
		}
	}
	return false
}
