package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/internal/cluster"
)

func init() {
	commands["reset"] = command{summary: "put back what the tutorial's breaks changed in your lab (asks first)", run: runReset}
}

// runReset restores every break recorded for the context: objects a
// break created are deleted, fields it changed get their previous
// values back, and what the reader changed since is kept (see
// internal/breaks). Progress is not touched (that is progress --reset).
func runReset(args []string, io IO) int {
	fs := flag.NewFlagSet("meshdojo reset", flag.ContinueOnError)
	yes := fs.Bool("yes", false, "do not ask")
	timeout := fs.Duration("timeout", 30*time.Second, "for the whole restore")
	ctxF, kcF := clusterFlags(fs)
	if code, ok := parseFlags(fs, args, io); !ok {
		return code
	}
	t, err := resolve(*ctxF, *kcF)
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo:", err)
		return 1
	}
	if err := t.store.Err(); err != nil {
		fmt.Fprintln(io.Err, "meshdojo reset:", err)
		return 1
	}
	c, err := breakClient(t, false)
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo reset:", err)
		return 2
	}
	recs, err := c.InPlace()
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo reset:", err)
		return 1
	}
	if len(recs) == 0 {
		fmt.Fprintf(io.Out, "Nothing to put back: the tutorial has broken nothing in context %s.\n", t.context)
		return 0
	}
	fmt.Fprintf(io.Out, "In context %s the tutorial broke:\n", t.context)
	for _, r := range recs {
		fmt.Fprintf(io.Out, "  %s (%s)\n", r.ID, r.At.Local().Format(time.DateTime))
		for _, w := range r.Objects {
			how := "put back the fields it set"
			if w.Created {
				how = "delete: the break created it"
			}
			fmt.Fprintf(io.Out, "    %s: %s\n", w, how)
		}
	}
	fmt.Fprintln(io.Out, "What you changed yourself since is kept.")
	if !*yes && !confirm(io.In, io.Out, "Put it back?") {
		fmt.Fprintln(io.Out, "Nothing changed.")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rep, err := c.Restore(ctx, "")
	fmt.Fprint(io.Out, rep)
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo reset: not everything was put back (run it again):", err)
		return 1
	}
	return 0
}

// breakClient reaches the target's cluster for breaks, without
// contacting it yet.
func breakClient(t *target, allowProduction bool) (*breaks.Client, error) {
	kt, err := cluster.Load(t.opts)
	if err != nil {
		return nil, err
	}
	return breaks.New(kt.Config, kt.Context, t.store.Dir, allowProduction)
}
