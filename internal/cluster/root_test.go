package cluster

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestRootNamespaceDefault: a mesh config without rootNamespace leaves
// Istio's default, istio-system, even when istiod runs elsewhere (the
// real-server case with rootNamespace set is in TestDiscovery).
func TestRootNamespaceDefault(t *testing.T) {
	kube := fake.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "istio", Namespace: "mesh-cp"},
		Data:       map[string]string{"mesh": "accessLogFile: /dev/stdout\n"},
	})
	d := &Discovery{ControlPlanes: []Istiod{{Namespace: "mesh-cp", Name: "istiod", Revision: "default"}}}
	d.rootNamespace(context.Background(), kube, func(f string, a ...any) { t.Errorf("note: "+f, a...) })
	if d.RootNamespace != "istio-system" {
		t.Errorf("root namespace %q (%s), want istio-system", d.RootNamespace, d.RootNamespaceFrom)
	}
}
