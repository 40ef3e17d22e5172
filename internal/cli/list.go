package cli

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
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
	w := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "LESSON\tTITLE\tMODE\tMIN\tSTEPS\tDONE\tSKIPPED")
	for _, l := range t.all {
		anchors := make([]string, len(l.Steps))
		for i := range l.Steps {
			anchors[i] = l.Steps[i].Anchor
		}
		done, skipped := prog.Count(l.ID, anchors)
		id := strings.ToUpper(l.ID)
		if prog.Last == l.ID {
			id += " *"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\n", id, l.Title, l.Mode, l.Minutes, len(l.Steps), done, skipped)
	}
	w.Flush()
	if prog.Last != "" {
		fmt.Fprintln(io.Out, "\n* where `meshdojo` resumes")
	}
	fmt.Fprintln(io.Out, "\nOpen one with: meshdojo --lesson ID   Read one without the UI: meshdojo show --lesson ID")
	return 0
}
