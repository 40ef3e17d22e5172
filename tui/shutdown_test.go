package tui

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/meshdojo/meshdojo/checks"
)

// slowProbe is a runner whose probe runs until it is cancelled and then
// takes a moment to clean up, as a probe pod's deletion does.
type slowProbe struct {
	*fakeRunner
	started, cleaned atomic.Bool
}

func (f *slowProbe) Run(ctx context.Context, b checks.Bound, out chan<- checks.Update) checks.Result {
	f.started.Store(true)
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond) // the clean-up
	f.cleaned.Store(true)
	return checks.Result{Check: b.Check.Name, Verdict: checks.Error, Summary: "cancelled"}
}

// TestShutdownWaitsForProbeCleanup: when the program ends while a probe
// runs (q, ctrl+c, or SIGTERM, after which Bubble Tea quits without
// calling Update), Shutdown cancels the probe and waits for its clean-up.
func TestShutdownWaitsForProbeCleanup(t *testing.T) {
	f := &slowProbe{fakeRunner: newFake()}
	m := New(options(t, f, 3, nil))
	s := run(t, m, 80, 24)
	s.waitText("Step 3 of 6", "NOT RUN")
	s.press("t", "y")
	s.waitFor("the probe to start", func(string) bool { return f.started.Load() })
	if err := s.tm.Quit(); err != nil { // what SIGTERM does: a QuitMsg
		t.Fatal(err)
	}
	s.tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	if f.cleaned.Load() {
		t.Fatal("the probe finished before Shutdown was called; the test proves nothing")
	}
	if !m.Shutdown(10 * time.Second) {
		t.Fatal("Shutdown timed out")
	}
	if !f.cleaned.Load() {
		t.Fatal("Shutdown returned before the probe cleaned up")
	}
}

// TestQuitRightAfterConsent: q pressed just after y consents to a probe,
// before the probe's command has run. The program may never run that
// command, so Shutdown must not wait for it (it used to wait its whole
// time-out and the CLI then warned of a leftover pod that was never
// created), and a command run late must not start the probe.
func TestQuitRightAfterConsent(t *testing.T) {
	f := newFake()
	m := direct(t, options(t, f, 3, nil), 80, 24)
	press(t, m, "t")
	_, probe := m.Update(keyMsg("y"))
	if probe == nil {
		t.Fatal("consenting started nothing")
	}
	m.Update(keyMsg("q")) // before the program ran the probe's command
	if !m.Shutdown(10 * time.Second) {
		t.Fatal("Shutdown waited for a probe that never started")
	}
	drainAll(probe) // the program running the command after all
	if _, runs := f.counts(); runs != 0 {
		t.Fatalf("the probe ran after the reader quit (%d runs)", runs)
	}
}

// drainAll runs a command and every command it batches, dropping their
// messages, as a program that is shutting down would.
func drainAll(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	if b, ok := cmd().(tea.BatchMsg); ok {
		for _, c := range b {
			drainAll(c)
		}
	}
}
