package tui

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/internal/session"
)

type level int

const (
	lvInfo level = iota
	lvWarn
	lvErr
)

// messageLine is the line under the check panel: what just happened, or
// else what the gate is waiting for. It has no keys; a key press clears
// what it said.
type messageLine struct {
	text string
	lvl  level
	gate bool // a gate refusal, stale once the gate opens
}

// say sets the message. A warning or error is not replaced by a lesser
// message until the reader presses a key.
func (l *messageLine) say(lv level, s string) {
	if l.text != "" && lv < l.lvl {
		return
	}
	l.text, l.lvl, l.gate = s, lv, false
}

// refuse says why the gate is closed.
func (l *messageLine) refuse(s string) {
	l.say(lvWarn, s)
	l.gate = true
}

// gateOpened drops a refusal that is no longer true.
func (l *messageLine) gateOpened() {
	if l.gate {
		l.text, l.gate = "", false
	}
}

func (l *messageLine) clear() { l.text, l.lvl = "", lvInfo }

// view is the message wrapped to w: the last thing said, or what the
// step's gate is waiting for.
func (l messageLine) view(st *styles, ses *session.Session, picker bool, w int) string {
	text, ts := l.text, st.info
	switch l.lvl {
	case lvWarn:
		ts = st.warn
	case lvErr:
		ts = st.errMsg
	}
	if text == "" {
		open, why := ses.Gate()
		switch {
		case picker:
			text, ts = " ", st.subtle
		case open && (len(ses.Rows()) > 0 || ses.Step().Question != nil):
			text, ts = markDone+" All checks pass. n: next step", st.pass
		case open:
			text, ts = "n: next step · h: hint · ?: help", st.subtle
		default:
			text, ts = "Waiting: "+why, st.subtle
		}
	}
	return ts.Width(max(1, w)).Render(strings.ReplaceAll(text, "\n", " "))
}

// cut is a wrapped message cut to h lines, the last one marked when
// something was cut.
func cut(text string, w, h int) string {
	ls := strings.Split(text, "\n")
	if len(ls) > h {
		ls = ls[:h]
		ls[h-1] = ansi.Truncate(ls[h-1], w-1, "") + "…"
	}
	for len(ls) < h {
		ls = append(ls, "")
	}
	return strings.Join(ls, "\n")
}

// statusBar: cluster context (or offline), lesson progress, main keys,
// and how far the step is scrolled when it does not fit.
func (m *Model) statusBar() string {
	st := m.st
	var ctx string
	switch m.ses.Conn() {
	case session.Online:
		ctx = st.barCtx.Render(" ● " + m.contextName() + " ")
		if m.away != nil {
			ctx = st.barOffline.Render(" ○ " + m.contextName() + " not answering, reconnecting… ")
		}
	case session.Connecting:
		name := m.opt.Context
		if name == "" {
			name = "cluster"
		}
		ctx = st.barOffline.Render(" … connecting to " + name + " ")
	default:
		ctx = st.barOffline.Render(" ○ offline ")
	}
	l, p := m.ses.Lesson(), m.place()
	anchors := make([]string, len(l.Steps))
	for i := range l.Steps {
		anchors[i] = l.Steps[i].Anchor
	}
	done, skipped := m.ses.Progress().Count(l.ID, anchors)
	prog := fmt.Sprintf(" Lesson %s · step %d/%d · %d done", strings.ToUpper(l.ID), p.si+1, len(l.Steps), done)
	if skipped > 0 {
		prog += fmt.Sprintf(", %d skipped", skipped)
	}
	prog += " "
	left := ctx + st.bar.Render(prog)
	room := m.w - lipgloss.Width(left)
	// Keys are taken by importance while they fit, then laid out in
	// reading order. The scroll position comes after next and help: a
	// reader can see the text is cut, but not which key explains it.
	var scroll string
	if m.mode == modeLesson {
		if pct, cut := m.lesson.scrolled(); cut {
			// Said as a scroll position, so it is not read as lesson
			// progress next to "done"; shown only when the step does not
			// fit.
			scroll = fmt.Sprintf("· scrolled %d%% ", pct)
		}
	}
	fits := map[string]string{}
	used := 1
	for i, b := range m.keys.ShortHelp() {
		if sw := ansi.StringWidth(scroll); i == 2 && sw > 0 && used+sw <= room {
			left += st.bar.Render(scroll)
			room -= sw
		}
		k := st.barKey.Render(b.Help().Key) + st.bar.Render(" "+b.Help().Desc)
		w := lipgloss.Width(k)
		if used > 1 {
			w += 2
		}
		if used+w > room {
			continue
		}
		fits[b.Help().Key], used = k, used+w
	}
	right := ""
	for _, name := range barOrder {
		if k, ok := fits[name]; ok {
			if right != "" {
				right += st.bar.Render("  ")
			}
			right += k
		}
	}
	pad := max(0, room-lipgloss.Width(right))
	return ansi.Truncate(left+st.bar.Render(strings.Repeat(" ", pad))+right, m.w, "")
}
