package cli

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/meshdojo/meshdojo/lessons"
)

func init() {
	commands["show"] = command{summary: "print a lesson or one step as plain text", run: runShow}
}

func runShow(args []string, io IO) int {
	fs := flag.NewFlagSet("meshdojo show", flag.ContinueOnError)
	lessonF := fs.String("lesson", "", "lesson to print (required): a chapter number such as 6, or an appendix such as a2")
	stepF := fs.Int("step", 0, "print only this step, from 1")
	solF := fs.Bool("solution", false, "include the step's solution")
	notesF := fs.Bool("notes", false, "include the instructor's speaker notes (the tutorial never shows them; meshdojo notes follows a presenter)")
	if code, ok := parseFlags(fs, args, io); !ok {
		return code
	}
	all, err := lessons.Load()
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo:", err)
		return 1
	}
	if *lessonF == "" {
		fmt.Fprintf(io.Err, "meshdojo show: --lesson is required; valid lessons are %s\n", lessons.IDs(all))
		return 2
	}
	l, err := findLesson(all, *lessonF)
	if err == nil && given(fs, "step") {
		err = checkStep(l, *stepF)
	}
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo show:", err)
		return 2
	}
	if !given(fs, "step") {
		printLesson(io.Out, l, *solF, *notesF)
		return 0
	}
	printStep(io.Out, l, *stepF-1, *solF, *notesF)
	return 0
}

func printLesson(w io.Writer, l *lessons.Lesson, solution, notes bool) {
	fmt.Fprintf(w, "Lesson %s: %s\n", strings.ToUpper(l.ID), l.Title)
	fmt.Fprintf(w, "%s\n", l.Summary)
	fmt.Fprintf(w, "Istio mode: %s · lab: %s · about %d minutes · %d steps\n\n", l.Mode, orDash(l.Lab), l.Minutes, len(l.Steps))
	if l.Intro != "" {
		fmt.Fprintln(w, l.Intro)
		fmt.Fprintln(w)
	}
	if notes {
		printNotes(w, l.Notes)
	}
	for i := range l.Steps {
		printStep(w, l, i, solution, notes)
	}
}

func printStep(w io.Writer, l *lessons.Lesson, i int, solution, notes bool) {
	s := &l.Steps[i]
	title := fmt.Sprintf("Step %d of %d: %s", i+1, len(l.Steps), s.Title)
	fmt.Fprintf(w, "%s\n%s\n\n", title, strings.Repeat("=", min(len(title), 72)))
	if s.Body != "" {
		fmt.Fprintln(w, s.Body)
		fmt.Fprintln(w)
	}
	if b := s.Break; b != nil {
		fmt.Fprintf(w, "Break %s (B in the tutorial shows its dry-run diff and asks; u or meshdojo reset puts it back):\n", b.ID)
		fmt.Fprintln(w, "  "+indent(b.Text, "  ")+"\n")
	}
	if len(s.Checks) > 0 {
		fmt.Fprintln(w, "Checks (run in the tutorial, or with meshdojo check):")
		for _, c := range s.Checks {
			fmt.Fprintf(w, "  - %s: %s%s\n", c.Title, c.Name, params(c.Params))
		}
		fmt.Fprintln(w)
	}
	if q := s.Question; q != nil {
		fmt.Fprintln(w, "Question: "+q.Prompt)
		for n, c := range q.Choices {
			fmt.Fprintf(w, "  %d) %s\n", n+1, c)
		}
		fmt.Fprintln(w)
	}
	if len(s.Hints) > 0 {
		fmt.Fprintln(w, "Hints:")
		for n, h := range s.Hints {
			fmt.Fprintf(w, "  %d. %s\n", n+1, indent(h, "     "))
		}
		fmt.Fprintln(w)
	}
	if s.Solution != "" {
		if solution {
			fmt.Fprintln(w, "Solution:")
			fmt.Fprintln(w, s.Solution)
		} else {
			fmt.Fprintf(w, "(This step has a solution: meshdojo show --lesson %s --step %d --solution)\n", l.ID, i+1)
		}
		fmt.Fprintln(w)
	}
	if notes {
		printNotes(w, s.Notes)
	}
}

// printNotes prints a notes block for an instructor preparing a class.
func printNotes(w io.Writer, n lessons.Notes) {
	if n.Line == 0 {
		return
	}
	head := "Instructor notes"
	if n.Minutes > 0 {
		head += fmt.Sprintf(" (about %d min in class)", n.Minutes)
	}
	fmt.Fprintf(w, "%s:\n  %s\n\n", head, indent(n.Text, "  "))
}

func params(p map[string]string) string {
	if len(p) == 0 {
		return ""
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+p[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func indent(s, pad string) string {
	return strings.ReplaceAll(s, "\n", "\n"+pad)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
