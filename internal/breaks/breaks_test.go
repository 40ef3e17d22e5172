package breaks_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

var (
	drGVR = mustKind("networking.istio.io/v1", "DestinationRule")
	apGVR = mustKind("security.istio.io/v1", "AuthorizationPolicy")
)

func mustKind(av, k string) breaks.Kind {
	kd, ok := breaks.KindOf(av, k)
	if !ok {
		panic(k)
	}
	return kd
}

// lab writes the lab's ratings DestinationRule as Helm would, with a
// field manager of its own.
func lab(t *testing.T, dyn dynamic.Interface, ns string) *unstructured.Unstructured {
	t.Helper()
	dr := obj(t, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
  namespace: `+ns+`
  labels: {app.kubernetes.io/managed-by: Helm}
spec:
  host: ratings.`+ns+`.svc.cluster.local
  subsets:
  - name: v3
    labels: {version: v3}
`)
	got, err := dyn.Resource(drGVR.GVR).Namespace(ns).Apply(t.Context(), "ratings", dr, metav1.ApplyOptions{FieldManager: "helm", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	objs, errs := breaks.Parse(y)
	if len(errs) > 0 {
		t.Fatalf("parse: %v", errs[0])
	}
	return objs[0]
}

// theBreak turns TLS off on the lab's DestinationRule, points its subset
// at pods that do not exist, and creates an AuthorizationPolicy.
func theBreak(t *testing.T, ns string) []*unstructured.Unstructured {
	t.Helper()
	objs, errs := breaks.Parse(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
  namespace: ` + ns + `
spec:
  host: ratings.` + ns + `.svc.cluster.local
  trafficPolicy:
    tls: {mode: DISABLE}
  subsets:
  - name: v3
    labels: {version: v3-canary}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ratings-callers
  namespace: ` + ns + `
spec:
  selector: {matchLabels: {app: ratings}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: [cluster.local/ns/` + ns + `/sa/reviews]}
`)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	return objs
}

