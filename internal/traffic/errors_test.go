package traffic

import (
	"context"
	"errors"
	"fmt"
	"testing"

	authv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// Callers tell a refusal from a missing gateway by the error's type, not
// its text: finding the ingress keeps the API's Forbidden in its chain,
// whether the Services or the gateways could not be listed.
func TestFindIngressKeepsForbidden(t *testing.T) {
	forbid := func(resource string) k8stesting.ReactionFunc {
		return func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", errors.New("no"))
		}
	}
	gwKinds := map[schema.GroupVersionResource]string{}
	for _, g := range append(append([]schema.GroupVersionResource{}, istioGateways...), apiGateways...) {
		gwKinds[g] = "GatewayList"
	}

	kube := fake.NewClientset()
	kube.PrependReactor("list", "services", forbid("services"))
	_, err := FindIngress(context.Background(), kube, dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), gwKinds), Want{})
	if !errors.Is(err, ErrNoIngress) || !apierrors.IsForbidden(err) {
		t.Errorf("services refused: %v (ErrNoIngress %v, forbidden %v)", err, errors.Is(err, ErrNoIngress), apierrors.IsForbidden(err))
	}

	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), gwKinds)
	dyn.PrependReactor("list", "gateways", forbid("gateways"))
	_, err = FindIngress(context.Background(), fake.NewClientset(), dyn, Want{})
	if !errors.Is(err, ErrNoIngress) || !apierrors.IsForbidden(err) {
		t.Errorf("gateways refused: %v", err)
	}

	// Nothing refused, nothing there: not a refusal.
	_, err = FindIngress(context.Background(), fake.NewClientset(), dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), gwKinds), Want{})
	if !errors.Is(err, ErrNoIngress) || apierrors.IsForbidden(err) {
		t.Errorf("nothing there: %v", err)
	}
}

// A port-forward refused by RBAC reaches the caller as Forbidden: the
// API server is asked, since client-go's SPDY fallback reports the
// refusal only as text.
func TestForwardRefusalAsksTheAPIServer(t *testing.T) {
	refused := fmt.Errorf("%w to pod ns/gw-0 port 8080: unable to upgrade connection: pods \"gw-0\" is forbidden", ErrForwardRefused)
	for _, allowed := range []bool{false, true} {
		kube := fake.NewClientset()
		var asked *authv1.ResourceAttributes
		kube.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
			r := a.(k8stesting.CreateAction).GetObject().(*authv1.SelfSubjectAccessReview)
			asked = r.Spec.ResourceAttributes
			r.Status = authv1.SubjectAccessReviewStatus{Allowed: allowed, Reason: "no binding"}
			return true, r, nil
		})
		err := forwardRefusal(context.Background(), kube, "ns", "gw-0", refused)
		if asked == nil || asked.Verb != "create" || asked.Resource != "pods" || asked.Subresource != "portforward" || asked.Namespace != "ns" {
			t.Fatalf("asked about %+v", asked)
		}
		if apierrors.IsForbidden(err) == allowed || !errors.Is(err, ErrForwardRefused) {
			t.Errorf("allowed=%v: %v (forbidden %v)", allowed, err, apierrors.IsForbidden(err))
		}
	}
	// Another failure is not looked into.
	other := errors.New("context canceled")
	if err := forwardRefusal(context.Background(), fake.NewClientset(), "ns", "gw-0", other); err != other {
		t.Errorf("not a refused forward: %v", err)
	}
}

// The WebSocket tunnel's refusal carries the API server's status as the
// cause of an UpgradeFailureError, which does not unwrap to it.
func TestUpgradeCauseUnwraps(t *testing.T) {
	status := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "gw-0", errors.New("no"))
	err := fmt.Errorf("%w: %w", ErrForwardRefused, upgradeCause(&streamhttp.UpgradeFailureError{Cause: status}))
	if !apierrors.IsForbidden(err) || !errors.Is(err, ErrForwardRefused) {
		t.Errorf("%v: forbidden %v", err, apierrors.IsForbidden(err))
	}
}
