package tui

import (
	"context"
	"errors"
	"image/color"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/progress"
)

func TestGateRefusesUntilChecksPass(t *testing.T) {
	f, sv := newFake(), &saves{}
	s := run(t, New(options(t, f, 2, sv)), 80, 24)
	s.waitText("Step 2 of 6", "FAIL", "mTLS is STRICT in bookinfo", "kind-test")

	s.press("n")
	scr := s.waitText("Not yet:")
	if !strings.Contains(scr, `"mTLS is STRICT in bookinfo"`) {
		t.Errorf("refusal does not name the check:\n%s", scr)
	}
	if !strings.Contains(scr, "Step 2 of 6") {
		t.Fatalf("moved on although the check fails:\n%s", scr)
	}

	f.setVerdict("tuitest-watch", checks.Pass)
	s.waitText("PASS", "All checks pass")
	s.press("n")
	s.waitText("Step 3 of 6", "Send traffic")
	s.waitFor("step 2 saved as done", func(string) bool { return sv.status("6", "make-it-strict") == progress.Done })
}

func TestSkipAsksAndRecordsSkipped(t *testing.T) {
	sv := &saves{}
	s := run(t, New(options(t, nil, 2, sv)), 80, 24)
	s.waitText("Step 2 of 6", "offline")

	s.press("x")
	s.waitText("Skip this step?", "recorded as skipped")
	s.press("n")
	scr := s.waitText("Cancelled")
	if !strings.Contains(scr, "Step 2 of 6") {
		t.Fatalf("cancelled skip moved on:\n%s", scr)
	}
	s.press("x")
	s.waitText("Skip this step?")
	s.press("y")
	s.waitText("Step 3 of 6", "Skipped step 2")
	s.waitFor("step 2 saved as skipped", func(string) bool { return sv.status("6", "make-it-strict") == progress.Skipped })
	if st := sv.status("6", "look-around"); st != "" {
		t.Errorf("step 1 got status %q without being visited", st)
	}
	// The sidebar marks the skipped step.
	s.waitText(markSkipped + " 2 Make it strict")
}

func TestHintLadder(t *testing.T) {
	s := run(t, New(options(t, nil, 2, nil)), 100, 30)
	s.waitText("Step 2 of 6")
	if strings.Contains(s.text(), "Hint one") {
		t.Fatal("hint shown before asked for")
	}
	s.press("h")
	scr := s.waitText("Hint 1 of 3", "Hint one: the kind is PeerAuthentication")
	if strings.Contains(scr, "Hint two") {
		t.Fatalf("second hint shown after one press:\n%s", scr)
	}
	s.press("h")
	s.waitText("Hint 2 of 3", "Hint two: set spec.mtls.mode")
	s.press("h")
	s.waitText("Hint 3 of 3", "Hint three")
	s.press("h")
	s.waitText("No more hints", "Press s for the solution")
}

func TestSolutionAsksFirst(t *testing.T) {
	s := run(t, New(options(t, nil, 2, nil)), 100, 30)
	s.waitText("Step 2 of 6")
	s.press("s")
	s.waitText("Show the solution?")
	s.press("n")
	scr := s.waitGone("Show the solution?")
	if strings.Contains(scr, "strict.yaml") {
		t.Fatalf("solution shown after no:\n%s", scr)
	}
	s.press("s", "y")
	s.waitText("Solution", "kubectl apply -n bookinfo -f strict.yaml")
}

