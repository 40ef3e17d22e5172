package checks

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The resources the API checks read. Istio and Gateway API kinds are
// named at v1; envs read the version ClusterInfo.Served names.
var (
	GVRPods         = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	GVRNamespaces   = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	GVRConfigMaps   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	GVRDeployments  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	GVRDaemonSets   = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	GVRStatefulSets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	GVRMutating     = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}
	GVRCRDs         = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	GVRPeerAuth     = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}
	GVRVirtualSvc   = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	GVRDestRule     = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
	GVRGateways     = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	GVRHTTPRoutes   = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	GVRGWClasses    = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}
	gvrIstioGW      = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
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
	{Kind: "Pod", GVR: GVRPods, Namespaced: true},
	{Kind: "Service", GVR: schema.GroupVersionResource{Version: "v1", Resource: "services"}, Namespaced: true},
	{Kind: "ConfigMap", GVR: GVRConfigMaps, Namespaced: true},
	{Kind: "ServiceAccount", GVR: schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, Namespaced: true},
	{Kind: "Namespace", GVR: GVRNamespaces, Namespaced: false},
	{Kind: "Node", GVR: schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, Namespaced: false},
	{Kind: "Deployment", GVR: GVRDeployments, Namespaced: true},
	{Kind: "DaemonSet", GVR: GVRDaemonSets, Namespaced: true},
	{Kind: "StatefulSet", GVR: GVRStatefulSets, Namespaced: true},
	{Kind: "ReplicaSet", GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, Namespaced: true},
	{Kind: "Job", GVR: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, Namespaced: true},
	{Kind: "HorizontalPodAutoscaler", GVR: schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}, Namespaced: true},
	{Kind: "PodDisruptionBudget", GVR: schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}, Namespaced: true},
	{Kind: "MutatingWebhookConfiguration", GVR: GVRMutating, Namespaced: false},
	{Kind: "ValidatingWebhookConfiguration", GVR: schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}, Namespaced: false},
	{Kind: "CustomResourceDefinition", GVR: GVRCRDs, Namespaced: false},
	{Kind: "VirtualService", GVR: GVRVirtualSvc, Namespaced: true},
	{Kind: "DestinationRule", GVR: GVRDestRule, Namespaced: true},
	{Kind: "Gateway", GVR: gvrIstioGW, Namespaced: true},
	{Kind: "Gateway", GVR: GVRGateways, Namespaced: true},
	{Kind: "ServiceEntry", GVR: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}, Namespaced: true},
	{Kind: "Sidecar", GVR: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"}, Namespaced: true},
	{Kind: "WorkloadEntry", GVR: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "workloadentries"}, Namespaced: true},
	{Kind: "WorkloadGroup", GVR: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "workloadgroups"}, Namespaced: true},
	{Kind: "EnvoyFilter", GVR: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1alpha3", Resource: "envoyfilters"}, Namespaced: true},
	{Kind: "PeerAuthentication", GVR: GVRPeerAuth, Namespaced: true},
	{Kind: "RequestAuthentication", GVR: schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "requestauthentications"}, Namespaced: true},
	{Kind: "AuthorizationPolicy", GVR: schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}, Namespaced: true},
	{Kind: "Telemetry", GVR: schema.GroupVersionResource{Group: "telemetry.istio.io", Version: "v1", Resource: "telemetries"}, Namespaced: true},
	{Kind: "WasmPlugin", GVR: schema.GroupVersionResource{Group: "extensions.istio.io", Version: "v1alpha1", Resource: "wasmplugins"}, Namespaced: true},
	{Kind: "HTTPRoute", GVR: GVRHTTPRoutes, Namespaced: true},
	{Kind: "GRPCRoute", GVR: schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "grpcroutes"}, Namespaced: true},
	{Kind: "GatewayClass", GVR: GVRGWClasses, Namespaced: false},
	{Kind: "ReferenceGrant", GVR: schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1beta1", Resource: "referencegrants"}, Namespaced: true},
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
		return KindInfo{Kind: s, GVR: schema.GroupVersionResource{Group: group, Version: "v1", Resource: res}, Namespaced: true}, nil
	}
	return KindInfo{}, &ParamError{Param: "kind", Value: s,
		Want: "a Kind such as VirtualService, DestinationRule, PeerAuthentication, Telemetry, Gateway, HTTPRoute, Service, Deployment, ConfigMap, Namespace, or resource.group such as gateways.gateway.networking.k8s.io"}
}
