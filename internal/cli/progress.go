package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/meshdojo/meshdojo/internal/progress"
)

func init() {
	commands["progress"] = command{summary: "show your progress, or start over with --reset", run: runProgress}
}

func runProgress(args []string, io IO) int {
	fs := flag.NewFlagSet("meshdojo progress", flag.ContinueOnError)
	reset := fs.Bool("reset", false, "forget progress for this kube context (asks first)")
	yes := fs.Bool("yes", false, "with --reset: do not ask")
	lessonF := fs.String("lesson", "", "with --reset: forget only this lesson")
	ctxF, kcF := clusterFlags(fs)
	if code, ok := parseFlags(fs, args, io); !ok {
		return code
	}
	if (*yes || *lessonF != "") && !*reset {
		fmt.Fprintln(io.Err, "meshdojo progress: --yes and --lesson go with --reset, for example: meshdojo progress --reset --lesson 6")
		return 2
	}
	t, err := resolve(*ctxF, *kcF)
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo:", err)
		return 1
	}
	ctxName := t.context
	if ctxName == "" {
		ctxName = "(no kube context)"
	}
	if !*reset {
		prog, err := t.store.Load(t.context)
		if err != nil {
			fmt.Fprintln(io.Err, "meshdojo: warning:", err)
		}
		if serr := t.store.Err(); serr != nil {
			fmt.Fprintf(io.Out, "Progress for context %s: none can be kept (%v)\n\n", ctxName, serr)
		} else {
			fmt.Fprintf(io.Out, "Progress for context %s, kept in %s\n\n", ctxName, t.store.Path(t.context))
		}
		any := false
		for _, l := range t.all {
			rec := prog.Lessons[l.ID]
			if rec == nil {
				continue
			}
			any = true
			fmt.Fprintf(io.Out, "Lesson %s: %s\n", strings.ToUpper(l.ID), l.Title)
			for i := range l.Steps {
				st := string(prog.StatusOf(l.ID, l.Steps[i].Anchor))
				if st == "" {
					st = "-"
				}
				cur := " "
				if rec.Current == l.Steps[i].Anchor {
					cur = ">"
				}
				fmt.Fprintf(io.Out, " %s %2d %-8s %s\n", cur, i+1, st, l.Steps[i].Title)
			}
			fmt.Fprintln(io.Out)
		}
		if !any {
			fmt.Fprintln(io.Out, "Nothing yet. Start with: meshdojo")
		}
		return 0
	}

	what := "all progress"
	id := ""
	if *lessonF != "" {
		l, err := findLesson(t.all, *lessonF)
		if err != nil {
			fmt.Fprintln(io.Err, "meshdojo progress:", err)
			return 2
		}
		id = l.ID
		what = "progress in lesson " + strings.ToUpper(l.ID)
	}
	if !*yes && !confirm(io.In, io.Out, fmt.Sprintf("Forget %s for context %s?", what, ctxName)) {
		fmt.Fprintln(io.Err, "meshdojo progress: nothing was reset (answer y, or pass --yes)")
		return 1
	}
	changed, err := t.store.Reset(t.context, id)
	var corrupt *progress.CorruptError
	switch {
	case errors.As(err, &corrupt):
		// An unreadable file was moved aside: nothing left to reset.
		fmt.Fprintln(io.Err, "meshdojo: warning:", corrupt)
	case t.store.Err() != nil:
		fmt.Fprintf(io.Err, "meshdojo progress: nothing was reset: %v\n", err)
		return 1
	case err != nil:
		fmt.Fprintf(io.Err, "meshdojo progress: %v\nNothing was reset. Make sure the state directory %s is a writable directory, or point XDG_STATE_HOME at one.\n", err, t.store.Dir)
		return 1
	}
	if changed {
		fmt.Fprintf(io.Out, "Forgot %s for context %s.\n", what, ctxName)
	} else {
		// "There was no all progress" reads badly; drop the "all".
		fmt.Fprintf(io.Out, "There was no %s to forget for context %s.\n", strings.TrimPrefix(what, "all "), ctxName)
	}
	return 0
}