func TestProbeRunsOnlyAfterConsent(t *testing.T) {
	f := newFake()
	s := run(t, New(options(t, f, 3, nil)), 80, 24)
	s.waitText("Step 3 of 6", "NOT RUN", "kind-test")
	s.press("t")
	s.waitText("Run Traffic splits between v1 and v3?", "sends 100 requests")
	s.press("n")
	s.waitGone("Run Traffic splits")
	if _, runs := f.counts(); runs != 0 {
		t.Fatalf("probe ran without consent (%d runs)", runs)
	}
	s.press("n")
	s.waitText("Not yet:", "t runs it")

	f.setVerdict("tuitest-probe", checks.Pass)
	s.press("t", "y")
	scr := s.waitText("VERSION (100 total)", "v1", "90 (90%)", "v3", "10 (10%)", "PASS")
	if _, runs := f.counts(); runs != 1 {
		t.Fatalf("runs = %d, want 1", runs)
	}
	if !strings.Contains(scr, "█") {
		t.Errorf("no bars drawn:\n%s", scr)
	}
	if strings.Contains(scr, "│") {
		t.Errorf("the sidebar takes room from the chart:\n%s", scr)
	}
	s.press("esc")
	s.waitText("All checks pass")
}

func TestQuestionWithAnswer(t *testing.T) {
	sv := &saves{}
	s := run(t, New(options(t, nil, 4, sv)), 80, 24)
	s.waitText("Which PeerAuthentication mode refuses", "1) PERMISSIVE", "2) STRICT")
	s.press("1")
	s.waitText("NOT YET", markFailed+" 1) PERMISSIVE")
	s.waitFor("wrong answer recorded as failed", func(string) bool { return sv.status("6", "answer-a-question") == progress.Failed })
	s.press("n")
	s.waitText("Not yet:", "not right yet")
	s.press("2")
	s.waitText("RIGHT", "STRICT accepts only mutual TLS")
	s.waitFor("right answer recorded as done", func(string) bool { return sv.status("6", "answer-a-question") == progress.Done })
	s.press("n")
	s.waitText("Step 5 of 6")
}

func TestQuestionJudgedOnCluster(t *testing.T) {
	f := newFake() // the cluster says PERMISSIVE
	s := run(t, New(options(t, f, 5, nil)), 80, 24)
	s.waitText("What mode is bookinfo in now?", "kind-test")
	s.press("1")
	s.waitText("NOT YET")
	s.press("2")
	s.waitText("RIGHT", "Right. n moves on")
	s.press("n")
	s.waitText("Step 6 of 6")
}

func TestQuestionOnClusterOffline(t *testing.T) {
	s := run(t, New(options(t, nil, 5, nil)), 80, 24)
	s.waitText("What mode is bookinfo in now?", "offline")
	s.press("1")
	s.waitText("judged on your cluster")
}

func TestCopyUsesOSC52AndShowsCommand(t *testing.T) {
	s := run(t, New(options(t, nil, 1, nil)), 80, 24)
	s.waitText("Step 1 of 6")
	s.press("c")
	scr := s.waitText("command 1 of 2", "kubectl get pods -n bookinfo")
	clean := false
	for _, l := range strings.Split(scr, "\n") {
		clean = clean || strings.TrimRight(l, " ") == "kubectl get pods -n bookinfo"
	}
	if !clean {
		t.Errorf("the command does not stand alone on a line, ready to select:\n%s", scr)
	}
	// OSC 52 with the base64 of the command. The program writes it when
	// the clipboard command has run, which may be after the frame.
	s.waitFor("an OSC 52 clipboard sequence for the command", func(string) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return strings.Contains(s.raw.String(), "\x1b]52;c;a3ViZWN0bCBnZXQgcG9kcyAtbiBib29raW5mbw==")
	})
	if m := New(options(t, nil, 1, nil)); true {
		m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		if m.View().MouseMode != tea.MouseModeCellMotion {
			t.Error("the wheel is not captured while reading")
		}
		press(t, m, "c")
		if m.View().MouseMode != tea.MouseModeNone {
			t.Error("the mouse is still captured while a command waits to be selected")
		}
	}
	s.press("c")
	s.waitText("command 2 of 2", "kubectl get peerauthentication -A")
	s.press("esc")
	s.waitGone("command 2 of 2")
}

