package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/internal/presence"
	"github.com/meshdojo/meshdojo/lessons"
)

// NotesOptions configure the speaker notes view (meshdojo notes).
type NotesOptions struct {
	Lessons []*lessons.Lesson
	// Dir is where presenters publish their place, said on screen while
	// waiting for one.
	Dir string
	// Scan lists the live presenters, newest first; presence.Scan(Dir)
	// when nil.
	Scan    func() ([]presence.Position, error)
	Theme   string
	NoColor bool
	Now     func() time.Time
	// Every is how often the presenters are looked for (250ms when 0).
	Every time.Duration
}

// NotesModel is `meshdojo notes`: on a second terminal, the speaker
// notes of the step a presenting meshdojo is on, the next step's title
// and a clock, following the presenter live. It reads the presenter's
// published place (internal/presence) and never touches the cluster.
type NotesModel struct {
	opt  NotesOptions
	st   *styles
	auto bool
	w, h int

	all    []presence.Position // live presenters, newest first
	cur    *presence.Position  // the one followed
	gone   *presence.Position  // the presenter that quit, until another appears
	err    error               // the last scan's error
	now    time.Time
	md     *mdCache
	vp     viewport.Model
	shown  string // what vp holds: pid/lesson/anchor/width/theme
	scroll keyMap
}

// NewNotes builds the notes view; it does no I/O.
func NewNotes(opt NotesOptions) *NotesModel {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Every <= 0 {
		opt.Every = 250 * time.Millisecond
	}
	if opt.Scan == nil {
		dir := opt.Dir
		opt.Scan = func() ([]presence.Position, error) { return presence.Scan(dir) }
	}
	m := &NotesModel{opt: opt, md: newMDCache(), vp: viewport.New(), scroll: newKeyMap(), now: opt.Now()}
	theme := opt.Theme
	switch {
	case opt.NoColor:
		theme = themeNoColor
	case theme == ThemeLight || theme == ThemeDark:
	default:
		theme, m.auto = ThemeDark, true
	}
	// The instructor reads these at a glance while talking: the same
	// high-contrast set as presenter mode.
	m.st = newStyles(theme, true)
	return m
}

type notesTickMsg struct {
	all []presence.Position
	err error
	at  time.Time
}

// look scans for presenters now, in the background.
func (m *NotesModel) look() tea.Cmd {
	scan, now := m.opt.Scan, m.opt.Now
	return func() tea.Msg {
		all, err := scan()
		return notesTickMsg{all, err, now()}
	}
}

