package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/progress"
)

// TestResetForgetsTheStep: R asks first, then hides the hints, the
// solution and the answer again, forgets the recorded status (saved),
// and runs the checks afresh.
func TestResetForgetsTheStep(t *testing.T) {
	sv := &saves{}
	s := run(t, New(options(t, nil, 4, sv)), 100, 30)
	s.waitText("Which PeerAuthentication mode refuses")
	s.press("2")
	s.waitText("RIGHT")
	s.waitFor("answer recorded as done", func(string) bool { return sv.status("6", "answer-a-question") == progress.Done })

	s.press("R")
	s.waitText("Reset this step?", "starts over")
	s.press("n")
	s.waitText("Cancelled", "RIGHT")

	s.press("R", "y")
	scr := s.waitText("Step 4 reset", "Press 1-3 to answer")
	if strings.Contains(scr, "RIGHT") || strings.Contains(scr, markDone+" 2) STRICT") {
		t.Fatalf("the answer survived the reset:\n%s", scr)
	}
	s.waitFor("reset saved", func(string) bool { return sv.status("6", "answer-a-question") == "" })
}

func TestResetHidesHintsAndRechecks(t *testing.T) {
	f, sv := newFake(), &saves{}
	f.setVerdict("tuitest-watch", checks.Pass)
	s := run(t, New(options(t, f, 2, sv)), 100, 30)
	s.waitText("Step 2 of 6", "PASS")
	s.waitFor("step done", func(string) bool { return sv.status("6", "make-it-strict") == progress.Done })
	s.press("h", "s", "y")
	s.waitText("Hint 1 of 3", "Solution")

	f.setVerdict("tuitest-watch", checks.Fail)
	s.press("R", "y")
	scr := s.waitText("Step 2 reset", "FAIL")
	if strings.Contains(scr, "Hint 1 of 3") || strings.Contains(scr, "strict.yaml") {
		t.Fatalf("hint or solution survived the reset:\n%s", scr)
	}
	s.waitFor("status forgotten", func(string) bool { return sv.status("6", "make-it-strict") == "" })
	// Checks run afresh: once they pass, the step is done again.
	f.setVerdict("tuitest-watch", checks.Pass)
	s.waitText("PASS")
	s.waitFor("done again", func(string) bool { return sv.status("6", "make-it-strict") == progress.Done })
}

// TestHelpListsEveryKey: the help overlay at 80x24 lists reset, the
// traffic test, answering and the copy fallback, with no column cut off.
func TestHelpListsEveryKey(t *testing.T) {
	m := direct(t, options(t, nil, 1, nil), 80, 24)
	press(t, m, "?")
	var all strings.Builder
	for range 6 {
		all.WriteString(ansi.Strip(view(m)))
		press(t, m, "pgdown")
	}
	txt := strings.Join(strings.Fields(all.String()), " ")
	for _, want := range []string{"next step (when checks pass)", "start this step over", "run the traffic test", "answer the question", "OSC 52"} {
		if !strings.Contains(txt, want) {
			t.Errorf("help does not say %q:\n%s", want, txt)
		}
	}
}