func TestDetailsShowSeenExpectedFix(t *testing.T) {
	f := newFake()
	s := run(t, New(options(t, f, 2, nil)), 100, 30)
	s.waitText("FAIL")
	s.press("d")
	s.waitText("Check details", "seen:     PERMISSIVE", "expected: STRICT", "fix:", "strict.yaml", "MD0601")
	s.press("r")
	s.waitFor("a recheck", func(string) bool { r, _ := f.counts(); return r == 1 })
	s.press("esc")
	s.waitText("Step 2 of 6")
	// A lesson key over the details brings the lesson back with its effect.
	s.press("d")
	s.waitText("Check details")
	s.press("h")
	s.waitText("Hint 1 of 3", "Hint one")
}

func TestLessonListSearch(t *testing.T) {
	s := run(t, New(options(t, nil, 1, nil)), 80, 24)
	s.waitText("Step 1 of 6")
	s.press("tab") // hide the sidebar, which lists lessons too
	s.waitGone("│")
	s.press("/")
	s.waitText("Lessons", "Search:", "6 Test certificates", "10 Resilience drills")
	for _, k := range "resil" {
		s.press(string(k))
	}
	scr := s.waitGone("6 Test certificates")
	if !strings.Contains(scr, "10 Resilience drills") {
		t.Fatalf("search lost the match:\n%s", scr)
	}
	s.press("enter")
	s.waitText("Step 1 of 2", "Set a timeout", "Lesson 10")
}

func TestHelpOverlay(t *testing.T) {
	s := run(t, New(options(t, nil, 1, nil)), 80, 24)
	s.waitText("Step 1 of 6")
	s.press("?")
	s.waitText("Keys", "skip this step")
	s.press("G") // the overlay scrolls like the lesson
	s.waitText("put back what B broke")
	s.press("?")
	s.waitText("Step 1 of 6")
}

func TestResizeRewraps(t *testing.T) {
	s := run(t, New(options(t, nil, 6, nil)), 100, 30)
	s.waitText("Step 6 of 6")
	for _, sz := range [][2]int{{60, 16}, {120, 40}, {80, 24}, {60, 16}} {
		s.resize(sz[0], sz[1])
		scr := s.waitFor("a frame at the new size", func(txt string) bool {
			ls := strings.Split(txt, "\n")
			return len(ls) == sz[1] && strings.Contains(ls[len(ls)-1], "Lesson 6")
		})
		for i, l := range strings.Split(scr, "\n") {
			if w := ansi.StringWidth(l); w > sz[0] {
				t.Errorf("%dx%d: line %d is %d wide: %q", sz[0], sz[1], i, w, l)
			}
		}
	}
}

func TestUsableAt60x16(t *testing.T) {
	s := run(t, New(options(t, nil, 1, nil)), 60, 16)
	s.waitText("Step 1 of 6")
	for step := 1; step <= 6; step++ {
		s.waitText("step " + itoa(step) + "/6")
		for _, k := range []string{"h", "h", "j", "pgdown", "d", "esc", "?", "esc", "c", "esc"} {
			s.press(k)
		}
		scr := s.text()
		ls := strings.Split(scr, "\n")
		if !strings.Contains(ls[len(ls)-1], "Lesson 6") {
			t.Fatalf("status bar lost at step %d:\n%s", step, scr)
		}
		if step < 6 {
			s.press("x", "y")
		}
	}
	s.press("/")
	s.waitText("Search:")
	s.press("esc")
	s.press("q")
}

func TestJapaneseWraps(t *testing.T) {
	for _, w := range []int{60, 80, 45} {
		m := direct(t, options(t, nil, 6, nil), w, 24)
		out := ansi.Strip(view(m))
		for i, l := range strings.Split(out, "\n") {
			if lw := ansi.StringWidth(l); lw > w {
				t.Errorf("width %d: line %d is %d cells: %q", w, i, lw, l)
			}
		}
		// The paragraph is wrapped, not cut: every character is on screen
		// once the viewport is scrolled to the end.
		m.lesson.vp.GotoBottom()
		all := ansi.Strip(m.lesson.vp.GetContent())
		flat := strings.NewReplacer("\n", "", " ", "", "│", "").Replace(all)
		for _, want := range []string{"Istioのサイドカープロキシは", "自動でローテーションされます。", "最後の文末マーカーは終端です。"} {
			if !strings.Contains(flat, want) {
				t.Errorf("width %d: %q missing after wrapping", w, want)
			}
		}
		if lines := strings.Count(all, "サ"); lines == 0 {
			t.Errorf("width %d: Japanese text not rendered", w)
		}
	}
}