// Init looks for presenters at once.
func (m *NotesModel) Init() tea.Cmd {
	cmds := []tea.Cmd{m.look()}
	if m.auto {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

// Update follows the presenters and handles the few keys.
func (m *NotesModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.compose()
	case tea.BackgroundColorMsg:
		if m.auto {
			theme := ThemeLight
			if msg.IsDark() {
				theme = ThemeDark
			}
			m.st = newStyles(theme, true)
			m.compose()
		}
	case notesTickMsg:
		m.follow(msg)
		m.compose()
		every := m.opt.Every
		return m, tea.Tick(every, func(time.Time) tea.Msg { return m.look()() })
	case tea.KeyPressMsg:
		switch {
		case msg.String() == "ctrl+c", keyIs(msg, m.scroll.Quit), msg.String() == "esc":
			return m, tea.Quit
		default:
			scroll(&m.vp, msg, m.scroll)
		}
	case tea.MouseWheelMsg:
		var cmd tea.Cmd
		m.vp, cmd = m.vp.Update(msg)
		return m, cmd
	}
	return m, nil
}

// follow takes a scan's result: the newest presenter is followed; one
// that disappears is remembered as gone until another appears.
func (m *NotesModel) follow(msg notesTickMsg) {
	m.now, m.err = msg.at, msg.err
	if msg.err != nil {
		return // keep following what was seen; the error is shown
	}
	m.all = msg.all
	if len(msg.all) == 0 {
		if m.cur != nil {
			m.gone = m.cur
		}
		m.cur = nil
		return
	}
	p := msg.all[0]
	m.cur, m.gone = &p, nil
}

// place finds the followed presenter's lesson and step in this binary's
// lessons, by anchor first (the step's stable name), then by index.
func (m *NotesModel) place(p *presence.Position) (*lessons.Lesson, int, bool) {
	l, ok := lessons.Find(m.opt.Lessons, p.Lesson)
	if !ok {
		return nil, 0, false
	}
	for i := range l.Steps {
		if l.Steps[i].Anchor == p.Anchor {
			return l, i, true
		}
	}
	if p.Step >= 0 && p.Step < len(l.Steps) && p.Anchor == "" {
		return l, p.Step, true
	}
	return l, 0, false
}

// geometry of the notes screen: header lines, the notes viewport, the
// next step and the key line.
func (m *NotesModel) headerLines() []string {
	st, w := m.st, m.w
	var out []string
	cut := func(s string) string { return ansi.Truncate(s, w, "…") }
	p := m.cur
	clock := m.now.Format("15:04:05")
	if p == nil {
		return nil
	}
	who := fmt.Sprintf(" meshdojo notes · following pid %d, presenting since %s", p.PID, p.Started.Local().Format("15:04"))
	if p.Context != "" {
		who += " · " + p.Context
	}
	out = append(out, cut(st.bar.Render(fit(who, max(1, w-len(clock)-2), 1)+" "+clock+" ")))
	if m.err != nil {
		out = append(out, cut(st.errMsg.Render("Cannot read the presenters: "+m.err.Error())))
	}
	if len(m.all) > 1 {
		var others []string
		for _, o := range m.all[1:] {
			others = append(others, fmt.Sprintf("pid %d (lesson %s, step %d, since %s)", o.PID, strings.ToUpper(o.Lesson), o.Step+1, o.Started.Local().Format("15:04")))
		}
		out = append(out, wrapOr(st.warn.Render(fmt.Sprintf("%d presenters on this machine: following the newest, pid %d. Also running: %s.",
			len(m.all), p.PID, strings.Join(others, ", "))), w)...)
	}
	l, si, ok := m.place(p)
	if !ok {
		out = append(out, "", cut(st.warn.Render(fmt.Sprintf("pid %d presents lesson %s, step %q, which this meshdojo does not have (another version?).", p.PID, strings.ToUpper(p.Lesson), p.Title))))
		return out
	}
	s := &l.Steps[si]
	out = append(out, "", cut(st.subtle.Render(fmt.Sprintf("Lesson %s · %s · step %d of %d", strings.ToUpper(l.ID), l.Title, si+1, len(l.Steps)))))
	out = append(out, cut(st.title.Render(s.Title)))
	elapsed := m.now.Sub(p.Started)
	onStep := m.now.Sub(p.Since)
	line := fmt.Sprintf("Elapsed %s · on this step %s", clockDur(elapsed), clockDur(onStep))
	ls := st.text
	if s.Notes.Minutes > 0 {
		line += fmt.Sprintf(" (planned %d min)", s.Notes.Minutes)
		if onStep > time.Duration(s.Notes.Minutes)*time.Minute {
			line += " · over time"
			ls = st.warn
		}
	}
	out = append(out, cut(ls.Render(line+" · "+clock)), cut(st.subtle.Render(strings.Repeat("━", w))))
	return out
}

// wrapOr wraps s to w, or cuts it when a word does not fit.
func wrapOr(s string, w int) []string {
	return strings.Split(lipgloss.NewStyle().Width(max(1, w)).Render(s), "\n")
}

func clockDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

// next is the line naming what comes after the followed step.
func (m *NotesModel) next() string {
	p := m.cur
	if p == nil {
		return ""
	}
	l, si, ok := m.place(p)
	if !ok {
		return ""
	}
	if si+1 < len(l.Steps) {
		return fmt.Sprintf("Next: step %d · %s", si+2, l.Steps[si+1].Title)
	}
	for i, o := range m.opt.Lessons {
		if o == l && i+1 < len(m.opt.Lessons) && len(m.opt.Lessons[i+1].Steps) > 0 {
			n := m.opt.Lessons[i+1]
			return fmt.Sprintf("Next: lesson %s · %s, step 1 · %s", strings.ToUpper(n.ID), n.Title, n.Steps[0].Title)
		}
	}
	return "Next: nothing, this is the last step"
}

// compose fills the viewport with the followed step's notes, only when
// the step, size or theme changed: the clock's tick re-renders nothing.
func (m *NotesModel) compose() {
	if m.w <= 0 || m.h <= 0 {
		return
	}
	vpH := max(1, m.h-len(m.headerLines())-2)
	m.vp.SetWidth(m.w)
	m.vp.SetHeight(vpH)
	if m.cur == nil {
		m.shown = ""
		return
	}
	l, si, ok := m.place(m.cur)
	key := fmt.Sprintf("%d/%s/%d/%t/%d/%s", m.cur.PID, m.cur.Lesson, si, ok, m.w, m.st.id)
	if key == m.shown {
		return
	}
	m.shown = key
	if !ok {
		m.vp.SetContent("")
		return
	}
	s := &l.Steps[si]
	mdW := mdWidth(m.w)
	var parts []string
	if si == 0 && l.Notes.Text != "" {
		parts = append(parts, m.st.warn.Render("Before the first step"),
			m.md.render(mdKey{lesson: l.ID, step: -1, part: "notes", width: mdW, theme: m.st.id}, m.st, l.Notes.Text), "")
	}
	if s.Notes.Text == "" {
		parts = append(parts, m.st.subtle.Render("This step has no speaker notes."))
	} else {
		parts = append(parts, m.md.render(mdKey{lesson: l.ID, step: si, part: "notes", width: mdW, theme: m.st.id}, m.st, s.Notes.Text))
	}
	m.vp.SetContent(strings.Join(parts, "\n"))
	m.vp.GotoTop()
}

// View draws the notes, or what the notes are waiting for.
func (m *NotesModel) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "meshdojo notes"
	return v
}

