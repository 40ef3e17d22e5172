package tui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
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
}

func (m *Model) geometry() geometry {
	var g geometry
	if !m.side.explicit {
		m.side.shown = m.w >= 72
	}
	if m.side.shown && m.w >= 50 && m.mode != modeProbe {
		g.sideW = min(max(m.w/4, 18), 30)
	}
	g.mainW = m.w - g.sideW
	if g.sideW > 0 {
		g.mainW-- // separator column
	}
	if len(m.all) > 0 {
		g.panelH = min(panelLines(m.rows, m.step().Question), max(2, m.h/4))
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
	g.msgH = min(maxMsg, max(1, lipgloss.Height(m.messageText(m.w))))
	g.mainH = max(1, m.h-1-g.msgH-g.panelH) // message lines and status bar
	return g
}

// layout sizes the viewports and makes sure the lesson viewport holds the
// current step's text. It is cheap when nothing changed.
func (m *Model) layout() {
	if m.w < minW || m.h < minH || len(m.all) == 0 {
		return
	}
	g := m.geometry()
	m.vp.SetWidth(g.mainW)
	m.vp.SetHeight(g.mainH)
	m.ov.SetWidth(g.mainW)
	m.ov.SetHeight(g.mainH)
	if m.mode == modeLesson {
		// Only the lesson on screen is composed: a wider probe chart
		// must not re-render the hidden lesson at another width.
		m.compose(g.mainW)
	}
	m.refreshOverlay()
}

// compose fills the lesson viewport with the current step: its rendered
// Markdown pieces from the cache plus the question. The viewport is only
// reset when the composition key changes.
func (m *Model) compose(w int) {
	ui := m.stepState()
	l, s := m.lesson(), m.step()
	ans := ui.ans
	key := fmt.Sprintf("%s/%d/%d/%s/h%d/s%t/q%d%t%t%t%s", l.ID, m.si, w, m.st.name, ui.hints, ui.solution,
		ans.chosen, ans.judging, ans.judged, ans.right, ans.note)
	if key == m.vpKey {
		return
	}
	sameStep := strings.HasPrefix(m.vpKey, fmt.Sprintf("%s/%d/%d/", l.ID, m.si, w))
	m.vpKey = key
	clear(m.parts)
	mdW := mdWidth(w)
	mk := func(part string) mdKey {
		return mdKey{lesson: l.ID, step: m.si, part: part, width: mdW, theme: m.st.name}
	}
	wrap := lipgloss.NewStyle().Width(mdW).PaddingLeft(2)

	var parts []string
	lines := 0
	add := func(name, s string) {
		if name != "" {
			m.parts[name] = lines
		}
		parts = append(parts, s)
		lines += lipgloss.Height(s) + 1
	}
	if m.si == 0 {
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
		add("", wrap.Render(m.st.subtle.Render(meta)))
		if l.Intro != "" {
			add("intro", m.md.render(mk("intro"), m.st, l.Intro))
		}
	}
	add("top", wrap.Render(m.st.title.Render(fmt.Sprintf("Step %d of %d · %s", m.si+1, len(l.Steps), s.Title))))
	if s.Body != "" {
		add("body", m.md.render(mk("body"), m.st, s.Body))
	}
	for i := 0; i < ui.hints && i < len(s.Hints); i++ {
		name := "hint" + strconv.Itoa(i+1)
		add(name, wrap.Render(m.st.warn.Render(fmt.Sprintf("Hint %d of %d", i+1, len(s.Hints))))+"\n"+m.md.render(mk(name), m.st, s.Hints[i]))
	}
	if ui.solution && s.Solution != "" {
		add("solution", wrap.Render(m.st.warn.Render("Solution"))+"\n"+m.md.render(mk("solution"), m.st, s.Solution))
	}
	if q := s.Question; q != nil {
		var b strings.Builder
		b.WriteString(m.st.title.Render("Question") + "\n" + q.Prompt + "\n\n")
		for i, c := range q.Choices {
			mark, cs := " ", m.st.choice
			if i == ans.chosen && ans.judged {
				if ans.right {
					mark, cs = markDone, m.st.choiceRight
				} else {
					mark, cs = markFailed, m.st.choiceWrong
				}
			} else if i == ans.chosen && ans.judging {
				mark = markPending
			}
			b.WriteString(cs.Render(fmt.Sprintf("%s %d) %s", mark, i+1, c)) + "\n")
		}
		if ans.note != "" {
			b.WriteString("\n" + m.st.subtle.Render(ans.note) + "\n")
		} else {
			b.WriteString("\n" + m.st.subtle.Render(fmt.Sprintf("Press 1-%d to answer.", len(q.Choices))) + "\n")
		}
		add("question", wrap.Render(strings.TrimRight(b.String(), "\n")))
	}
	y := m.vp.YOffset()
	m.vp.SetContent(strings.Join(parts, "\n\n"))
	if sameStep {
		m.vp.SetYOffset(y) // revealing a hint must not jump back to the top
	}
}

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
	if m.w < minW || m.h < minH || len(m.all) == 0 {
		return nil
	}
	li, si := m.li, m.si+1
	if si >= len(m.all[li].Steps) {
		if li+1 >= len(m.all) {
			return nil
		}
		li, si = li+1, 0
	}
	l := m.all[li]
	k := mdKey{lesson: l.ID, step: si, part: "body", width: mdWidth(m.geometry().mainW), theme: m.st.name}
	cmd := m.md.ahead(k, m.st, l.Steps[si].Body)
	if si == 0 && l.Intro != "" {
		k.part = "intro"
		cmd = tea.Batch(cmd, m.md.ahead(k, m.st, l.Intro))
	}
	return cmd
}

