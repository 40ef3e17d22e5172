package progress

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	st, _ := Open(t.TempDir())
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New("kind-istio")
	s.Mark("6", "look-at-the-certificates", Done, now)
	s.Mark("6", "turn-on-strict-mtls", Skipped, now)
	s.SetCurrent("6", "turn-on-strict-mtls", now)
	if err := st.Save(s); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load("kind-istio")
	if err != nil {
		t.Fatal(err)
	}
	if got.Last != "6" || got.Lessons["6"].Current != "turn-on-strict-mtls" {
		t.Errorf("resume point lost: %+v", got)
	}
	if got.StatusOf("6", "look-at-the-certificates") != Done || got.StatusOf("6", "turn-on-strict-mtls") != Skipped {
		t.Errorf("statuses lost: %+v", got.Lessons["6"].Steps)
	}
	if d, sk := got.Count("6", []string{"look-at-the-certificates", "turn-on-strict-mtls", "x"}); d != 1 || sk != 1 {
		t.Errorf("Count = %d, %d", d, sk)
	}
	// Other contexts are separate.
	other, err := st.Load("prod")
	if err != nil || len(other.Lessons) != 0 {
		t.Errorf("other context = %+v, %v", other, err)
	}
}

func TestMissingFileIsFreshStart(t *testing.T) {
	st, _ := Open(filepath.Join(t.TempDir(), "not", "yet"))
	s, err := st.Load("c")
	if err != nil || s == nil || len(s.Lessons) != 0 {
		t.Fatalf("Load = %+v, %v", s, err)
	}
	if _, err := os.Stat(st.Dir); !os.IsNotExist(err) {
		t.Errorf("Load created the directory")
	}
}

func TestCorruptFileMovedAside(t *testing.T) {
	for name, content := range map[string]string{
		"not json":       "{\"version\": 1, \"lessons\": {",
		"bad status":     `{"version":1,"lessons":{"6":{"steps":{"a":{"status":"maybe"}}}}}`,
		"future version": `{"version":99,"lessons":{}}`,
		"null lesson":    `{"version":1,"lessons":{"6":null}}`,
	} {
		t.Run(name, func(t *testing.T) {
			st, _ := Open(t.TempDir())
			path := st.Path("c")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := st.Load("c")
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want CorruptError", err)
			}
			if s == nil || len(s.Lessons) != 0 {
				t.Errorf("want fresh progress, got %+v", s)
			}
			if ce.MovedTo == "" || !strings.Contains(err.Error(), "moved to") {
				t.Errorf("message does not say where the file went: %v", err)
			}
			if b, err := os.ReadFile(ce.MovedTo); err != nil || string(b) != content {
				t.Errorf("moved file = %q, %v", b, err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("corrupt file still in place")
			}
			// The next save works.
			s.Mark("6", "a", Done, time.Now())
			if err := st.Save(s); err != nil {
				t.Fatal(err)
			}
			if again, err := st.Load("c"); err != nil || again.StatusOf("6", "a") != Done {
				t.Errorf("after save: %+v, %v", again, err)
			}
		})
	}
}

func TestSaveLeavesNoTempFiles(t *testing.T) {
	st, _ := Open(t.TempDir())
	s := New("c")
	for i := 0; i < 5; i++ {
		s.Mark("6", "a", Done, time.Now())
		if err := st.Save(s); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(st.Dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("dir holds %v, want only the progress file", names)
	}
}

func TestSaveIntoUnwritableDirFails(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o600)
	st, _ := Open(filepath.Join(blocker, "sub")) // a directory under a file cannot exist
	if err := st.Save(New("c")); err == nil {
		t.Fatal("want an error")
	}
}

// Snapshots saved out of order (the UI saves clones in the background)
// both reach the file, and adopting the older result afterwards does not
// hide the newer change.
func TestSnapshotsSavedOutOfOrder(t *testing.T) {
	st, _ := Open(t.TempDir())
	s := New("c")
	s.Mark("6", "a", Done, time.Now())
	older := s.Clone()
	s.Mark("6", "b", Done, time.Now())
	newer := s.Clone()
	if err := st.Save(newer); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(older); err != nil { // finished late; must not undo b
		t.Fatal(err)
	}
	s.Adopt(newer)
	s.Adopt(older)
	got, _ := st.Load("c")
	for _, g := range []*State{got, s} {
		if g.StatusOf("6", "a") != Done || g.StatusOf("6", "b") != Done {
			t.Errorf("a change was lost: %+v", g.Lessons["6"])
		}
	}
}