func (m *NotesModel) render() string {
	if m.w <= 0 || m.h <= 0 {
		return ""
	}
	if m.w < minW || m.h < minH {
		return tooSmall(m.w, m.h)
	}
	st := m.st
	var lines []string
	if m.cur == nil {
		lines = append(lines, st.bar.Render(fit(" meshdojo notes", m.w, 1)), "")
		if g := m.gone; g != nil {
			lines = append(lines, wrapOr(st.warn.Render(fmt.Sprintf("The presenter (pid %d) has quit; it was at lesson %s, step %d (%s).",
				g.PID, strings.ToUpper(g.Lesson), g.Step+1, g.Title)), m.w)...)
			lines = append(lines, "")
		}
		lines = append(lines, wrapOr(st.title.Render("No presenter is running on this machine."), m.w)...)
		lines = append(lines, wrapOr(st.text.Render("Waiting for one: start meshdojo --present, or press P in the tutorial. These notes follow it as soon as it starts."), m.w)...)
		lines = append(lines, "")
		lines = append(lines, wrapOr(st.subtle.Render("Watching "+m.opt.Dir+" · "+m.now.Format("15:04:05")), m.w)...)
		if m.err != nil {
			lines = append(lines, wrapOr(st.errMsg.Render("Cannot read the presenters: "+m.err.Error()), m.w)...)
		}
	} else {
		lines = append(lines, m.headerLines()...)
		lines = append(lines, m.vp.View())
	}
	body := fit(strings.Join(lines, "\n"), m.w, m.h-2)
	foot := st.subtle.Render(ansi.Truncate("↑↓ PgUp PgDn scroll · q quit", m.w, ""))
	return clip(body+"\n"+fit(st.accent.Render(ansi.Truncate(m.next(), m.w, "…")), m.w, 1)+"\n"+foot, m.w, m.h)
}
