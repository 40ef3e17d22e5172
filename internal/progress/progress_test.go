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

func TestSaveSeqKeepsNewest(t *testing.T) {
	st, _ := Open(t.TempDir())
	newer := New("c")
	newer.Mark("6", "b", Done, time.Now())
	older := New("c")
	older.Mark("6", "a", Done, time.Now())
	if err := st.SaveSeq(newer, 2); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveSeq(older, 1); err != nil { // finished late; must not win
		t.Fatal(err)
	}
	got, _ := st.Load("c")
	if got.StatusOf("6", "b") != Done || got.StatusOf("6", "a") != "" {
		t.Errorf("older snapshot overwrote newer: %+v", got.Lessons["6"])
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
