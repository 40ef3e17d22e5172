package tui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/session"
)

// chartView draws a probe's bars as a large horizontal bar chart meant to
// be read from the back of a room: one group per block, each bar two rows
// tall when there is space, labelled with its name, count and share; a
// full-width bar is the whole group.
func chartView(st *styles, r *checks.Result, w int) string {
	order, groups, series := seriesGroups(r.Bars)
	if series {
		return timeChartView(st, order, groups, w)
	}
	var out []string
	for _, g := range order {
		bars := groups[g]
		total, most, labelW := 0, 0, 0
		for _, b := range bars {
			total += b.Value
			most = max(most, b.Value)
			labelW = max(labelW, ansi.StringWidth(b.Label))
		}
		title := g
		if title == "" {
			title = "responses"
		}
		out = append(out, st.chartTitle.Render(fmt.Sprintf("%s (%d total)", strings.ToUpper(title), total)))
		figW := len(fmt.Sprintf(" %d (100%%)", most))
		barW := max(1, w-labelW-1-figW)
		for i, b := range bars {
			// Bars are shares of the total, so a 79/21 split looks like
			// one from the back of the room (scaled to the largest bar it
			// would look like 100/27).
			n := 0
			if total > 0 {
				n = b.Value * barW / total
			}
			if b.Value > 0 && n == 0 {
				n = 1 // a non-zero bar is never invisible
			}
			pct := 0
			if total > 0 {
				pct = b.Value * 100 / total
			}
			style := st.chartBar[i%len(st.chartBar)]
			label := st.chartLabel.Render(ansi.Truncate(b.Label, labelW, "") + strings.Repeat(" ", labelW-ansi.StringWidth(b.Label)))
			bar := style.Render(strings.Repeat("█", n))
			fig := st.chartLabel.Render(fmt.Sprintf(" %d (%d%%)", b.Value, pct))
			out = append(out, label+" "+bar+fig)
			// Bars two rows tall when there is room, three in presenter
			// mode: the back of the room reads the lengths, not the labels.
			extra := 0
			if w >= 40 {
				extra = 1
				if st.present {
					extra = 2
				}
			}
			for range extra {
				out = append(out, strings.Repeat(" ", labelW+1)+style.Render(strings.Repeat("█", n)))
			}
		}
		out = append(out, "")
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n")
}

// miniChart draws bars on one line for the check panel: each label
// with a bar scaled to the largest value and the value itself, as many
// as fit.
func miniChart(st *styles, bars []checks.Bar, w int) string {
	most := 0
	for _, b := range bars {
		most = max(most, b.Value)
	}
	const barW = 8
	var parts []string
	for i, b := range bars {
		n := 0
		if most > 0 {
			n = b.Value * barW / most
		}
		if b.Value > 0 && n == 0 {
			n = 1
		}
		parts = append(parts, st.chartLabel.Render(b.Label+" ")+st.chartBar[i%len(st.chartBar)].Render(strings.Repeat("▆", n))+
			st.chartLabel.Render(fmt.Sprintf(" %d", b.Value)))
	}
	title := ""
	if len(bars) > 0 && bars[0].Group != "" {
		title = st.subtle.Render(bars[0].Group + ": ")
	}
	return ansi.Truncate("   "+title+strings.Join(parts, "  "), w, "…")
}

// miniChartLines is a row's small chart in the check panel: miniChart's
// one line, or one line per series of a chart over time.
func miniChartLines(st *styles, bars []checks.Bar, w int) []string {
	if order, groups, series := seriesGroups(bars); series {
		return timeSeriesLines(st, order, groups, w)
	}
	return []string{miniChart(st, bars, w)}
}

// probeView is the main area while a probe runs and after it finished.
func probeView(st *styles, r *session.Row, w int) string {
	var b strings.Builder
	b.WriteString(st.title.Render(r.Bound.Title) + "\n")
	if r.Bound.Check != nil && r.Bound.Check.Acts != "" {
		b.WriteString(st.subtle.Render(r.Bound.Check.Acts) + "\n")
	}
	b.WriteString("\n")
	mark, word, ms := rowState(st, r, true)
	status := ms.Render(mark + " " + word)
	if r.Res != nil {
		if r.Res.Progress != "" {
			status += "  " + st.chartLabel.Render(r.Res.Progress)
		}
		if !r.Running && r.Res.Summary != "" {
			status += "  " + r.Res.Summary
		}
	}
	b.WriteString(status + "\n\n")
	if r.Res != nil && len(r.Res.Bars) > 0 {
		b.WriteString(chartView(st, r.Res, w) + "\n")
	} else if r.Running {
		b.WriteString(st.subtle.Render("waiting for the first responses…") + "\n")
	}
	b.WriteString("\n" + st.subtle.Render("esc: back to the lesson · t: run again · d: details"))
	return b.String()
}

func sortStrings(s []string) { sort.Strings(s) }
