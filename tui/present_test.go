package tui

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/glamour/v2/ansi"
	xansi "github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/internal/presence"
	"github.com/meshdojo/meshdojo/lessons"
)

// Presenter mode, for a projector at the back of a room.

// frameFits fails when a frame is wider or taller than the screen.
func frameFits(t *testing.T, what, v string, w, h int) {
	t.Helper()
	ls := strings.Split(v, "\n")
	if len(ls) > h {
		t.Errorf("%s: %d lines on a %d-line screen", what, len(ls), h)
	}
	for i, l := range ls {
		if lw := xansi.StringWidth(l); lw > w {
			t.Errorf("%s: line %d is %d wide on a %d-wide screen: %q", what, i, lw, w, xansi.Strip(l))
		}
	}
}

// TestPresenterLayout: at the sizes projectors give, no sidebar, wide
// margins, the lesson, the step's title and counter at the top, the
// counter also drawn large, and each check on two lines.
func TestPresenterLayout(t *testing.T) {
	for _, sz := range [][2]int{{100, 30}, {120, 35}} {
		w, h := sz[0], sz[1]
		o := options(t, newFake(), 2, nil)
		o.Present = true
		sc := run(t, New(o), w, h)
		v := sc.waitText("FAIL", "bookinfo mTLS mode")
		if strings.Contains(v, "10 Timeouts") || strings.Contains(v, "│") {
			t.Errorf("%dx%d: the sidebar is shown in presenter mode:\n%s", w, h, v)
		}
		ls := strings.Split(strings.TrimRight(v, "\n"), "\n")
		if len(ls) != h {
			t.Errorf("%dx%d: %d lines on screen", w, h, len(ls))
		}
		pad := presentPad(w)
		if pad < 8 {
			t.Errorf("%dx%d: margin %d, want a generous one", w, h, pad)
		}
		for i, l := range ls[:len(ls)-1] { // the status bar spans the screen
			if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, strings.Repeat(" ", pad)) {
				t.Errorf("%dx%d: line %d ignores the left margin: %q", w, h, i, l)
			}
			if xansi.StringWidth(strings.TrimRight(l, " ")) > w-pad {
				t.Errorf("%dx%d: line %d runs into the right margin: %q", w, h, i, l)
			}
		}
		for _, want := range []string{"Lesson 6 · Test certificates · step 2 of 6", "Make it strict"} {
			if !strings.Contains(v, want) {
				t.Errorf("%dx%d: header lacks %q:\n%s", w, h, want, v)
			}
		}
		big := strings.Split(bigText("2/6"), "\n")
		for _, row := range big {
			if !strings.Contains(v, row) {
				t.Errorf("%dx%d: the large step counter row %q is missing:\n%s", w, h, row, v)
			}
		}
		// The step's title is not repeated in the text under the header.
		if strings.Contains(v, "Step 2 of 6 · Make it strict") {
			t.Errorf("%dx%d: the title is shown twice", w, h)
		}
		// The check: its verdict line, then what is wrong on its own line.
		at := -1
		for i, l := range ls {
			if strings.Contains(l, "FAIL") && strings.Contains(l, "mTLS is STRICT in bookinfo") {
				at = i
			}
		}
		if at < 0 || at+1 >= len(ls) || !strings.Contains(ls[at+1], "bookinfo mTLS mode") {
			t.Errorf("%dx%d: the check is not shown on two lines with its failing condition:\n%s", w, h, v)
		}
	}
}

// TestPresenterKeyToggles: P turns presenter mode on and off; the
// sidebar comes back with it off; the help lists the key.
func TestPresenterKeyToggles(t *testing.T) {
	m := direct(t, options(t, nil, 1, nil), 120, 35)
	if !strings.Contains(xansi.Strip(view(m)), "│") {
		t.Fatal("no sidebar at 120x35 before presenter mode")
	}
	press(t, m, "P")
	if !m.present || strings.Contains(xansi.Strip(view(m)), "│") {
		t.Fatalf("P: present=%v, screen:\n%s", m.present, xansi.Strip(view(m)))
	}
	if m.st.id != ThemeDark+"/present" {
		t.Errorf("styles %q in presenter mode", m.st.id)
	}
	press(t, m, "P")
	if m.present || !strings.Contains(xansi.Strip(view(m)), "│") {
		t.Fatalf("P again: present=%v, screen:\n%s", m.present, xansi.Strip(view(m)))
	}
	press(t, m, "?")
	help := xansi.Strip(m.over.vp.View())
	press(t, m, "G")
	help += xansi.Strip(view(m))
	if !strings.Contains(help, "P/F5") || !strings.Contains(help, "presenter mode") {
		t.Errorf("the help does not show the presenter key:\n%s", help)
	}
	press(t, m, "esc")
	m.Update(tea.KeyPressMsg{Code: tea.KeyF5})
	if !m.present {
		t.Error("F5 does not turn presenter mode on")
	}
}

// TestPresenterDegradesOnSmallScreens: below the projector sizes the
// header becomes one line with the counter first, margins shrink, and
// every frame still fits; every shipped step, with each overlay.
func TestPresenterDegradesOnSmallScreens(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, sz := range [][2]int{{100, 30}, {120, 35}, {50, 14}, {30, 8}} {
		for _, l := range all {
			for si := range l.Steps {
				m := direct(t, Options{Lessons: all, Lesson: l.ID, Step: si + 1, Theme: ThemeLight, Present: true}, sz[0], sz[1])
				for _, keys := range [][]string{nil, {"d"}, {"h", "h", "h", "s", "y"}} {
					press(t, m, keys...)
					frameFits(t, l.ID+"/"+strconv.Itoa(si+1)+" "+strings.Join(keys, ""), view(m), sz[0], sz[1])
					press(t, m, "esc")
				}
			}
		}
	}
	m := direct(t, Options{Lessons: fixtures(t), Lesson: "6", Step: 2, Theme: ThemeDark, Present: true}, 60, 16)
	v := xansi.Strip(view(m))
	if !strings.Contains(v, "Step 2/6  Make it strict") || strings.Contains(v, strings.Split(bigText("2/6"), "\n")[0]) {
		t.Errorf("60x16: want the one-line header, got:\n%s", v)
	}
}

