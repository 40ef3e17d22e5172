package tui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/meshdojo/meshdojo/internal/session"
)

// lessonView is the main area while reading: the open step's rendered
// Markdown, the hints and solution revealed so far, and the question. It
// owns the reading keys: scrolling, and the step's own keys (next,
// previous, skip, reset, hint, solution, copy, links, answers), which it
// turns into intents for the root.
type lessonView struct {
	vp    viewport.Model
	md    *mdCache
	key   string         // what vp holds, so unchanged content is not reset
	parts map[string]int // where each part (hint2, solution…) starts in vp
}

func newLessonView() lessonView {
	lv := lessonView{vp: viewport.New(), md: newMDCache(), parts: map[string]int{}}
	lv.vp.MouseWheelDelta = 3
	return lv
}

// invalidate makes the next compose rebuild the content (a new step or
// theme); the cache keeps rendering cheap.
func (lv *lessonView) invalidate() { lv.key = "" }

func (lv *lessonView) top() { lv.vp.GotoTop() }

func (lv *lessonView) setSize(w, h int) {
	lv.vp.SetWidth(w)
	lv.vp.SetHeight(h)
}

// update handles a key: scroll keys move the text, the step's keys
// become intents; nil when the key is not the lesson's or was a scroll.
func (lv *lessonView) update(k tea.KeyPressMsg, ks keyMap) tea.Msg {
	switch {
	case keyIs(k, ks.Next):
		return nextMsg{}
	case keyIs(k, ks.Prev):
		return prevMsg{}
	case keyIs(k, ks.Skip):
		return askMsg{dlgSkip}
	case keyIs(k, ks.Reset):
		return askMsg{dlgReset}
	case keyIs(k, ks.Link):
		return linksMsg{}
	case keyIs(k, ks.Hint):
		return hintMsg{}
	case keyIs(k, ks.Solution):
		return solutionMsg{}
	case keyIs(k, ks.Copy):
		return copyMsg{}
	case keyIs(k, ks.Answer):
		return answerMsg{int(k.Code - '1')}
	case keyIs(k, ks.Break):
		return breakKeyMsg{}
	case keyIs(k, ks.Restore):
		return restoreKeyMsg{}
	}
	scroll(&lv.vp, k, ks)
	return nil
}

func (lv *lessonView) wheel(msg tea.MouseWheelMsg) tea.Cmd {
	var cmd tea.Cmd
	lv.vp, cmd = lv.vp.Update(msg)
	return cmd
}

// scroll moves a viewport for the scroll keys and reports whether the key
// was one of them.
func scroll(vp *viewport.Model, k tea.KeyPressMsg, ks keyMap) bool {
	switch {
	case keyIs(k, ks.Up):
		vp.ScrollUp(1)
	case keyIs(k, ks.Down):
		vp.ScrollDown(1)
	case keyIs(k, ks.PageUp):
		vp.PageUp()
	case keyIs(k, ks.PageDn):
		vp.PageDown()
	case keyIs(k, ks.Top):
		vp.GotoTop()
	case keyIs(k, ks.Bottom):
		vp.GotoBottom()
	default:
		return false
	}
	return true
}

func (lv *lessonView) view() string { return lv.vp.View() }

// scrolled is how far the step is scrolled, and whether it does not fit.
func (lv *lessonView) scrolled() (pct int, cut bool) {
	return int(lv.vp.ScrollPercent() * 100), lv.vp.TotalLineCount() > lv.vp.Height()
}

func (lv *lessonView) scrollToPart(name string) {
	if at, ok := lv.parts[name]; ok {
		if at < lv.vp.YOffset() || at >= lv.vp.YOffset()+lv.vp.Height()-2 {
			lv.vp.SetYOffset(max(0, at))
		}
	}
}

