package fakelab

// The Gateway API ingress: an HTTPRoute attached to a Gateway that
// exists sends the ingress's traffic to its first Service backend.
// Routes whose parent is a Service (GAMMA mesh routes, appendix 2) are
// east-west and lead no ingress traffic anywhere; a route whose Gateway
// the API server never stored (the lab's listener without a protocol is
// rejected) leads nowhere either. A Gateway of class istio is Istio's
// own Envoy, which calls the backend as a mesh client; any other class
// (chapter 1's NGINX) calls it from outside the mesh.

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func (w *World) readGatewayAPI(objs []*unstructured.Unstructured) {
	classes := map[string]string{} // namespace/name -> gatewayClassName
	var routes []*unstructured.Unstructured
	for _, o := range objs {
		if !strings.HasPrefix(o.GetAPIVersion(), "gateway.networking.k8s.io/") {
			continue
		}
		switch o.GetKind() {
		case "Gateway":
			c, _, _ := unstructured.NestedString(o.Object, "spec", "gatewayClassName")
			classes[o.GetNamespace()+"/"+o.GetName()] = c
		case "HTTPRoute":
			routes = append(routes, o)
		}
	}
	sort.Slice(routes, func(i, j int) bool {
		return routes[i].GetNamespace()+"/"+routes[i].GetName() < routes[j].GetNamespace()+"/"+routes[j].GetName()
	})
	w.ingressBackend = nil
	for _, o := range routes {
		ns := o.GetNamespace()
		class, attached := "", false
		parents, _, _ := unstructured.NestedSlice(o.Object, "spec", "parentRefs")
		for _, p := range parents {
			m, _ := p.(map[string]any)
			kind, _ := m["kind"].(string)
			group, hasGroup := m["group"].(string)
			if (kind != "" && kind != "Gateway") || (hasGroup && group != "gateway.networking.k8s.io") {
				continue
			}
			name, _ := m["name"].(string)
			pns, _ := m["namespace"].(string)
			if pns == "" {
				pns = ns
			}
			if c, ok := classes[pns+"/"+name]; ok {
				class, attached = c, true
				break
			}
		}
		if !attached {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
		for _, r := range rules {
			m, _ := r.(map[string]any)
			refs, _ := m["backendRefs"].([]any)
			for _, ref := range refs {
				b, _ := ref.(map[string]any)
				name, _ := b["name"].(string)
				if k, _ := b["kind"].(string); name == "" || (k != "" && k != "Service") {
					continue
				}
				bns, _ := b["namespace"].(string)
				if bns == "" {
					bns = ns
				}
				port, _ := b["port"].(int64)
				w.ingressBackend = &backend{Namespace: bns, Host: name + "." + bns, Port: int(port), Mesh: class == "istio"}
				return
			}
		}
	}
}
