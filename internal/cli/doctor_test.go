package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/assets/rbac"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

func TestDoctorRBAC(t *testing.T) {
	code, out, _ := run(t, "", false, "doctor", "--rbac")
	if code != 0 || out != rbac.All() {
		t.Errorf("--rbac: exit %d\n%s", code, out)
	}
}

// TestDoctorPermissions runs doctor as the ServiceAccount of the shipped
// binding example: with the reader role alone the probes' permissions are
// missing (exit 1, each named), and with the prober role too everything
// the lessons use is granted (exit 0).
func TestDoctorPermissions(t *testing.T) {
	c := testcluster.Shared(t)
	ctx := context.Background()
	if err := c.Apply(ctx, rbac.Reader+"\n---\n"+rbac.BindingExample); err != nil {
		t.Fatal(err)
	}
	sa, err := c.ServiceAccount(ctx, "meshdojo", "meshdojo")
	if err != nil {
		t.Fatal(err)
	}
	kc := kubeconfigFor(t, sa)

	code, out, _ := run(t, "", false, "doctor", "--kubeconfig", kc)
	for _, want := range []string{"Connection", "Kubernetes v1.", "peerauthentications.security.istio.io", "read at v1",
		"istiod      no Deployment labelled app=istiod", "may list, watch peerauthentications.security.istio.io",
		"NO    may not create, delete pods in bookinfo; affects pod-probe", "meshdojo doctor --rbac | kubectl apply -f -"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor as meshdojo-reader lacks %q", want)
		}
	}
	if code != 1 || t.Failed() {
		t.Fatalf("exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "", false, "doctor", "--kubeconfig", kc, "-o", "json")
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("json: exit %d %v\n%s", code, err, out)
	}
	denied := 0
	for _, p := range rep.Permissions {
		if !p.Allowed {
			denied++
			if p.Verb == "list" || p.Verb == "watch" {
				t.Errorf("the reader role refuses a read: %+v", p)
			}
		}
	}
	if denied == 0 || rep.Discovery == nil || rep.Context != "testcluster" {
		t.Errorf("json report: %d denied, %+v", denied, rep)
	}

	// Lesson 14's breaks write objects: the breaker role grants that, and
	// with all three roles doctor finds nothing missing.
	if err := c.Apply(ctx, rbac.Prober+"---\n"+rbac.Breaker+`
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: meshdojo-prober}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: meshdojo-prober}
subjects: [{kind: ServiceAccount, name: meshdojo, namespace: meshdojo}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: meshdojo-breaker}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: meshdojo-breaker}
subjects: [{kind: ServiceAccount, name: meshdojo, namespace: meshdojo}]
`); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "", false, "doctor", "--kubeconfig", kc)
	if code != 0 || !strings.Contains(out, "Every permission the lessons' checks use is granted.") || strings.Contains(out, "NO ") {
		t.Errorf("with reader, prober and breaker: exit %d\n%s", code, out)
	}
}

func TestDoctorNoCluster(t *testing.T) {
	code, out, _ := run(t, "", false, "doctor", "--kubeconfig", t.TempDir()+"/missing")
	if code != 2 || !strings.Contains(out, "not connected") || !strings.Contains(out, "offline") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestDoctorBadTimeout(t *testing.T) {
	code, _, errs := run(t, "", false, "doctor", "--timeout", "-1s")
	if code != 2 || !strings.Contains(errs, "--timeout -1s is not a positive duration") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// TestDoctorWithoutPermissions runs doctor with credentials that may read
// nothing: what it could not look at is reported as unknown, never as
// absent ("no Deployment labelled app=istiod" would tell the reader Istio
// is not installed).
func TestDoctorWithoutPermissions(t *testing.T) {
	nobody := kubeconfigFor(t, testcluster.Shared(t).Impersonate("doctor-nobody@example.com"))
	code, out, _ := run(t, "", false, "doctor", "--kubeconfig", nobody)
	for _, want := range []string{"istiod      unknown: could not look", "ztunnel     unknown: could not look",
		"where istiod runs could not be looked at", "meshdojo doctor --rbac | kubectl apply -f -"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor without permissions lacks %q", want)
		}
	}
	for _, bad := range []string{"no Deployment labelled app=istiod", "no istiod was found", "ztunnel     none"} {
		if strings.Contains(out, bad) {
			t.Errorf("doctor states %q as a fact although it could not look", bad)
		}
	}
	if code != 1 || t.Failed() {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// A refused read in `meshdojo check` points the admin at the command
// that grants it, not at a directory of meshdojo's sources.
func TestCheckForbiddenFixNamesCommand(t *testing.T) {
	nobody := kubeconfigFor(t, testcluster.Shared(t).Impersonate("nobody"))
	_, out, _ := run(t, "", false, "check", "--kubeconfig", nobody, "--run", "crd-served", "name=peerauthentications.security.istio.io")
	if !strings.Contains(out, "meshdojo doctor --rbac | kubectl apply -f -") || strings.Contains(out, "assets/rbac") {
		t.Errorf("forbidden fix:\n%s", out)
	}
}