func (m *Model) scrollToPart(name string) {
	if at, ok := m.parts[name]; ok {
		if at < m.vp.YOffset() || at >= m.vp.YOffset()+m.vp.Height()-2 {
			m.vp.SetYOffset(max(0, at))
		}
	}
}

// refreshOverlay regenerates the detail, probe or help text; all three
// are cheap lipgloss strings, not Markdown.
func (m *Model) refreshOverlay() {
	w := m.ov.Width()
	if w <= 0 {
		return
	}
	switch m.mode {
	case modeDetail:
		m.ov.SetContent(detailView(m.st, m.rows, m.conn == online, w-1))
	case modeProbe:
		if m.probeRow >= 0 && m.probeRow < len(m.rows) {
			m.ov.SetContent(probeView(m.st, &m.rows[m.probeRow], w-2))
		}
	case modeHelp:
		m.help.SetWidth(w)
		var b strings.Builder
		b.WriteString(m.st.title.Render("Keys") + "\n")
		for i, group := range m.keys.FullHelp() {
			b.WriteString("\n" + m.st.subtle.Render([]string{"Moving", "Reading", "Doing"}[i]) + "\n")
			b.WriteString(m.help.FullHelpView([][]key.Binding{group}) + "\n")
		}
		b.WriteString("\n" + m.st.subtle.Render("The step's checks run by themselves while you work; n moves on once they pass. "+
			"Checks that act on your cluster (traffic tests) run only when you press t and say yes. "+
			"A question is answered with its choice's number. c also shows the command in a box: if your terminal "+
			"ignores the clipboard request (OSC 52), select it there with the mouse; esc closes the box. "+
			"R starts the step over without touching your cluster. "+
			linkMark+" marks a link to another step: o follows it. "+
			"Progress is saved as you go; start meshdojo again to resume.") + "\n\n" +
			m.st.subtle.Render("esc or ? closes this help"))
		body := b.String()
		m.ov.SetContent(lipgloss.NewStyle().Width(w - 1).Render(body))
	}
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
	if len(m.all) > 0 {
		v.WindowTitle = "meshdojo · " + strings.ToUpper(m.lesson().ID) + " " + m.lesson().Title
	}
	return v
}

