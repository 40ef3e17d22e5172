package checks

import (
	"context"
	"time"
)

// Bound is a check of a lesson step bound to its validated parameters.
// Key identifies it within the step (for example "6/2/0": lesson, step,
// index) so updates can be matched to the UI's rows.
type Bound struct {
	Key    string
	Title  string
	Check  *Check
	Params Params
}

// Update is a new result for one bound check.
type Update struct {
	Key    string
	Result Result
}

// Runner evaluates a step's checks. The UI talks to it only through this
// interface, so it works the same offline (no runner) and in tests.
type Runner interface {
	// Watch evaluates the checks whenever what they read changes, until
	// ctx is cancelled, sending every new result to out. Checks with Acts
	// set are not run by Watch; see Run.
	Watch(ctx context.Context, set []Bound, out chan<- Update)
	// Recheck forces a fresh evaluation of every watched check.
	Recheck()
	// Run evaluates one check once, now, including checks that act; the
	// caller has the reader's consent. Intermediate results go to out.
	Run(ctx context.Context, b Bound, out chan<- Update) Result
	// Context names the cluster context, for the status bar.
	Context() string
}

// Health is whether the cluster's API server answers, as the engine last
// saw it.
type Health struct {
	OK    bool
	Err   error     // why not, when not OK
	Since time.Time // when it became so
}

// HealthReporter is a Runner that knows whether the API server answers.
// Engine is one; a runner that is not is taken to be always reachable.
type HealthReporter interface {
	// Health sends the current state at once and then every change,
	// until ctx ends.
	Health(ctx context.Context, out chan<- Health)
}
