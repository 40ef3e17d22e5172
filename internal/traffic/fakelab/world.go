package fakelab

// The objects the simulator reads, as plain structs: only the fields
// whose behaviour it simulates. World is built from the unstructured
// objects of an API server (FromObjects), so a test or a lesson fixture
// changes the lab's behaviour by changing the objects, never by telling
// the simulator what to do.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/meshdojo/meshdojo/internal/authz"
)

// World is the cluster as the simulator sees it at one moment.
type World struct {
	Namespaces       map[string]map[string]string // name -> labels
	Pods             []*Pod
	Services         []*Service
	Gateways         []*Gateway
	VirtualServices  []*VirtualService
	DestinationRules []*DestinationRule
	PeerAuths        []*PeerAuthentication
	Sidecars         []*Sidecar
	ServiceEntries   []*ServiceEntry
	AuthzPolicies    []*authz.Policy
	RequestAuthns    []*authz.RequestAuthn
	// realms are the Keycloak realms found in Secrets, by namespace/realm.
	realms      map[string]*realm
	Telemetries []*Telemetry
	Mesh        MeshConfig
	// ConfigMaps holds every ConfigMap's data by namespace/name: the
	// OpenTelemetry collector's and Alloy's configurations live there.
	ConfigMaps map[string]map[string]string
	// Ignored says which Istio objects istiod would not see (a namespace
	// outside the mesh config's discoverySelectors), for explanations.
	Ignored []string

	// ingressBackend is where a Gateway API HTTPRoute sends the ingress's
	// traffic when no Istio Gateway is there (chapter 1's NGINX).
	ingressBackend *backend

	// ambient is what ambient mode reads: waypoints and the Services'
	// labels that bind them (ambient.go).
	ambient ambientWorld
}

type backend struct {
	Namespace, Host string
	Port            int
	// Mesh: the gateway is Istio's (class istio), an Envoy that calls
	// the backend as a mesh client.
	Mesh bool
}

// MeshConfig is the part of istiod's mesh config the simulator honours.
type MeshConfig struct {
	RootNamespace      string
	DiscoverySelectors []LabelSelector
	// OutboundPolicy is outboundTrafficPolicy.mode: ALLOW_ANY (the
	// default) or REGISTRY_ONLY.
	OutboundPolicy string
	// The telemetry part: enableTracing, defaultProviders,
	// extensionProviders and defaultConfig.tracing.sampling.
	EnableTracing      bool
	DefaultProviders   DefaultProviders
	ExtensionProviders []ExtensionProvider
	Sampling           float64
	// Found: the world has istiod's mesh ConfigMap.
	Found bool
}

// DefaultProviders are the mesh config's defaultProviders.
type DefaultProviders struct {
	Metrics       []string `json:"metrics"`
	AccessLogging []string `json:"accessLogging"`
	Tracing       []string `json:"tracing"`
}

// LabelSelector is a Kubernetes label selector.
type LabelSelector struct {
	MatchLabels      map[string]string `json:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values"`
	} `json:"matchExpressions"`
}

// Matches reports whether labels satisfy the selector.
func (s LabelSelector) Matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	for _, e := range s.MatchExpressions {
		v, has := labels[e.Key]
		in := false
		for _, x := range e.Values {
			in = in || x == v
		}
		switch e.Operator {
		case "In":
			if !has || !in {
				return false
			}
		case "NotIn":
			if has && in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		}
	}
	return true
}

// Pod is a pod with what the mesh cares about.
type Pod struct {
	Name, Namespace string
	Labels          map[string]string
	Annotations     map[string]string
	ServiceAccount  string
	// Sidecar: the pod has an istio-proxy container (or native sidecar).
	Sidecar bool
	Running bool // phase Running and condition Ready
	Start   time.Time
	IP      string
	// Workload is the owning Deployment's name (the ReplicaSet's name
	// without its pod-template-hash), as Istio's telemetry names it.
	Workload string
}

// Key is namespace/name.
func (p *Pod) Key() string { return p.Namespace + "/" + p.Name }

// Service is a Kubernetes Service.
type Service struct {
	Name, Namespace string
	Selector        map[string]string
	Ports           []int
	// PortNames and AppProtocols are the ports' name and appProtocol, by
	// index, for the protocol Istio gives each port.
	PortNames, AppProtocols []string
	// ExportTo is the networking.istio.io/exportTo annotation's list;
	// empty means every namespace.
	ExportTo []string
}