func (m *Model) render() string {
	if m.w == 0 || m.h == 0 {
		return "" // the size arrives with the first message
	}
	if len(m.all) == 0 {
		return "meshdojo: this build has no lessons. Press q to quit."
	}
	if m.w < minW || m.h < minH {
		return tooSmall(m.w, m.h)
	}
	g := m.geometry()
	var main string
	switch m.mode {
	case modePicker:
		main = m.pick.view(m.st, m.prog, g.mainW, g.mainH)
	case modeLesson:
		main = m.vp.View()
	default:
		main = m.ov.View()
	}
	main = fit(main, g.mainW, g.mainH)
	if g.sideW > 0 {
		side := m.side.view(m.st, m.all, m.prog, m.li, m.si, g.sideW, g.mainH)
		sep := m.st.sepLine.Render(strings.TrimSuffix(strings.Repeat("│\n", g.mainH), "\n"))
		main = lipgloss.JoinHorizontal(lipgloss.Top, side, sep, main)
	}
	parts := []string{main}
	if g.panelH > 0 {
		parts = append(parts, panelView(m.st, m.rows, m.step().Question, m.stepState().ans, m.conn, m.w, g.panelH))
	}
	parts = append(parts, m.messageLine(g.msgH), m.statusBar())
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
		bw := min(m.w-4, 64)
		foot := m.st.key.Render("y") + " yes   " + m.st.key.Render("n") + " no"
		switch m.dlg.kind {
		case "notice":
			foot = m.st.subtle.Render("press any key to go on")
		case "link":
			foot = m.st.key.Render("y") + " go   " + m.st.key.Render("n") + " stay"
			if len(m.links) > 1 {
				foot += "   " + m.st.key.Render("o") + " next link"
			}
		}
		box := m.st.box.Width(bw).Render(m.st.boxTitle.Render(m.dlg.title) + "\n\n" + m.dlg.body + "\n\n" + foot)
		box = lipgloss.NewStyle().MaxHeight(m.h).Render(box)
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

// messageText is what the message line says, wrapped to w: what just
// happened, or what the gate is waiting for.
func (m *Model) messageText(w int) string {
	text, st := m.flash, m.st.info
	switch m.flashLvl {
	case lvWarn:
		st = m.st.warn
	case lvErr:
		st = m.st.errMsg
	}
	if text == "" {
		open, why := m.gateOpen()
		switch {
		case m.mode == modePicker:
			text, st = " ", m.st.subtle
		case open && (len(m.rows) > 0 || m.step().Question != nil):
			text, st = markDone+" All checks pass. n: next step", m.st.pass
		case open:
			text, st = "n: next step · h: hint · ?: help", m.st.subtle
		default:
			text, st = "Waiting: "+why, m.st.subtle
		}
	}
	return st.Width(max(1, w)).Render(strings.ReplaceAll(text, "\n", " "))
}

// messageLine is the message cut to h lines.
func (m *Model) messageLine(h int) string {
	ls := strings.Split(m.messageText(m.w), "\n")
	if len(ls) > h {
		ls = ls[:h]
		ls[h-1] = ansi.Truncate(ls[h-1], m.w-1, "") + "…"
	}
	for len(ls) < h {
		ls = append(ls, "")
	}
	return strings.Join(ls, "\n")
}

// statusBar: cluster context (or offline), lesson progress, main keys.
func (m *Model) statusBar() string {
	st := m.st
	var ctx string
	switch m.conn {
	case online:
		ctx = st.barCtx.Render(" ● " + m.contextName() + " ")
		if m.away != nil {
			ctx = st.barOffline.Render(" ○ " + m.contextName() + " not answering, reconnecting… ")
		}
	case connecting:
		name := m.opt.Context
		if name == "" {
			name = "cluster"
		}
		ctx = st.barOffline.Render(" … connecting to " + name + " ")
	default:
		ctx = st.barOffline.Render(" ○ offline ")
	}
	l := m.lesson()
	anchors := make([]string, len(l.Steps))
	for i := range l.Steps {
		anchors[i] = l.Steps[i].Anchor
	}
	done, skipped := m.prog.Count(l.ID, anchors)
	prog := fmt.Sprintf(" Lesson %s · step %d/%d · %d done", strings.ToUpper(l.ID), m.si+1, len(l.Steps), done)
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
	if m.mode == modeLesson && m.vp.TotalLineCount() > m.vp.Height() {
		// Said as a scroll position, so it is not read as lesson progress
		// next to "done"; shown only when the step does not fit.
		scroll = fmt.Sprintf("· scrolled %d%% ", int(m.vp.ScrollPercent()*100))
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
