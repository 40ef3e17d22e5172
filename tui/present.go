package tui

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/glamour/v2/ansi"
	gstyles "charm.land/glamour/v2/styles"
	"charm.land/lipgloss/v2"
	xansi "github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/internal/presence"
	"github.com/meshdojo/meshdojo/internal/session"
)

// Presenter mode is the tutorial on a projector at the back of a room:
// no sidebar, wide margins, the step's title and a step counter large
// at the top, every colour at high contrast against the theme's
// background, and the check panel with one row per check plus a line
// for what is wrong. Nothing on it moves by itself: no spinner, no
// clock; the screen changes when the presenter acts or a verdict does.
// While presenting, the place is published for `meshdojo notes`.

// palette is presenter mode's colours for one theme: every one at a
// contrast of at least 7:1 (WCAG AAA) against the theme's background
// (black for dark, white for light), which a test holds it to.
type palette struct {
	bg                                    string // what the contrast is measured against
	fg, faint, accent, green, red, yellow string
	code                                  string
	chart                                 []string
}

func presentPalette(dark bool) palette {
	if dark {
		return palette{bg: "#000000", fg: "#ffffff", faint: "#c8c8c8", accent: "#8fd0ff",
			green: "#7dff9e", red: "#ff8c8c", yellow: "#ffe066", code: "#ffd75f",
			chart: []string{"#6cc4ff", "#5cf08a", "#ff8080", "#e0a8ff", "#ffd24d", "#4de8f0"}}
	}
	return palette{bg: "#ffffff", fg: "#000000", faint: "#333333", accent: "#003a7a",
		green: "#00561f", red: "#8a0010", yellow: "#5c3b00", code: "#5a1d86",
		chart: []string{"#003a7a", "#00561f", "#8a0010", "#5a1d86", "#5c3b00", "#004d55"}}
}

// presentMarkdown is glamour's style for presenter mode: glamour's own
// layout (margins, list marks, rules) with every colour replaced by the
// palette's and no background tints; code blocks in one strong colour
// rather than a syntax theme whose greys vanish on a projector.
func presentMarkdown(p palette) ansi.StyleConfig {
	base := gstyles.DarkStyleConfig
	if p.bg != "#000000" {
		base = gstyles.LightStyleConfig
	}
	// A deep copy: the styles hold pointers shared with glamour's own.
	var cfg ansi.StyleConfig
	if b, err := json.Marshal(base); err == nil {
		_ = json.Unmarshal(b, &cfg)
	}
	cfg.CodeBlock.Chroma, cfg.CodeBlock.Theme = nil, ""
	v := reflect.ValueOf(&cfg).Elem()
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Name
		c := p.fg
		switch {
		case strings.HasPrefix(name, "H"), name == "Heading", strings.HasPrefix(name, "Link"):
			c = p.accent
		case name == "Code", name == "CodeBlock":
			c = p.code
		}
		eachPrimitive(v.Field(i), func(sp *ansi.StylePrimitive) {
			col := c
			sp.Color, sp.BackgroundColor, sp.Faint = &col, nil, nil
		})
	}
	return cfg
}

// eachPrimitive calls f for every StylePrimitive in v, embedded or not.
func eachPrimitive(v reflect.Value, f func(*ansi.StylePrimitive)) {
	if v.Kind() != reflect.Struct {
		return
	}
	if sp, ok := v.Addr().Interface().(*ansi.StylePrimitive); ok {
		f(sp)
		return
	}
	for i := 0; i < v.NumField(); i++ {
		eachPrimitive(v.Field(i), f)
	}
}

// presentPad is the left and right margin for a screen w wide: generous
// on a projector, shrinking on small screens rather than squeezing the
// text.
func presentPad(w int) int {
	switch {
	case w >= 100:
		return w / 12
	case w >= 60:
		return 4
	case w >= 40:
		return 2
	}
	return 1
}

// bigHeader reports whether the screen has room for the large header
// (title beside a three-row step counter).
func bigHeader(w, h int) bool { return w >= 70 && h >= 22 }

// presentHeader is the top of the screen in presenter mode: the lesson,
// the step's title in bold and the step counter, drawn three rows high
// when there is room, then a rule. w is the content width.
func presentHeader(st *styles, ses *session.Session, w, h int) string {
	l := ses.Lesson()
	_, si := ses.Place()
	count := fmt.Sprintf("%d/%d", si+1, len(l.Steps))
	title := ses.Step().Title
	lessonLine := fmt.Sprintf("Lesson %s · %s · step %d of %d", strings.ToUpper(l.ID), l.Title, si+1, len(l.Steps))
	rule := st.subtle.Render(strings.Repeat("━", w))
	if !bigHeader(w, h) {
		// One line: the counter first, so a narrow screen cuts the title,
		// not where the presenter is.
		line := st.title.Render("Step "+count) + "  " + st.title.Render(title)
		return xansi.Truncate(line, w, "…") + "\n" + rule
	}
	big := bigText(count)
	bw := lipgloss.Width(big)
	leftW := max(10, w-bw-3)
	titleLines, _ := wrapWords(title, leftW)
	if len(titleLines) == 0 || len(titleLines) > 2 {
		titleLines = []string{xansi.Truncate(title, leftW, "…")}
	}
	left := []string{xansi.Truncate(st.subtle.Render(lessonLine), leftW, "…")}
	for _, tl := range titleLines {
		left = append(left, st.title.Render(tl))
	}
	leftBlock := fit(strings.Join(left, "\n"), leftW, max(3, len(left)))
	right := st.title.Render(big)
	return lipgloss.JoinHorizontal(lipgloss.Top, leftBlock, "   ", right) + "\n" + rule
}

// glyphs are digits and a slash three rows high, drawn with block
// characters, for a step counter readable from the back of a room.
var glyphs = map[rune][3]string{
	'0': {"█▀█", "█ █", "▀▀▀"},
	'1': {"▀█ ", " █ ", "▀▀▀"},
	'2': {"▀▀█", "█▀▀", "▀▀▀"},
	'3': {"▀▀█", " ▀█", "▀▀▀"},
	'4': {"█ █", "▀▀█", "  ▀"},
	'5': {"█▀▀", "▀▀█", "▀▀▀"},
	'6': {"█▀▀", "█▀█", "▀▀▀"},
	'7': {"▀▀█", "  █", "  ▀"},
	'8': {"█▀█", "█▀█", "▀▀▀"},
	'9': {"█▀█", "▀▀█", "▀▀▀"},
	'/': {"  ▄", " ▄▀", "▀  "},
}

// bigText draws s (digits and /) three rows high; other characters
// are left out.
func bigText(s string) string {
	var rows [3][]string
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			continue
		}
		for i := range rows {
			rows[i] = append(rows[i], g[i])
		}
	}
	out := make([]string, 3)
	for i := range rows {
		out[i] = strings.Join(rows[i], " ")
	}
	return strings.Join(out, "\n")
}

// presentPanelLines is the big panel's wanted height: a header, and per
// check (and question) a line for the verdict and one for what is wrong,
// and the lines of each check's small chart (a chart over time while a
// probe runs).
func presentPanelLines(ses *session.Session) int {
	rows := ses.Rows()
	n, charts := len(rows), 0
	for i := range rows {
		charts += chartRows(&rows[i])
	}
	if ses.Step().Question != nil {
		n++
	}
	if n == 0 {
		return 0
	}
	return 1 + 2*n + charts
}

// presentPanelView is the check panel in presenter mode: each check on
// two lines, the verdict in bold and what is wrong underneath in the
// text colour (not a faint tail cut off at the edge). With too little
// height it falls back to the ordinary panel, one line per check.
func presentPanelView(st *styles, ses *session.Session, w, h int) string {
	rows, q, a, conn := ses.Rows(), ses.Step().Question, ses.Shown().Ans, ses.Conn()
	if h < presentPanelLines(ses) {
		return panelView(st, rows, q, a, conn, w, h)
	}
	on := conn == session.Online
	lines := []string{panelHeader(st, conn, "━", w)}
	for i := range rows {
		r := &rows[i]
		mark, word, ms := rowState(st, r, on)
		lines = append(lines, xansi.Truncate(ms.Render(fmt.Sprintf("%s %s", mark, word))+"  "+st.chartLabel.Render(r.Bound.Title), w, "…"),
			xansi.Truncate("    "+st.text.Render(rowDetail(r, on, "press t to run the traffic test")), w, "…"))
		if charted(r) {
			lines = append(lines, miniChartLines(st, r.Res.Bars, w)...)
		}
	}
	if q != nil {
		mark, word, ms, text := questionState(st, q, a)
		lines = append(lines, xansi.Truncate(ms.Render(mark+" "+word), w, "…"), xansi.Truncate("    "+st.text.Render(text), w, "…"))
	}
	return fit(strings.Join(lines, "\n"), w, h)
}

// togglePresent switches presenter mode. The first time it is on, the
// place starts being published for meshdojo notes.
func (m *Model) togglePresent() tea.Cmd {
	m.present = !m.present
	m.setTheme(m.theme)
	m.layout()
	if !m.present {
		m.msg.say(lvInfo, "Presenter mode off: P turns it on again.")
		return m.prefetch()
	}
	m.msg.say(lvInfo, "Presenter mode: P or F5 leaves it.")
	return tea.Batch(m.prefetch(), m.publish())
}

// publisher publishes the presenter's place; it stays on once started.
type publisher struct {
	p       *presence.Publisher
	on      bool
	since   time.Time // arrival at the current step
	at      string    // lesson/anchor last published
	errSaid bool
}

// publishedMsg reports a failed publish, said once.
type publishedMsg struct{ err error }

// publish stamps the current place in order (here, on the UI goroutine)
// and writes it in the background.
func (m *Model) publish() tea.Cmd {
	pb := &m.pub
	if pb.p == nil || !m.hasLessons() || (!m.present && !pb.on) {
		return nil
	}
	pb.on = true
	l, s := m.ses.Lesson(), m.ses.Step()
	_, si := m.ses.Place()
	if at := l.ID + "/" + s.Anchor; at != pb.at {
		pb.at, pb.since = at, m.opt.Now()
	}
	pos := pb.p.Stamp(presence.Position{Since: pb.since, Context: m.contextName(), Lesson: l.ID, Step: si, Anchor: s.Anchor, Title: s.Title})
	p := pb.p
	return func() tea.Msg {
		if err := p.Publish(pos); err != nil {
			return publishedMsg{err}
		}
		return nil
	}
}

func (m *Model) published(msg publishedMsg) {
	if msg.err != nil && !m.pub.errSaid {
		m.pub.errSaid = true
		m.msg.say(lvWarn, "meshdojo notes cannot follow you: "+msg.err.Error())
	}
}
