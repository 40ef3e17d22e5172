package checks

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var paGVR = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}

func TestMapError(t *testing.T) {
	e := &DirectEnv{info: ClusterInfo{Server: "https://127.0.0.1:6443"}}
	nf := e.mapError(apierrors.NewNotFound(schema.GroupResource{}, ""), paGVR, "bookinfo", "list")
	if !errors.Is(nf, ErrNotServed) || nf.Error() != "Istio is not installed: peerauthentications.security.istio.io is not served" {
		t.Errorf("not found: %v", nf)
	}
	fb := e.mapError(apierrors.NewForbidden(paGVR.GroupResource(), "", errors.New("no")), paGVR, "bookinfo", "list")
	if !apierrors.IsForbidden(fb) {
		t.Errorf("forbidden lost its status: %v", fb)
	}
	for _, want := range []string{"list", "peerauthentications.security.istio.io", "namespace bookinfo", `apiGroups: ["security.istio.io"]`} {
		if !strings.Contains(fb.Error(), want) {
			t.Errorf("forbidden message %q lacks %q", fb, want)
		}
	}
	r := ErrorResult(fb)
	if r.Verdict != Error || r.Code != CodeForbidden || len(r.Conditions) != 1 || r.Conditions[0].Fix == "" {
		t.Errorf("ErrorResult(forbidden) = %+v", r)
	}
	gw := &NotServedError{GVR: schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}}
	if !strings.HasPrefix(gw.Error(), "the Gateway API CRDs are not installed") {
		t.Errorf("gateway: %v", gw)
	}
	un := e.mapError(apierrors.NewServiceUnavailable("restarting"), paGVR, "", "list")
	if !errors.Is(un, ErrUnreachable) || ErrorResult(un).Code != CodeUnreachable {
		t.Errorf("unavailable: %v", un)
	}
}

func TestResolveVersion(t *testing.T) {
	info := ClusterInfo{Served: map[string]string{"peerauthentications.security.istio.io": "v1beta1"}}
	if got := ResolveVersion(info, paGVR).Version; got != "v1beta1" {
		t.Errorf("version = %s", got)
	}
	if got := ResolveVersion(ClusterInfo{}, paGVR).Version; got != "v1" {
		t.Errorf("version = %s", got)
	}
}
