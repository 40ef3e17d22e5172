package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshdojo/meshdojo/internal/presence"
	"github.com/meshdojo/meshdojo/lessons"
	"github.com/meshdojo/meshdojo/tui"
)

func init() {
	commands["notes"] = command{summary: "speaker notes on a second terminal, following the presenting meshdojo", run: runNotes}
}

func runNotes(args []string, io IO) int {
	fs := flag.NewFlagSet("meshdojo notes", flag.ContinueOnError)
	themeF := fs.String("theme", "auto", "colours: auto (follow the terminal), dark or light; NO_COLOR turns colour off")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: meshdojo notes [--theme auto|dark|light]")
		fmt.Fprintln(fs.Output(), "\nShows the speaker notes of the step the presenting meshdojo (meshdojo --present, or P in the")
		fmt.Fprintln(fs.Output(), "tutorial) is on, with the next step's title and a clock, and follows it live. Run it on a")
		fmt.Fprintln(fs.Output(), "second terminal of the same machine. Without a terminal it prints the current step's notes once.")
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, io); !ok {
		return code
	}
	switch *themeF {
	case tui.ThemeAuto, tui.ThemeDark, tui.ThemeLight:
	default:
		fmt.Fprintf(io.Err, "meshdojo notes: --theme %q is not one of auto, dark, light\n", *themeF)
		return 2
	}
	all, err := lessons.Load()
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo notes:", err)
		return 1
	}
	dir := presence.Dir()
	if !io.IsTTY {
		return notesOnce(all, dir, io)
	}
	m := tui.NewNotes(tui.NotesOptions{Lessons: all, Dir: dir, Theme: *themeF, NoColor: os.Getenv("NO_COLOR") != ""})
	if _, err := tea.NewProgram(m, tea.WithInput(io.In), tea.WithOutput(io.Out)).Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		fmt.Fprintln(io.Err, "meshdojo notes:", err)
		return 1
	}
	return 0
}

// notesOnce prints the newest presenter's current notes as plain text,
// for a script or a pipe; with no presenter it says so and fails.
func notesOnce(all []*lessons.Lesson, dir string, io IO) int {
	ps, err := presence.Scan(dir)
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo notes:", err)
		return 1
	}
	if len(ps) == 0 {
		fmt.Fprintf(io.Err, "meshdojo notes: no presenter is running on this machine (looked in %s); start meshdojo --present, or press P in the tutorial\n", dir)
		return 1
	}
	p := ps[0]
	if len(ps) > 1 {
		fmt.Fprintf(io.Out, "%d presenters are running; following the newest, pid %d.\n", len(ps), p.PID)
	}
	l, ok := lessons.Find(all, p.Lesson)
	si := -1
	if ok {
		for i := range l.Steps {
			if l.Steps[i].Anchor == p.Anchor {
				si = i
			}
		}
	}
	if si < 0 {
		fmt.Fprintf(io.Err, "meshdojo notes: pid %d presents lesson %s, step %q, which this meshdojo does not have\n", p.PID, strings.ToUpper(p.Lesson), p.Title)
		return 1
	}
	s := &l.Steps[si]
	now := time.Now()
	fmt.Fprintf(io.Out, "Presenter pid %d · lesson %s · step %d of %d: %s\n", p.PID, strings.ToUpper(l.ID), si+1, len(l.Steps), s.Title)
	fmt.Fprintf(io.Out, "Elapsed %s · on this step %s · %s\n\n", dur(now.Sub(p.Started)), dur(now.Sub(p.Since)), now.Format("15:04:05"))
	if si == 0 && l.Notes.Text != "" {
		fmt.Fprintf(io.Out, "Before the first step:\n%s\n\n", l.Notes.Text)
	}
	if s.Notes.Text == "" {
		fmt.Fprintln(io.Out, "This step has no speaker notes.")
	} else {
		if s.Notes.Minutes > 0 {
			fmt.Fprintf(io.Out, "Planned: %d min\n", s.Notes.Minutes)
		}
		fmt.Fprintln(io.Out, s.Notes.Text)
	}
	if si+1 < len(l.Steps) {
		fmt.Fprintf(io.Out, "\nNext: step %d · %s\n", si+2, l.Steps[si+1].Title)
	}
	return 0
}

func dur(d time.Duration) string {
	s := int(max(0, d) / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}
