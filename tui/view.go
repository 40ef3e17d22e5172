package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Smallest screen the UI draws; below it a one-line notice is shown
// instead of a layout that cannot fit.
const minW, minH = 30, 8

// tooSmall says that the screen is too small, in the words that fit: the
// full sentence wrapped if it can be, shorter ones if not, and never a
// word cut in half ("meshdojo needs at le" said nothing useful).
func tooSmall(w, h int) string {
	need := fmt.Sprintf("%dx%d", minW, minH)
	for _, s := range []string{
		fmt.Sprintf("meshdojo needs at least %s (now %dx%d); q quits", need, w, h),
		"meshdojo needs at least " + need + "; q quits",
		"needs " + need + "; q quits",
		"needs " + need,
		need,
	} {
		if ls, ok := wrapWords(s, w); ok && len(ls) <= h {
			return strings.Join(ls, "\n")
		}
	}
	return ansi.Truncate(need, w, "")
}

// wrapWords breaks s into lines at most w wide at spaces; ok is false
// when a word alone is wider than w.
func wrapWords(s string, w int) (lines []string, ok bool) {
	cur := ""
	for _, word := range strings.Fields(s) {
		switch {
		case ansi.StringWidth(word) > w:
			return nil, false
		case cur == "":
			cur = word
		case ansi.StringWidth(cur)+1+ansi.StringWidth(word) <= w:
			cur += " " + word
		default:
			lines, cur = append(lines, cur), word
		}
	}
	return append(lines, cur), true
}

// geometry is where each region goes for the current size.
type geometry struct {
	sideW, mainW, mainH, panelH, msgH int
	// presenter mode: the left and right margin, blank rows at the top,
	// and the header's height (present.go)
	padL, top, headH int
}

func (m *Model) geometry() geometry {
	var g geometry
	if m.side.visible(m.w) && m.w >= 50 && m.mode != modeProbe && !m.present {
		g.sideW = min(max(m.w/4, 18), 30)
	}
	g.mainW = m.w - g.sideW
	if g.sideW > 0 {
		g.mainW-- // separator column
	}
	if m.present {
		g.padL = presentPad(m.w)
		g.mainW = m.w - 2*g.padL
		if m.h >= 28 {
			g.top = 1
		}
		if m.mode == modeLesson && m.hasLessons() {
			g.headH = lipgloss.Height(presentHeader(m.st, m.ses, g.mainW, m.h)) + 1 // and a blank row
		}
	}
	if m.hasLessons() {
		g.panelH = m.panel.height(m.ses, max(2, m.h/4))
		if m.present {
			// Two lines a check when a third of the screen holds them.
			if n := presentPanelLines(m.ses); n <= max(3, m.h/3) {
				g.panelH = n
			}
		}
	}
	// The message line grows to show a long warning in full, within
	// limits, rather than cutting off the part that says what to do.
	maxMsg := 1
	if m.h >= 14 {
		maxMsg = 2
	}
	if m.h >= 22 {
		maxMsg = 3
	}
	msgW := m.w
	if m.present {
		msgW = m.w - 2*presentPad(m.w)
	}
	g.msgH = min(maxMsg, max(1, lipgloss.Height(m.messageText(msgW))))
	g.mainH = max(1, m.h-1-g.msgH-g.panelH-g.top-g.headH) // message lines and status bar
	return g
}

func (m *Model) messageText(w int) string {
	return m.msg.view(m.st, m.ses, m.mode == modePicker, w)
}

// layout sizes the viewports and makes sure the lesson viewport holds the
// current step's text. It is cheap when nothing changed.
func (m *Model) layout() {
	if m.w < minW || m.h < minH || !m.hasLessons() {
		return
	}
	g := m.geometry()
	m.lesson.setSize(g.mainW, g.mainH)
	m.over.setSize(g.mainW, g.mainH)
	if m.mode == modeLesson {
		// Only the lesson on screen is composed: a wider probe chart
		// must not re-render the hidden lesson at another width.
		m.lesson.compose(m.ses, m.st, g.mainW, m.present)
	}
	m.refreshOverlay()
}

func (m *Model) refreshOverlay() { m.over.refresh(m.mode, m.ses, m.st, m.keys) }

