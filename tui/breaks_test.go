package tui

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/lessons"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// B shows the API server's dry-run diff and writes nothing until y; n
// leaves the cluster as it was; u lists the break and puts it back.
func TestBreakKeys(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	c.ApplyT(t, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings, namespace: "+ns+"}\nspec: {host: ratings}\n")
	src := strings.Join([]string{"---", "id: 14", "chapter: 14", "title: Breaks", "summary: S.", "mode: sidecar", "lab: chapter-06", "minutes: 5", "---", "",
		"## Break TLS", "", "Press B.", "", "```break tls-off",
		"apiVersion: networking.istio.io/v1", "kind: DestinationRule", "metadata: {name: ratings, namespace: " + ns + "}",
		"spec: {host: ratings, trafficPolicy: {tls: {mode: DISABLE}}}", "```", "", "## No break", "", "Text.", ""}, "\n")
	l, err := lessons.Parse("14.md", src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	client := func(context.Context) (*breaks.Client, error) { return breaks.New(c.Config, "kind-test", dir, false) }
	m := direct(t, Options{Lessons: []*lessons.Lesson{l}, Lesson: "14", Theme: ThemeDark, Context: "kind-test", Breaks: client}, 110, 45)
	mode := func() string {
		bc, _ := client(t.Context())
		o, err := bc.Dyn.Resource(breaks.Kinds[2].GVR).Namespace(ns).Get(t.Context(), "ratings", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := unstructured.NestedString(o.Object, "spec", "trafficPolicy", "tls", "mode")
		return v
	}

	press(t, m, "B")
	if m.dlg == nil || m.dlg.kind != dlgBreak || !strings.Contains(view(m), "+      mode: DISABLE") {
		t.Fatalf("B did not show the diff:\n%s", view(m))
	}
	press(t, m, "n")
	if mode() != "" {
		t.Fatal("the break was written without consent")
	}
	press(t, m, "B", "y")
	if mode() != "DISABLE" || !strings.Contains(view(m), "Broken.") {
		t.Fatalf("B y: mode %q, screen:\n%s", mode(), view(m))
	}
	press(t, m, "u")
	if m.dlg == nil || m.dlg.kind != dlgRestore || !strings.Contains(view(m), "14.tls-off") {
		t.Fatalf("u did not list the break:\n%s", view(m))
	}
	press(t, m, "y")
	if mode() != "" || !strings.Contains(view(m), "Restored 1 object") {
		t.Fatalf("u y: mode %q, screen:\n%s", mode(), view(m))
	}
	press(t, m, "n", "B")
	if !strings.Contains(view(m), "This step has no break") {
		t.Errorf("B on a step without a break:\n%s", view(m))
	}
}

// A context that looks like production is refused with the reason and
// the flag; nothing is asked.
func TestBreakRefusedOnProduction(t *testing.T) {
	c := testcluster.Shared(t)
	src := strings.Join([]string{"---", "id: 14", "chapter: 14", "title: Breaks", "summary: S.", "mode: sidecar", "lab: chapter-06", "minutes: 5", "---", "",
		"## Break", "", "Press B.", "", "```break gw", "apiVersion: networking.istio.io/v1", "kind: Gateway", "metadata: {name: g, namespace: bookinfo}", "spec: {}", "```", ""}, "\n")
	l, err := lessons.Parse("14.md", src)
	if err != nil {
		t.Fatal(err)
	}
	client := func(context.Context) (*breaks.Client, error) {
		return breaks.New(c.Config, "prod-eu", t.TempDir(), false)
	}
	m := direct(t, Options{Lessons: []*lessons.Lesson{l}, Lesson: "14", Theme: ThemeDark, Breaks: client}, 200, 40)
	press(t, m, "B")
	if m.dlg != nil || !strings.Contains(view(m), "looks like production") || !strings.Contains(view(m), "--allow-") {
		t.Fatalf("screen:\n%s", view(m))
	}
}
