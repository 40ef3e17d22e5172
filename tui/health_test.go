package tui

import (
	"context"
	"errors"
	"testing"

	"github.com/meshdojo/meshdojo/checks"
)

// healthRunner is a fake runner that also reports whether the API server
// answers, as the engine does; the test says when.
type healthRunner struct {
	*fakeRunner
	health chan checks.Health
}

func (h *healthRunner) Health(ctx context.Context, out chan<- checks.Health) {
	for {
		select {
		case v := <-h.health:
			select {
			case out <- v:
			case <-ctx.Done():
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// While the runner says the API server is not answering, the status bar
// says so instead of showing the context as connected, and it says
// connected again once the server answers.
func TestStatusBarSaysServerNotAnswering(t *testing.T) {
	r := &healthRunner{fakeRunner: newFake(), health: make(chan checks.Health)}
	s := run(t, New(options(t, r, 2, nil)), 100, 30)
	s.waitText("● kind-test")
	r.health <- checks.Health{Err: &checks.UnreachableError{Server: "https://x", Err: errors.New("connection refused")}}
	s.waitText("○ kind-test not answering, reconnecting…")
	s.waitGone("● kind-test")
	r.health <- checks.Health{OK: true}
	s.waitText("● kind-test")
	s.waitGone("not answering")
}
