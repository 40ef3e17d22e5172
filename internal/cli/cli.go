// Package cli parses meshdojo's command line and runs its sub-commands:
// the tutorial itself (no sub-command), and list, show, progress, check
// and doctor for use without a terminal UI.
package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"
)

// IO is where a command reads and writes; tests pass buffers.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// IsTTY reports whether Out is a terminal the UI can take over.
	IsTTY bool
}

// Stdio is the process's own standard streams.
func Stdio() IO {
	return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, IsTTY: isTerminal(os.Stdout) && isTerminal(os.Stdin)}
}

// isTerminal asks the terminal driver, not the file's mode: /dev/null is
// a character device too, and the UI would try to take it over.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// command is one sub-command. Each lives in its own file and adds itself
// to commands from an init function.
type command struct {
	summary string
	run     func(args []string, io IO) int
}

var commands = map[string]command{}

// tutorial runs the interactive UI; set by tutorial.go.
var tutorial func(args []string, io IO) int

// Main runs meshdojo with the given arguments and returns the exit code.
func Main(args []string, io IO) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if args[0] == "help" {
			usage(io.Out)
			return 0
		}
		c, ok := commands[args[0]]
		if !ok {
			// One line, as for a bad flag: what was wrong, what exists.
			var names []string
			for n := range commands {
				names = append(names, n)
			}
			sort.Strings(names)
			fmt.Fprintf(io.Err, "meshdojo: unknown command %q; the commands are %s (see: meshdojo --help)\n", args[0], strings.Join(names, ", "))
			return 2
		}
		return c.run(args[1:], io)
	}
	if tutorial == nil {
		usage(io.Err)
		return 2
	}
	return tutorial(args, io)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "meshdojo: learn Istio hands-on, one book chapter at a time, checked on your own cluster.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  meshdojo [--lesson N] [--step M] [--context NAME] [--kubeconfig PATH] [--theme auto|dark|light] [--present]")
	fmt.Fprintln(w, "  meshdojo COMMAND [flags]")
	fmt.Fprintln(w, "  meshdojo --version")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'meshdojo COMMAND --help' for a command's flags.")
}
