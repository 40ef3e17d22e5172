package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// The regions' own update and view, without the root.

func TestDialogOwnsItsKeys(t *testing.T) {
	d := &dialog{kind: dlgSkip, title: "Skip this step?", body: "Step 2."}
	for k, want := range map[string]tea.Msg{"y": confirmMsg{dlgSkip}, "enter": confirmMsg{dlgSkip}, "n": cancelMsg{}, "esc": cancelMsg{}, "q": cancelMsg{}} {
		if next, got := d.update(keyMsg(k)); next != nil || got != want {
			t.Errorf("%s: dialog %v, intent %#v; want closed, %#v", k, next, got, want)
		}
	}
	if next, got := d.update(keyMsg("j")); next != d || got != nil {
		t.Errorf("j: the dialog let go or asked %#v", got)
	}
	if next, got := d.update(keyMsg("o")); next != d || got != nil {
		t.Errorf("o on a skip dialog asked %#v", got)
	}
	link := &dialog{kind: dlgLink, title: "Follow link 1 of 2?", moreLinks: true}
	if next, got := link.update(keyMsg("o")); next != link || got != (nextLinkMsg{}) {
		t.Errorf("o on a link dialog: %#v", got)
	}
	notice := &dialog{kind: dlgNotice, title: "Warning", body: "corrupt"}
	if next, got := notice.update(keyMsg("y")); next != nil || got != nil {
		t.Errorf("a notice acted on a key: %#v", got)
	}
	st := newStyles(ThemeDark, false)
	v := ansi.Strip(link.view(st, 80, 24))
	for _, want := range []string{"Follow link 1 of 2?", "y go", "n stay", "o next link"} {
		if !strings.Contains(v, want) {
			t.Errorf("link dialog lacks %q:\n%s", want, v)
		}
	}
	if v := ansi.Strip(notice.view(st, 80, 24)); !strings.Contains(v, "press any key") || strings.Contains(v, "y yes") {
		t.Errorf("notice:\n%s", v)
	}
}

func TestOverlayKeys(t *testing.T) {
	ks := newKeyMap()
	o := newOverlay()
	o.setSize(40, 5)
	o.vp.SetContent(strings.Repeat("line\n", 50))
	for _, tc := range []struct {
		k    string
		md   mode
		want overKey
	}{
		{"esc", modeDetail, overClosed},
		{"?", modeHelp, overClosed},
		{"d", modeDetail, overClosed},
		{"d", modeHelp, overNone}, // d over the help opens the details
		{"j", modeHelp, overScrolled},
		{"r", modeProbe, overNone},
		{"t", modeProbe, overNone},
		{"n", modeDetail, overLeave},
		{"h", modeProbe, overLeave},
	} {
		if got := o.update(keyMsg(tc.k), ks, tc.md); got != tc.want {
			t.Errorf("%s in mode %d: %d, want %d", tc.k, tc.md, got, tc.want)
		}
	}
	if o.vp.YOffset() != 1 {
		t.Errorf("j scrolled to %d", o.vp.YOffset())
	}
}

func TestSidebarFollowsWidthUntilToggled(t *testing.T) {
	ks := newKeyMap()
	var sb sidebar
	if !sb.visible(80) || sb.visible(60) {
		t.Fatal("the sidebar does not follow the width")
	}
	if sb.update(keyMsg("j"), ks, 80) {
		t.Fatal("the sidebar took j")
	}
	if !sb.update(keyMsg("tab"), ks, 80) || sb.visible(80) || sb.visible(200) {
		t.Fatal("tab did not hide it for good")
	}
	sb.update(keyMsg("tab"), ks, 80)
	if !sb.visible(60) {
		t.Fatal("tab again did not show it on a narrow screen")
	}
}

func TestLessonViewKeys(t *testing.T) {
	ks := newKeyMap()
	lv := newLessonView()
	lv.setSize(40, 5)
	lv.vp.SetContent(strings.Repeat("line\n", 50))
	for k, want := range map[string]tea.Msg{
		"n": nextMsg{}, "right": nextMsg{}, "p": prevMsg{}, "x": askMsg{dlgSkip}, "R": askMsg{dlgReset},
		"o": linksMsg{}, "h": hintMsg{}, "s": solutionMsg{}, "c": copyMsg{}, "1": answerMsg{0}, "3": answerMsg{2},
	} {
		if got := lv.update(keyMsg(k), ks); got != want {
			t.Errorf("%s: %#v, want %#v", k, got, want)
		}
	}
	if got := lv.update(keyMsg("G"), ks); got != nil || lv.vp.YOffset() == 0 {
		t.Errorf("G: %#v, offset %d", got, lv.vp.YOffset())
	}
	if pct, cut := lv.scrolled(); pct != 100 || !cut {
		t.Errorf("scrolled = %d%%, %v", pct, cut)
	}
}

func TestCheckPanelKeys(t *testing.T) {
	ks := newKeyMap()
	var p checkPanel
	for k, want := range map[string]tea.Msg{"r": recheckMsg{}, "t": probeKeyMsg{}, "d": detailsMsg{}, "n": nil} {
		if got := p.update(keyMsg(k), ks); got != want {
			t.Errorf("%s: %#v, want %#v", k, got, want)
		}
	}
}

func TestMessageLine(t *testing.T) {
	var l messageLine
	l.say(lvWarn, "careful")
	l.say(lvInfo, "fine")
	if l.text != "careful" {
		t.Fatalf("an info replaced a warning: %q", l.text)
	}
	l.clear()
	l.refuse("Not yet")
	l.gateOpened()
	if l.text != "" {
		t.Fatalf("a refusal survived the gate opening: %q", l.text)
	}
	l.say(lvWarn, "Offline")
	l.gateOpened()
	if l.text != "Offline" {
		t.Fatal("a warning that is not a refusal was dropped when the gate opened")
	}
}

// TestViewChangesNothing: drawing a frame, in every mode, leaves the
// model as it was.
func TestViewChangesNothing(t *testing.T) {
	state := func(m *Model) string {
		p := m.ses.Progress()
		return fmt.Sprintf("%v|%v|%v|%v|%v|%q|%v|%d|%v|%v", m.mode, m.side, m.msg, m.place(), m.ses.Shown(), m.lesson.key,
			m.lesson.vp.YOffset(), len(p.Lessons), p.Last, m.dlg)
	}
	for _, keys := range [][]string{nil, {"?"}, {"d"}, {"/"}, {"x"}, {"h", "h"}, {"tab"}, {"c"}, {"4"}} {
		for _, sz := range [][2]int{{100, 30}, {60, 16}, {20, 5}} {
			m := direct(t, options(t, nil, 2, nil), sz[0], sz[1])
			press(t, m, keys...)
			before := state(m)
			view(m)
			view(m)
			if after := state(m); after != before {
				t.Errorf("%dx%d after %v: View changed the model:\n%s\n%s", sz[0], sz[1], keys, before, after)
			}
		}
	}
}