func TestResetOneLessonAndAll(t *testing.T) {
	st, _ := Open(t.TempDir())
	s := New("c")
	s.Mark("6", "a", Done, time.Now())
	s.Mark("10", "a", Done, time.Now())
	st.Save(s)
	if ok, err := st.Reset("c", "6"); !ok || err != nil {
		t.Fatalf("Reset 6 = %v, %v", ok, err)
	}
	got, _ := st.Load("c")
	if _, ok := got.Lessons["6"]; ok || got.StatusOf("10", "a") != Done {
		t.Errorf("after reset 6: %+v", got.Lessons)
	}
	if ok, _ := st.Reset("c", "6"); ok {
		t.Error("second reset of 6 reported a change")
	}
	if ok, err := st.Reset("c", ""); !ok || err != nil {
		t.Fatalf("Reset all = %v, %v", ok, err)
	}
	if ok, err := st.Reset("c", ""); ok || err != nil {
		t.Fatalf("Reset all again = %v, %v", ok, err)
	}
}

func TestPathIsSafeAndDistinct(t *testing.T) {
	st, _ := Open("/state")
	a := st.Path("arn:aws:eks:ap-northeast-1:123:cluster/istio")
	b := st.Path("arn_aws_eks_ap-northeast-1_123_cluster_istio")
	if filepath.Dir(a) != "/state" || strings.ContainsAny(filepath.Base(a), ":/") {
		t.Errorf("unsafe path %q", a)
	}
	if a == b {
		t.Errorf("distinct contexts share %q", a)
	}
	if st.Path("") == "" || st.Path("..") == filepath.Join("/state", "..") {
		t.Errorf("bad path for odd names")
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/xdg")
	if d, _ := DefaultDir(); d != "/xdg/meshdojo" {
		t.Errorf("DefaultDir = %q", d)
	}
	t.Setenv("XDG_STATE_HOME", "relative") // the spec says ignore relative paths
	t.Setenv("HOME", "/home/r")
	if d, _ := DefaultDir(); d != "/home/r/.local/state/meshdojo" {
		t.Errorf("DefaultDir = %q", d)
	}
}

func TestForgetStepSurvivesSave(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New("ctx")
	s.Mark("6", "a", Done, now)
	s.Mark("6", "b", Skipped, now)
	s.Forget("6", "a", now)
	if err := st.Save(s); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load("ctx")
	if err != nil {
		t.Fatal(err)
	}
	if g := got.StatusOf("6", "a"); g != "" {
		t.Errorf("forgotten step has status %q", g)
	}
	if g := got.StatusOf("6", "b"); g != Skipped {
		t.Errorf("other step has status %q, want skipped", g)
	}
	if c := got.Lessons["6"].Current; c != "a" {
		t.Errorf("current step %q, want a", c)
	}
}

// Two bad files in the same second must both survive: the second backup
// may not overwrite the first.
func TestCorruptBackupsDoNotOverwrite(t *testing.T) {
	st, _ := Open(t.TempDir())
	path := st.Path("c")
	var moved []string
	for _, content := range []string{"first {", "second {", "third {"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := st.Load("c")
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.MovedTo == "" {
			t.Fatalf("err = %v, want CorruptError with MovedTo", err)
		}
		b, rerr := os.ReadFile(ce.MovedTo)
		if rerr != nil || string(b) != content {
			t.Fatalf("backup %s = %q, %v; want %q", ce.MovedTo, b, rerr, content)
		}
		moved = append(moved, ce.MovedTo)
	}
	for i, m := range moved {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Errorf("backup %d (%s) lost: %v", i, m, err)
		} else if want := []string{"first {", "second {", "third {"}[i]; string(b) != want {
			t.Errorf("backup %d (%s) = %q, want %q (overwritten)", i, m, b, want)
		}
	}
}

