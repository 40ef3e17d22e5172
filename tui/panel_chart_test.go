package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/lessons"
)

// chartRunner answers lesson 8's metrics step: its request-rate check
// emits a first chart, waits until the test lets it go on, then ends with
// the final counts; every other check fails.
type chartRunner struct {
	*fakeRunner
	release chan struct{}
}

func (c *chartRunner) Run(ctx context.Context, b checks.Bound, out chan<- checks.Update) checks.Result {
	if b.Check.Name != "request-rate" {
		return c.fakeRunner.Run(ctx, b, out)
	}
	bars := func(pp, rv int) []checks.Bar {
		g := "requests Prometheus counted, per workload"
		return []checks.Bar{{Group: g, Label: "productpage-v2", Value: pp}, {Group: g, Label: "reviews-v4", Value: rv}}
	}
	select {
	case out <- checks.Update{Key: b.Key, Result: checks.Result{Check: b.Check.Name, Verdict: checks.Pending,
		Progress: "12/60 requests · Prometheus asked 3×", Bars: bars(7, 5), At: time.Now()}}:
	case <-ctx.Done():
	}
	select {
	case <-c.release:
	case <-ctx.Done():
	}
	return checks.Result{Check: b.Check.Name, Verdict: checks.Pass, Code: "MD0840", Summary: "query: 2 series",
		Progress: "60/60 requests", Bars: bars(60, 58), At: time.Now()}
}

// TestPanelDrawsMetricChart: the check panel under lesson 8's metrics
// step draws request-rate's series as a small chart under its row, and
// redraws it with each result while the check runs and after it ends.
func TestPanelDrawsMetricChart(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	l, ok := lessons.Find(all, "8")
	if !ok {
		t.Fatal("no lesson 8")
	}
	step := 0
	for i, s := range l.Steps {
		if s.Anchor == "give-the-metrics-their-labels" {
			step = i + 1
		}
	}
	if step == 0 {
		t.Fatal("lesson 8 has no metrics step")
	}
	r := &chartRunner{fakeRunner: newFake(), release: make(chan struct{})}
	o := Options{Lessons: all, Lesson: "8", Step: step, Theme: ThemeDark, Context: "kind-test",
		Connect: func(context.Context) (checks.Runner, error) { return r, nil }}
	s := run(t, New(o), 100, 40)
	s.waitText("Give the metrics their labels", "NOT RUN")
	if strings.Contains(s.text(), "productpage-v2") {
		t.Fatalf("a chart before the check ran:\n%s", s.text())
	}
	s.press("t")
	s.waitText("Run Prometheus counts")
	s.press("y")
	s.waitText("REQUESTS PROMETHEUS COUNTED, PER WORKLOAD", "productpage-v2", "7 (58%)")
	s.press("esc")
	// Back in the lesson, still running: the panel's row and its chart.
	scr := s.waitText("RUNNING", "per workload:", "productpage-v2 ", " 7", "reviews-v4 ")
	if !strings.Contains(scr, "▆") {
		t.Errorf("no bars in the panel:\n%s", scr)
	}
	close(r.release)
	scr = s.waitText("PASS", "productpage-v2 ", " 60", "reviews-v4 ", " 58")
	if strings.Contains(scr, " 7  ") {
		t.Errorf("the panel kept the first chart:\n%s", scr)
	}
}
