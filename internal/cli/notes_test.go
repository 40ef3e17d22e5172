package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/internal/presence"
	"github.com/meshdojo/meshdojo/lessons"
)

// Speaker notes from the command line: show --notes for preparing a
// class, and notes without a terminal printing the presenter's step.

func TestShowNotesOnlyWhenAsked(t *testing.T) {
	isolate(t, "")
	l, si := notedStep(t)
	step := itoa(si + 1)
	code, out, _ := plain(t, "", "show", "--lesson", l.ID, "--step", step)
	if code != 0 || strings.Contains(out, "Instructor notes") || strings.Contains(out, firstLine(l.Steps[si].Notes.Text)) {
		t.Errorf("show without --notes (exit %d) prints the notes:\n%s", code, out)
	}
	code, out, _ = plain(t, "", "show", "--lesson", l.ID, "--step", step, "--notes")
	if code != 0 || !strings.Contains(out, "Instructor notes") || !strings.Contains(out, firstLine(l.Steps[si].Notes.Text)) {
		t.Errorf("show --notes (exit %d) lacks the notes:\n%s", code, out)
	}
}

func TestNotesWithoutTerminal(t *testing.T) {
	isolate(t, "")
	code, out, errs := plain(t, "", "notes")
	if code != 1 || !strings.Contains(errs, "no presenter is running") || !strings.Contains(errs, "--present") || out != "" {
		t.Fatalf("no presenter: exit %d, out %q, err %q", code, out, errs)
	}
	l, si := notedStep(t)
	publishAt(t, l, si)
	code, out, errs = plain(t, "", "notes")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	s := &l.Steps[si]
	for _, want := range []string{"lesson " + strings.ToUpper(l.ID), "step " + itoa(si+1) + " of", s.Title, firstLine(s.Notes.Text), "Elapsed 0:0"} {
		if !strings.Contains(out, want) {
			t.Errorf("notes lacks %q:\n%s", want, out)
		}
	}
	if si+1 < len(l.Steps) && !strings.Contains(out, "Next: step "+itoa(si+2)+" · "+l.Steps[si+1].Title) {
		t.Errorf("notes does not name the next step:\n%s", out)
	}
}

// Without HOME, as list and show, notes works: presenter and follower
// agree on a directory that does not need one.
func TestNotesWithoutHome(t *testing.T) {
	t.Setenv("HOME", "")
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	l, si := notedStep(t)
	publishAt(t, l, si)
	code, out, errs := plain(t, "", "notes")
	if code != 0 || !strings.Contains(out, firstLine(l.Steps[si].Notes.Text)) {
		t.Errorf("without HOME: exit %d, out %q, err %q", code, out, errs)
	}
}

// notedStep is a shipped step with notes, not the first.
func notedStep(t *testing.T) (*lessons.Lesson, int) {
	t.Helper()
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		for i := 1; i < len(l.Steps); i++ {
			if l.Steps[i].Notes.Text != "" {
				return l, i
			}
		}
	}
	t.Fatal("no shipped lesson has speaker notes")
	return nil, 0
}

func publishAt(t *testing.T, l *lessons.Lesson, si int) {
	t.Helper()
	p := presence.NewPublisher(presence.Dir(), time.Now())
	t.Cleanup(func() { p.Close() })
	s := &l.Steps[si]
	if err := p.Publish(p.Stamp(presence.Position{Since: time.Now(), Lesson: l.ID, Step: si, Anchor: s.Anchor, Title: s.Title})); err != nil {
		t.Fatal(err)
	}
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }
