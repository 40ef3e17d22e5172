package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/room"
	"github.com/meshdojo/meshdojo/internal/session"
	"github.com/meshdojo/meshdojo/lessons"
)

// The room is the instructor's view (meshdojo room): one row per
// participant, one column per step of the lesson, each cell the verdict
// of that participant's checks for the step, live. It is its own Bubble
// Tea model beside the tutorial's: it shares the styles, the marks and
// the check details view, and nothing else.

// RoomOptions configure a RoomModel.
type RoomOptions struct {
	Lesson *lessons.Lesson
	Board  *room.Board
	// Set is the checks the room watches, for the details view.
	Set []checks.Bound
	// Events are what the room's engines report (room.Room.Run); nil in
	// tests that feed the model themselves.
	Events <-chan room.Event
	// Recheck asks every participant's engine to evaluate again (r).
	Recheck func()
	Theme   string
	NoColor bool
}

// RoomModel is the room's grid and, over it, one participant's details.
type RoomModel struct {
	opt   RoomOptions
	board *room.Board
	st    *styles
	auto  bool
	keys  roomKeys
	w, h  int

	sort    room.Sort
	order   []int // board rows in display order
	sel     int   // board row selected (not a display position)
	moved   bool  // the instructor has moved the selection: it follows them, not the top row
	top     int   // first display position shown
	details bool
	vp      viewport.Model
	bounds  map[string]checks.Bound
}

type roomKeys struct {
	Up, Down, Top, Bottom, PageUp, PageDn key.Binding
	Details, Back, Sort, Recheck, Quit    key.Binding
}

func newRoomKeys() roomKeys {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return roomKeys{
		Up:      b([]string{"up", "k"}, "↑/k", "previous participant"),
		Down:    b([]string{"down", "j"}, "↓/j", "next participant"),
		Top:     b([]string{"home", "g"}, "g", "first"),
		Bottom:  b([]string{"end", "G"}, "G", "last"),
		PageUp:  b([]string{"pgup", "b"}, "PgUp", "page up"),
		PageDn:  b([]string{"pgdown", "space", "f"}, "PgDn", "page down"),
		Details: b([]string{"enter", "d", "right", "l"}, "enter", "details"),
		Back:    b([]string{"esc", "enter", "d", "left", "h"}, "esc", "back to the room"),
		Sort:    b([]string{"s"}, "s", "sort"),
		Recheck: b([]string{"r"}, "r", "re-check"),
		Quit:    b([]string{"q", "ctrl+c"}, "q", "quit"),
	}
}

// NewRoom builds the room's model; it does no I/O.
func NewRoom(opt RoomOptions) *RoomModel {
	m := &RoomModel{opt: opt, board: opt.Board, keys: newRoomKeys(), vp: viewport.New(), bounds: map[string]checks.Bound{}}
	m.vp.MouseWheelDelta = 3
	for _, b := range opt.Set {
		m.bounds[b.Key] = b
	}
	theme := opt.Theme
	switch {
	case opt.NoColor:
		theme = themeNoColor
	case theme == ThemeLight || theme == ThemeDark:
	default:
		theme, m.auto = ThemeDark, true
	}
	m.st = newStyles(theme, false)
	m.resort()
	return m
}

// roomEventsMsg is a burst of the room's events, applied together so a
// room of thirty starting up is drawn a few times, not hundreds.
type roomEventsMsg []room.Event

// Init waits for the room's first events and asks the terminal for its
// background colour.
func (m *RoomModel) Init() tea.Cmd {
	cmds := []tea.Cmd{m.next()}
	if m.auto {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

// next waits for an event, then takes what else is already queued.
func (m *RoomModel) next() tea.Cmd {
	ch := m.opt.Events
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return nil
		}
		evs := roomEventsMsg{ev}
		for len(evs) < 256 {
			select {
			case ev, ok := <-ch:
				if !ok {
					return evs
				}
				evs = append(evs, ev)
			default:
				return evs
			}
		}
		return evs
	}
}

// Update handles the room's events, keys and the terminal's messages.
func (m *RoomModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case roomEventsMsg:
		for _, ev := range msg {
			m.board.Apply(ev)
		}
		m.resort()
		m.refresh()
		return m, m.next()
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.vp.SetWidth(m.w)
		m.vp.SetHeight(max(1, m.h-2))
		m.refresh()
		return m, nil
	case tea.BackgroundColorMsg:
		if m.auto {
			if msg.IsDark() {
				m.st = newStyles(ThemeDark, false)
			} else {
				m.st = newStyles(ThemeLight, false)
			}
			m.refresh()
		}
		return m, nil
	case tea.MouseWheelMsg:
		if m.details {
			var cmd tea.Cmd
			m.vp, cmd = m.vp.Update(msg)
			return m, cmd
		}
		if msg.Button == tea.MouseWheelUp {
			m.move(-1)
		} else if msg.Button == tea.MouseWheelDown {
			m.move(1)
		}
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *RoomModel) key(k tea.KeyPressMsg) tea.Cmd {
	ks := m.keys
	switch {
	case keyIs(k, ks.Quit):
		return tea.Quit
	case keyIs(k, ks.Recheck):
		if m.opt.Recheck != nil {
			m.opt.Recheck()
		}
		return nil
	}
	if m.details {
		switch {
		case keyIs(k, ks.Back):
			m.details = false
		case keyIs(k, ks.Up):
			m.vp.ScrollUp(1)
		case keyIs(k, ks.Down):
			m.vp.ScrollDown(1)
		case keyIs(k, ks.PageUp):
			m.vp.PageUp()
		case keyIs(k, ks.PageDn):
			m.vp.PageDown()
		case keyIs(k, ks.Top):
			m.vp.GotoTop()
		case keyIs(k, ks.Bottom):
			m.vp.GotoBottom()
		}
		return nil
	}
	switch {
	case keyIs(k, ks.Up):
		m.move(-1)
	case keyIs(k, ks.Down):
		m.move(1)
	case keyIs(k, ks.PageUp):
		m.move(-m.rowsShown())
	case keyIs(k, ks.PageDn):
		m.move(m.rowsShown())
	case keyIs(k, ks.Top):
		m.move(-len(m.order))
	case keyIs(k, ks.Bottom):
		m.move(len(m.order))
	case keyIs(k, ks.Sort):
		m.sort = (m.sort + 1) % 3
		m.resort()
	case keyIs(k, ks.Details):
		if len(m.order) > 0 {
			m.details = true
			m.refresh()
			m.vp.GotoTop()
		}
	}
	return nil
}

// Selected is the selected participant's name, for tests.
func (m *RoomModel) Selected() string {
	if len(m.board.Rows) == 0 {
		return ""
	}
	return m.board.Rows[m.sel].Name
}

// pos is the selected participant's display position.
func (m *RoomModel) pos() int {
	for i, r := range m.order {
		if r == m.sel {
			return i
		}
	}
	return 0
}

func (m *RoomModel) move(d int) {
	if len(m.order) == 0 {
		return
	}
	m.moved = true
	p := min(max(m.pos()+d, 0), len(m.order)-1)
	m.sel = m.order[p]
	m.scrollTo(p)
}

// resort orders the rows again; the selection stays on the same
// participant wherever they move.
func (m *RoomModel) resort() {
	m.order = m.board.Order(m.sort)
	if !m.moved && len(m.order) > 0 {
		m.sel = m.order[0]
	}
	m.scrollTo(m.pos())
}

func (m *RoomModel) scrollTo(p int) {
	n := m.rowsShown()
	if p < m.top {
		m.top = p
	}
	if p >= m.top+n {
		m.top = p - n + 1
	}
	m.top = max(0, min(m.top, len(m.order)-n))
}

// rowsShown is how many participants fit: the screen less the title,
// the header, the legend and the status bar.
func (m *RoomModel) rowsShown() int {
	if m.h == 0 {
		return max(1, len(m.order))
	}
	return max(1, m.h-4)
}

// cellMark is a cell's mark and style. Marks differ in shape, not only
// colour, so the grid reads without colour and on a washed-out projector.
func cellMark(st *styles, k room.Kind) (string, lipgloss.Style) {
	switch k {
	case room.Pass:
		return markDone, st.pass
	case room.Fail:
		return markFailed, st.fail
	case room.Pending:
		return markPending, st.pending
	case room.Error:
		return markError, st.fail
	case room.Forbidden:
		return markForbidden, st.fail
	case room.Unreachable:
		return markUnreachable, st.warn
	}
	return markNone, st.offline
}

// Marks only the room uses, next to the tutorial's.
const (
	markForbidden   = "⊘"
	markUnreachable = "?"
)

// View draws the grid, or the selected participant's details.
func (m *RoomModel) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	return v
}

func (m *RoomModel) render() string {
	w, h := m.w, m.h
	if w <= 0 || h <= 0 {
		return ""
	}
	if w < 40 || h < 8 {
		return fit(ansi.Wordwrap("The room needs at least 40x8; make the window larger.", w, ""), w, h)
	}
	if m.details {
		head := ansi.Truncate(m.st.title.Render(m.Selected())+m.st.subtle.Render(" · "+m.whereLine(m.sel)), w, "…")
		return fit(head+"\n"+m.vp.View()+"\n"+m.status(), w, h)
	}
	return fit(m.grid()+"\n"+m.status(), w, h)
}

func (m *RoomModel) whereLine(row int) string {
	r := m.board.Rows[row]
	s := orDash(r.Context)
	if r.Server != "" {
		s += " (" + r.Server + ")"
	}
	return s + " · " + r.State.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// grid is the title, the header, one line per participant shown, and a
// legend, in h-1 lines.
func (m *RoomModel) grid() string {
	st, w := m.st, m.w
	b := m.board
	cols := len(b.Columns)
	cw := 2 // a mark and a space
	if cols >= 10 {
		cw = 3
	}
	nameW := 4
	for _, r := range b.Rows {
		nameW = max(nameW, ansi.StringWidth(r.Name))
	}
	nameW = min(nameW, 18)
	doneW := 7 // " 10/10 "

	title := "Room"
	if l := m.opt.Lesson; l != nil {
		title += fmt.Sprintf(" · Lesson %s: %s", strings.ToUpper(l.ID), l.Title)
	}
	title = st.title.Render(title) + st.subtle.Render(fmt.Sprintf(" · %d participants · %s", len(b.Rows), m.sort))

	var hd strings.Builder
	hd.WriteString("  " + padRight("WHO", nameW) + " ")
	for _, c := range b.Columns {
		hd.WriteString(padRight(fmt.Sprint(c.Step), cw))
	}
	hd.WriteString(padLeft("DONE", doneW-1) + "  FIRST PROBLEM")
	lines := []string{ansi.Truncate(title, w, "…"), st.subtle.Render(ansi.Truncate(hd.String(), w, ""))}

	n := m.rowsShown()
	checked := b.Checked()
	for p := m.top; p < min(len(m.order), m.top+n); p++ {
		row := m.order[p]
		r := b.Rows[row]
		var line strings.Builder
		sel := row == m.sel
		mark := "  "
		if sel {
			mark = markCurrent + " "
		}
		line.WriteString(mark + padRight(ansi.Truncate(r.Name, nameW, "…"), nameW) + " ")
		first := ""
		for col := range b.Columns {
			c := b.Cell(row, col)
			mk, ms := cellMark(st, c.Kind)
			line.WriteString(ms.Render(mk) + strings.Repeat(" ", cw-1))
			if first == "" && c.Kind > room.Pass && c.Kind != room.Pending {
				first = fmt.Sprintf("step %d: %s", b.Columns[col].Step, c.Problem)
			}
		}
		passed, _ := b.Progress(row)
		line.WriteString(padLeft(fmt.Sprintf("%d/%d", passed, checked), doneW-1) + "  ")
		switch {
		case r.State == room.Down || r.State == room.Refused:
			first = r.State.String() + ": " + r.Err
		case first == "" && r.State == room.Connecting:
			first = "connecting…"
		case first == "" && passed == checked:
			first = "-"
		}
		line.WriteString(st.subtle.Render(first))
		s := ansi.Truncate(line.String(), w, "…")
		if sel {
			s = st.sideCurStep.Render(ansi.Strip(s))
		}
		lines = append(lines, s)
	}
	for len(lines) < n+2 {
		lines = append(lines, "")
	}
	legend := fmt.Sprintf("%s pass  %s fail  %s error  %s forbidden  %s unreachable  %s checking  %s not checked here (no check, or only traffic tests)",
		markDone, markFailed, markError, markForbidden, markUnreachable, markPending, markNone)
	lines = append(lines, st.subtle.Render(ansi.Truncate(legend, w, "…")))
	return strings.Join(lines, "\n")
}

func padRight(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-ansi.StringWidth(s)))
}

func padLeft(s string, n int) string {
	return strings.Repeat(" ", max(0, n-ansi.StringWidth(s))) + s
}

// status is the bottom line: the keys, and how many are live.
func (m *RoomModel) status() string {
	st := m.st
	var keys string
	if m.details {
		keys = "↑↓ scroll · esc back · r re-check · q quit"
	} else {
		keys = "↑↓ select · enter details · s sort · r re-check · q quit"
	}
	counts := map[room.State]int{}
	for _, r := range m.board.Rows {
		counts[r.State]++
	}
	right := fmt.Sprintf("%d live", counts[room.Live])
	if n := counts[room.Down]; n > 0 {
		right += fmt.Sprintf(" · %d unreachable", n)
	}
	if n := counts[room.Refused]; n > 0 {
		right += fmt.Sprintf(" · %d refused", n)
	}
	if n := counts[room.Connecting]; n > 0 {
		right += fmt.Sprintf(" · %d connecting", n)
	}
	gap := max(1, m.w-ansi.StringWidth(keys)-ansi.StringWidth(right)-2)
	line := " " + keys + strings.Repeat(" ", gap) + right + " "
	return st.bar.Render(ansi.Truncate(line, m.w, ""))
}

// refresh regenerates the details of the selected participant: every
// check of theirs that does not pass, in the reader's details view, each
// titled with its step.
func (m *RoomModel) refresh() {
	if !m.details || m.w <= 0 || len(m.board.Rows) == 0 {
		return
	}
	m.vp.SetContent(m.detailText(m.w - 1))
}

func (m *RoomModel) detailText(w int) string {
	b := m.board
	r := b.Rows[m.sel]
	if r.State == room.Down || r.State == room.Refused {
		return lipgloss.NewStyle().Width(w).Render(m.st.errMsg.Render("Not connected: ") + r.Err +
			"\n\nThe room tries again by itself; r tries now.")
	}
	var rows []session.Row
	acting := 0
	for _, c := range b.Columns {
		acting += c.Acting
		for _, k := range c.Keys {
			res, ok := r.Results[k]
			if ok && res.Verdict == checks.Pass {
				continue
			}
			bd := m.bounds[k]
			bd.Title = fmt.Sprintf("Step %d · %s", c.Step, bd.Title)
			row := session.Row{Bound: bd}
			if ok {
				row.Res = &res
			}
			rows = append(rows, row)
		}
	}
	var out strings.Builder
	if len(rows) == 0 {
		out.WriteString(m.st.pass.Render(markDone+" Every check the room runs passes for "+r.Name+".") + "\n\n")
	} else {
		out.WriteString(detailView(m.st, rows, r.State == room.Live, w))
	}
	if acting > 0 {
		out.WriteString(m.st.subtle.Render(lipgloss.NewStyle().Width(w).Render(fmt.Sprintf(
			"The lesson's %d traffic tests act on a cluster and never run from the room; the participant runs them.", acting))) + "\n")
	}
	return out.String()
}
