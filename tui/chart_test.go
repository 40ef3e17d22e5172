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
