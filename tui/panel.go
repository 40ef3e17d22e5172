package tui

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/lessons"
)

// The check panel sits under the lesson and lists the step's checks with
// their live state, one line each. Its detail view (d) explains every
// condition: what was seen, what was expected, and how to fix it.

// rowState is a row's mark, word and style.
func rowState(st *styles, r *row, online bool) (string, string, lipgloss.Style) {
	switch {
	case r.problem != "":
		return markError, "BROKEN", st.fail
	case r.running:
		return markPending, "RUNNING", st.pending
	case r.verdict() == checks.Pass:
		return markDone, "PASS", st.pass
	case r.verdict() == checks.Fail:
		return markFailed, "FAIL", st.fail
	case r.verdict() == checks.Error:
		return markError, "ERROR", st.fail
	case !online:
		return markNone, "NOT CHECKED", st.offline
	case r.acts() && r.res == nil:
		return markNone, "NOT RUN", st.offline
	default:
		return markPending, "CHECKING", st.pending
	}
}

// panelLines is the panel's wanted height for the rows and question.
func panelLines(rows []row, q *lessons.Question) int {
	n := len(rows)
	if q != nil {
		n++
	}
	if n == 0 {
		return 0
	}
	return n + 1 // a header line
}

func panelView(st *styles, rows []row, q *lessons.Question, a answer, conn connState, w, h int) string {
	on := conn == online
	if h <= 0 {
		return ""
	}
	head := "Checks"
	switch conn {
	case connecting:
		head += " (connecting to the cluster…)"
	case offline:
		head += " (offline: not checked)"
	}
	lines := []string{st.subtle.Render(ansi.Truncate("── "+head+" "+strings.Repeat("─", w), w, ""))}
	for i := range rows {
		r := &rows[i]
		mark, word, ms := rowState(st, r, on)
		detail := ""
		switch {
		case r.problem != "":
			detail = r.problem
		case r.res != nil && r.res.Progress != "" && r.running:
			detail = r.res.Progress
		case r.res != nil && r.verdict() != checks.Pass:
			detail = failing(r.res)
		case r.acts() && r.res == nil && on:
			detail = "press t to run"
		}
		left := ms.Render(fmt.Sprintf("%s %-7s", mark, word)) + " " + st.text.Render(r.b.Title)
		if detail != "" {
			left += st.subtle.Render(" — " + detail)
		}
		lines = append(lines, ansi.Truncate(left, w, "…"))
	}
	if q != nil {
		mark, word, ms := markNone, "QUESTION", st.pending
		switch {
		case a.judging:
			mark, word = markPending, "JUDGING"
		case a.judged && a.right:
			mark, word, ms = markDone, "RIGHT", st.pass
		case a.judged:
			mark, word, ms = markFailed, "NOT YET", st.fail
		}
		text := fmt.Sprintf("answer with 1-%d", len(q.Choices))
		if a.note != "" {
			text = a.note
		}
		lines = append(lines, ansi.Truncate(ms.Render(fmt.Sprintf("%s %-7s", mark, word))+" "+st.text.Render(text), w, "…"))
	}
	if len(lines) > h {
		// Too small to list everything: keep the header and say how many
		// are hidden, so nothing fails silently off screen.
		hidden := len(lines) - h + 1
		lines = append(lines[:h-1], st.subtle.Render(fmt.Sprintf("  +%d more — press d for details", hidden)))
	}
	return fit(strings.Join(lines, "\n"), w, h)
}

// detailView explains every check of the step in full.
func detailView(st *styles, rows []row, online bool, w int) string {
	var b strings.Builder
	b.WriteString(st.title.Render("Check details") + "\n")
	b.WriteString(st.subtle.Render("esc or d to go back · r re-checks") + "\n\n")
	if len(rows) == 0 {
		b.WriteString("This step has no checks.\n")
	}
	wrap := lipgloss.NewStyle().Width(max(10, w))
	ind := lipgloss.NewStyle().Width(max(10, w-4)).PaddingLeft(4)
	for i := range rows {
		r := &rows[i]
		mark, word, ms := rowState(st, r, online)
		b.WriteString(wrap.Render(ms.Render(mark+" "+word)+" "+st.title.Render(r.b.Title)) + "\n")
		name := "?"
		if r.b.Check != nil {
			name = r.b.Check.Name
		}
		b.WriteString(ind.Render(st.subtle.Render("check "+name+paramString(r.b.Params))) + "\n")
		if r.b.Check != nil && r.b.Check.Acts != "" {
			b.WriteString(ind.Render(st.warn.Render("Acts on your cluster: ")+r.b.Check.Acts) + "\n")
		}
		switch {
		case r.problem != "":
			b.WriteString(ind.Render(st.errMsg.Render("Cannot run: ")+r.problem) + "\n")
		case r.res == nil && !online:
			b.WriteString(ind.Render("Not checked: no cluster is connected.") + "\n")
		case r.res == nil:
			b.WriteString(ind.Render("No result yet.") + "\n")
		default:
			code := ""
			if r.res.Code != "" {
				code = " [" + r.res.Code + "]"
			}
			b.WriteString(ind.Render(r.res.Summary+st.subtle.Render(code)) + "\n")
			for _, c := range r.res.Conditions {
				cm, cs := markDone, st.pass
				if !c.OK {
					cm, cs = markFailed, st.fail
				}
				b.WriteString(ind.Render(cs.Render(cm)+" "+c.Name) + "\n")
				b.WriteString(hang(st.text, "        seen:     ", orNone(c.Observed), w) + "\n")
				b.WriteString(hang(st.text, "        expected: ", c.Expected, w) + "\n")
				if !c.OK && c.Fix != "" {
					fix := strings.ReplaceAll(c.Fix, checks.Again, checks.Again+" with r")
					b.WriteString(hang(st.accent, "        fix:      ", fix, w) + "\n")
				}
			}
			if len(r.res.Bars) > 0 {
				b.WriteString("\n" + chartView(st, r.res, max(10, w-4)) + "\n")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// hang writes label then value, the value wrapped with a hanging indent
// so long fixes stay readable in a narrow window.
func hang(ls lipgloss.Style, label, value string, w int) string {
	lw := lipgloss.Width(label)
	v := lipgloss.NewStyle().Width(max(10, w-lw)).Render(value)
	return lipgloss.JoinHorizontal(lipgloss.Top, ls.Render(label), v)
}

func paramString(p checks.Params) string {
	if len(p) == 0 {
		return ""
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sortStrings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+p[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
