package lessons_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/lessons"
)

// TestBreaksMatchFixtures: the walk does not press B, so each step with
// a break has a wrong state NN.fail-broken.yaml standing for it. Every
// field the break block writes must be in that file with the same value,
// the break's label included, so the fixture cannot drift from what a
// reader's B writes.
func TestBreaksMatchFixtures(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range all {
		for i, s := range l.Steps {
			if s.Break == nil {
				continue
			}
			n++
			f := filepath.Join("testdata", l.ID, fmt.Sprintf("%02d.fail-broken.yaml", i+1))
			data, err := os.ReadFile(f)
			if err != nil {
				t.Errorf("lesson %s step %d has break %s but no %s standing for it: %v", l.ID, i+1, s.Break.ID, f, err)
				continue
			}
			docs, err := testcluster.Decode(string(data))
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			for _, want := range s.Break.Objects {
				var got *unstructured.Unstructured
				for _, d := range docs {
					if d.GetKind() == want.GetKind() && d.GetNamespace() == want.GetNamespace() && d.GetName() == want.GetName() {
						got = d
					}
				}
				if got == nil {
					t.Errorf("%s lacks %s %s/%s, which break %s writes", f, want.GetKind(), want.GetNamespace(), want.GetName(), s.Break.ID)
					continue
				}
				w := want.DeepCopy()
				l := w.GetLabels()
				if l == nil {
					l = map[string]string{}
				}
				l[breaks.Label] = s.Break.ID
				w.SetLabels(l)
				for _, p := range differ(w.Object, got.Object, "") {
					t.Errorf("%s: %s %s differs from break %s at %s", f, want.GetKind(), want.GetName(), s.Break.ID, p)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no lesson has a break: the test checks nothing")
	}
}

// differ lists the paths where want has a value that got does not
// (got may hold more: the rest of the object, as the cluster has it).
func differ(want, got any, path string) []string {
	if wl, ok := want.([]any); ok {
		// Each item the break writes must be in the fixture's list.
		gl, _ := got.([]any)
		var out []string
		for i, w := range wl {
			found := false
			for _, g := range gl {
				found = found || len(differ(w, g, "")) == 0
			}
			if !found {
				out = append(out, fmt.Sprintf("%s[%d] (break %v, fixture %v)", path, i, w, got))
			}
		}
		return out
	}
	wm, ok := want.(map[string]any)
	if !ok {
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s (break %v, fixture %v)", path, want, got)}
		}
		return nil
	}
	gm, _ := got.(map[string]any)
	var out []string
	for k, v := range wm {
		out = append(out, differ(v, gm[k], path+"."+k)...)
	}
	return out
}
