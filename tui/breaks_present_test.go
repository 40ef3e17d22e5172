package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	xansi "github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/lessons"
)

// The break dialog on a projector: lesson 14's longest break (a whole
// Deployment, created) planned against a real API server, shown in
// presenter mode at the projector sizes and on a small screen. The
// frame fits, the question and the keys stay on screen, and the diff
// is cut with a count of what was left out rather than pushing them off.
func TestBreakDialogInPresenterMode(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	var dep []string
	for _, l := range lessonBreak(t, "missing-sidecar") {
		dep = append(dep, strings.ReplaceAll(l, "namespace: bookinfo", "namespace: "+ns))
	}
	src := strings.Join(append([]string{"---", "id: 14", "chapter: 14", "title: Breaks", "summary: S.", "mode: sidecar", "lab: chapter-06", "minutes: 5", "---", "",
		"## A workload without a sidecar", "", "Press B.", "", "```break missing-sidecar"}, append(dep, "```", "")...), "\n")
	l, err := lessons.Parse("14.md", src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	client := func(context.Context) (*breaks.Client, error) { return breaks.New(c.Config, "kind-test", dir, false) }
	for _, sz := range [][2]int{{100, 30}, {120, 35}, {60, 16}} {
		m := direct(t, Options{Lessons: []*lessons.Lesson{l}, Lesson: "14", Theme: ThemeLight, Context: "kind-test", Breaks: client, Present: true}, sz[0], sz[1])
		press(t, m, "B")
		v := view(m)
		what := fmt.Sprintf("B in presenter mode at %dx%d", sz[0], sz[1])
		if m.dlg == nil || m.dlg.kind != dlgBreak {
			t.Fatalf("%s: no break dialog:\n%s", what, xansi.Strip(v))
		}
		frameFits(t, what, v, sz[0], sz[1])
		plain := xansi.Strip(v)
		for _, want := range []string{"Break your lab", "more lines", "y yes", "n no"} {
			if !strings.Contains(plain, want) {
				t.Errorf("%s: %q is not on screen:\n%s", what, want, plain)
			}
		}
		press(t, m, "n")
	}
}

// lessonBreak is the YAML of one break block of the shipped lesson 14.
func lessonBreak(t *testing.T, name string) []string {
	t.Helper()
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if l.ID != "14" {
			continue
		}
		for _, s := range l.Steps {
			if s.Break != nil && s.Break.ID == "14."+name {
				return strings.Split(strings.TrimSpace(s.Break.Text), "\n")
			}
		}
	}
	t.Fatalf("lesson 14 has no break %q", name)
	return nil
}