// FQDN is the service's cluster host name.
func (s *Service) FQDN() string { return s.Name + "." + s.Namespace + ".svc.cluster.local" }

// Gateway is an Istio Gateway.
type Gateway struct {
	Name, Namespace string
	Spec            struct {
		Selector map[string]string `json:"selector"`
		Servers  []struct {
			Port struct {
				Number   int    `json:"number"`
				Protocol string `json:"protocol"`
			} `json:"port"`
			Hosts []string `json:"hosts"`
		} `json:"servers"`
	}
}

// VirtualService is an Istio VirtualService's HTTP part.
type VirtualService struct {
	Name, Namespace string
	Spec            struct {
		Hosts    []string    `json:"hosts"`
		Gateways []string    `json:"gateways"`
		ExportTo []string    `json:"exportTo"`
		HTTP     []HTTPRoute `json:"http"`
	}
}

// HTTPRoute is one rule of a VirtualService.
type HTTPRoute struct {
	Name  string `json:"name"`
	Match []struct {
		URI          *StringMatch           `json:"uri"`
		Headers      map[string]StringMatch `json:"headers"`
		SourceLabels map[string]string      `json:"sourceLabels"`
		Port         int                    `json:"port"`
		Gateways     []string               `json:"gateways"`
	} `json:"match"`
	Route []struct {
		Destination Destination `json:"destination"`
		Weight      *int        `json:"weight"`
	} `json:"route"`
	Fault *struct {
		Delay *struct {
			FixedDelay string   `json:"fixedDelay"`
			Percentage *Percent `json:"percentage"`
			Percent    *int     `json:"percent"`
		} `json:"delay"`
		Abort *struct {
			HTTPStatus int      `json:"httpStatus"`
			Percentage *Percent `json:"percentage"`
		} `json:"abort"`
	} `json:"fault"`
	Timeout string `json:"timeout"`
	Retries *struct {
		Attempts      int    `json:"attempts"`
		PerTryTimeout string `json:"perTryTimeout"`
		RetryOn       string `json:"retryOn"`
	} `json:"retries"`
	Mirror           *Destination `json:"mirror"`
	MirrorPercentage *Percent     `json:"mirrorPercentage"`
	Mirrors          []struct {
		Destination Destination `json:"destination"`
		Percentage  *Percent    `json:"percentage"`
	} `json:"mirrors"`
}

// StringMatch is Istio's exact/prefix/regex match.
type StringMatch struct {
	Exact  string `json:"exact"`
	Prefix string `json:"prefix"`
	Regex  string `json:"regex"`
}

// Percent is Istio's Percent message.
type Percent struct {
	Value float64 `json:"value"`
}

// Destination is a route destination.
type Destination struct {
	Host   string `json:"host"`
	Subset string `json:"subset"`
	Port   struct {
		Number int `json:"number"`
	} `json:"port"`
}

// DestinationRule is an Istio DestinationRule.
type DestinationRule struct {
	Name, Namespace string
	Spec            struct {
		Host          string         `json:"host"`
		ExportTo      []string       `json:"exportTo"`
		TrafficPolicy *TrafficPolicy `json:"trafficPolicy"`
		Subsets       []struct {
			Name          string            `json:"name"`
			Labels        map[string]string `json:"labels"`
			TrafficPolicy *TrafficPolicy    `json:"trafficPolicy"`
		} `json:"subsets"`
	}
}

// TrafficPolicy is the part of a DestinationRule's policy that is
// simulated.
type TrafficPolicy struct {
	ConnectionPool *struct {
		TCP *struct {
			MaxConnections int `json:"maxConnections"`
		} `json:"tcp"`
		HTTP *struct {
			HTTP1MaxPendingRequests  int `json:"http1MaxPendingRequests"`
			MaxRequestsPerConnection int `json:"maxRequestsPerConnection"`
		} `json:"http"`
	} `json:"connectionPool"`
	OutlierDetection *struct {
		Consecutive5xxErrors     *int   `json:"consecutive5xxErrors"`
		ConsecutiveGatewayErrors *int   `json:"consecutiveGatewayErrors"`
		Interval                 string `json:"interval"`
		BaseEjectionTime         string `json:"baseEjectionTime"`
		MaxEjectionPercent       *int   `json:"maxEjectionPercent"`
	} `json:"outlierDetection"`
	TLS *struct {
		Mode string `json:"mode"`
	} `json:"tls"`
}

