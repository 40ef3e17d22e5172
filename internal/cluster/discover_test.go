package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/assets/rbac"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// lab is a cluster state as Istio 1.29 with a revision leaves it: istiod
// of revision 1-29-0 in cp, a mesh config naming root as the root
// namespace, a sidecar namespace with one native and one classic
// sidecar pod, an ambient namespace, and ztunnel.
const lab = `apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod-1-29-0, namespace: {{cp}}, labels: {app: istiod, istio.io/rev: 1-29-0}}
spec:
  replicas: 2
  selector: {matchLabels: {app: istiod}}
  template:
    metadata: {labels: {app: istiod}}
    spec:
      containers: [{name: discovery, image: "docker.io/istio/pilot:1.29.0-distroless"}]
status: {replicas: 2, availableReplicas: 1, readyReplicas: 1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-1-29-0, namespace: {{cp}}}
data:
  mesh: |
    accessLogFile: /dev/stdout
    rootNamespace: {{root}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ztunnel, namespace: {{cp}}, labels: {app: ztunnel}}
spec:
  selector: {matchLabels: {app: ztunnel}}
  template:
    metadata: {labels: {app: ztunnel}}
    spec:
      containers: [{name: istio-proxy, image: "docker.io/istio/ztunnel:1.29.0"}]
---
apiVersion: v1
kind: Pod
metadata: {name: native, namespace: {{side}}}
spec:
  initContainers: [{name: istio-proxy, image: proxyv2, restartPolicy: Always}]
  containers: [{name: app, image: app}]
---
apiVersion: v1
kind: Pod
metadata: {name: classic, namespace: {{side}}}
spec:
  containers: [{name: app, image: app}, {name: istio-proxy, image: proxyv2}]
---
apiVersion: v1
kind: Pod
metadata: {name: amb, namespace: {{amb}}, annotations: {ambient.istio.io/redirection: enabled}}
spec:
  containers: [{name: app, image: app}]
---
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: {{amb}}}
spec:
  containers: [{name: app, image: app}]
`

func TestDiscovery(t *testing.T) {
	c := testcluster.Shared(t)
	ctx := context.Background()
	cp, root := c.Namespace(t), c.Namespace(t)
	side := c.Namespace(t, "istio.io/rev", "1-29-0")
	amb := c.Namespace(t, "istio.io/dataplane-mode", "ambient")
	state := strings.NewReplacer("{{cp}}", cp, "{{root}}", root, "{{side}}", side, "{{amb}}", amb).Replace(lab)
	if err := c.Apply(ctx, state); err != nil {
		t.Fatal(err)
	}

	// The reader's ServiceAccount bound only to the shipped ClusterRole
	// sees all of it: discovery needs nothing more.
	if err := c.Apply(ctx, rbac.Reader+"\n---\n"+rbac.BindingExample); err != nil {
		t.Fatal(err)
	}
	sa, err := c.ServiceAccount(ctx, "meshdojo", "meshdojo")
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []struct {
		name string
		path string
	}{{"admin", realKubeconfig(t, nil)}, {"meshdojo-reader", realKubeconfig(t, sa)}} {
		t.Run(who.name, func(t *testing.T) {
			conn, err := Connect(ctx, Options{Kubeconfig: who.path})
			if err != nil {
				t.Fatal(err)
			}
			d := conn.Discovery
			if len(d.Notes) != 0 {
				t.Errorf("notes: %q", d.Notes)
			}
			if v := d.Served["peerauthentications.security.istio.io"]; v != "v1" {
				t.Errorf("peerauthentications read at %q, want v1", v)
			}
			if v := d.Served["pods"]; v != "v1" {
				t.Errorf("pods read at %q", v)
			}
			if conn.Info.Served["virtualservices.networking.istio.io"] != "v1" || conn.Info.RootNamespace != root {
				t.Errorf("ClusterInfo: %+v", conn.Info)
			}
			i := slices.IndexFunc(d.Istio, func(a API) bool { return a.Name() == "virtualservices.networking.istio.io" })
			if i < 0 || !slices.Equal(d.Istio[i].Versions, []string{"v1", "v1beta1", "v1alpha3"}) || d.Istio[i].Kind != "VirtualService" {
				t.Errorf("virtualservices: %+v", d.Istio)
			}
			if !slices.ContainsFunc(d.GatewayAPI, func(a API) bool { return a.Name() == "httproutes.gateway.networking.k8s.io" && a.Version == "v1" }) {
				t.Errorf("gateway API: %+v", d.GatewayAPI)
			}
			want := Istiod{Namespace: cp, Name: "istiod-1-29-0", Revision: "1-29-0", Version: "1.29.0",
				Image: "docker.io/istio/pilot:1.29.0-distroless", Ready: 1, Replicas: 2}
			if len(d.ControlPlanes) != 1 || d.ControlPlanes[0] != want {
				t.Errorf("control planes: %+v", d.ControlPlanes)
			}
			if d.RootNamespace != root || !strings.Contains(d.RootNamespaceFrom, "istio-1-29-0") {
				t.Errorf("root namespace %q from %q", d.RootNamespace, d.RootNamespaceFrom)
			}
			dp := d.DataPlane
			if dp.Mode != "mixed" || dp.Sidecar != "mixed" || !dp.Ztunnel {
				t.Errorf("data plane: %+v", dp)
			}
			for _, e := range dp.Namespaces {
				switch e.Name {
				case side:
					if e.Mode != "sidecar" || e.Revision != "1-29-0" || e.Native != 1 || e.Classic != 1 || e.Sampled != 2 {
						t.Errorf("sidecar namespace: %+v", e)
					}
				case amb:
					if e.Mode != "ambient" || e.Ambient != 1 || e.NoProxy != 1 {
						t.Errorf("ambient namespace: %+v", e)
					}
				}
			}
		})
	}
}

// TestDiscoveryWithoutPermissions: credentials that may read nothing
// still connect; discovery says what it could not see.
func TestDiscoveryWithoutPermissions(t *testing.T) {
	c := testcluster.Shared(t)
	conn, err := Connect(context.Background(), Options{Kubeconfig: realKubeconfig(t, c.Impersonate("nobody"))})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(conn.Discovery.Notes, "\n")
	for _, want := range []string{"istiod Deployments", "namespaces", "ztunnel"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if conn.Discovery.RootNamespace != "istio-system" || conn.Discovery.DataPlane.Mode != "unknown" {
		t.Errorf("fallbacks: root %q mode %q", conn.Discovery.RootNamespace, conn.Discovery.DataPlane.Mode)
	}
	// Discovery of the APIs themselves is open to every authenticated user.
	if conn.Info.Served["peerauthentications.security.istio.io"] != "v1" {
		t.Errorf("served: %v", fmt.Sprint(len(conn.Info.Served)))
	}
}