func TestNoColor(t *testing.T) {
	o := options(t, nil, 2, nil)
	o.NoColor = true
	m := direct(t, o, 80, 24)
	out := view(m)
	if regexp.MustCompile(`\x1b\[[0-9;]*(38|48);`).MatchString(out) {
		t.Errorf("NO_COLOR output has colour sequences:\n%q", out)
	}
	if !strings.Contains(ansi.Strip(out), "Make it strict") {
		t.Errorf("NO_COLOR output lost the text")
	}
	// A background colour report must not bring colour back.
	m.Update(tea.BackgroundColorMsg{Color: color.White})
	if m.st.name != themeNoColor {
		t.Errorf("theme = %s after a background report, want nocolor", m.st.name)
	}
}

func TestAutoThemeFollowsBackground(t *testing.T) {
	o := options(t, nil, 1, nil)
	o.Theme = ThemeAuto
	m := direct(t, o, 80, 24)
	if m.st.name != ThemeDark {
		t.Fatalf("auto theme starts as %s, want dark", m.st.name)
	}
	m.Update(tea.BackgroundColorMsg{Color: color.White})
	if m.st.name != ThemeLight {
		t.Errorf("after a white background, theme = %s", m.st.name)
	}
	m.Update(tea.BackgroundColorMsg{Color: color.Black})
	if m.st.name != ThemeDark {
		t.Errorf("after a black background, theme = %s", m.st.name)
	}
	// An explicit theme ignores the terminal.
	o.Theme = ThemeLight
	m = direct(t, o, 80, 24)
	m.Update(tea.BackgroundColorMsg{Color: color.Black})
	if m.st.name != ThemeLight {
		t.Errorf("--theme light changed to %s", m.st.name)
	}
}

func TestKeypressDoesNotReRenderMarkdown(t *testing.T) {
	m := direct(t, options(t, nil, 2, nil), 80, 24)
	before := m.lesson.md.renders
	if before == 0 {
		t.Fatal("nothing rendered")
	}
	press(t, m, "j", "k", "pgdown", "n", "x", "n", "?", "esc", "d", "esc", "r", "c", "esc")
	view(m)
	if got := m.lesson.md.renders; got != before {
		t.Errorf("keys that change no text rendered Markdown %d times", got-before)
	}
	press(t, m, "h")
	if got := m.lesson.md.renders; got != before+1 {
		t.Errorf("a hint rendered %d pieces, want exactly 1 (the hint)", got-before)
	}
	// Back and forth between steps uses the cache.
	press(t, m, "p", "right")
	n := m.lesson.md.renders
	press(t, m, "p", "right", "p", "right")
	if m.lesson.md.renders != n {
		t.Errorf("revisiting steps re-rendered %d times", m.lesson.md.renders-n)
	}
	// The next step was rendered in the background, so moving on renders
	// nothing on the UI goroutine.
	n = m.lesson.md.renders
	press(t, m, "x", "y")
	if m.place().si != 2 || m.lesson.md.renders != n || m.lesson.md.prefetch == 0 {
		t.Errorf("moving to a prefetched step: step %d, %d renders, %d prefetched", m.place().si+1, m.lesson.md.renders-n, m.lesson.md.prefetch)
	}
	// A new width renders again, once.
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	n = m.lesson.md.renders
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	view(m)
	if m.lesson.md.renders != n {
		t.Errorf("same size re-rendered")
	}
}

