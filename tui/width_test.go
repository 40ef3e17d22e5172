package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/lessons"
)

// TestFramesFitTheTerminal draws every step of the shipped lessons, with
// each overlay, at a projector's size, a small terminal and the
// smallest supported one: no line may be wider than the terminal (it
// would wrap and push the rest of the frame down) and the frame may not
// be taller.
func TestFramesFitTheTerminal(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, sz := range [][2]int{{200, 60}, {220, 80}, {60, 16}} {
		for _, l := range all {
			for si := range l.Steps {
				m := direct(t, Options{Lessons: all, Lesson: l.ID, Step: si + 1, Theme: ThemeDark}, sz[0], sz[1])
				for _, keys := range [][]string{nil, {"?"}, {"d"}, {"/"}, {"h", "h", "h"}, {"s", "y"}, {"c"}, {"c"}, {"x"}} {
					press(t, m, keys...)
					ls := strings.Split(view(m), "\n")
					if len(ls) > sz[1] {
						t.Errorf("%dx%d lesson %s step %d after %v: %d lines", sz[0], sz[1], l.ID, si+1, keys, len(ls))
					}
					for i, line := range ls {
						if w := ansi.StringWidth(line); w > sz[0] {
							t.Errorf("%dx%d lesson %s step %d after %v: line %d is %d wide: %q", sz[0], sz[1], l.ID, si+1, keys, i, w, ansi.Strip(line))
						}
					}
					press(t, m, "esc")
				}
				press(t, m, "n")
			}
		}
	}
}

// TestScrollPositionLabelled: the status bar says how far the step is
// scrolled in words that cannot be mistaken for lesson progress, and
// says nothing when the whole step fits.
func TestScrollPositionLabelled(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	m := direct(t, Options{Lessons: all, Lesson: "6", Step: 1, Theme: ThemeDark}, 80, 24)
	if v := ansi.Strip(view(m)); !strings.Contains(v, "scrolled 0%") {
		t.Fatalf("long step at the top does not say scrolled 0%%:\n%s", v)
	}
	press(t, m, "G")
	if v := ansi.Strip(view(m)); !strings.Contains(v, "scrolled 100%") {
		t.Fatalf("long step at the end does not say scrolled 100%%:\n%s", v)
	}
	m = direct(t, Options{Lessons: fixtures(t), Lesson: "6", Step: 2, Theme: ThemeDark}, 200, 60)
	if v := ansi.Strip(view(m)); strings.Contains(v, "scrolled") || strings.Contains(v, "%") {
		t.Fatalf("a step that fits shows a scroll position:\n%s", v)
	}
}

// TestReadingMeasureOnBigScreens: on a projector-sized screen the text
// keeps a readable line length instead of running across 190 columns.
func TestReadingMeasureOnBigScreens(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	m := direct(t, Options{Lessons: all, Lesson: "6", Step: 1, Theme: ThemeDark}, 200, 60)
	longest := 0
	for _, l := range strings.Split(ansi.Strip(m.lesson.vp.View()), "\n") {
		longest = max(longest, ansi.StringWidth(strings.TrimRight(l, " ")))
	}
	if longest > readW+2 || longest < readW-20 {
		t.Errorf("longest text line at 200x60 is %d wide; want about %d", longest, readW)
	}
}

// TestStatusBarKeepsHelp: however narrow, the status bar names the help
// key, which leads to every other one.
func TestStatusBarKeepsHelp(t *testing.T) {
	for _, sz := range [][2]int{{60, 16}, {80, 24}, {200, 60}} {
		m := direct(t, options(t, nil, 2, nil), sz[0], sz[1])
		press(t, m, "x", "y") // "1 skipped" makes the bar longer
		ls := strings.Split(ansi.Strip(view(m)), "\n")
		if bar := ls[len(ls)-1]; !strings.Contains(bar, "? help") || !strings.Contains(bar, "Lesson 6 · step 3/6") {
			t.Errorf("%dx%d: status bar %q lacks the help key or the step", sz[0], sz[1], bar)
		}
	}
}

// TestTooSmallSaysItInTheSpaceThereIs: below the smallest layout the
// notice is worded and wrapped to fit, never cut mid-word ("meshdojo
// needs at le" at 20x5), and always names the size needed when there is
// room for it.
func TestTooSmallSaysItInTheSpaceThereIs(t *testing.T) {
	m := direct(t, options(t, nil, 2, nil), 80, 24)
	need := itoa(minW) + "x" + itoa(minH)
	for _, sz := range [][2]int{{20, 5}, {29, 7}, {12, 3}, {25, 1}, {9, 2}, {4, 1}, {30, 7}, {29, 8}} {
		w, h := sz[0], sz[1]
		m.Update(tea.WindowSizeMsg{Width: w, Height: h})
		out := ansi.Strip(view(m))
		ls := strings.Split(out, "\n")
		if len(ls) > h {
			t.Errorf("%dx%d: %d lines:\n%s", w, h, len(ls), out)
		}
		for _, l := range ls {
			if ansi.StringWidth(l) > w {
				t.Errorf("%dx%d: line %q is wider than the screen", w, h, l)
			}
		}
		said := strings.Join(strings.Fields(out), " ")
		if !strings.Contains(said, need) {
			t.Errorf("%dx%d: does not say %s is needed: %q", w, h, need, said)
		}
		// Every word shown is a whole word of the full notice, so a
		// shorter wording may leave words out but never cuts one.
		full := map[string]bool{}
		for _, word := range strings.Fields(fmt.Sprintf("meshdojo needs at least %s (now %dx%d); q quits", need, w, h)) {
			full[strings.Trim(word, "();,")] = true
		}
		for _, word := range strings.Fields(said) {
			if !full[strings.Trim(word, "();,")] {
				t.Errorf("%dx%d: %q is not a whole word of the notice: %q", w, h, word, said)
			}
		}
		if w*h >= 60 && !strings.Contains(said, "q quits") {
			t.Errorf("%dx%d: room enough, but it does not say q quits: %q", w, h, said)
		}
	}
	m.Update(tea.WindowSizeMsg{Width: 20, Height: 5})
	if said := strings.Join(strings.Fields(ansi.Strip(view(m))), " "); !strings.Contains(said, "meshdojo needs at least "+need) {
		t.Errorf("20x5: %q", said)
	}
}
