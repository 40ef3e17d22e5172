package cli

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// meshdojo reset puts back what a break wrote in the context, after
// asking; without a yes nothing changes.
func TestResetRestoresBreaks(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	kc := kubeconfigFor(t, nil)
	c.ApplyT(t, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: productpage-ingress, namespace: "+ns+"}\nspec:\n  selector: {istio: ingressgateway}\n  servers: [{port: {number: 9080, name: http, protocol: HTTP}, hosts: ['*']}]\n")

	objs, errs := breaks.Parse("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: productpage-ingress, namespace: " + ns + "}\nspec:\n  selector: {istio: ingress-gateway}\n")
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	bc, err := breaks.New(c.Config, "testcluster", state+"/meshdojo", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := bc.Plan(t.Context(), "14.gateway-selector", objs)
	if err != nil {
		t.Fatal(err)
	}
	if err := bc.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	sel := func() string {
		o, err := bc.Dyn.Resource(breaks.Kinds[4].GVR).Namespace(ns).Get(t.Context(), "productpage-ingress", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := unstructured.NestedString(o.Object, "spec", "selector", "istio")
		return v
	}

	code, out, _ := run(t, "", false, "reset", "--kubeconfig", kc)
	if code != 1 || !strings.Contains(out, "14.gateway-selector") || !strings.Contains(out, "Gateway "+ns+"/productpage-ingress: put back") || sel() != "ingress-gateway" {
		t.Fatalf("reset without consent: exit %d, selector %q, output:\n%s", code, sel(), out)
	}
	code, out, errOut := run(t, "y\n", false, "reset", "--kubeconfig", kc)
	if code != 0 || sel() != "ingressgateway" || !strings.Contains(out, "restored: Gateway "+ns+"/productpage-ingress") {
		t.Fatalf("reset: exit %d, selector %q, output:\n%s%s", code, sel(), out, errOut)
	}
	code, out, _ = run(t, "", false, "reset", "--kubeconfig", kc)
	if code != 0 || !strings.Contains(out, "Nothing to put back") {
		t.Fatalf("second reset: exit %d:\n%s", code, out)
	}
}

// show prints a step's break, so a reader without the UI sees what B
// would write.
func TestShowPrintsTheBreak(t *testing.T) {
	code, out, _ := run(t, "", false, "show", "--lesson", "14", "--step", "2")
	if code != 0 || !strings.Contains(out, "Break 14.subset-without-pods") || !strings.Contains(out, "      version: v3-canary") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
