package tui

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

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
