package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/lessons"
)

// TestPresenterAndNotes: two processes on one machine. meshdojo notes,
// started first, waits for a presenter; the presenter (--present, at a
// projector's size) shows no sidebar, wide margins and the step counter;
// the notes follow it from step to step, say which of two presenters
// they follow, and say so when the presenter quits.
func TestPresenterAndNotes(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	l, _ := lessons.Find(all, "6")
	env := offlineEnv(t)

	notes := start(t, env, 100, 32, "notes")
	notes.waitText("No presenter is running", "meshdojo --present")

	pres := start(t, env, 100, 30, "--present", "--lesson", "6")
	scr := pres.waitText("Lesson 6 · Certificates and mutual TLS · step 1 of 10", l.Steps[0].Title)
	if strings.Contains(scr, "Microservices wit") || strings.Contains(scr, "│") {
		t.Errorf("presenter mode shows the sidebar:\n%s", scr)
	}
	rows := lines(strings.TrimRight(scr, "\n"))
	for i, row := range rows[:len(rows)-1] {
		if strings.TrimSpace(row) != "" && !strings.HasPrefix(row, "        ") {
			t.Errorf("row %d ignores the presenter's margin: %q", i, row)
		}
	}
	if w := wordOf(l.Steps[0].Notes.Text, l.Intro+l.Steps[0].Body); w == "" || strings.Contains(scr, "Room:") || strings.Contains(scr, w) {
		t.Errorf("the presenter's screen shows the speaker notes:\n%s", scr)
	}

	notes.waitText("following pid", l.Steps[0].Title, wordOf(l.Steps[0].Notes.Text, ""),
		"Next: step 2 · "+l.Steps[1].Title, "(planned "+strconv.Itoa(l.Steps[0].Notes.Minutes)+" min)")

	// The presenter moves a step (offline, so by skipping): the notes follow.
	pres.press("x")
	pres.waitText("Skip this step?")
	pres.press("y")
	pres.waitText("step 2 of 10")
	notes.waitText(l.Steps[1].Title, wordOf(l.Steps[1].Notes.Text, l.Steps[0].Notes.Text), "Next: step 3 · "+l.Steps[2].Title)

	// A second presenter, newer: followed, and both named.
	second := start(t, env, 100, 30, "--present", "--lesson", "9")
	second.waitText("Lesson 9 ·")
	notes.waitText("2 presenters on this machine: following the newest", "Lesson 9 ·")
	second.press("q")
	second.wait()
	notes.waitText("Lesson 6 ·", l.Steps[1].Title)
	notes.waitGone("2 presenters")

	// The presenter quits: said, and the notes wait for another.
	pres.press("q")
	if code := pres.wait(); code != 0 {
		t.Fatalf("presenter exit %d", code)
	}
	notes.waitText("has quit", "No presenter is running")
	notes.press("q")
	if code := notes.wait(); code != 0 {
		t.Fatalf("notes exit %d", code)
	}
}

// wordOf picks a long word of notes that is not in other, to recognise
// the notes on screen whatever the wrapping.
func wordOf(notes, other string) string {
	best := ""
	for _, w := range regexp.MustCompile(`[A-Za-z]{7,}`).FindAllString(notes, -1) {
		if !strings.Contains(other, w) && len(w) > len(best) {
			best = w
		}
	}
	return best
}
