package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	xansi "github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/internal/presence"
)

// The speaker notes view: what it shows for each state of the
// presenters it follows. Scans are fed to Update directly, as the
// ticking command would.

func notesModel(t *testing.T, now time.Time) *NotesModel {
	t.Helper()
	m := NewNotes(NotesOptions{Lessons: fixtures(t), Dir: "/run/test/present", Theme: ThemeDark,
		Now: func() time.Time { return now }, Scan: func() ([]presence.Position, error) { return nil, nil }})
	m.Update(tea.WindowSizeMsg{Width: 90, Height: 30})
	return m
}

func notesScreen(m *NotesModel, at time.Time, ps ...presence.Position) string {
	m.Update(notesTickMsg{all: ps, at: at})
	return xansi.Strip(m.View().Content)
}

func TestNotesFollowPresenter(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.Local)
	m := notesModel(t, start)
	v := notesScreen(m, start)
	for _, want := range []string{"No presenter is running", "meshdojo --present", "/run/test/present"} {
		if !strings.Contains(v, want) {
			t.Errorf("no presenter: %q missing:\n%s", want, v)
		}
	}
	// A presenter on step 1: the introduction's notes, then step 1's.
	p := presence.Position{PID: 4242, Started: start, Since: start, Lesson: "6", Step: 0, Anchor: "look-around", Title: "Look around"}
	v = notesScreen(m, start.Add(90*time.Second), p)
	for _, want := range []string{"following pid 4242", "Lesson 6 · Test certificates · step 1 of 6", "Look around",
		"SPEAKER-INTRO", "SPEAKER-ONE", "Next: step 2 · Make it strict", "Elapsed 0:01:30", "on this step 0:01:30", "(planned 3 min)", "09:01:30"} {
		if !strings.Contains(v, want) {
			t.Errorf("step 1: %q missing:\n%s", want, v)
		}
	}
	if strings.Contains(v, "minutes: 3") || strings.Contains(v, "over time") {
		t.Errorf("step 1: the minutes line or an overrun shown:\n%s", v)
	}
	// The presenter moves on: the notes follow, the step clock restarts.
	p.Step, p.Anchor, p.Title, p.Since = 1, "make-it-strict", "Make it strict", start.Add(2*time.Minute)
	v = notesScreen(m, start.Add(8*time.Minute), p)
	for _, want := range []string{"SPEAKER-TWO", "Next: step 3 · Send traffic", "Elapsed 0:08:00", "on this step 0:06:00", "(planned 5 min) · over time"} {
		if !strings.Contains(v, want) {
			t.Errorf("step 2: %q missing:\n%s", want, v)
		}
	}
	if strings.Contains(v, "SPEAKER-ONE") || strings.Contains(v, "SPEAKER-INTRO") {
		t.Errorf("step 2 still shows step 1's notes:\n%s", v)
	}
	// A second, newer presenter: followed, and both are named.
	q := presence.Position{PID: 5151, Started: start.Add(5 * time.Minute), Since: start.Add(5 * time.Minute), Lesson: "6", Step: 0, Anchor: "look-around", Title: "Look around"}
	v = notesScreen(m, start.Add(9*time.Minute), q, p)
	for _, want := range []string{"2 presenters on this machine: following the newest, pid 5151", "Also running: pid 4242", "SPEAKER-ONE"} {
		if !strings.Contains(v, want) {
			t.Errorf("two presenters: %q missing:\n%s", want, v)
		}
	}
	// The presenter quits: said, and the notes wait for another.
	v = notesScreen(m, start.Add(10*time.Minute))
	for _, want := range []string{"The presenter (pid 5151) has quit; it was at lesson 6, step 1", "No presenter is running"} {
		if !strings.Contains(v, want) {
			t.Errorf("after quitting: %q missing:\n%s", want, v)
		}
	}
	// One comes back: followed again, the quit notice gone.
	v = notesScreen(m, start.Add(11*time.Minute), p)
	if !strings.Contains(v, "SPEAKER-TWO") || strings.Contains(v, "has quit") {
		t.Errorf("a presenter again:\n%s", v)
	}
}

// A step the notes' lessons do not have (another version of meshdojo
// presents) is named, not shown as some other step's notes.
func TestNotesUnknownStep(t *testing.T) {
	now := time.Now()
	m := notesModel(t, now)
	v := notesScreen(m, now, presence.Position{PID: 7, Started: now, Since: now, Lesson: "6", Anchor: "gone", Title: "A removed step"})
	if !strings.Contains(v, `which this meshdojo does not have`) || strings.Contains(v, "SPEAKER") {
		t.Errorf("unknown step:\n%s", v)
	}
}

// The clock does not re-render the notes: a tick with nothing new costs
// no Markdown rendering, and the frames fit small screens.
func TestNotesTickIsCheap(t *testing.T) {
	now := time.Now()
	m := notesModel(t, now)
	p := presence.Position{PID: 9, Started: now, Since: now, Lesson: "6", Step: 1, Anchor: "make-it-strict", Title: "Make it strict"}
	notesScreen(m, now, p)
	n := m.md.renders
	for i := range 10 {
		notesScreen(m, now.Add(time.Duration(i)*time.Second), p)
	}
	if m.md.renders != n {
		t.Errorf("%d renders for ten clock ticks", m.md.renders-n)
	}
	for _, sz := range [][2]int{{30, 8}, {50, 12}, {200, 60}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		frameFits(t, "notes", m.View().Content, sz[0], sz[1])
	}
}
