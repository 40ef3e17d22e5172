package testcluster

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestMain(m *testing.M) { Main(m) }

var (
	paGVR  = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}
	podGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

func TestCRDsInstalled(t *testing.T) {
	c := Shared(t)
	ctx := t.Context()
	kube := kubernetes.NewForConfigOrDie(c.Config)
	want := map[string]bool{
		"peerauthentications.security.istio.io":     false,
		"virtualservices.networking.istio.io":       false,
		"destinationrules.networking.istio.io":      false,
		"telemetries.telemetry.istio.io":            false,
		"gateways.gateway.networking.k8s.io":        false,
		"httproutes.gateway.networking.k8s.io":      false,
		"gatewayclasses.gateway.networking.k8s.io":  false,
		"referencegrants.gateway.networking.k8s.io": false,
	}
	crds, err := dynamic.NewForConfigOrDie(c.Config).Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds.Items {
		if _, ok := want[crd.GetName()]; ok {
			want[crd.GetName()] = true
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("CRD %s not installed", name)
		}
	}
	// Served by discovery, not only stored.
	rl, err := kube.Discovery().ServerResourcesForGroupVersion("gateway.networking.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rl.APIResources {
		names = append(names, r.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "httproutes") {
		t.Errorf("gateway.networking.k8s.io/v1 serves %v, want httproutes", names)
	}
	if _, err := kube.Discovery().ServerVersion(); err != nil {
		t.Errorf("server version: %v", err)
	}
}

func TestApplyStatusImpersonateRestart(t *testing.T) {
	c := Shared(t)
	ctx := t.Context()
	ns := c.Namespace(t, "istio-injection", "enabled")
	y := `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: ` + ns + `
spec:
  mtls:
    mode: STRICT
---
# comments and empty documents are fine
---
apiVersion: v1
kind: Pod
metadata:
  name: productpage-v1
  namespace: ` + ns + `
  labels: {app: productpage, version: v1}
spec:
  containers:
  - name: productpage
    image: docker.io/istio/examples-bookinfo-productpage-v1:1.20.3
  - name: istio-proxy
    image: docker.io/istio/proxyv2:1.29.0
status:
  phase: Running
  conditions:
  - type: Ready
    status: "True"
  containerStatuses:
  - name: productpage
    ready: true
    restartCount: 0
    image: docker.io/istio/examples-bookinfo-productpage-v1:1.20.3
    imageID: ""
    state: {running: {}}
  - name: istio-proxy
    ready: true
    restartCount: 0
    image: docker.io/istio/proxyv2:1.29.0
    imageID: ""
    state: {running: {}}
`
	if err := c.Apply(ctx, y); err != nil {
		t.Fatal(err)
	}
	// Applying again updates in place.
	if err := c.Apply(ctx, strings.Replace(y, "STRICT", "PERMISSIVE", 1)); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	dyn := dynamic.NewForConfigOrDie(c.Config)
	pa, err := dyn.Resource(paGVR).Namespace(ns).Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mode, _, _ := unstructured.NestedString(pa.Object, "spec", "mtls", "mode"); mode != "PERMISSIVE" {
		t.Errorf("PeerAuthentication mode = %q, want PERMISSIVE", mode)
	}
	kube := kubernetes.NewForConfigOrDie(c.Config)
	pod, err := kube.CoreV1().Pods(ns).Get(ctx, "productpage-v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != "Running" || len(pod.Status.ContainerStatuses) != 2 || !pod.Status.ContainerStatuses[1].Ready {
		t.Errorf("pod status not written: %+v", pod.Status)
	}

	// A user with no bindings is denied by RBAC.
	nobody := kubernetes.NewForConfigOrDie(c.Impersonate("nobody", "readers"))
	_, err = nobody.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("list pods as nobody: err = %v, want Forbidden", err)
	}
	// ... until a binding lets the group read pods.
	if err := c.Apply(ctx, `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: `+ns+`}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: `+ns+`}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: readers}
`); err != nil {
		t.Fatal(err)
	}
	// The API server's RBAC authorizer reads bindings through its own
	// informers, so a new binding takes effect a moment after it is
	// stored; the time limit is only a guard against waiting forever.
	var listErr error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, listErr = nobody.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(listErr) || time.Now().After(deadline) {
			break
		}
	}
	if listErr != nil {
		t.Errorf("list pods as a member of readers: %v", listErr)
	}

	// The API server goes away and comes back with the same data and address.
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = kube.CoreV1().Pods(ns).Get(short, "productpage-v1", metav1.GetOptions{})
	cancel()
	if err == nil {
		t.Error("get pod while the API server is stopped: no error")
	}
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Pods(ns).Get(ctx, "productpage-v1", metav1.GetOptions{}); err != nil {
		t.Errorf("get pod after restart: %v", err)
	}

	// Delete removes the objects and ignores ones already gone.
	if err := c.Delete(ctx, y); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, y); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := kube.CoreV1().Pods(ns).Get(ctx, "productpage-v1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod after delete: err = %v, want NotFound", err)
	}
}