// PeerAuthentication is an Istio PeerAuthentication.
type PeerAuthentication struct {
	Name, Namespace string
	Created         time.Time
	Spec            struct {
		Selector *struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		MTLS *struct {
			Mode string `json:"mode"`
		} `json:"mtls"`
		PortLevelMTLS map[string]struct {
			Mode string `json:"mode"`
		} `json:"portLevelMtls"`
	}
}

// FromObjects builds a World from API objects of any kind; kinds the
// simulator does not read are skipped. An object whose spec cannot be
// read is an error naming it.
func FromObjects(objs []*unstructured.Unstructured) (*World, error) {
	w := &World{Namespaces: map[string]map[string]string{}, ConfigMaps: map[string]map[string]string{}}
	var errs []string
	spec := func(o *unstructured.Unstructured, into any) bool {
		b, err := json.Marshal(o.Object["spec"])
		if err == nil {
			err = json.Unmarshal(b, into)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err))
			return false
		}
		return true
	}
	var meshes []*unstructured.Unstructured
	for _, o := range objs {
		ns, name := o.GetNamespace(), o.GetName()
		switch o.GetKind() {
		case "Namespace":
			w.Namespaces[name] = o.GetLabels()
		case "Pod":
			w.Pods = append(w.Pods, pod(o))
		case "Service":
			s := &Service{Name: name, Namespace: ns}
			s.Selector, _, _ = unstructured.NestedStringMap(o.Object, "spec", "selector")
			ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
			for _, p := range ports {
				if m, ok := p.(map[string]any); ok {
					if n, ok := intOf(m["port"]); ok {
						name, _ := m["name"].(string)
						proto, _ := m["appProtocol"].(string)
						s.Ports = append(s.Ports, int(n))
						s.PortNames = append(s.PortNames, name)
						s.AppProtocols = append(s.AppProtocols, proto)
					}
				}
			}
			if e := o.GetAnnotations()["networking.istio.io/exportTo"]; e != "" {
				for _, x := range strings.Split(e, ",") {
					s.ExportTo = append(s.ExportTo, strings.TrimSpace(x))
				}
			}
			w.Services = append(w.Services, s)
		case "Sidecar":
			sc := &Sidecar{Name: name, Namespace: ns, Created: o.GetCreationTimestamp().Time}
			if spec(o, &sc.Spec) {
				w.Sidecars = append(w.Sidecars, sc)
			}
		case "ServiceEntry":
			se := &ServiceEntry{Name: name, Namespace: ns}
			if spec(o, &se.Spec) {
				w.ServiceEntries = append(w.ServiceEntries, se)
			}
		case "Gateway":
			if !strings.HasPrefix(o.GetAPIVersion(), "networking.istio.io/") {
				continue
			}
			g := &Gateway{Name: name, Namespace: ns}
			if spec(o, &g.Spec) {
				w.Gateways = append(w.Gateways, g)
			}
		case "VirtualService":
			v := &VirtualService{Name: name, Namespace: ns}
			if spec(o, &v.Spec) {
				w.VirtualServices = append(w.VirtualServices, v)
			}
		case "DestinationRule":
			d := &DestinationRule{Name: name, Namespace: ns}
			if spec(o, &d.Spec) {
				w.DestinationRules = append(w.DestinationRules, d)
			}
		case "AuthorizationPolicy", "RequestAuthentication", "Secret":
			w.readSecurity(o, &errs)
		case "PeerAuthentication":
			p := &PeerAuthentication{Name: name, Namespace: ns, Created: o.GetCreationTimestamp().Time}
			if spec(o, &p.Spec) {
				w.PeerAuths = append(w.PeerAuths, p)
			}
		case "Telemetry":
			t := &Telemetry{Name: name, Namespace: ns, Created: o.GetCreationTimestamp().Time}
			if spec(o, &t.Spec) {
				w.Telemetries = append(w.Telemetries, t)
			}
		case "ConfigMap":
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			w.ConfigMaps[ns+"/"+name] = data
			if _, ok, _ := unstructured.NestedString(o.Object, "data", "mesh"); ok && (name == "istio" || strings.HasPrefix(name, "istio-")) {
				meshes = append(meshes, o)
			}
		}
	}
	// istiod reads the mesh config of its revision; the lab has one.
	sort.Slice(meshes, func(i, j int) bool { return meshes[i].GetName() < meshes[j].GetName() })
	w.Mesh.RootNamespace = "istio-system"
	if len(meshes) > 0 {
		w.Mesh.Found = true
		raw, _, _ := unstructured.NestedString(meshes[0].Object, "data", "mesh")
		var mc struct {
			RootNamespace         string          `json:"rootNamespace"`
			DiscoverySelectors    []LabelSelector `json:"discoverySelectors"`
			OutboundTrafficPolicy struct {
				Mode string `json:"mode"`
			} `json:"outboundTrafficPolicy"`
			EnableTracing      *bool               `json:"enableTracing"`
			DefaultProviders   *DefaultProviders   `json:"defaultProviders"`
			ExtensionProviders []ExtensionProvider `json:"extensionProviders"`
			DefaultConfig      struct {
				Tracing struct {
					Sampling float64 `json:"sampling"`
				} `json:"tracing"`
			} `json:"defaultConfig"`
		}
		if err := yaml.Unmarshal([]byte(raw), &mc); err != nil {
			errs = append(errs, fmt.Sprintf("ConfigMap %s/%s key mesh: %v", meshes[0].GetNamespace(), meshes[0].GetName(), err))
		}
		if mc.RootNamespace != "" {
			w.Mesh.RootNamespace = mc.RootNamespace
		}
		w.Mesh.DiscoverySelectors = mc.DiscoverySelectors
		w.Mesh.OutboundPolicy = mc.OutboundTrafficPolicy.Mode
		// enableTracing is true unless the mesh config turns it off
		// (pkg/config/mesh DefaultMeshConfig).
		w.Mesh.EnableTracing = mc.EnableTracing == nil || *mc.EnableTracing
		// istiod's chart writes defaultProviders.metrics: [prometheus]
		// unless its values set defaultProviders; a mesh config without
		// the key is read as the chart's.
		w.Mesh.DefaultProviders = DefaultProviders{Metrics: []string{"prometheus"}}
		if mc.DefaultProviders != nil {
			w.Mesh.DefaultProviders = *mc.DefaultProviders
		}
		w.Mesh.ExtensionProviders = mc.ExtensionProviders
		w.Mesh.Sampling = mc.DefaultConfig.Tracing.Sampling
	}
	w.filterDiscovery()
	w.readAmbient(objs)
	w.readGatewayAPI(objs)
	if len(errs) > 0 {
		return w, fmt.Errorf("fakelab: unreadable objects: %s", strings.Join(errs, "; "))
	}
	return w, nil
}

