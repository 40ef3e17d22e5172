package session

import (
	"fmt"
	"testing/fstest"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/lessons"
)

// A front end without a terminal UI drives a session the same way the
// UI does: open a step, feed it the checks' results, ask the gate, move
// on.
func Example() {
	all, err := lessons.LoadFS(fstest.MapFS{"06.md": {Data: []byte(lesson6)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	prog := progress.New("kind-lab")
	s := New(all, prog, nil)
	s.Start("6", 2)
	s.SetConn(Online)

	_, why := s.Gate()
	fmt.Println("gate:", why)
	for _, b := range s.Watchable() {
		s.Apply(checks.Update{Key: b.Key, Result: checks.Result{Verdict: checks.Pass}})
	}
	open, _ := s.Gate()
	fmt.Println("open:", open, "recorded:", prog.StatusOf("6", s.Step().Anchor))
	if li, si, ok := s.Following(); ok {
		s.Open(li, si)
	}
	fmt.Println("now:", s.Step().Title)
	// Output:
	// gate: "watched check" is still being checked…
	// open: true recorded: done
	// now: Probe
}
