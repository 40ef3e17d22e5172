package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/meshdojo/meshdojo/internal/session"
)

// overlay takes the main area over the lesson: the help (?), the check
// details (d) and a traffic test's live chart (t). It owns scrolling and
// closing; the check keys stay useful over it, and any other key brings
// the lesson back.
type overlay struct {
	vp       viewport.Model
	help     help.Model
	probeRow int // the row whose chart is shown, -1 for none
}

func newOverlay() overlay {
	o := overlay{vp: viewport.New(), help: help.New(), probeRow: -1}
	o.vp.MouseWheelDelta = 3
	return o
}

// What a key did to the overlay.
type overKey int

const (
	overNone     overKey = iota // not the overlay's: handle it over the overlay
	overClosed                  // esc, or the key that opened it
	overScrolled                // a scroll key
	overLeave                   // a lesson key: back to the lesson, then handle it
)

func (o *overlay) update(k tea.KeyPressMsg, ks keyMap, md mode) overKey {
	switch {
	case k.String() == "esc", md == modeHelp && keyIs(k, ks.Help), md == modeDetail && keyIs(k, ks.Details):
		return overClosed
	case scroll(&o.vp, k, ks):
		return overScrolled
	case !keyIs(k, ks.Recheck, ks.Probe, ks.Details, ks.Help, ks.Quit):
		return overLeave
	}
	return overNone
}

func (o *overlay) wheel(msg tea.MouseWheelMsg) tea.Cmd {
	var cmd tea.Cmd
	o.vp, cmd = o.vp.Update(msg)
	return cmd
}

func (o *overlay) top() { o.vp.GotoTop() }

func (o *overlay) setSize(w, h int) {
	o.vp.SetWidth(w)
	o.vp.SetHeight(h)
}

func (o *overlay) view() string { return o.vp.View() }

// refresh regenerates the detail, probe or help text for the mode; all
// three are cheap lipgloss strings, not Markdown.
func (o *overlay) refresh(md mode, ses *session.Session, st *styles, ks keyMap) {
	w := o.vp.Width()
	if w <= 0 {
		return
	}
	rows := ses.Rows()
	switch md {
	case modeDetail:
		o.vp.SetContent(detailView(st, rows, ses.Online(), w-1))
	case modeProbe:
		if o.probeRow >= 0 && o.probeRow < len(rows) {
			o.vp.SetContent(probeView(st, &rows[o.probeRow], w-2))
		}
	case modeHelp:
		o.help.SetWidth(w)
		var b strings.Builder
		b.WriteString(st.title.Render("Keys") + "\n")
		for i, group := range ks.FullHelp() {
			b.WriteString("\n" + st.subtle.Render([]string{"Moving", "Reading", "Doing", "Troubleshooting"}[i]) + "\n")
			b.WriteString(o.help.FullHelpView([][]key.Binding{group}) + "\n")
		}
		b.WriteString("\n" + st.subtle.Render("The step's checks run by themselves while you work; n moves on once they pass. "+
			"Checks that act on your cluster (traffic tests) run only when you press t and say yes. "+
			"A question is answered with its choice's number. c also shows the command in a box: if your terminal "+
			"ignores the clipboard request (OSC 52), select it there with the mouse; esc closes the box. "+
			"R starts the step over without touching your cluster. "+
			"P (or F5) switches presenter mode, for a projector: no sidebar, wide margins, large title and step counter, "+
			"high-contrast colours; while you present, meshdojo notes on a second terminal shows your speaker notes. "+
			"A troubleshooting step's B shows what its break would change in your cluster and writes it only when you say yes; u (or meshdojo reset) puts it back. "+
			linkMark+" marks a link to another step: o follows it. "+
			"Progress is saved as you go; start meshdojo again to resume.") + "\n\n" +
			st.subtle.Render("esc or ? closes this help"))
		o.vp.SetContent(lipgloss.NewStyle().Width(w - 1).Render(b.String()))
	}
}