// TestPresenterContrast: every colour presenter mode uses, its own and
// glamour's, is at least 7:1 against the theme's background, in both
// themes; glamour gets an explicit style with no tinted backgrounds and
// no syntax theme (whose greys vanish on a projector).
func TestPresenterContrast(t *testing.T) {
	for _, dark := range []bool{true, false} {
		p := presentPalette(dark)
		cols := append([]string{p.fg, p.faint, p.accent, p.green, p.red, p.yellow, p.code}, p.chart...)
		for _, c := range cols {
			if r := contrast(c, p.bg); r < 7 {
				t.Errorf("dark=%v: %s on %s is %.1f:1, want at least 7:1", dark, c, p.bg, r)
			}
		}
		cfg := presentMarkdown(p)
		if cfg.CodeBlock.Chroma != nil || cfg.CodeBlock.Theme != "" {
			t.Errorf("dark=%v: code blocks keep a syntax theme", dark)
		}
		n := 0
		eachPrimitive(reflect.ValueOf(&cfg).Elem(), func(sp *ansi.StylePrimitive) {
			n++
			if sp.Color == nil {
				t.Errorf("dark=%v: a glamour style without an explicit colour", dark)
				return
			}
			if sp.BackgroundColor != nil {
				t.Errorf("dark=%v: glamour background %s", dark, *sp.BackgroundColor)
			}
			if r := contrast(*sp.Color, p.bg); r < 7 {
				t.Errorf("dark=%v: glamour colour %s is %.1f:1", dark, *sp.Color, r)
			}
		})
		if n < 20 {
			t.Errorf("dark=%v: only %d glamour styles seen", dark, n)
		}
		st := newStyles(map[bool]string{true: ThemeDark, false: ThemeLight}[dark], true)
		if !reflect.DeepEqual(st.markdown, cfg) {
			t.Errorf("dark=%v: the presenter styles do not pass the presenter glamour style", dark)
		}
	}
}

// contrast is the WCAG contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	lum := func(h string) float64 {
		v, _ := strconv.ParseUint(strings.TrimPrefix(h, "#"), 16, 32)
		ch := func(c uint64) float64 {
			x := float64(c) / 255
			if x <= 0.03928 {
				return x / 12.92
			}
			return math.Pow((x+0.055)/1.055, 2.4)
		}
		return 0.2126*ch(v>>16&0xff) + 0.7152*ch(v>>8&0xff) + 0.0722*ch(v&0xff)
	}
	la, lb := lum(a), lum(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// TestPresenterNothingMoves: presenter mode schedules nothing that
// redraws by itself (direct fails on a command that keeps coming, as a
// spinner's or clock's tick would), and a frame drawn twice is the same.
func TestPresenterNothingMoves(t *testing.T) {
	o := options(t, nil, 2, nil)
	o.Present = true
	m := direct(t, o, 100, 30)
	if a, b := view(m), view(m); a != b {
		t.Error("two frames with nothing in between differ")
	}
}

// TestSpeakerNotesNeverShown: a step's notes and the introduction's are
// not on the reader's screen, in either mode, with hints and solution.
func TestSpeakerNotesNeverShown(t *testing.T) {
	for _, present := range []bool{false, true} {
		for step := 1; step <= 2; step++ {
			o := options(t, nil, step, nil)
			o.Present = present
			m := direct(t, o, 120, 60)
			press(t, m, "h", "h", "h", "s", "y")
			v := xansi.Strip(view(m)) + xansi.Strip(m.lesson.vp.GetContent())
			if strings.Contains(v, "SPEAKER") || strings.Contains(v, "minutes: 3") {
				t.Errorf("present=%v step %d: notes on the reader's screen:\n%s", present, step, v)
			}
		}
	}
}

// TestPresenterPublishes: once presenter mode is on the place is
// published, on every move, and stays published with the mode off;
// before it, nothing is written.
func TestPresenterPublishes(t *testing.T) {
	dir := t.TempDir()
	pub := presence.NewPublisher(dir, time.Now())
	o := options(t, nil, 1, nil)
	o.Presenter = pub
	m := direct(t, o, 100, 30)
	if ps, _ := presence.Scan(dir); len(ps) != 0 {
		t.Fatalf("published before presenting: %+v", ps)
	}
	at := func() presence.Position {
		t.Helper()
		ps, err := presence.Scan(dir)
		if err != nil || len(ps) != 1 {
			t.Fatalf("scan: %+v %v", ps, err)
		}
		return ps[0]
	}
	press(t, m, "P")
	if p := at(); p.Lesson != "6" || p.Step != 0 || p.Anchor != "look-around" || p.Title != "Look around" {
		t.Errorf("after P: %+v", p)
	}
	press(t, m, "x", "y") // skip to step 2
	if p := at(); p.Step != 1 || p.Anchor != "make-it-strict" {
		t.Errorf("after a skip: %+v", p)
	}
	press(t, m, "P", "p") // presenter mode off, back a step
	if p := at(); p.Step != 0 {
		t.Errorf("after leaving presenter mode and going back: %+v", p)
	}
	pub.Close()
	if ps, _ := presence.Scan(dir); len(ps) != 0 {
		t.Errorf("still published after Close: %+v", ps)
	}
}
