package breaks_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

var svcKind = mustKind("v1", "Service")

// labService creates the lab's ratings Service as Helm does (a plain
// create, field manager helm): one port, named http, appProtocol http.
func labService(t *testing.T, c *testcluster.Cluster, ns string) {
	t.Helper()
	s := obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: ratings, namespace: "+ns+", labels: {app: ratings, service: ratings}}\n"+
		"spec:\n  selector: {app: ratings}\n  ports:\n  - {name: http, appProtocol: http, port: 9080, targetPort: 9080}\n")
	cl := client(t, c)
	if _, err := cl.Dyn.Resource(svcKind.GVR).Namespace(ns).Create(t.Context(), s, metav1.CreateOptions{FieldManager: "helm"}); err != nil {
		t.Fatal(err)
	}
}

// httpAsTCP is lesson 14's break of the Service: one item of a list
// keyed by port and protocol, one field of it changed.
func httpAsTCP(t *testing.T, ns string) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: ratings, namespace: "+ns+"}\n"+
		"spec:\n  ports:\n  - {port: 9080, protocol: TCP, appProtocol: tcp}\n")}
}

// port is the Service's only port, or fails the test.
func port(t *testing.T, o *unstructured.Unstructured) map[string]any {
	t.Helper()
	ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
	if len(ports) != 1 {
		t.Fatalf("ports %v, want the lab's one port", ports)
	}
	return ports[0].(map[string]any)
}

// A break of one field of a keyed list item (a Service port), restored
// both ways: pressed u with the fault in place, and fixed in place by
// the reader first. The port keeps its name and target port, no port is
// added or lost, the label goes, and nothing of the tutorial's manager
// stays on the object.
func TestRestoreKeyedListItem(t *testing.T) {
	c := testcluster.Shared(t)
	for _, fixFirst := range []bool{false, true} {
		ns := c.Namespace(t)
		cl := client(t, c)
		labService(t, c, ns)
		p, err := cl.Plan(t.Context(), "14.http-as-tcp", httpAsTCP(t, ns))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		svcs := cl.Dyn.Resource(svcKind.GVR).Namespace(ns)
		if got := port(t, get(t, cl.Dyn, svcKind, ns, "ratings"))["appProtocol"]; got != "tcp" {
			t.Fatalf("after the break appProtocol is %v, want tcp", got)
		}
		if fixFirst { // the lesson's solution: a JSON patch of the one field
			fix := []byte(`[{"op":"replace","path":"/spec/ports/0/appProtocol","value":"http"}]`)
			if _, err := svcs.Patch(t.Context(), "ratings", types.JSONPatchType, fix, metav1.PatchOptions{FieldManager: "kubectl-patch"}); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := cl.Restore(t.Context(), "14.http-as-tcp")
		if err != nil {
			t.Fatal(err)
		}
		o := get(t, cl.Dyn, svcKind, ns, "ratings")
		pt := port(t, o)
		if pt["appProtocol"] != "http" || pt["name"] != "http" || pt["targetPort"] != int64(9080) {
			t.Errorf("fixed first %v: port %v, want the lab's (http, appProtocol http, targetPort 9080)", fixFirst, pt)
		}
		if _, ok := o.GetLabels()[breaks.Label]; ok || o.GetLabels()["app"] != "ratings" {
			t.Errorf("fixed first %v: labels %v, want the lab's without the break's", fixFirst, o.GetLabels())
		}
		for _, m := range managers(o) {
			if m == breaks.Manager {
				t.Errorf("fixed first %v: %s still manages fields: %v", fixFirst, breaks.Manager, managers(o))
			}
		}
		// The reader's fix has the lab's value, so nothing is reported
		// as kept: the object is as before the break either way.
		if len(rep.Kept) > 0 || !strings.Contains(strings.Join(rep.Restored, "\n"), "Service "+ns+"/ratings") {
			t.Errorf("fixed first %v: report\n%s\nwant the Service restored and nothing kept", fixFirst, rep)
		}
	}
}
