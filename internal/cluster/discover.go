package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/meshdojo/meshdojo/checks/engine"
)

// Discovery is everything learned about the cluster at connect time.
// ClusterInfo carries the part checks need; doctor prints all of it.
type Discovery struct {
	Context       string
	Server        string
	ServerVersion string // e.g. v1.33.1
	// Served maps "resource.group" to the version meshdojo reads it at.
	Served map[string]string
	// ClusterScoped holds the "resource.group" names that are not
	// namespaced (nodes, namespaces, CRDs, webhook configurations).
	ClusterScoped map[string]bool
	Istio         []API // resources of the *.istio.io groups
	GatewayAPI    []API // resources of gateway.networking.k8s.io (and x-k8s.io)
	// ControlPlanes are the istiod Deployments (label app=istiod).
	ControlPlanes []Istiod
	// ControlPlanesUnread says why ControlPlanes could not be looked
	// for (a refused list); empty when they were, found or not.
	ControlPlanesUnread string `json:",omitempty"`
	// RootNamespace is Istio's root namespace, where mesh-wide policies
	// live; RootNamespaceFrom says how it was found.
	RootNamespace     string
	RootNamespaceFrom string
	DataPlane         DataPlane
	// Notes are things discovery could not read, and why. Discovery
	// never fails as a whole: a missing permission only narrows it.
	Notes []string
}

// API is one served resource and the versions serving it.
type API struct {
	Resource string   // plural, e.g. peerauthentications
	Group    string   // e.g. security.istio.io
	Kind     string   // e.g. PeerAuthentication
	Versions []string // every served version, e.g. [v1 v1beta1]
	Version  string   // the one meshdojo reads (v1 when served)
}

func (a API) Name() string { return a.Resource + "." + a.Group }

// Istiod is one control-plane Deployment.
type Istiod struct {
	Namespace string
	Name      string
	Revision  string // istio.io/rev label, "default" when absent
	Version   string // from the image tag, e.g. 1.29.0
	Image     string
	Ready     int32 // available replicas
	Replicas  int32
}

// DataPlane says how workloads join the mesh, from namespace labels and
// a sample of pods in the enrolled namespaces.
type DataPlane struct {
	// Mode is sidecar, ambient, mixed (both), or none (no namespace is
	// enrolled yet).
	Mode string
	// Sidecar is classic (istio-proxy a regular container), native (an
	// init container with restartPolicy Always, Istio's default on
	// Kubernetes 1.33+), mixed, or "" when no sampled pod has one.
	Sidecar string
	Ztunnel bool // a ztunnel DaemonSet exists (ambient is installed)
	// ZtunnelUnread says why DaemonSets could not be looked at; Ztunnel
	// is then unknown, not false.
	ZtunnelUnread string `json:",omitempty"`
	Namespaces    []EnrolledNamespace
}

// EnrolledNamespace is a namespace labelled for the mesh, and what its
// sampled pods run.
type EnrolledNamespace struct {
	Name     string
	Mode     string // sidecar or ambient
	Revision string // istio.io/rev value, if any
	Sampled  int    // pods looked at (at most podSample)
	Classic  int
	Native   int
	Ambient  int
	NoProxy  int
}

const (
	podSample       = 20 // pods read per enrolled namespace
	namespaceSample = 10 // enrolled namespaces whose pods are sampled
)

var meshGroups = []string{"gateway.networking.k8s.io", "gateway.networking.x-k8s.io"}