func client(t *testing.T, c *testcluster.Cluster) *breaks.Client {
	t.Helper()
	cl, err := breaks.New(c.Config, "minikube-lab", t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func get(t *testing.T, dyn dynamic.Interface, k breaks.Kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	o, err := dyn.Resource(k.GVR).Namespace(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func spec(o *unstructured.Unstructured) map[string]any {
	s, _ := o.Object["spec"].(map[string]any)
	return s
}

func recordsFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "breaks", "*"))
	return m
}

func managers(o *unstructured.Unstructured) []string {
	var out []string
	for _, mf := range o.GetManagedFields() {
		out = append(out, mf.Manager)
	}
	return out
}

// The plan is the API server's dry run: it shows the change and writes
// nothing, neither to the cluster nor to the records.
func TestPlanWritesNothing(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cl := client(t, c)
	before := lab(t, cl.Dyn, ns)
	p, err := cl.Plan(t.Context(), "14.tls", theBreak(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+      mode: DISABLE", "-      version: v3\n", "+      version: v3-canary", "AuthorizationPolicy " + ns + "/ratings-callers (after the break)", "+    " + breaks.Label + ": 14.tls"} {
		if !strings.Contains(p.Diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, p.Diff)
		}
	}
	after := get(t, cl.Dyn, drGVR, ns, "ratings")
	if after.GetResourceVersion() != before.GetResourceVersion() {
		t.Errorf("the plan changed the DestinationRule:\n%v", spec(after))
	}
	if _, err := cl.Dyn.Resource(apGVR.GVR).Namespace(ns).Get(t.Context(), "ratings-callers", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the plan created the AuthorizationPolicy (err %v)", err)
	}
	if f := recordsFiles(t, cl.Dir); len(f) > 0 {
		t.Errorf("the plan wrote records: %v", f)
	}
}

// Apply writes with the tutorial's field manager and label, records the
// previous state first, and Restore puts it back exactly.
func TestApplyThenRestore(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cl := client(t, c)
	before := lab(t, cl.Dyn, ns)
	p, err := cl.Plan(t.Context(), "14.tls", theBreak(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	dr := get(t, cl.Dyn, drGVR, ns, "ratings")
	if m, _, _ := unstructured.NestedString(dr.Object, "spec", "trafficPolicy", "tls", "mode"); m != "DISABLE" {
		t.Errorf("tls mode %q after the break, want DISABLE", m)
	}
	if dr.GetLabels()[breaks.Label] != "14.tls" || dr.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" {
		t.Errorf("labels after the break: %v (want the break's label added, Helm's kept)", dr.GetLabels())
	}
	if !contains(managers(dr), breaks.Manager) {
		t.Errorf("managers %v lack %s", managers(dr), breaks.Manager)
	}
	ap := get(t, cl.Dyn, apGVR, ns, "ratings-callers")
	if ap.GetLabels()[breaks.Label] != "14.tls" {
		t.Errorf("created object's labels %v", ap.GetLabels())
	}
	recs, err := cl.InPlace()
	if err != nil || len(recs) != 1 || len(recs[0].Objects) != 2 {
		t.Fatalf("records %+v, %v", recs, err)
	}
	if w := recs[0].Objects[0]; w.Created || !reflect.DeepEqual(w.Previous["spec"], spec(before)) {
		t.Errorf("recorded previous state %v, want %v", w.Previous["spec"], spec(before))
	}
	if w := recs[0].Objects[1]; !w.Created || w.UID != string(ap.GetUID()) {
		t.Errorf("created object recorded as %+v, uid %s", w, ap.GetUID())
	}

	// Applying again keeps the first previous state.
	if err := cl.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if recs, _ = cl.InPlace(); !reflect.DeepEqual(recs[0].Objects[0].Previous["spec"], spec(before)) {
		t.Errorf("a second apply recorded the broken state as the previous one: %v", recs[0].Objects[0].Previous["spec"])
	}

	rep, err := cl.Restore(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Kept) > 0 || len(rep.Restored) != 2 {
		t.Errorf("report:\n%s", rep)
	}
	dr = get(t, cl.Dyn, drGVR, ns, "ratings")
	if !reflect.DeepEqual(spec(dr), spec(before)) {
		t.Errorf("spec after restore %v, want %v", spec(dr), spec(before))
	}
	if !reflect.DeepEqual(dr.GetLabels(), before.GetLabels()) {
		t.Errorf("labels after restore %v, want %v", dr.GetLabels(), before.GetLabels())
	}
	if contains(managers(dr), breaks.Manager) {
		t.Errorf("the break's field manager is still on the object: %v", managers(dr))
	}
	if _, err := cl.Dyn.Resource(apGVR.GVR).Namespace(ns).Get(t.Context(), "ratings-callers", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the created AuthorizationPolicy is still there (err %v)", err)
	}
	if f := recordsFiles(t, cl.Dir); len(f) > 0 {
		t.Errorf("records left after restoring everything: %v", f)
	}
	// The lab's own manager applies again (Helm 4 applies server-side)
	// without a conflict with the tutorial's.
	lab(t, cl.Dyn, ns)
}

// After the break the reader changes the object further: a field the
// break set (kubectl edit takes it over) and one it did not touch; and
// they delete and recreate the object the break created. Restoring puts
// back what the break still owns and keeps the reader's changes.
func TestRestoreAfterTheReaderChangedIt(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cl := client(t, c)
	lab(t, cl.Dyn, ns)
	p, err := cl.Plan(t.Context(), "14.tls", theBreak(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	edit := []byte(`{"spec":{"trafficPolicy":{"tls":{"mode":"ISTIO_MUTUAL"}},"exportTo":["."]}}`)
	if _, err := cl.Dyn.Resource(drGVR.GVR).Namespace(ns).Patch(t.Context(), "ratings", types.MergePatchType, edit, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	aps := cl.Dyn.Resource(apGVR.GVR).Namespace(ns)
	if err := aps.Delete(t.Context(), "ratings-callers", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	mine := obj(t, "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ratings-callers, namespace: "+ns+", labels: {"+breaks.Label+": \"14.tls\"}}\nspec: {action: ALLOW}\n")
	if _, err := aps.Create(t.Context(), mine, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	rep, err := cl.Restore(t.Context(), "14.tls")
	if err != nil {
		t.Fatal(err)
	}
	dr := get(t, cl.Dyn, drGVR, ns, "ratings")
	if m, _, _ := unstructured.NestedString(dr.Object, "spec", "trafficPolicy", "tls", "mode"); m != "ISTIO_MUTUAL" {
		t.Errorf("tls mode %q, want the reader's ISTIO_MUTUAL kept", m)
	}
	if e, _, _ := unstructured.NestedStringSlice(dr.Object, "spec", "exportTo"); !reflect.DeepEqual(e, []string{"."}) {
		t.Errorf("exportTo %v, want the reader's [.] kept", e)
	}
	subsets, _, _ := unstructured.NestedSlice(dr.Object, "spec", "subsets")
	if len(subsets) != 1 || subsets[0].(map[string]any)["labels"].(map[string]any)["version"] != "v3" {
		t.Errorf("subsets %v, want the lab's v3 back", subsets)
	}
	if _, ok := dr.GetLabels()[breaks.Label]; ok {
		t.Errorf("the break's label is still there: %v", dr.GetLabels())
	}
	if _, err := aps.Get(t.Context(), "ratings-callers", metav1.GetOptions{}); err != nil {
		t.Errorf("the reader's own AuthorizationPolicy was deleted: %v", err)
	}
	kept := strings.Join(rep.Kept, "\n")
	for _, want := range []string{"spec.exportTo", "spec.trafficPolicy", "AuthorizationPolicy " + ns + "/ratings-callers: not the object the break created"} {
		if !strings.Contains(kept, want) {
			t.Errorf("the report does not say %q was kept:\n%s", want, rep)
		}
	}
}

// A context that looks like production is refused before anything is
// read or written, unless the reader allows it.
func TestRefusedOnProduction(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cl := client(t, c)
	before := lab(t, cl.Dyn, ns)
	cl.Context = "gke_acme_europe-west1_prod-mesh"
	p, err := cl.Plan(t.Context(), "14.tls", theBreak(t, ns))
	var pe *breaks.ProductionError
	if !errors.As(err, &pe) || p != nil || !strings.Contains(err.Error(), "--allow-production") {
		t.Fatalf("plan on a production context: %v, %v", p, err)
	}
	cl.Context = "minikube-lab"
	p, err = cl.Plan(t.Context(), "14.tls", theBreak(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	cl.Server = "https://api.mesh.example.com:443"
	if err := cl.Apply(t.Context(), p); !errors.As(err, &pe) {
		t.Fatalf("apply on a non-local server: %v", err)
	}
	if get(t, cl.Dyn, drGVR, ns, "ratings").GetResourceVersion() != before.GetResourceVersion() || len(recordsFiles(t, cl.Dir)) > 0 {
		t.Fatal("a refused break wrote something")
	}
	cl.AllowProduction = true
	if err := cl.Apply(t.Context(), p); err != nil {
		t.Fatalf("with --allow-production: %v", err)
	}
	if _, err := cl.Restore(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
}

// The records file is replaced atomically: a reader polling it while
// breaks are applied and restored never sees half a file, and no
// temporary file is left behind.
func TestRecordsNeverHalfWritten(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cl := client(t, c)
	lab(t, cl.Dyn, ns)
	objs := theBreak(t, ns)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, bad atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			files, _ := filepath.Glob(filepath.Join(cl.Dir, "breaks", "*.json"))
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					continue // between a restore's removal and the next apply
				}
				reads.Add(1)
				var r breaks.Records
				if json.Unmarshal(data, &r) != nil || len(r.Breaks) == 0 {
					bad.Add(1)
				}
			}
		}
	})
	for range 8 {
		p, err := cl.Plan(t.Context(), "14.tls", objs)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Restore(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d of %d reads saw a half-written or empty records file", bad.Load(), reads.Load())
	}
	if reads.Load() == 0 {
		t.Error("the poller never saw a records file")
	}
	left, _ := filepath.Glob(filepath.Join(cl.Dir, "breaks", "*"))
	if len(left) > 0 {
		t.Errorf("files left in the records directory: %v", left)
	}
}

func TestProduction(t *testing.T) {
	for _, c := range []struct {
		ctx, server string
		prod        bool
	}{
		{"istio-demo", "https://127.0.0.1:55123", false},
		{"minikube", "https://192.168.49.2:8443", false},
		{"kind-lab", "https://[::1]:6443", false},
		{"docker-desktop", "https://kubernetes.docker.internal:6443", false},
		{"lab", "https://10.0.0.5:6443", false},
		{"prod", "https://127.0.0.1:6443", true},
		{"eks-Production-eu", "https://10.1.2.3", true},
		{"lab", "https://ABC.gr7.eu-west-1.eks.amazonaws.com", true},
		{"lab", "https://34.77.1.2", true},
		{"lab", "https://k8s-prod.corp.internal:6443", true},
		{"lab", "", true},
	} {
		if got, why := breaks.Production(c.ctx, c.server); got != c.prod || got && why == "" {
			t.Errorf("Production(%q, %q) = %v (%s), want %v", c.ctx, c.server, got, why, c.prod)
		}
	}
}

func TestParseErrorsAtTheirLines(t *testing.T) {
	src := `apiVersion: v1
kind: Secret
metadata: {name: s, namespace: bookinfo}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
spec: {}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: x
  namespace: kube-system
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: g
  namespace: bookinfo
  resourceVersion: "5"
status: {}
`
	_, errs := breaks.Parse(src)
	want := map[int]string{2: "may not write v1 \"Secret\"", 7: "metadata.namespace is missing", 15: "namespace \"kube-system\"", 22: "resourceVersion", 23: "status"}
	got := map[int]string{}
	for _, e := range errs {
		got[e.Line] = e.Msg
	}
	for line, w := range want {
		if !strings.Contains(got[line], w) {
			t.Errorf("line %d: got %q, want it to say %q (all: %v)", line, got[line], w, got)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d: %v", len(errs), len(want), got)
	}
	if _, errs := breaks.Parse("a: [b\n"); len(errs) != 1 || errs[0].Line < 1 {
		t.Errorf("bad YAML: %v", errs)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Two breaks of one object in turn, the first fixed by the reader
// rather than restored: restoring goes back to before the first.
func TestSecondBreakOfTheSameObject(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cl := client(t, c)
	before := lab(t, cl.Dyn, ns)
	first := obj(t, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings, namespace: "+ns+"}\nspec:\n  host: ratings."+ns+".svc.cluster.local\n  subsets: [{name: v3, labels: {version: v3-canary}}]\n")
	second := obj(t, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings, namespace: "+ns+"}\nspec:\n  host: ratings."+ns+".svc.cluster.local\n  trafficPolicy: {tls: {mode: DISABLE}}\n")
	for _, b := range []struct {
		id string
		o  *unstructured.Unstructured
	}{{"14.subset", first}, {"14.tls", second}} {
		p, err := cl.Plan(t.Context(), b.id, []*unstructured.Unstructured{b.o})
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if b.id == "14.subset" { // the reader fixes the subset
			fix := []byte(`{"spec":{"subsets":[{"name":"v3","labels":{"version":"v3"}}]}}`)
			if _, err := cl.Dyn.Resource(drGVR.GVR).Namespace(ns).Patch(t.Context(), "ratings", types.MergePatchType, fix, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	recs, _ := cl.InPlace()
	if len(recs) != 2 || !reflect.DeepEqual(recs[1].Objects[0].Previous["spec"], spec(before)) {
		t.Fatalf("the second break's record %+v, want the state before the first", recs)
	}
	if _, err := cl.Restore(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	if dr := get(t, cl.Dyn, drGVR, ns, "ratings"); !reflect.DeepEqual(spec(dr), spec(before)) || dr.GetLabels()[breaks.Label] != "" {
		t.Errorf("after restoring both: %v %v, want %v", spec(dr), dr.GetLabels(), spec(before))
	}
}
