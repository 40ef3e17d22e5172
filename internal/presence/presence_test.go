package presence

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPublishScanClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "present")
	if ps, err := Scan(dir); err != nil || len(ps) != 0 {
		t.Fatalf("no directory yet: %v %v, want nothing", ps, err)
	}
	start := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	p := NewPublisher(dir, start)
	if err := p.Publish(p.Stamp(Position{Lesson: "6", Step: 2, Anchor: "find-it", Title: "Find it", Since: start.Add(time.Minute)})); err != nil {
		t.Fatal(err)
	}
	ps, err := Scan(dir)
	if err != nil || len(ps) != 1 {
		t.Fatalf("scan: %v %v", ps, err)
	}
	got := ps[0]
	if got.PID != os.Getpid() || !got.Started.Equal(start) || got.Lesson != "6" || got.Step != 2 || got.Anchor != "find-it" || got.Seq != 1 {
		t.Errorf("scanned %+v", got)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v %v, want 0700", fi.Mode().Perm(), err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if ps, _ := Scan(dir); len(ps) != 0 {
		t.Errorf("after Close: %+v, want no presenter", ps)
	}
	// Publishing after Close must not bring the presenter back.
	p.Publish(p.Stamp(Position{Lesson: "6"}))
	if ps, _ := Scan(dir); len(ps) != 0 {
		t.Errorf("publish after Close: %+v", ps)
	}
}

// An older position published late (commands run concurrently) never
// replaces a newer one.
func TestPublishOrder(t *testing.T) {
	dir := t.TempDir()
	p := NewPublisher(dir, time.Now())
	a := p.Stamp(Position{Lesson: "6", Step: 1})
	b := p.Stamp(Position{Lesson: "6", Step: 2})
	if err := p.Publish(b); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(a); err != nil {
		t.Fatal(err)
	}
	ps, _ := Scan(dir)
	if len(ps) != 1 || ps[0].Step != 2 {
		t.Errorf("got %+v, want step 2 (the later move)", ps)
	}
}

// A follower reading while the presenter moves sees whole positions
// only, never a torn or missing file.
func TestScanDuringPublish(t *testing.T) {
	dir := t.TempDir()
	p := NewPublisher(dir, time.Now())
	if err := p.Publish(p.Stamp(Position{Lesson: "6", Title: "first"})); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p.Publish(p.Stamp(Position{Lesson: "6", Step: i % 9, Title: "step " + strconv.Itoa(i)}))
		}
	})
	for range 300 {
		ps, err := Scan(dir)
		if err != nil || len(ps) != 1 || ps[0].Lesson != "6" || ps[0].Title == "" {
			close(stop)
			wg.Wait()
			t.Fatalf("scan during publish: %+v %v", ps, err)
		}
	}
	close(stop)
	wg.Wait()
}

// Two presenters: the newest comes first. A presenter whose process is
// gone (it crashed and left its file) is not one.
func TestScanChoosesLivePresenters(t *testing.T) {
	dir := t.TempDir()
	old := NewPublisher(dir, time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC))
	newer := NewPublisher(dir, time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC))
	// A second live process: a child that waits until the test ends.
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	newer.pid = child.Process.Pid
	// A dead process: one that has exited and been reaped.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	crashed := NewPublisher(dir, time.Date(2026, 1, 2, 11, 0, 0, 0, time.UTC))
	crashed.pid = dead.Process.Pid
	for _, p := range []*Publisher{old, newer, crashed} {
		if err := p.Publish(p.Stamp(Position{Lesson: "6", Step: p.pid % 5})); err != nil {
			t.Fatal(err)
		}
	}
	// Junk a follower must ignore: a torn temporary file, a file that is
	// not a position, a file whose pid does not match its name.
	os.WriteFile(filepath.Join(dir, ".pos-1.tmp"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "123.json"), []byte("not json"), 0o600)
	os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid()+1)+".json"), []byte(`{"pid":1,"lesson":"6"}`), 0o600)
	ps, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].PID != child.Process.Pid || ps[1].PID != os.Getpid() {
		t.Fatalf("got %+v, want the child's (newest) then ours; not the dead one's", ps)
	}
}

func TestPublishRefusesAnUnsafeDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "present")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	p := NewPublisher(dir, time.Now())
	err := p.Publish(p.Stamp(Position{Lesson: "6"}))
	if err == nil {
		t.Fatal("published into a directory every user may write to")
	}
	if want := "chmod 700"; !contains(err.Error(), want) {
		t.Errorf("error %q does not say what to do (%q)", err, want)
	}
}

// Without HOME and XDG_STATE_HOME, presenter and follower still agree
// on a directory, as list and show still work.
func TestDirWithoutHome(t *testing.T) {
	t.Setenv("HOME", "")
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	d := Dir()
	if !filepath.IsAbs(d) || filepath.Base(d) != "present" {
		t.Fatalf("Dir() = %q", d)
	}
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	if d := Dir(); d != filepath.Join(run, "meshdojo", "present") {
		t.Errorf("with XDG_RUNTIME_DIR: %q", d)
	}
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	if d := Dir(); d != filepath.Join(state, "meshdojo", "present") {
		t.Errorf("with XDG_STATE_HOME: %q", d)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