func TestApplyCRDThenUse(t *testing.T) {
	c := Shared(t)
	ns := c.Namespace(t)
	err := c.Apply(t.Context(), `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.meshdojo.dev}
spec:
  group: example.meshdojo.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: example.meshdojo.dev/v1
kind: Widget
metadata: {name: w, namespace: `+ns+`}
spec: {size: 3}
status: {ready: true}
`)
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "example.meshdojo.dev", Version: "v1", Resource: "widgets"}
	w, err := dynamic.NewForConfigOrDie(c.Config).Resource(gvr).Namespace(ns).Get(t.Context(), "w", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ready, _, _ := unstructured.NestedBool(w.Object, "status", "ready"); !ready {
		t.Errorf("widget status = %v, want ready", w.Object["status"])
	}
	// Deleting the CRD takes its objects and its kind with it.
	crd := "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.meshdojo.dev}\n"
	if err := c.Delete(t.Context(), crd); err != nil {
		t.Fatal(err)
	}
	err = c.Apply(t.Context(), "apiVersion: example.meshdojo.dev/v1\nkind: Widget\nmetadata: {name: w2, namespace: "+ns+"}\n")
	if err == nil || !strings.Contains(err.Error(), "Widget") {
		t.Errorf("apply a Widget after its CRD is deleted: err = %v, want no match for Widget", err)
	}
}

func TestDeploymentStatus(t *testing.T) {
	c := Shared(t)
	ns := c.Namespace(t)
	err := c.Apply(t.Context(), `
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v3, namespace: `+ns+`, labels: {app: reviews, version: v3}}
spec:
  replicas: 2
  selector: {matchLabels: {app: reviews, version: v3}}
  template:
    metadata: {labels: {app: reviews, version: v3}}
    spec:
      containers: [{name: reviews, image: docker.io/istio/examples-bookinfo-reviews-v3:1.20.3}]
status:
  observedGeneration: 1
  replicas: 2
  readyReplicas: 2
  availableReplicas: 2
  updatedReplicas: 2
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable}
`)
	if err != nil {
		t.Fatal(err)
	}
	d, err := kubernetes.NewForConfigOrDie(c.Config).AppsV1().Deployments(ns).Get(t.Context(), "reviews-v3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas != 2 || len(d.Status.Conditions) != 1 {
		t.Errorf("deployment status not written: %+v", d.Status)
	}
}

func TestDeleteNamespace(t *testing.T) {
	c := Shared(t)
	y := `
apiVersion: v1
kind: Namespace
metadata: {name: doomed}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm, namespace: doomed}
data: {k: v}
`
	if err := c.Apply(t.Context(), y); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(t.Context(), "apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n"); err != nil {
		t.Fatal(err)
	}
	// Recreating it must not bring back the old ConfigMap.
	if err := c.Apply(t.Context(), "apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n"); err != nil {
		t.Fatal(err)
	}
	_, err := kubernetes.NewForConfigOrDie(c.Config).CoreV1().ConfigMaps("doomed").Get(t.Context(), "cm", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap in recreated namespace: err = %v, want NotFound", err)
	}
}

func TestApplyErrors(t *testing.T) {
	c := Shared(t)
	for _, tc := range []struct{ yaml, want string }{
		{"apiVersion: v1\nkind: ConfigMap\n", "no metadata.name"},
		{"apiVersion: nope.example/v1\nkind: Nope\nmetadata: {name: x}\n", "Nope"},
		{"kind: [", "not valid YAML"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: [{port: -1}]}\n", "Service default/bad"},
	} {
		err := c.Apply(t.Context(), tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Apply(%q) = %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestKubeconfig(t *testing.T) {
	c := Shared(t)
	b, err := c.Kubeconfig(c.Impersonate("nobody"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().Secrets("default").List(t.Context(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("list secrets through an impersonating kubeconfig: err = %v, want Forbidden", err)
	}
}

func TestServiceAccount(t *testing.T) {
	c := Shared(t)
	ns := c.Namespace(t)
	cfg, err := c.ServiceAccount(t.Context(), ns, "meshdojo")
	if err != nil {
		t.Fatal(err)
	}
	_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "system:serviceaccount:"+ns+":meshdojo") {
		t.Errorf("list pods as a fresh service account: err = %v, want Forbidden for it", err)
	}
}

func TestMissingBinaries(t *testing.T) {
	t.Setenv("MESHDOJO_TESTBINS", t.TempDir())
	_, err := Start()
	if err == nil || !strings.Contains(err.Error(), "make testbins") {
		t.Errorf("Start with no binaries: err = %v, want one that says to run make testbins", err)
	}
}

// BenchmarkStart measures what every integration package pays once: etcd
// and kube-apiserver up, CRDs installed and served, and torn down again.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		c, err := Start()
		if err != nil {
			b.Fatal(err)
		}
		c.Stop()
	}
}