// filterDiscovery drops the Istio config objects istiod does not see:
// since Istio 1.22 discoverySelectors filter config objects too, with no
// exception for the root namespace.
func (w *World) filterDiscovery() {
	if len(w.Mesh.DiscoverySelectors) == 0 {
		return
	}
	w.VirtualServices = visible(w, "VirtualService", w.VirtualServices, func(x *VirtualService) (string, string) { return x.Namespace, x.Name })
	w.DestinationRules = visible(w, "DestinationRule", w.DestinationRules, func(x *DestinationRule) (string, string) { return x.Namespace, x.Name })
	w.PeerAuths = visible(w, "PeerAuthentication", w.PeerAuths, func(x *PeerAuthentication) (string, string) { return x.Namespace, x.Name })
	w.Gateways = visible(w, "Gateway", w.Gateways, func(x *Gateway) (string, string) { return x.Namespace, x.Name })
	w.Sidecars = visible(w, "Sidecar", w.Sidecars, func(x *Sidecar) (string, string) { return x.Namespace, x.Name })
	w.ServiceEntries = visible(w, "ServiceEntry", w.ServiceEntries, func(x *ServiceEntry) (string, string) { return x.Namespace, x.Name })
	w.AuthzPolicies = visible(w, "AuthorizationPolicy", w.AuthzPolicies, func(x *authz.Policy) (string, string) { return x.Namespace, x.Name })
	w.RequestAuthns = visible(w, "RequestAuthentication", w.RequestAuthns, func(x *authz.RequestAuthn) (string, string) { return x.Namespace, x.Name })
	w.Telemetries = visible(w, "Telemetry", w.Telemetries, func(x *Telemetry) (string, string) { return x.Namespace, x.Name })
}

