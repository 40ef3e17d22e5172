package tui

import (
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/internal/session"
	"github.com/meshdojo/meshdojo/lessons"
)

// sidebar lists the lessons, with the open lesson's steps and their
// marks. It owns its region and the key that shows or hides it (tab);
// what it lists is the session's.
type sidebar struct {
	shown    bool
	explicit bool // the reader toggled it; otherwise it follows the width
}

// visible reports whether the sidebar is wanted on a screen w wide: as
// the reader last chose, or when there is room.
func (sb sidebar) visible(w int) bool {
	if sb.explicit {
		return sb.shown
	}
	return w >= 72
}

// update handles tab on a screen w wide; it reports whether the key was
// the sidebar's.
func (sb *sidebar) update(k tea.KeyPressMsg, ks keyMap, w int) bool {
	if !keyIs(k, ks.Sidebar) {
		return false
	}
	sb.shown, sb.explicit = !sb.visible(w), true
	return true
}

// stepMark returns the mark and style for a step.
func stepMark(st *styles, prog *progress.State, l *lessons.Lesson, i int, current bool) (string, lipgloss.Style) {
	if current {
		return markCurrent, st.accent
	}
	switch prog.StatusOf(l.ID, l.Steps[i].Anchor) {
	case progress.Done:
		return markDone, st.pass
	case progress.Failed:
		return markFailed, st.fail
	case progress.Skipped:
		return markSkipped, st.skipped
	}
	return markNone, st.offline
}

func (sb sidebar) view(st *styles, ses *session.Session, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	all, prog := ses.Lessons(), ses.Progress()
	li, si := ses.Place()
	var lines []string
	focus := 0
	for n, l := range all {
		anchors := make([]string, len(l.Steps))
		for i := range l.Steps {
			anchors[i] = l.Steps[i].Anchor
		}
		done, _ := prog.Count(l.ID, anchors)
		head := lessonLabel(l)
		if n == li {
			lines = append(lines, st.sideCurLesson.Render(ansi.Truncate(head, w, "…")))
			for i := range l.Steps {
				mark, ms := stepMark(st, prog, l, i, i == si)
				text := ansi.Truncate(strconv.Itoa(i+1)+" "+l.Steps[i].Title, w-3, "…")
				ts := st.sideStep
				if i == si {
					ts = st.sideCurStep
					focus = len(lines)
				}
				lines = append(lines, " "+ms.Render(mark)+" "+ts.Render(text))
			}
			continue
		}
		tail := ""
		if done > 0 {
			tail = " " + strconv.Itoa(done) + "/" + strconv.Itoa(len(l.Steps))
		}
		lines = append(lines, st.sideLesson.Render(ansi.Truncate(head, w-len(tail), "…")+tail))
	}
	// Keep the current step in view: a window around it.
	start := 0
	if len(lines) > h {
		start = min(max(0, focus-h/2), len(lines)-h)
	}
	lines = lines[start:min(len(lines), start+h)]
	return fit(strings.Join(lines, "\n"), w, h)
}

func lessonLabel(l *lessons.Lesson) string {
	return strings.ToUpper(l.ID) + " " + l.Title
}
