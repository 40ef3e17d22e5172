package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/session"
	"github.com/meshdojo/meshdojo/lessons"
)

// checkPanel sits under the lesson and lists the step's checks with
// their live state, one line each. It owns the check keys: r re-checks,
// t runs (or shows) a traffic test, d opens the detail view, which
// explains every condition: what was seen, what was expected, and how
// to fix it. Its state is the session's; it keeps none of its own.
type checkPanel struct{}

// update turns the panel's keys into intents; nil for other keys.
func (checkPanel) update(k tea.KeyPressMsg, ks keyMap) tea.Msg {
	switch {
	case keyIs(k, ks.Recheck):
		return recheckMsg{}
	case keyIs(k, ks.Probe):
		return probeKeyMsg{}
	case keyIs(k, ks.Details):
		return detailsMsg{}
	}
	return nil
}

// height is the panel's wanted height, within max.
func (checkPanel) height(ses *session.Session, most int) int {
	return min(panelLines(ses.Rows(), ses.Step().Question), most)
}

func (checkPanel) view(st *styles, ses *session.Session, w, h int) string {
	return panelView(st, ses.Rows(), ses.Step().Question, ses.Shown().Ans, ses.Conn(), w, h)
}

// rowState is a row's mark, word and style.
func rowState(st *styles, r *session.Row, online bool) (string, string, lipgloss.Style) {
	switch {
	case r.Problem != "":
		return markError, "BROKEN", st.fail
	case r.Running:
		return markPending, "RUNNING", st.pending
	case r.Verdict() == checks.Pass:
		return markDone, "PASS", st.pass
	case r.Verdict() == checks.Fail:
		return markFailed, "FAIL", st.fail
	case r.Verdict() == checks.Error:
		return markError, "ERROR", st.fail
	case !online:
		return markNone, "NOT CHECKED", st.offline
	case r.Acts() && r.Res == nil:
		return markNone, "NOT RUN", st.offline
	default:
		return markPending, "CHECKING", st.pending
	}
}

// panelHeader is the panel's first line: its name, what the connection
// means for the verdicts under it, and a rule of rune to the edge. The
// ordinary and the presenter's panel differ only in the rule.
func panelHeader(st *styles, conn session.Conn, rule string, w int) string {
	head := "Checks"
	switch conn {
	case session.Connecting:
		head += " (connecting to the cluster…)"
	case session.Offline:
		head += " (offline: not checked)"
	}
	return st.subtle.Render(ansi.Truncate(rule+rule+" "+head+" "+strings.Repeat(rule, w), w, ""))
}

// rowDetail is what a row says after its verdict: why it cannot run,
// its progress, what is wrong, or, for a traffic test not yet run while
// online, run (how to start it); "" when there is nothing to add.
func rowDetail(r *session.Row, online bool, run string) string {
	switch {
	case r.Problem != "":
		return r.Problem
	case r.Res != nil && r.Res.Progress != "" && r.Running:
		return r.Res.Progress
	case r.Res != nil && r.Verdict() != checks.Pass:
		return session.Failing(r.Res)
	case r.Acts() && r.Res == nil && online:
		return run
	}
	return ""
}

// questionState is the question's row: its mark, word and style from
// the answer's state, and the text beside it (the answer's note, or how
// to answer).
func questionState(st *styles, q *lessons.Question, a session.Answer) (mark, word string, ms lipgloss.Style, text string) {
	mark, word, ms = markNone, "QUESTION", st.pending
	switch {
	case a.Judging:
		mark, word = markPending, "JUDGING"
	case a.Judged && a.Right:
		mark, word, ms = markDone, "RIGHT", st.pass
	case a.Judged:
		mark, word, ms = markFailed, "NOT YET", st.fail
	}
	text = fmt.Sprintf("answer with 1-%d", len(q.Choices))
	if a.Note != "" {
		text = a.Note
	}
	return mark, word, ms, text
}

// charted says whether a row draws a small chart under its line: its
// check asks for one and its result has bars.
func charted(r *session.Row) bool {
	return r.Bound.Check != nil && r.Bound.Check.Chart && r.Res != nil && len(r.Res.Bars) > 0
}

// panelLines is the panel's wanted height for the rows and question.
func panelLines(rows []session.Row, q *lessons.Question) int {
	n := len(rows)
	for i := range rows {
		n += chartRows(&rows[i])
	}
	if q != nil {
		n++
	}
	if n == 0 {
		return 0
	}
	return n + 1 // a header line
}

func panelView(st *styles, rows []session.Row, q *lessons.Question, a session.Answer, conn session.Conn, w, h int) string {
	on := conn == session.Online
	if h <= 0 {
		return ""
	}
	lines := []string{panelHeader(st, conn, "─", w)}
	for i := range rows {
		r := &rows[i]
		mark, word, ms := rowState(st, r, on)
		detail := rowDetail(r, on, "press t to run")
		left := ms.Render(fmt.Sprintf("%s %-7s", mark, word)) + " " + st.text.Render(r.Bound.Title)
		if detail != "" {
			left += st.subtle.Render(" — " + detail)
		}
		lines = append(lines, ansi.Truncate(left, w, "…"))
		if charted(r) {
			lines = append(lines, miniChartLines(st, r.Res.Bars, w)...)
		}
	}
	if q != nil {
		mark, word, ms, text := questionState(st, q, a)
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
func detailView(st *styles, rows []session.Row, online bool, w int) string {
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
		b.WriteString(wrap.Render(ms.Render(mark+" "+word)+" "+st.title.Render(r.Bound.Title)) + "\n")
		name := "?"
		if r.Bound.Check != nil {
			name = r.Bound.Check.Name
		}
		b.WriteString(ind.Render(st.subtle.Render("check "+name+paramString(r.Bound.Params))) + "\n")
		if r.Bound.Check != nil && r.Bound.Check.Acts != "" {
			b.WriteString(ind.Render(st.warn.Render("Acts on your cluster: ")+r.Bound.Check.Acts) + "\n")
		}
		switch {
		case r.Problem != "":
			b.WriteString(ind.Render(st.errMsg.Render("Cannot run: ")+r.Problem) + "\n")
		case r.Res == nil && !online:
			b.WriteString(ind.Render("Not checked: no cluster is connected.") + "\n")
		case r.Res == nil:
			b.WriteString(ind.Render("No result yet.") + "\n")
		default:
			code := ""
			if r.Res.Code != "" {
				code = " [" + r.Res.Code + "]"
			}
			b.WriteString(ind.Render(r.Res.Summary+st.subtle.Render(code)) + "\n")
			for _, c := range r.Res.Conditions {
				cm, cs := markDone, st.pass
				if !c.OK {
					cm, cs = markFailed, st.fail
				}
				b.WriteString(ind.Render(cs.Render(cm)+" "+c.Name) + "\n")
				b.WriteString(hang(st.text, "        seen:     ", session.OrNone(c.Observed), w) + "\n")
				b.WriteString(hang(st.text, "        expected: ", c.Expected, w) + "\n")
				if !c.OK && c.Fix != "" {
					fix := strings.ReplaceAll(c.Fix, checks.Again, checks.Again+" with r")
					b.WriteString(hang(st.accent, "        fix:      ", fix, w) + "\n")
				}
			}
			if len(r.Res.Bars) > 0 {
				b.WriteString("\n" + chartView(st, r.Res, max(10, w-4)) + "\n")
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
