package checks

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The resources the API checks read. Istio and Gateway API kinds are
// named at v1; envs read the version ClusterInfo.Served names.
var (
	GVRPods         = gvr("", "v1", "pods")
	GVRNamespaces   = gvr("", "v1", "namespaces")
	GVRConfigMaps   = gvr("", "v1", "configmaps")
	GVRDeployments  = gvr("apps", "v1", "deployments")
	GVRDaemonSets   = gvr("apps", "v1", "daemonsets")
	GVRStatefulSets = gvr("apps", "v1", "statefulsets")
	GVRMutating     = gvr("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")
	GVRCRDs         = gvr("apiextensions.k8s.io", "v1", "customresourcedefinitions")
	GVRPeerAuth     = gvr("security.istio.io", "v1", "peerauthentications")
	GVRVirtualSvc   = gvr("networking.istio.io", "v1", "virtualservices")
	GVRDestRule     = gvr("networking.istio.io", "v1", "destinationrules")
	GVRGateways     = gvr("gateway.networking.k8s.io", "v1", "gateways")
	GVRHTTPRoutes   = gvr("gateway.networking.k8s.io", "v1", "httproutes")
	GVRGWClasses    = gvr("gateway.networking.k8s.io", "v1", "gatewayclasses")
	gvrIstioGW      = gvr("networking.istio.io", "v1", "gateways")
)

// KindInfo maps a Kind a lesson names to the resource to read.
type KindInfo struct {
	Kind       string
	GVR        schema.GroupVersionResource
	Namespaced bool
	// Also is a second resource of the same Kind name read alongside
	// (a bare "Gateway" means Istio's or the Gateway API's).
	Also *schema.GroupVersionResource
}

// kinds are the Kinds resource-field and resource-count accept by name.
// A bare "Gateway" reads both Istio's networking.istio.io Gateway (the
// book's sidecar chapters) and the Gateway API's (chapter 1, appendix 2);
// Gateway.networking.istio.io or gateways.gateway.networking.k8s.io
// picks one.
var kinds = []KindInfo{
	namespaced("Pod", GVRPods),
	namespaced("Service", gvr("", "v1", "services")),
	namespaced("ConfigMap", GVRConfigMaps),
	namespaced("ServiceAccount", gvr("", "v1", "serviceaccounts")),
	clusterScoped("Namespace", GVRNamespaces),
	clusterScoped("Node", gvr("", "v1", "nodes")),
	namespaced("Deployment", GVRDeployments),
	namespaced("DaemonSet", GVRDaemonSets),
	namespaced("StatefulSet", GVRStatefulSets),
	namespaced("ReplicaSet", gvr("apps", "v1", "replicasets")),
	namespaced("Job", gvr("batch", "v1", "jobs")),
	namespaced("HorizontalPodAutoscaler", gvr("autoscaling", "v2", "horizontalpodautoscalers")),
	namespaced("PodDisruptionBudget", gvr("policy", "v1", "poddisruptionbudgets")),
	clusterScoped("MutatingWebhookConfiguration", GVRMutating),
	clusterScoped("ValidatingWebhookConfiguration", gvr("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")),
	clusterScoped("CustomResourceDefinition", GVRCRDs),
	namespaced("VirtualService", GVRVirtualSvc),
	namespaced("DestinationRule", GVRDestRule),
	namespaced("Gateway", gvrIstioGW),
	namespaced("Gateway", GVRGateways),
	namespaced("ServiceEntry", gvr("networking.istio.io", "v1", "serviceentries")),
	namespaced("Sidecar", gvr("networking.istio.io", "v1", "sidecars")),
	namespaced("WorkloadEntry", gvr("networking.istio.io", "v1", "workloadentries")),
	namespaced("WorkloadGroup", gvr("networking.istio.io", "v1", "workloadgroups")),
	namespaced("EnvoyFilter", gvr("networking.istio.io", "v1alpha3", "envoyfilters")),
	namespaced("PeerAuthentication", GVRPeerAuth),
	namespaced("RequestAuthentication", gvr("security.istio.io", "v1", "requestauthentications")),
	namespaced("AuthorizationPolicy", gvr("security.istio.io", "v1", "authorizationpolicies")),
	namespaced("Telemetry", gvr("telemetry.istio.io", "v1", "telemetries")),
	namespaced("WasmPlugin", gvr("extensions.istio.io", "v1alpha1", "wasmplugins")),
	namespaced("HTTPRoute", GVRHTTPRoutes),
	namespaced("GRPCRoute", gvr("gateway.networking.k8s.io", "v1", "grpcroutes")),
	clusterScoped("GatewayClass", GVRGWClasses),
	namespaced("ReferenceGrant", gvr("gateway.networking.k8s.io", "v1beta1", "referencegrants")),
}

func namespaced(kind string, r schema.GroupVersionResource) KindInfo {
	return KindInfo{Kind: kind, GVR: r, Namespaced: true}
}

func clusterScoped(kind string, r schema.GroupVersionResource) KindInfo {
	return KindInfo{Kind: kind, GVR: r}
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// shortNames are kubectl's short names for the kinds above.
var shortNames = map[string]string{
	"po": "Pod", "svc": "Service", "cm": "ConfigMap", "sa": "ServiceAccount", "ns": "Namespace", "no": "Node",
	"deploy": "Deployment", "ds": "DaemonSet", "sts": "StatefulSet", "rs": "ReplicaSet", "hpa": "HorizontalPodAutoscaler",
	"pdb": "PodDisruptionBudget", "crd": "CustomResourceDefinition", "vs": "VirtualService", "dr": "DestinationRule",
	"se": "ServiceEntry", "we": "WorkloadEntry", "wg": "WorkloadGroup", "pa": "PeerAuthentication",
	"ra": "RequestAuthentication", "ap": "AuthorizationPolicy", "telemetry": "Telemetry", "wp": "WasmPlugin",
}

// LookupKind finds a Kind by name, kubectl short name, plural,
// Kind.group or resource.group.
func LookupKind(s string) (KindInfo, error) {
	s = strings.TrimSpace(s)
	if k, ok := shortNames[strings.ToLower(s)]; ok {
		s = k
	}
	if strings.EqualFold(s, "gateway") || strings.EqualFold(s, "gateways") {
		return KindInfo{Kind: "Gateway", GVR: gvrIstioGW, Namespaced: true, Also: &GVRGateways}, nil
	}
	for _, k := range kinds {
		full := ResourceName(k.GVR)
		if strings.EqualFold(s, k.Kind) || strings.EqualFold(s, k.GVR.Resource) || strings.EqualFold(s, full) ||
			(k.GVR.Group != "" && strings.EqualFold(s, k.Kind+"."+k.GVR.Group)) {
			return k, nil
		}
	}
	// Any other resource.group: read it at v1, namespaced unless the
	// lesson leaves the namespace out.
	if res, group, ok := strings.Cut(s, "."); ok && res != "" && strings.Contains(group, ".") && strings.ToLower(s) == s {
		return namespaced(s, gvr(group, "v1", res)), nil
	}
	return KindInfo{}, &ParamError{Param: "kind", Value: s,
		Want: "a Kind such as VirtualService, DestinationRule, PeerAuthentication, Telemetry, Gateway, HTTPRoute, Service, Deployment, ConfigMap, Namespace, or resource.group such as gateways.gateway.networking.k8s.io"}
}
