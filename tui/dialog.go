package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// dlgKind is what a dialog asks about.
type dlgKind int

const (
	dlgNotice   dlgKind = iota // a warning that waits for any key
	dlgSkip                    // skip the step
	dlgReset                   // start the step over
	dlgSolution                // show the solution
	dlgProbe                   // run a check that acts on the cluster
	dlgLink                    // follow a link to another step
	dlgBreak                   // write a lesson's break (after its diff)
	dlgRestore                 // put back what the breaks changed
)

// dialog is a box over the screen that takes every key while it is open:
// a yes/no question, or a notice. It owns its keys; what the reader
// decided goes to the root as an intent (confirmMsg, cancelMsg,
// nextLinkMsg).
type dialog struct {
	kind        dlgKind
	title, body string
	moreLinks   bool // a link dialog with further links: o offers the next
}

// update handles a key; the dialog returned is nil once it is closed.
func (d *dialog) update(k tea.KeyPressMsg) (*dialog, tea.Msg) {
	if d.kind == dlgNotice {
		return nil, nil // any key acknowledges; it does not act
	}
	switch k.String() {
	case "y", "Y", "enter":
		return nil, confirmMsg{d.kind}
	case "n", "N", "esc", "q":
		return nil, cancelMsg{}
	case "o":
		if d.kind == dlgLink && d.moreLinks {
			return d, nextLinkMsg{}
		}
	}
	return d, nil
}

// view draws the box for a w×h screen, centred by the caller.
func (d *dialog) view(st *styles, w, h int) string {
	bw := min(w-4, 64)
	foot := st.key.Render("y") + " yes   " + st.key.Render("n") + " no"
	switch d.kind {
	case dlgNotice:
		foot = st.subtle.Render("press any key to go on")
	case dlgLink:
		foot = st.key.Render("y") + " go   " + st.key.Render("n") + " stay"
		if d.moreLinks {
			foot += "   " + st.key.Render("o") + " next link"
		}
	}
	render := func(body string) string {
		return st.box.Width(bw).Render(st.boxTitle.Render(d.title) + "\n\n" + body + "\n\n" + foot)
	}
	box := render(d.body)
	if over := lipgloss.Height(box) - h; over > 0 {
		// Too tall for the screen: the body's last lines give way, with
		// a count of what was left out, so the question and its keys
		// stay on screen. A line of the body is at least one row of the
		// box, so leaving out over+1 of them (one row for the count)
		// makes room.
		lines := strings.Split(d.body, "\n")
		keep := max(0, len(lines)-over-1)
		box = render(strings.Join(lines[:keep], "\n") + "\n" + st.subtle.Render(fmt.Sprintf("… %d more lines", len(lines)-keep)))
	}
	return lipgloss.NewStyle().MaxHeight(h).Render(box)
}
