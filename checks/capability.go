package checks

// Capability is a way a check reaches the cluster beyond listing its
// Inputs. A check declares the ones it uses (Check.Uses); the engine
// gives such a check the clients to act with (Env.Clients), and the
// prober role and doctor's permission list are derived from the
// declarations, so a permission is never listed by hand.
type Capability struct {
	Name string // short, for messages and the RBAC comment
	Doc  string
	// Perms are the permissions the capability needs, beyond the
	// reader role's reads.
	Perms []Permission
	// Live: the capability needs a running mesh behind the API server
	// (pods that run, proxies and services that answer), not only
	// objects. See Check.NeedsMesh.
	Live bool
}

// Permission is one RBAC permission: a verb on a resource or
// subresource.
type Permission struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	// NamespaceParam names the check parameter that holds the namespace
	// the permission is used in; "" means any namespace (found at run
	// time, or all of them).
	NamespaceParam string
}

// The capabilities of the checks. They mirror what internal/traffic does
// with the clients; internal/traffic's tests run each against a real API
// server with only the prober role.
var (
	// ProbePods starts a short-lived pod in the namespace the check's
	// namespace parameter names, reads its state and logs, and deletes
	// it (pod-probe).
	ProbePods = &Capability{
		Name: "probe pods",
		Doc:  "creates a short-lived curl pod, reads its log and deletes it",
		Perms: []Permission{
			{Verb: "create", Resource: "pods", NamespaceParam: "namespace"},
			{Verb: "get", Resource: "pods", NamespaceParam: "namespace"},
			{Verb: "delete", Resource: "pods", NamespaceParam: "namespace"},
			{Verb: "get", Resource: "pods", Subresource: "log", NamespaceParam: "namespace"},
		},
		Live: true,
	}
	// IngressForward finds the ingress gateway's Service and, when it has
	// no reachable address, port-forwards to one of its ready pods
	// (http-probe).
	IngressForward = &Capability{
		Name:  "ingress port-forward",
		Doc:   "finds the ingress gateway's Service and port-forwards to a gateway pod",
		Perms: ingressForwardPerms,
		Live:  true,
	}
	// ServiceProxy sends a request to a Service through the API server's
	// service proxy (prometheus-query).
	ServiceProxy = &Capability{
		Name:  "service proxy",
		Doc:   "asks a Service through the API server's service proxy",
		Perms: serviceProxy("namespace"),
		Live:  true,
	}
	// PodProxy reads the selected pods' proxies through the API server's
	// pod proxy (envoy-stat).
	PodProxy = &Capability{
		Name:  "pod proxy",
		Doc:   "reads pods' Envoy statistics through the API server's pod proxy",
		Perms: selectedPods("proxy"),
		Live:  true,
	}
)

// ingressForwardPerms reach the ingress gateway as kubectl port-forward
// does: find its Service, list its pods for a ready one, forward to it.
// Keycloak's token endpoint is reached through the same gateway.
var ingressForwardPerms = []Permission{
	{Verb: "get", Resource: "services"},
	{Verb: "list", Resource: "pods"},
	{Verb: "create", Resource: "pods", Subresource: "portforward"},
	{Verb: "get", Resource: "pods", Subresource: "portforward"},
}

// serviceProxy is a get of services/proxy in the namespace the parameter
// param names: asking a Service (Prometheus, Loki, Tempo) through the
// API server.
func serviceProxy(param string) []Permission {
	return []Permission{{Verb: "get", Resource: "services", Subresource: "proxy", NamespaceParam: param}}
}

// selectedPods lists the pods of the check's namespace parameter and
// reads a subresource of each (their proxy, their log).
func selectedPods(sub string) []Permission {
	return []Permission{
		{Verb: "list", Resource: "pods", NamespaceParam: "namespace"},
		{Verb: "get", Resource: "pods", Subresource: sub, NamespaceParam: "namespace"},
	}
}

// Capabilities is every capability a check may declare.
func Capabilities() []*Capability {
	return []*Capability{ProbePods, IngressForward, ServiceProxy, PodProxy, PodLogs, KeycloakToken, AccessReview, LokiProxy, TempoProxy}
}

// KeycloakToken signs a user in at the chapter 7 lab's Keycloak (the
// password grant) through a port-forward to the ingress gateway's
// Keycloak port, for http-probe's token-user. It needs what
// IngressForward needs; the token stays in the probe's memory.
var KeycloakToken = &Capability{
	Name:  "keycloak token",
	Doc:   "asks Keycloak for a user's token through a port-forward to the ingress gateway, and keeps it in memory for the probe",
	Perms: ingressForwardPerms,
	Live:  true,
}

// PodLogs reads the selected pods' container logs through the API
// server (pods/log), which fetches them from each pod's kubelet
// (access-log).
var PodLogs = &Capability{
	Name:  "pod logs",
	Doc:   "reads pods' container logs (the proxies' access logs) through the API server",
	Perms: selectedPods("log"),
	Live:  true,
}

// AccessReview asks the API server's authorizer what another account may
// do, without acting as that account: a SubjectAccessReview names the
// user and groups, and the API server answers with RBAC's decision. It
// changes nothing (a review is not stored).
var AccessReview = &Capability{
	Name: "access review",
	Doc:  "asks the API server whether an account may do something (SubjectAccessReview; nothing is stored)",
	Perms: []Permission{
		{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"},
	},
}

var (
	// LokiProxy asks Loki through the API server's service proxy
	// (follow-request).
	LokiProxy = &Capability{
		Name:  "Loki through the service proxy",
		Doc:   "asks Loki's query API through the API server's service proxy",
		Perms: serviceProxy("loki-namespace"),
		Live:  true,
	}
	// TempoProxy asks Tempo through the API server's service proxy
	// (follow-request).
	TempoProxy = &Capability{
		Name:  "Tempo through the service proxy",
		Doc:   "asks Tempo's trace API through the API server's service proxy",
		Perms: serviceProxy("tempo-namespace"),
		Live:  true,
	}
)
