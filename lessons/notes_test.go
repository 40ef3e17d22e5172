package lessons_test

import (
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/lessons"
)

// Speaker notes: a notes block is the instructor's, taken out of the
// text readers see, with its planned minutes and its line.

func TestParseNotes(t *testing.T) {
	// After line 13 (the blank line before "## First"): intro notes; then
	// step 1's notes after its hint, step 2's without minutes.
	src := with(33, "```", "", "```notes", "minutes: 4", "Show the pods first.", "Most people forget -n.", "```")
	src = strings.Replace(src, "Intro with [a link](#second).\n", "Intro with [a link](#second).\n\n~~~notes\nWelcome everyone.\n~~~\n", 1)
	src = strings.Replace(src, "a link on its second line: [back](#first).\n", "a link on its second line: [back](#first).\n\n```notes\nAsk the room first.\n```\n", 1)
	l, err := lessons.Parse("06.md", src)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Notes; got.Text != "Welcome everyone." || got.Line != 14 || got.Minutes != 0 {
		t.Errorf("intro notes %+v", got)
	}
	if strings.Contains(l.Intro, "Welcome") || strings.Contains(l.Intro, "notes") {
		t.Errorf("intro shows the notes: %q", l.Intro)
	}
	s1, s2 := &l.Steps[0], &l.Steps[1]
	if got := s1.Notes; got.Text != "Show the pods first.\nMost people forget -n." || got.Minutes != 4 || got.Line != 39 {
		t.Errorf("step 1 notes %+v", got)
	}
	if got := s2.Notes; got.Text != "Ask the room first." || got.Minutes != 0 || got.Line == 0 {
		t.Errorf("step 2 notes %+v", got)
	}
	for _, s := range []*lessons.Step{s1, s2} {
		for _, text := range []string{s.Body, s.Solution, strings.Join(s.Hints, "\n"), strings.Join(s.Commands, "\n")} {
			if strings.Contains(text, "Most people") || strings.Contains(text, "Ask the room") || strings.Contains(text, "notes") {
				t.Errorf("step %q shows its notes to readers: %q", s.Title, text)
			}
		}
	}
}

func TestNotesErrorLines(t *testing.T) {
	notes := func(lines ...string) string {
		return with(33, append([]string{"```", ""}, lines...)...)
	}
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"minutes not a number", notes("```notes", "minutes: five", "Say hello.", "```"),
			[]string{`06.md:36: notes block: minutes "five" is not a whole number`}},
		{"minutes zero", notes("```notes", "", "minutes: 0", "Say hello.", "```"),
			[]string{"06.md:37: notes block: minutes 0 is not a plausible time"}},
		{"empty", notes("```notes", "minutes: 3", "```"),
			[]string{`06.md:35: notes block of step "First" has no notes`}},
		{"two blocks", notes("```notes", "One.", "```", "", "```notes", "Two.", "```"),
			[]string{`06.md:39: step "First" has more than one notes block (the first is on line 35)`}},
		{"inside a solution", notes("~~~~solution", "Apply it.", "", "```notes", "Secret.", "```", "~~~~"),
			[]string{"06.md:38: a notes block inside a solution would be shown to readers"}},
		{"inside a hint", notes("````hint", "Look.", "```notes", "Secret.", "```", "````"),
			[]string{"06.md:37: a notes block inside a hint would be shown to readers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorLines(t, tc.src)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("error %d:\ngot  %s\nwant %s...", i+1, got[i], tc.want[i])
				}
			}
		})
	}
}
