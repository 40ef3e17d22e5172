package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/lessons"
)

// uptimeBars is a chart over time as uptime-probe reports it: per second,
// the answers that were 2xx and the others.
func uptimeBars(ok, bad []int) []checks.Bar {
	var bars []checks.Bar
	for i, v := range ok {
		bars = append(bars, checks.Bar{Group: "2xx", Label: fmt.Sprintf("%ds", i), Value: v, Series: true})
	}
	for i, v := range bad {
		bars = append(bars, checks.Bar{Group: "not 2xx", Label: fmt.Sprintf("%ds", i), Value: v, Series: true})
	}
	return bars
}

// uptimeRunner answers lesson a1's restart step: its uptime-probe emits
// a first chart over time, waits until the test lets it go on, then fails
// with a second of failures in its chart; every other check fails.
type uptimeRunner struct {
	*fakeRunner
	release chan struct{}
}

func (u *uptimeRunner) Run(ctx context.Context, b checks.Bound, out chan<- checks.Update) checks.Result {
	if b.Check.Name != "uptime-probe" {
		return u.fakeRunner.Run(ctx, b, out)
	}
	select {
	case out <- checks.Update{Key: b.Key, Result: checks.Result{Check: b.Check.Name, Verdict: checks.Pending,
		Progress: "3s · 30 answers · 0 not 2xx · 0/4 restarted", Bars: uptimeBars([]int{10, 10, 10}, []int{0, 0, 0}), At: time.Now()}}:
	case <-ctx.Done():
	}
	select {
	case <-u.release:
	case <-ctx.Done():
	}
	return checks.Result{Check: b.Check.Name, Verdict: checks.Fail, Code: "MD0891",
		Summary:  "7 of 80 answers not 2xx: 503 UC ×7 sent 4.1s-4.7s",
		Progress: "8s · 80 answers · 7 not 2xx", Bars: uptimeBars([]int{10, 10, 10, 10, 3, 10, 10, 10}, []int{0, 0, 0, 0, 7, 0, 0, 0}), At: time.Now()}
}

// TestPanelDrawsUptimeChart: under lesson a1's restart step the check
// panel draws uptime-probe's answers over time, one line per series, live
// while it runs and again with its verdict; the probe's own view draws
// them large. Without colour the series still read apart: their own rows
// in the panel, their own glyphs in the large chart, and a dot for a
// second without any.
func TestPanelDrawsUptimeChart(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	l, ok := lessons.Find(all, "a1")
	if !ok {
		t.Fatal("no lesson a1")
	}
	step := 0
	for i, s := range l.Steps {
		for _, c := range s.Checks {
			if c.Name == "uptime-probe" {
				step = i + 1
			}
		}
	}
	if step == 0 {
		t.Fatal("lesson a1 has no uptime-probe")
	}
	r := &uptimeRunner{fakeRunner: newFake(), release: make(chan struct{})}
	o := Options{Lessons: all, Lesson: "a1", Step: step, NoColor: true, Context: "kind-test",
		Connect: func(context.Context) (checks.Runner, error) { return r, nil }}
	s := run(t, New(o), 110, 50)
	s.waitText("no request failed while Bookinfo restarted", "NOT RUN")
	if strings.Contains(s.text(), "not 2xx") {
		t.Fatalf("a chart before the probe ran:\n%s", s.text())
	}
	s.press("t")
	s.waitText("Run")
	s.press("y")
	// The probe's view: the large chart, its legend and axis.
	scr := s.waitText("ANSWERS PER SECOND", "█ 2xx 30", "▒ not 2xx 0", "0s", "2s")
	if strings.Contains(scr, "▒▒") {
		t.Fatalf("failures drawn where there are none:\n%s", scr)
	}
	s.press("esc")
	// Back in the lesson, still running: a line per series under the row.
	s.waitText("RUNNING", "2xx     ███ 30", "not 2xx ··· 0")
	close(r.release)
	s.waitText("FAIL", "503 UC ×7", "2xx     ████▃███ 73", "not 2xx ····▅··· 7")
}

// TestTimeChartShowsOneFailure: in the large chart a single failed answer
// among hundreds still takes a cell of its own, and a probe longer than
// the width is summed into wider columns rather than cut.
func TestTimeChartShowsOneFailure(t *testing.T) {
	st := newStyles(themeNoColor, false)
	ok, bad := make([]int, 300), make([]int, 300)
	for i := range ok {
		ok[i] = 10
	}
	ok[150], bad[150] = 9, 1
	order, groups, series := seriesGroups(uptimeBars(ok, bad))
	if !series {
		t.Fatal("series bars not seen as a chart over time")
	}
	out := timeChartView(st, order, groups, 80)
	if !strings.Contains(out, "PER 4 SECONDS") || strings.Count(out, "▒") != 1+1 { // the legend's and the failure's
		t.Fatalf("want 300 seconds in 75 columns of 4 and one failure cell:\n%s", out)
	}
	if !strings.Contains(out, "0s") || !strings.Contains(out, "299s") {
		t.Fatalf("no time axis:\n%s", out)
	}
}