// fit makes s exactly w cells wide and h lines high: long lines are cut
// (the regions wrap their own text; this only guards the layout) and
// short ones padded. It is much cheaper than a lipgloss block with a
// width, which re-wraps every line on every frame.
func fit(s string, w, h int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > h {
		ls = ls[:h]
	}
	var b strings.Builder
	for i := 0; i < h; i++ {
		l := ""
		if i < len(ls) {
			l = ls[i]
		}
		if lw := ansi.StringWidth(l); lw > w {
			l = ansi.Truncate(l, w, "")
		} else if lw < w {
			l += strings.Repeat(" ", w-lw)
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

// readW is the widest a paragraph is wrapped: on a big screen or a
// projector, lines of 180 characters are hard to follow from one end to
// the next, so text keeps a reading measure and the rest stays empty.
const readW = 100

// mdWidth is the Markdown wrap width for a main area w wide.
func mdWidth(w int) int { return min(max(20, w-1), readW) }

// prefetch renders the next step's text in the background.
func (m *Model) prefetch() tea.Cmd {
	if m.w < minW || m.h < minH || !m.hasLessons() {
		return nil
	}
	li, si, ok := m.ses.Following()
	if !ok {
		return nil
	}
	if li != m.place().li {
		si = 0 // the next lesson's start
	}
	l := m.ses.Lessons()[li]
	k := mdKey{lesson: l.ID, step: si, part: "body", width: mdWidth(m.geometry().mainW), theme: m.st.id}
	cmd := m.lesson.md.ahead(k, m.st, l.Steps[si].Body)
	if si == 0 && l.Intro != "" {
		k.part = "intro"
		cmd = tea.Batch(cmd, m.lesson.md.ahead(k, m.st, l.Intro))
	}
	return cmd
}

// View draws the whole screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	if m.copyBox != "" {
		// Let go of the mouse while a command is offered for copying, so
		// the terminal's own selection works without modifier keys.
		v.MouseMode = tea.MouseModeNone
	}
	if m.hasLessons() {
		v.WindowTitle = "meshdojo · " + strings.ToUpper(m.ses.Lesson().ID) + " " + m.ses.Lesson().Title
	}
	return v
}

func (m *Model) render() string {
	if m.w == 0 || m.h == 0 {
		return "" // the size arrives with the first message
	}
	if !m.hasLessons() {
		return "meshdojo: this build has no lessons. Press q to quit."
	}
	if m.w < minW || m.h < minH {
		return tooSmall(m.w, m.h)
	}
	g := m.geometry()
	var main string
	switch m.mode {
	case modePicker:
		main = m.pick.view(m.st, m.ses.Progress(), g.mainW, g.mainH)
	case modeLesson:
		main = m.lesson.view()
	default:
		main = m.over.view()
	}
	main = fit(main, g.mainW, g.mainH)
	if g.headH > 0 {
		main = fit(presentHeader(m.st, m.ses, g.mainW, m.h), g.mainW, g.headH) + "\n" + main
	}
	if g.sideW > 0 {
		side := m.side.view(m.st, m.ses, g.sideW, g.mainH)
		sep := m.st.sepLine.Render(strings.TrimSuffix(strings.Repeat("│\n", g.mainH), "\n"))
		main = lipgloss.JoinHorizontal(lipgloss.Top, side, sep, main)
	}
	if g.padL > 0 {
		var top []string
		for range g.top {
			top = append(top, "")
		}
		main = strings.Join(append(top, main), "\n")
	}
	parts := []string{main}
	panelW, msgW := m.w, m.w
	if g.padL > 0 {
		panelW, msgW = g.mainW, g.mainW
	}
	if g.panelH > 0 {
		if m.present {
			parts = append(parts, presentPanelView(m.st, m.ses, panelW, g.panelH))
		} else {
			parts = append(parts, m.panel.view(m.st, m.ses, panelW, g.panelH))
		}
	}
	parts = append(parts, cut(m.messageText(msgW), msgW, g.msgH))
	if g.padL > 0 {
		// The margins: everything but the status bar is indented.
		pad := strings.Repeat(" ", g.padL)
		body := strings.Split(strings.Join(parts, "\n"), "\n")
		for i, l := range body {
			if l != "" {
				body[i] = pad + l
			}
		}
		parts = []string{strings.Join(body, "\n")}
	}
	parts = append(parts, m.statusBar())
	screen := strings.Join(parts, "\n")

	var layers []*lipgloss.Layer
	if m.copyBox != "" {
		// Full width with no side borders, so selecting the command with
		// the mouse picks up nothing but the command.
		// A long unbreakable token (a URL, a base64 blob) is broken at the
		// edge rather than pushing the box past it; the clipboard still
		// gets the command whole.
		body := ansi.Wrap(m.st.boxTitle.Render("Copy")+"  "+m.copyBox, m.w, "")
		box := m.st.copyBox.Width(m.w).Render(body)
		box = lipgloss.NewStyle().MaxHeight(g.mainH).Render(box)
		y := max(0, g.mainH-lipgloss.Height(box))
		layers = append(layers, lipgloss.NewLayer(box).X(0).Y(y).Z(1))
	}
	if m.dlg != nil {
		box := m.dlg.view(m.st, m.w, m.h)
		layers = append(layers, lipgloss.NewLayer(box).X(max(0, (m.w-lipgloss.Width(box))/2)).Y(max(0, (m.h-lipgloss.Height(box))/2)).Z(2))
	}
	if len(layers) > 0 {
		base := lipgloss.NewLayer(screen)
		screen = lipgloss.NewCompositor(append([]*lipgloss.Layer{base}, layers...)...).Render()
	}
	return clip(screen, m.w, m.h)
}

// clip guarantees the frame fits the terminal: a line wider than the
// screen would wrap in the terminal and push every row below it down,
// garbling the whole frame. Regions fit their own text; this is the last
// guard, and costs one width scan per line.
func clip(s string, w, h int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > h {
		ls = ls[:h]
	}
	for i, l := range ls {
		if ansi.StringWidth(l) > w {
			ls[i] = ansi.Truncate(l, w, "")
		}
	}
	return strings.Join(ls, "\n")
}