// compose fills the viewport with the open step: its rendered Markdown
// pieces from the cache plus the question. The viewport is only reset
// when the composition key changes.
func (lv *lessonView) compose(ses *session.Session, st *styles, w int, present bool) {
	shown := ses.Shown()
	l, s := ses.Lesson(), ses.Step()
	_, si := ses.Place()
	ans := shown.Ans
	key := fmt.Sprintf("%s/%d/%d/%s/%t/h%d/s%t/q%d%t%t%t%s", l.ID, si, w, st.id, present, shown.Hints, shown.Solution,
		ans.Chosen, ans.Judging, ans.Judged, ans.Right, ans.Note)
	if key == lv.key {
		return
	}
	sameStep := strings.HasPrefix(lv.key, fmt.Sprintf("%s/%d/%d/", l.ID, si, w))
	lv.key = key
	clear(lv.parts)
	mdW := mdWidth(w)
	mk := func(part string) mdKey {
		return mdKey{lesson: l.ID, step: si, part: part, width: mdW, theme: st.id}
	}
	wrap := lipgloss.NewStyle().Width(mdW).PaddingLeft(2)

	var parts []string
	lines := 0
	add := func(name, s string) {
		if name != "" {
			lv.parts[name] = lines
		}
		parts = append(parts, s)
		lines += lipgloss.Height(s) + 1
	}
	if si == 0 {
		meta := fmt.Sprintf("Lesson %s · %s · about %d min", strings.ToUpper(l.ID), l.Title, l.Minutes)
		var needs []string
		if l.Mode != "" && l.Mode != "none" {
			needs = append(needs, "Istio in "+l.Mode+" mode")
		}
		if l.Lab != "" {
			needs = append(needs, "lab "+l.Lab)
		}
		if len(needs) > 0 {
			meta += "\nNeeds: " + strings.Join(needs, ", ")
		}
		add("", wrap.Render(st.subtle.Render(meta)))
		if l.Intro != "" {
			add("intro", lv.md.render(mk("intro"), st, l.Intro))
		}
	}
	if present {
		// The header above the text shows the title and the counter.
		lv.parts["top"] = lines
	} else {
		add("top", wrap.Render(st.title.Render(fmt.Sprintf("Step %d of %d · %s", si+1, len(l.Steps), s.Title))))
	}
	if s.Body != "" {
		add("body", lv.md.render(mk("body"), st, s.Body))
	}
	for i := 0; i < shown.Hints && i < len(s.Hints); i++ {
		name := "hint" + strconv.Itoa(i+1)
		add(name, wrap.Render(st.warn.Render(fmt.Sprintf("Hint %d of %d", i+1, len(s.Hints))))+"\n"+lv.md.render(mk(name), st, s.Hints[i]))
	}
	if shown.Solution && s.Solution != "" {
		add("solution", wrap.Render(st.warn.Render("Solution"))+"\n"+lv.md.render(mk("solution"), st, s.Solution))
	}
	if q := s.Question; q != nil {
		var b strings.Builder
		b.WriteString(st.title.Render("Question") + "\n" + q.Prompt + "\n\n")
		for i, c := range q.Choices {
			mark, cs := " ", st.choice
			if i == ans.Chosen && ans.Judged {
				if ans.Right {
					mark, cs = markDone, st.choiceRight
				} else {
					mark, cs = markFailed, st.choiceWrong
				}
			} else if i == ans.Chosen && ans.Judging {
				mark = markPending
			}
			b.WriteString(cs.Render(fmt.Sprintf("%s %d) %s", mark, i+1, c)) + "\n")
		}
		if ans.Note != "" {
			b.WriteString("\n" + st.subtle.Render(ans.Note) + "\n")
		} else {
			b.WriteString("\n" + st.subtle.Render(fmt.Sprintf("Press 1-%d to answer.", len(q.Choices))) + "\n")
		}
		add("question", wrap.Render(strings.TrimRight(b.String(), "\n")))
	}
	y := lv.vp.YOffset()
	lv.vp.SetContent(strings.Join(parts, "\n\n"))
	if sameStep {
		lv.vp.SetYOffset(y) // revealing a hint must not jump back to the top
	}
}