func TestFirstFrameDoesNotWaitForCluster(t *testing.T) {
	release := make(chan struct{})
	o := options(t, nil, 2, nil)
	o.Connect = func(ctx context.Context) (checks.Runner, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, errors.New("connection refused")
	}
	s := run(t, New(o), 80, 24)
	s.waitText("Step 2 of 6", "connecting to kind-test", "NOT CHECKED")
	s.press("j", "h")
	s.waitText("Hint 1 of 3") // the UI answers while connecting
	s.press("j")
	s.waitText("still connecting to the", "Checks (connecting") // not "offline; x skips" yet
	close(release)
	s.waitText("offline", "Why: connection")
	s.press("x", "y")
	s.waitText("Step 3 of 6")
}

func TestResumeWhereLeftOff(t *testing.T) {
	p := progress.New("kind-test")
	p.SetCurrent("6", "send-traffic", time.Now())
	o := options(t, nil, 0, nil)
	o.Lesson, o.Progress = "", p
	m := direct(t, o, 80, 24)
	if m.place().li != 0 || m.place().si != 2 {
		t.Errorf("resumed at lesson %d step %d, want lesson 6 step 3", m.place().li, m.place().si+1)
	}
	// --lesson without --step resumes inside that lesson too.
	p.SetCurrent("10", "retry", time.Now())
	o.Lesson = "6"
	m = direct(t, o, 80, 24)
	if m.place().si != 2 {
		t.Errorf("--lesson 6 opened step %d, want 3", m.place().si+1)
	}
	// A step that no longer exists falls back to the first.
	p.SetCurrent("6", "gone", time.Now())
	m = direct(t, o, 80, 24)
	if m.place().si != 0 {
		t.Errorf("unknown anchor opened step %d", m.place().si+1)
	}
}

func TestCorruptProgressWarningShown(t *testing.T) {
	o := options(t, nil, 1, nil)
	o.Warning = "progress file /x was unreadable; it was moved to /x.corrupt"
	s := run(t, New(o), 100, 24)
	s.waitText("Warning", "progress file /x was unreadable", "press any key")
	s.press("n") // any key acknowledges; it does not act
	s.waitGone("press any key")
	s.waitText("Step 1 of 6") // and the tutorial goes on
}

func TestTinyTerminalNoPanic(t *testing.T) {
	m := direct(t, options(t, nil, 2, nil), 80, 24)
	for _, sz := range [][2]int{{1, 1}, {10, 3}, {29, 7}, {30, 8}, {40, 10}, {0, 0}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		press(t, m, "h", "d", "esc", "?", "esc", "/", "esc", "x", "n")
		view(m)
	}
}

func TestUnknownCheckShownAsBroken(t *testing.T) {
	all := fixtures(t)
	all[0].Steps[1].Checks[0].Name = "no-such-check"
	o := options(t, nil, 2, nil)
	o.Lessons = all
	m := direct(t, o, 100, 24)
	out := ansi.Strip(view(m))
	if !strings.Contains(out, "BROKEN") || !strings.Contains(out, `no check named "no-such-check"`) {
		t.Errorf("unknown check not reported:\n%s", out)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestSavesKeepTheirOrder: saves run as commands on goroutines of their
// own, so they may finish in any order; an older snapshot finishing last
// must not put back what the reader has left.
func TestSavesKeepTheirOrder(t *testing.T) {
	sv := &saves{}
	m := New(options(t, nil, 4, sv))
	first := m.save()
	m.ses.Progress().Mark("6", "answer-a-question", progress.Failed, time.Now())
	second := m.save()
	if msg := second(); msg == nil {
		t.Fatal("the newer save was dropped")
	}
	if msg := first(); msg != nil {
		t.Errorf("the older save ran after the newer one: %#v", msg)
	}
	if got := sv.status("6", "answer-a-question"); got != progress.Failed {
		t.Errorf("saved status = %q, want %q (the newer snapshot)", got, progress.Failed)
	}
}
