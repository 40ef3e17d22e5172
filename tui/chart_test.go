package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/checks"
)

// TestChartBarsAreShares: bar lengths are proportional to each bar's
// share of its group, so the split reads right on a projector.
func TestChartBarsAreShares(t *testing.T) {
	r := &checks.Result{Bars: []checks.Bar{{Group: "version", Label: "v1", Value: 75}, {Group: "version", Label: "v3", Value: 25}}}
	out := ansi.Strip(chartView(newStyles(ThemeDark, false), r, 110))
	var n []int
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "v") {
			n = append(n, strings.Count(l, "█"))
		}
	}
	if len(n) != 2 || n[0] < 2*n[1] || n[0] > 4*n[1]+1 {
		t.Fatalf("bars for 75/25 are %v long; want about 3:1\n%s", n, out)
	}
	if n[0]+n[1] < 80 {
		t.Errorf("bars fill %d of 110 columns; the whole group should span the width", n[0]+n[1])
	}
}

// TestChartTallerWhenPresenting: in presenter mode each bar is three
// rows tall, so a split reads from the back of a room.
func TestChartTallerWhenPresenting(t *testing.T) {
	r := &checks.Result{Bars: []checks.Bar{{Group: "version", Label: "v1", Value: 80}, {Group: "version", Label: "v3", Value: 20}}}
	rows := func(present bool) int {
		n := 0
		for _, l := range strings.Split(ansi.Strip(chartView(newStyles(ThemeDark, present), r, 80)), "\n") {
			if strings.Contains(l, "█") {
				n++
			}
		}
		return n
	}
	if got, want := rows(false), 4; got != want {
		t.Errorf("reading: %d bar rows, want %d", got, want)
	}
	if got, want := rows(true), 6; got != want {
		t.Errorf("presenting: %d bar rows, want %d", got, want)
	}
}
