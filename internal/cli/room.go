package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/internal/room"
	"github.com/meshdojo/meshdojo/lessons"
	"github.com/meshdojo/meshdojo/tui"
)

func init() {
	commands["room"] = command{summary: "for instructors: every participant's progress in a lesson, live, from their kubeconfigs", run: runRoom}
}

func runRoom(args []string, io IO) int {
	fs := flag.NewFlagSet("meshdojo room", flag.ContinueOnError)
	lessonF := fs.String("lesson", "", "the lesson the room is doing: a chapter number such as 6, or an appendix such as a2")
	ctxF := fs.String("context", "", "use this context in every kubeconfig (default: each file's own; a file with several contexts is one participant per context)")
	var kcs stringList
	fs.Var(&kcs, "kubeconfig", "a participant's kubeconfig, or a directory of them (one file per participant); give it as often as needed")
	timeoutF := fs.Duration("timeout", cluster.DefaultTimeout, "give up on each connection attempt and request to a participant's API server after this long")
	themeF := fs.String("theme", "auto", "colours: auto (follow the terminal), dark or light; NO_COLOR turns colour off")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage:")
		fmt.Fprintln(w, "  meshdojo room --lesson N --kubeconfig DIR|FILE [--kubeconfig FILE ...] [--context NAME]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "A live grid of the room: one row per participant (named after their kubeconfig file, or the")
		fmt.Fprintln(w, "context when a file has several), one column per step, each cell the verdict of the step's")
		fmt.Fprintln(w, "checks on that participant's cluster. Only checks that read run; traffic tests never do.")
		fmt.Fprintln(w, "For the same as a table, JSON or JUnit: meshdojo check --lesson N --kubeconfig DIR.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Flags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, io); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(io.Err, "meshdojo room: "+format+"\n", a...)
		return 2
	}
	switch {
	case *lessonF == "":
		return fail("say which lesson the room is doing: --lesson N (see meshdojo list)")
	case len(kcs) == 0:
		return fail("give the participants' kubeconfigs: --kubeconfig DIR (one file per participant) or --kubeconfig FILE once per participant")
	case *timeoutF <= 0:
		return fail("--timeout %s is not a positive duration; use e.g. --timeout 10s", *timeoutF)
	}
	switch *themeF {
	case tui.ThemeAuto, tui.ThemeDark, tui.ThemeLight:
	default:
		return fail("--theme %q is not one of auto, dark, light", *themeF)
	}
	all, err := lessons.Load()
	if err != nil {
		return fail("the lessons built into this binary do not load: %v", err)
	}
	l, err := findLesson(all, *lessonF)
	if err != nil {
		return fail("%v", err)
	}
	ps, err := room.Participants(kcs, *ctxF)
	if err != nil {
		return fail("%v", err)
	}
	set, cols, err := room.Watchable(l)
	if err != nil {
		return fail("%v", err)
	}
	if !io.IsTTY {
		fmt.Fprintln(io.Err, "meshdojo room: the room is a full-screen view and needs a terminal, and this is not one.")
		fmt.Fprintf(io.Err, "For the same as a table, JSON or JUnit: meshdojo check --lesson %s --kubeconfig ... [-o json|junit]\n", l.ID)
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan room.Event, 1024)
	r := &room.Room{Participants: ps, Set: set, Timeout: *timeoutF}
	done := make(chan struct{})
	go func() { r.Run(ctx, events); close(done) }()

	m := tui.NewRoom(tui.RoomOptions{
		Lesson: l, Board: room.NewBoard(ps, cols, set), Set: set, Events: events,
		Recheck: r.Recheck, Theme: *themeF, NoColor: os.Getenv("NO_COLOR") != "",
	})
	p := tea.NewProgram(m, tea.WithInput(io.In), tea.WithOutput(io.Out))
	_, runErr := p.Run()
	cancel()
	// The engines stop their informers as they return; a participant
	// whose server hangs is not waited for beyond a few seconds, since
	// nothing is left in anyone's cluster (the room only reads).
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	if runErr != nil && !errors.Is(runErr, tea.ErrProgramKilled) {
		fmt.Fprintln(io.Err, "meshdojo room:", runErr)
		return 1
	}
	return 0
}
