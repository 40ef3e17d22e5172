package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/session"
)

// A chart over time (bars marked Series: one bar per bucket, in time
// order, for each series) is drawn by the same two functions as every
// other chart, chartView and miniChartLines, in columns from left to
// right. It reads without colour: each series has its own glyph and its
// own labelled row or band, and an empty bucket shows as a dot.

// seriesGroups splits bars into groups in order of first appearance, and
// says whether they are series over time.
func seriesGroups(bars []checks.Bar) (order []string, groups map[string][]checks.Bar, series bool) {
	groups = map[string][]checks.Bar{}
	for _, b := range bars {
		if _, ok := groups[b.Group]; !ok {
			order = append(order, b.Group)
		}
		groups[b.Group] = append(groups[b.Group], b)
		series = series || b.Series
	}
	return order, groups, series
}

// chartRows is how many lines a row's small chart takes in the check
// panel: one, or one per series of a chart over time; 0 when it has none.
func chartRows(r *session.Row) int {
	if !charted(r) {
		return 0
	}
	order, _, series := seriesGroups(r.Res.Bars)
	if series {
		return len(order)
	}
	return 1
}

// sparkGlyphs are the heights of a small chart over time, lowest first.
var sparkGlyphs = []rune("▁▂▃▄▅▆▇█")

// spark draws values as one line of heights scaled to most; 0 is a dot,
// so a bucket with nothing is told from a bucket not yet there.
func spark(values []int, most int) string {
	var b strings.Builder
	for _, v := range values {
		if v <= 0 || most <= 0 {
			b.WriteRune('·')
			continue
		}
		i := v * (len(sparkGlyphs) - 1) / most
		b.WriteRune(sparkGlyphs[i])
	}
	return b.String()
}

// timeSeriesLines draws each series on its own line for the check panel:
// its name, its last buckets as heights (as many as fit; "…" when the
// start is cut), and its total.
func timeSeriesLines(st *styles, order []string, groups map[string][]checks.Bar, w int) []string {
	labelW, most, totalW := 0, 0, 0
	totals := map[string]int{}
	for _, g := range order {
		labelW = max(labelW, ansi.StringWidth(g))
		for _, b := range groups[g] {
			most = max(most, b.Value)
			totals[g] += b.Value
		}
		totalW = max(totalW, len(fmt.Sprint(totals[g])))
	}
	room := max(1, w-3-labelW-1-1-totalW-1)
	var out []string
	for i, g := range order {
		bars := groups[g]
		vals := make([]int, len(bars))
		for j, b := range bars {
			vals[j] = b.Value
		}
		cut := ""
		if len(vals) > room {
			vals, cut = vals[len(vals)-room+1:], "…"
		}
		line := "   " + st.chartLabel.Render(g+strings.Repeat(" ", labelW-ansi.StringWidth(g))) + " " +
			st.subtle.Render(cut) + st.chartBar[i%len(st.chartBar)].Render(spark(vals, most)) +
			st.chartLabel.Render(fmt.Sprintf(" %d", totals[g]))
		out = append(out, ansi.Truncate(line, w, "…"))
	}
	return out
}

// bandGlyphs tell the series of a big chart over time apart without
// colour: the first (2xx) solid, the next ones shaded and crossed.
var bandGlyphs = []string{"█", "▒", "╳", "░"}

// timeChartView draws a chart over time large: one column per bucket
// (several buckets summed per column when they do not fit), the series
// stacked from the bottom in their order, each with its own glyph and
// colour, under a title with the totals and a legend, over an axis of
// the buckets' labels.
func timeChartView(st *styles, order []string, groups map[string][]checks.Bar, w int) string {
	n := 0
	for _, g := range order {
		n = max(n, len(groups[g]))
	}
	if n == 0 {
		return ""
	}
	axisW := 5 // "  12 " before the columns: the scale
	cols := max(1, w-axisW)
	per := (n + cols - 1) / cols // buckets a column sums
	ncol := (n + per - 1) / per
	stacks := make([][]int, ncol)
	totals := map[string]int{}
	most := 0
	for c := range stacks {
		stacks[c] = make([]int, len(order))
	}
	for gi, g := range order {
		for j, b := range groups[g] {
			stacks[j/per][gi] += b.Value
			totals[g] += b.Value
		}
	}
	for _, s := range stacks {
		sum := 0
		for _, v := range s {
			sum += v
		}
		most = max(most, sum)
	}
	height := 4
	if st.present {
		height = 6
	}
	var legend []string
	for gi, g := range order {
		legend = append(legend, st.chartBar[gi%len(st.chartBar)].Render(bandGlyphs[gi%len(bandGlyphs)])+" "+
			st.chartLabel.Render(fmt.Sprintf("%s %d", g, totals[g])))
	}
	unit := "per second"
	if per > 1 {
		unit = fmt.Sprintf("per %d seconds", per)
	}
	out := []string{st.chartTitle.Render("ANSWERS " + strings.ToUpper(unit)), strings.Join(legend, "   ")}
	// Each column's stack, in cells from the bottom: a series with any
	// answer in it gets at least one cell, so a single failure shows.
	cells := make([][]int, ncol) // per column, per cell from the bottom: series index or -1
	for c, s := range stacks {
		col := make([]int, 0, height)
		for gi, v := range s {
			k := 0
			if most > 0 {
				k = (v*height + most - 1) / most
			}
			if v > 0 && k == 0 {
				k = 1
			}
			for range k {
				if len(col) < height {
					col = append(col, gi)
				} else if gi > 0 {
					col[len(col)-1] = gi // the top cell goes to a later series rather than hiding it
				}
			}
		}
		cells[c] = col
	}
	for row := height - 1; row >= 0; row-- {
		var b strings.Builder
		scale := "    "
		if row == height-1 {
			scale = fmt.Sprintf("%4d", most)
		}
		b.WriteString(st.subtle.Render(scale) + " ")
		for c := range ncol {
			if row < len(cells[c]) {
				gi := cells[c][row]
				b.WriteString(st.chartBar[gi%len(st.chartBar)].Render(bandGlyphs[gi%len(bandGlyphs)]))
			} else if row == 0 {
				b.WriteString(st.subtle.Render("·"))
			} else {
				b.WriteString(" ")
			}
		}
		out = append(out, b.String())
	}
	// The axis: the first and last bucket's labels under their columns.
	first, last := groups[order[0]][0].Label, groups[order[0]][len(groups[order[0]])-1].Label
	gap := max(1, ncol-ansi.StringWidth(first)-ansi.StringWidth(last))
	out = append(out, strings.Repeat(" ", axisW)+st.subtle.Render(first+strings.Repeat(" ", gap)+last))
	return strings.Join(out, "\n")
}
