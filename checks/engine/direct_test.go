package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

var paGVR = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}

func TestClassify(t *testing.T) {
	const server = "https://127.0.0.1:6443"
	nf := classify(server, apierrors.NewNotFound(schema.GroupResource{}, ""), paGVR, "bookinfo", "list")
	if !errors.Is(nf, checks.ErrNotServed) || nf.Error() != "Istio is not installed: peerauthentications.security.istio.io is not served" {
		t.Errorf("not found: %v", nf)
	}
	fb := classify(server, apierrors.NewForbidden(paGVR.GroupResource(), "", errors.New("no")), paGVR, "bookinfo", "list")
	if !apierrors.IsForbidden(fb) {
		t.Errorf("forbidden lost its status: %v", fb)
	}
	for _, want := range []string{"list", "peerauthentications.security.istio.io", "namespace bookinfo", `apiGroups: ["security.istio.io"]`} {
		if !strings.Contains(fb.Error(), want) {
			t.Errorf("forbidden message %q lacks %q", fb, want)
		}
	}
	r := checks.ErrorResult(fb)
	if r.Verdict != checks.Error || r.Code != checks.CodeForbidden || len(r.Conditions) != 1 || r.Conditions[0].Fix == "" {
		t.Errorf("ErrorResult(forbidden) = %+v", r)
	}
	gw := &checks.NotServedError{GVR: schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}}
	if !strings.HasPrefix(gw.Error(), "the Gateway API CRDs are not installed") {
		t.Errorf("gateway: %v", gw)
	}
	un := classify(server, apierrors.NewServiceUnavailable("restarting"), paGVR, "", "list")
	if !errors.Is(un, checks.ErrUnreachable) || checks.ErrorResult(un).Code != checks.CodeUnreachable {
		t.Errorf("unavailable: %v", un)
	}
	// Errors that never got an API status: the server went away mid-read.
	for _, err := range []error{
		io.EOF,
		&url.Error{Op: "Get", URL: server, Err: io.ErrUnexpectedEOF},
		&url.Error{Op: "Get", URL: server, Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}},
		fmt.Errorf("stream error: %w", errors.New("http2: server sent GOAWAY and closed the connection")),
	} {
		got := classify(server, err, paGVR, "bookinfo", "list")
		if !errors.Is(got, checks.ErrUnreachable) || checks.ErrorResult(got).Code != checks.CodeUnreachable {
			t.Errorf("classify(%v) = %v, want unreachable", err, got)
		}
	}
	// A request the caller cancelled says so; the server is not blamed.
	if got := classify(server, &url.Error{Op: "Get", URL: server, Err: context.Canceled}, paGVR, "bookinfo", "list"); errors.Is(got, checks.ErrUnreachable) || !errors.Is(got, context.Canceled) {
		t.Errorf("cancelled: %v", got)
	}
	// An API status that is none of the above stays a read failure.
	bad := classify(server, apierrors.NewBadRequest("nope"), paGVR, "bookinfo", "list")
	if errors.Is(bad, checks.ErrUnreachable) || checks.ErrorResult(bad).Code != checks.CodeReadFailed {
		t.Errorf("bad request: %v", bad)
	}
}

func TestResolveVersion(t *testing.T) {
	info := checks.ClusterInfo{Served: map[string]string{"peerauthentications.security.istio.io": "v1beta1"}}
	if got := ResolveVersion(info, paGVR).Version; got != "v1beta1" {
		t.Errorf("version = %s", got)
	}
	if got := ResolveVersion(checks.ClusterInfo{}, paGVR).Version; got != "v1" {
		t.Errorf("version = %s", got)
	}
}

// TestDirectEnvRealServer reads through DirectEnv on the real API server:
// version fallback and ClusterInfo.Served, a resource that is not served,
// and a read the credentials may not make.
func TestDirectEnvRealServer(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	ctx := t.Context()
	if err := c.Apply(ctx, `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: stats, namespace: `+ns+`}
spec:
  configPatches: []
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: bookinfo, namespace: `+ns+`}
spec:
  mtls: {mode: STRICT}
`); err != nil {
		t.Fatal(err)
	}
	env := NewDirectEnv(clientsFor(t, c.Config), checks.ClusterInfo{Server: c.Config.Host})

	// EnvoyFilter is served only at v1alpha3: asking for v1 falls back.
	ef := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "envoyfilters"}
	objs, err := env.List(ctx, checks.Input{GVR: ef, Namespace: ns})
	if err != nil || len(objs) != 1 {
		t.Fatalf("envoyfilters via fallback: %d objects, %v", len(objs), err)
	}

	// Served decides the version: PeerAuthentication read at v1beta1.
	env2 := NewDirectEnv(clientsFor(t, c.Config), checks.ClusterInfo{Served: map[string]string{"peerauthentications.security.istio.io": "v1beta1"}})
	objs, err = env2.List(ctx, checks.Input{GVR: paGVR, Namespace: ns})
	if err != nil || len(objs) != 1 || objs[0].GetAPIVersion() != "security.istio.io/v1beta1" {
		t.Fatalf("peerauthentications at v1beta1: %v, %v", objs, err)
	}

	// Not served at all.
	_, err = env.List(ctx, checks.Input{GVR: schema.GroupVersionResource{Group: "telemetry.istio.io", Version: "v1", Resource: "nothings"}, Namespace: ns})
	if !errors.Is(err, checks.ErrNotServed) || err.Error() != "Istio is not installed: nothings.telemetry.istio.io is not served" {
		t.Errorf("not served: %v", err)
	}
	if r := checks.ErrorResult(err); r.Code != checks.CodeNotServed || r.Conditions[0].Fix == "" {
		t.Errorf("ErrorResult(not served) = %+v", r)
	}

	// Forbidden for a user without any role.
	envNo := NewDirectEnv(clientsFor(t, c.Impersonate("student")), checks.ClusterInfo{})
	_, err = envNo.List(ctx, checks.Input{GVR: paGVR, Namespace: ns})
	var fe *checks.ForbiddenError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "may not list peerauthentications.security.istio.io in namespace "+ns) {
		t.Errorf("forbidden: %v", err)
	}

	// The API server is gone: an Unreachable error, quickly.
	dead := rest.CopyConfig(c.Config)
	dead.Host = "https://127.0.0.1:1"
	_, err = NewDirectEnv(clientsFor(t, dead), checks.ClusterInfo{Server: dead.Host}).List(ctx, checks.Input{GVR: paGVR, Namespace: ns})
	if !errors.Is(err, checks.ErrUnreachable) || checks.ErrorResult(err).Code != checks.CodeUnreachable {
		t.Errorf("unreachable: %v", err)
	}
}

func clientsFor(t testing.TB, rc *rest.Config) *checks.Clients {
	t.Helper()
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &checks.Clients{Kube: kube, Dynamic: dyn, Config: rc}
}