func discover(ctx context.Context, dc *discovery.DiscoveryClient, kube kubernetes.Interface, t *Target) *Discovery {
	d := &Discovery{Context: t.Context, Server: t.Server}
	var mu sync.Mutex
	note := func(format string, a ...any) {
		mu.Lock()
		d.Notes = append(d.Notes, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	wg.Go(func() { d.apis(ctx, dc, note) })
	wg.Go(func() {
		d.controlPlanes(ctx, kube, note)
		d.rootNamespace(ctx, kube, note)
	})
	wg.Go(func() { d.dataPlane(ctx, kube, note) })
	wg.Wait()
	sort.Strings(d.Notes)
	return d
}

func (d *Discovery) apis(ctx context.Context, dc *discovery.DiscoveryClient, note func(string, ...any)) {
	groups, lists, err := dc.ServerGroupsAndResourcesWithContext(ctx)
	if err != nil && len(lists) == 0 {
		note("could not list the served APIs: %v", err)
		return
	}
	// A partial failure (an aggregated API such as metrics.k8s.io being
	// down) still gives every other group.
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		note("API discovery was incomplete: %v", err)
	}
	d.Served = engine.ServedResources(groups, lists)
	d.ClusterScoped = map[string]bool{}
	byName := map[string]*API{}
	for _, l := range lists {
		if gv, err := schema.ParseGroupVersion(l.GroupVersion); err == nil {
			for _, r := range l.APIResources {
				if !r.Namespaced && !strings.Contains(r.Name, "/") {
					d.ClusterScoped[strings.TrimSuffix(r.Name+"."+gv.Group, ".")] = true
				}
			}
		}
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil || !(strings.HasSuffix(gv.Group, ".istio.io") || contains(meshGroups, gv.Group)) {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			key := r.Name + "." + gv.Group
			a := byName[key]
			if a == nil {
				a = &API{Resource: r.Name, Group: gv.Group, Kind: r.Kind, Version: d.Served[key]}
				byName[key] = a
			}
			a.Versions = append(a.Versions, gv.Version)
		}
	}
	for _, a := range byName {
		sort.Slice(a.Versions, func(i, j int) bool { return versionLess(a.Versions[j], a.Versions[i]) })
		if strings.HasSuffix(a.Group, ".istio.io") {
			d.Istio = append(d.Istio, *a)
		} else {
			d.GatewayAPI = append(d.GatewayAPI, *a)
		}
	}
	for _, s := range [][]API{d.Istio, d.GatewayAPI} {
		sort.Slice(s, func(i, j int) bool { return s[i].Name() < s[j].Name() })
	}
}

// versionLess orders Kubernetes API versions as the API server does:
// by stability first (alpha < beta < GA), then by number, so
// v1alpha3 < v1beta1 < v1 < v2.
func versionLess(a, b string) bool {
	rank := func(v string) (stability, major, minor int) {
		v = strings.TrimPrefix(v, "v")
		i := strings.IndexAny(v, "ab")
		if i < 0 {
			return 2, atoi(v), 0
		}
		major, rest := atoi(v[:i]), v[i:]
		if strings.HasPrefix(rest, "alpha") {
			return 0, major, atoi(strings.TrimPrefix(rest, "alpha"))
		}
		return 1, major, atoi(strings.TrimPrefix(rest, "beta"))
	}
	as, am, an := rank(a)
	bs, bm, bn := rank(b)
	if as != bs {
		return as < bs
	}
	if am != bm {
		return am < bm
	}
	return an < bn
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return n
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func (d *Discovery) controlPlanes(ctx context.Context, kube kubernetes.Interface, note func(string, ...any)) {
	l, err := kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"})
	if err != nil {
		d.ControlPlanesUnread = short(err)
		note("could not look for istiod Deployments (label app=istiod): %v", short(err))
		return
	}
	for _, dep := range l.Items {
		rev := dep.Labels["istio.io/rev"]
		if rev == "" {
			rev = "default"
		}
		i := Istiod{Namespace: dep.Namespace, Name: dep.Name, Revision: rev, Ready: dep.Status.AvailableReplicas}
		if dep.Spec.Replicas != nil {
			i.Replicas = *dep.Spec.Replicas
		}
		for _, c := range dep.Spec.Template.Spec.Containers {
			if c.Name == "discovery" || i.Image == "" {
				i.Image = c.Image
			}
		}
		i.Version = ImageVersion(i.Image)
		d.ControlPlanes = append(d.ControlPlanes, i)
	}
	sort.Slice(d.ControlPlanes, func(a, b int) bool {
		x, y := d.ControlPlanes[a], d.ControlPlanes[b]
		return x.Namespace+"/"+x.Name < y.Namespace+"/"+y.Name
	})
}

// ImageVersion is the version in an image reference's tag:
// "docker.io/istio/pilot:1.29.0-distroless" gives "1.29.0".
func ImageVersion(image string) string {
	image, _, _ = strings.Cut(image, "@")
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	if colon <= slash {
		return ""
	}
	tag := image[colon+1:]
	for _, suffix := range []string{"-distroless", "-debug"} {
		tag = strings.TrimSuffix(tag, suffix)
	}
	return tag
}

// rootNamespace reads meshConfig.rootNamespace from the mesh ConfigMap of
// the default revision (istio, or istio-<rev>), in istiod's namespace.
// When the mesh config does not set it, Istio uses its default mesh
// config's istio-system (pkg/config/mesh DefaultMeshConfig), wherever
// istiod runs; the Helm chart writes global.istioNamespace there.
func (d *Discovery) rootNamespace(ctx context.Context, kube kubernetes.Interface, note func(string, ...any)) {
	d.RootNamespace, d.RootNamespaceFrom = "istio-system", "Istio's default; no istiod was found"
	if d.ControlPlanesUnread != "" {
		d.RootNamespaceFrom = "Istio's default; where istiod runs could not be looked at"
	}
	if len(d.ControlPlanes) == 0 {
		return
	}
	cp := d.ControlPlanes[0]
	for _, c := range d.ControlPlanes {
		if c.Revision == "default" {
			cp = c
			break
		}
	}
	d.RootNamespaceFrom = "Istio's default; no mesh config in " + cp.Namespace + " sets rootNamespace"
	names := []string{"istio"}
	if cp.Revision != "default" {
		names = []string{"istio-" + cp.Revision, "istio"}
	}
	for _, name := range names {
		cm, err := kube.CoreV1().ConfigMaps(cp.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			note("could not read the mesh config %s/%s: %v", cp.Namespace, name, short(err))
			return
		}
		var mesh struct {
			RootNamespace string `json:"rootNamespace"`
		}
		if err := yaml.Unmarshal([]byte(cm.Data["mesh"]), &mesh); err != nil {
			note("mesh config %s/%s is not valid YAML: %v", cp.Namespace, name, err)
			return
		}
		if mesh.RootNamespace != "" {
			d.RootNamespace = mesh.RootNamespace
			d.RootNamespaceFrom = "rootNamespace in the mesh config " + cp.Namespace + "/" + name
		}
		return
	}
}

func (d *Discovery) dataPlane(ctx context.Context, kube kubernetes.Interface, note func(string, ...any)) {
	dp := &d.DataPlane
	dp.Mode = "none"
	if l, err := kube.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{LabelSelector: "app=ztunnel", Limit: 1}); err == nil {
		dp.Ztunnel = len(l.Items) > 0
	} else {
		dp.ZtunnelUnread = short(err)
		note("could not look for a ztunnel DaemonSet: %v", short(err))
	}
	nss, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		note("could not list namespaces to find enrolled ones: %v", short(err))
		dp.Mode = "unknown"
		return
	}
	sidecar, ambient := 0, 0
	for _, ns := range nss.Items {
		e := EnrolledNamespace{Name: ns.Name, Revision: ns.Labels["istio.io/rev"]}
		switch {
		case ns.Labels["istio.io/dataplane-mode"] == "ambient":
			e.Mode = "ambient"
			ambient++
		case ns.Labels["istio-injection"] == "enabled" || e.Revision != "":
			e.Mode = "sidecar"
			sidecar++
		default:
			continue
		}
		dp.Namespaces = append(dp.Namespaces, e)
	}
	switch {
	case sidecar > 0 && ambient > 0:
		dp.Mode = "mixed"
	case ambient > 0:
		dp.Mode = "ambient"
	case sidecar > 0:
		dp.Mode = "sidecar"
	}
	var wg sync.WaitGroup
	for i := range dp.Namespaces {
		if i >= namespaceSample {
			break
		}
		e := &dp.Namespaces[i]
		wg.Go(func() {
			pods, err := kube.CoreV1().Pods(e.Name).List(ctx, metav1.ListOptions{Limit: podSample})
			if err != nil {
				note("could not sample pods in %s: %v", e.Name, short(err))
				return
			}
			for i := range pods.Items {
				e.Sampled++
				switch ProxyOf(&pods.Items[i]) {
				case "native":
					e.Native++
				case "classic":
					e.Classic++
				case "ambient":
					e.Ambient++
				default:
					e.NoProxy++
				}
			}
		})
	}
	wg.Wait()
	native, classic := 0, 0
	for _, e := range dp.Namespaces {
		native += e.Native
		classic += e.Classic
	}
	switch {
	case native > 0 && classic > 0:
		dp.Sidecar = "mixed"
	case native > 0:
		dp.Sidecar = "native"
	case classic > 0:
		dp.Sidecar = "classic"
	}
}

// ProxyOf says how a pod joins the mesh: "native" (istio-proxy is an init
// container with restartPolicy Always), "classic" (a regular container),
// "ambient" (ztunnel redirects its traffic), or "" (not in the mesh).
func ProxyOf(p *corev1.Pod) string {
	for _, c := range p.Spec.InitContainers {
		if c.Name == "istio-proxy" && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			return "native"
		}
	}
	for _, c := range p.Spec.Containers {
		if c.Name == "istio-proxy" {
			return "classic"
		}
	}
	if p.Annotations["ambient.istio.io/redirection"] == "enabled" {
		return "ambient"
	}
	return ""
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// short trims an API error to its message, without the Go type noise.
func short(err error) string {
	if s, ok := err.(apierrors.APIStatus); ok {
		return s.Status().Message
	}
	return err.Error()
}