// The case, in one process: instance A skips two steps of lesson
// 6 while instance B skips two of lesson 5; both survive, and each
// instance sees the other's after its save.
func TestTwoInstancesMerge(t *testing.T) {
	dir := t.TempDir()
	sa, _ := Open(dir)
	sb, _ := Open(dir)
	a, _ := sa.Load("c")
	b, _ := sb.Load("c")
	now := time.Now()
	a.Mark("6", "a1", Skipped, now)
	a.Mark("6", "a2", Skipped, now)
	b.Mark("5", "b1", Skipped, now)
	b.Mark("5", "b2", Skipped, now)
	if err := sa.Save(a); err != nil {
		t.Fatal(err)
	}
	if err := sb.Save(b); err != nil {
		t.Fatal(err)
	}
	a.SetCurrent("6", "a3", time.Now())
	if err := sa.Save(a); err != nil {
		t.Fatal(err)
	}
	got, _ := sa.Load("c")
	for _, g := range []*State{got, a} {
		for _, r := range [][2]string{{"6", "a1"}, {"6", "a2"}, {"5", "b1"}, {"5", "b2"}} {
			if g.StatusOf(r[0], r[1]) != Skipped {
				t.Errorf("lesson %s step %s lost: %+v", r[0], r[1], g.Lessons)
			}
		}
	}
	if got.Last != "6" || got.Lessons["6"].Current != "a3" {
		t.Errorf("resume point = %q %+v", got.Last, got.Lessons["6"])
	}
}

// A step forgotten (R) in one instance stays forgotten when another
// instance, which still had it, saves something else.
func TestForgetInOtherInstanceSticks(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	s := New("c")
	s.Mark("6", "a", Done, time.Now())
	st.Save(s)
	a, _ := st.Load("c")
	b, _ := st.Load("c")
	b.Forget("6", "a", time.Now())
	if err := st.Save(b); err != nil {
		t.Fatal(err)
	}
	a.Mark("6", "z", Done, time.Now())
	if err := st.Save(a); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Load("c")
	if got.StatusOf("6", "a") != "" || got.StatusOf("6", "z") != Done {
		t.Errorf("after merge: %+v", got.Lessons["6"])
	}
	if a.StatusOf("6", "a") != "" {
		t.Errorf("the saving instance still shows the forgotten step: %+v", a.Lessons["6"])
	}
}

// A reset (all, or one lesson) wins over every record made before it,
// including changes an instance made before the reset and saves after.
func TestResetWinsOverOlderChanges(t *testing.T) {
	st, _ := Open(t.TempDir())
	ui, _ := st.Load("c")
	ui.Mark("6", "a", Done, time.Now())
	ui.Mark("5", "a", Done, time.Now())
	if err := st.Save(ui); err != nil {
		t.Fatal(err)
	}
	ui.Mark("6", "b", Done, time.Now()) // not saved before the reset
	time.Sleep(2 * time.Millisecond)    // the reset comes strictly later
	if ok, err := st.Reset("c", "6"); !ok || err != nil {
		t.Fatalf("Reset 6 = %v, %v", ok, err)
	}
	if err := st.Save(ui); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Load("c")
	if got.StatusOf("6", "a") != "" || got.StatusOf("6", "b") != "" || got.StatusOf("5", "a") != Done {
		t.Errorf("after resetting lesson 6: %+v", got.Lessons)
	}
	if ui.StatusOf("6", "a") != "" || ui.StatusOf("5", "a") != Done {
		t.Errorf("the running instance does not show the reset: %+v", ui.Lessons)
	}
	time.Sleep(2 * time.Millisecond)
	ui.Mark("6", "c", Done, time.Now()) // after the reset: kept
	if err := st.Save(ui); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Load("c"); got.StatusOf("6", "c") != Done {
		t.Errorf("a change after the reset was lost: %+v", got.Lessons)
	}
}

// Without HOME or XDG_STATE_HOME, reading works (empty progress) and only
// saving fails, saying what to set.
func TestNoStateDirReadsEmpty(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "")
	st, err := Open("")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s, err := st.Load("c")
	if err != nil || len(s.Lessons) != 0 {
		t.Fatalf("Load = %+v, %v", s, err)
	}
	s.Mark("6", "a", Done, time.Now())
	if err := st.Save(s); err == nil || !strings.Contains(err.Error(), "XDG_STATE_HOME") {
		t.Errorf("Save = %v, want an error naming XDG_STATE_HOME", err)
	}
}