// visible is the objects of one kind that istiod sees, in their order;
// the others are listed in w.Ignored with the reason. at gives an
// object's namespace and name.
func visible[T any](w *World, kind string, objs []T, at func(T) (ns, name string)) []T {
	var out []T
	for _, o := range objs {
		ns, name := at(o)
		if !w.Selected(ns) {
			w.Ignored = append(w.Ignored, fmt.Sprintf("%s %s/%s (namespace %s is outside the mesh config's discoverySelectors)", kind, ns, name, ns))
			continue
		}
		out = append(out, o)
	}
	return out
}

// Selected reports whether istiod watches namespace ns.
func (w *World) Selected(ns string) bool {
	if len(w.Mesh.DiscoverySelectors) == 0 {
		return true
	}
	// A copy: the World is shared by concurrent requests, which ask this.
	labels := map[string]string{"kubernetes.io/metadata.name": ns}
	for k, v := range w.Namespaces[ns] {
		labels[k] = v
	}
	for _, s := range w.Mesh.DiscoverySelectors {
		if s.Matches(labels) {
			return true
		}
	}
	return false
}

// intOf reads a number as the API server (int64) or a YAML decoder
// (float64) gives it.
func intOf(v any) (int, bool) {
	switch n := v.(type) {
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	case int:
		return n, true
	}
	return 0, false
}

func pod(o *unstructured.Unstructured) *Pod {
	p := &Pod{Name: o.GetName(), Namespace: o.GetNamespace(), Labels: o.GetLabels(), Annotations: o.GetAnnotations(),
		Start: o.GetCreationTimestamp().Time}
	p.ServiceAccount, _, _ = unstructured.NestedString(o.Object, "spec", "serviceAccountName")
	for _, field := range []string{"containers", "initContainers"} {
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", field)
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok && m["name"] == "istio-proxy" {
				p.Sidecar = true
			}
		}
	}
	phase, _, _ := unstructured.NestedString(o.Object, "status", "phase")
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	ready := false
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" && m["status"] == "True" {
			ready = true
		}
	}
	p.Running = phase == "Running" && ready
	if s, _, _ := unstructured.NestedString(o.Object, "status", "startTime"); s != "" {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			p.Start = t
		}
	}
	p.IP, _, _ = unstructured.NestedString(o.Object, "status", "podIP")
	p.Workload = p.Name
	for _, ref := range o.GetOwnerReferences() {
		switch ref.Kind {
		case "ReplicaSet":
			if h := p.Labels["pod-template-hash"]; h != "" {
				p.Workload = strings.TrimSuffix(ref.Name, "-"+h)
			} else if i := strings.LastIndex(ref.Name, "-"); i > 0 {
				p.Workload = ref.Name[:i]
			}
		default:
			p.Workload = ref.Name
		}
	}
	return p
}

// Service returns the Service a host names, as a caller in namespace
// from resolves it (name, name.ns, name.ns.svc, FQDN), or nil.
func (w *World) Service(host, from string) *Service {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	parts := strings.Split(strings.TrimSuffix(host, ".svc.cluster.local"), ".")
	name, ns := parts[0], from
	if len(parts) > 1 {
		ns = parts[1]
	}
	if len(parts) > 2 && parts[2] != "svc" {
		return nil
	}
	for _, s := range w.Services {
		if s.Name == name && s.Namespace == ns {
			return s
		}
	}
	return nil
}

// Endpoints are the running pods a Service selects, narrowed by subset
// labels.
func (w *World) Endpoints(s *Service, subset map[string]string) []*Pod {
	if s == nil || len(s.Selector) == 0 {
		return nil
	}
	var out []*Pod
	for _, p := range w.Pods {
		if p.Namespace != s.Namespace || !p.Running || !labelsMatch(s.Selector, p.Labels) || !labelsMatch(subset, p.Labels) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func labelsMatch(want, have map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// exported reports whether an object in ns with exportTo is visible to
// a caller in from.
func exported(exportTo []string, ns, from string) bool {
	if len(exportTo) == 0 {
		return true
	}
	for _, e := range exportTo {
		if e == "*" || e == from || (e == "." && ns == from) {
			return true
		}
	}
	return false
}

// fqdn expands a host in a VirtualService or DestinationRule written in
// namespace ns.
func fqdn(host, ns string) string {
	host = strings.ToLower(host)
	if host == "*" || strings.Contains(host, ".svc.cluster.local") {
		return host
	}
	parts := strings.Split(host, ".")
	switch len(parts) {
	case 1:
		return host + "." + ns + ".svc.cluster.local"
	case 2:
		return host + ".svc.cluster.local"
	}
	return host
}
