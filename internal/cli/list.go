package cli

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/meshdojo/meshdojo/lessons"
)

func init() {
	commands["list"] = command{summary: "list the lessons with your progress", run: runList}
}

func runList(args []string, io IO) int {
	fs := flag.NewFlagSet("meshdojo list", flag.ContinueOnError)
	ctxF, kcF := clusterFlags(fs)
	if code, ok := parseFlags(fs, args, io); !ok {
		return code
	}
	t, err := resolve(*ctxF, *kcF)
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo:", err)
		return 1
	}
	prog, err := t.store.Load(t.context)
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo: warning:", err)
	}
	ctxName := t.context
	if ctxName == "" {
		ctxName = "(no kube context)"
	}
	fmt.Fprintf(io.Out, "Progress for context %s\n\n", ctxName)
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "LESSON\tTITLE\tMODE\tMIN\tSTEPS\tDONE\tSKIPPED")
	// Every chapter of the book in order: written lessons with progress,
	// the others marked as not yet available (faint on a terminal).
	later := map[int]bool{}
	row := 1
	seen := map[string]bool{}
	for _, c := range lessons.Chapters() {
		l, ok := lessons.Find(t.all, c.ID)
		if !ok {
			fmt.Fprintf(w, "%s\t%s\tnot yet\t\t\t\t\n", strings.ToUpper(c.ID), c.Title)
			later[row] = true
			row++
			continue
		}
		seen[l.ID] = true
		listRow(w, prog.Last, l, prog)
		row++
	}
	for _, l := range t.all { // lessons outside the book's numbering
		if !seen[l.ID] {
			listRow(w, prog.Last, l, prog)
		}
	}
	w.Flush()
	faint := io.IsTTY && os.Getenv("NO_COLOR") == ""
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		line = strings.TrimRight(line, " ")
		if later[i] && faint {
			line = "\x1b[2m" + line + "\x1b[0m"
		}
		fmt.Fprintln(io.Out, line)
	}
	if prog.Last != "" {
		fmt.Fprintln(io.Out, "\n* where `meshdojo` resumes")
	}
	if len(later) > 0 {
		fmt.Fprintln(io.Out, "\n\"not yet\": a chapter of the book whose lesson is not written yet.")
	}
	fmt.Fprintln(io.Out, "\nOpen one with: meshdojo --lesson ID\nRead one without the UI: meshdojo show --lesson ID")
	return 0
}

func listRow(w *tabwriter.Writer, last string, l *lessons.Lesson, prog interface {
	Count(string, []string) (int, int)
}) {
	anchors := make([]string, len(l.Steps))
	for i := range l.Steps {
		anchors[i] = l.Steps[i].Anchor
	}
	done, skipped := prog.Count(l.ID, anchors)
	id := strings.ToUpper(l.ID)
	if last == l.ID {
		id += " *"
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\n", id, l.Title, l.Mode, l.Minutes, len(l.Steps), done, skipped)
}
