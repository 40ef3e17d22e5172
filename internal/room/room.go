package room

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/engine"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/lessons"
)

// State is where a participant's connection stands.
type State int

const (
	Connecting State = iota // not connected yet (or trying again)
	Live                    // connected; the engine watches their checks
	Down                    // could not connect; trying again on a back-off
	Refused                 // the API server refused the credentials; trying again
)

func (s State) String() string {
	switch s {
	case Live:
		return "live"
	case Down:
		return "unreachable"
	case Refused:
		return "refused"
	}
	return "connecting"
}

// Event is news about one participant: a change of State (Key empty) or
// a new result for one of their checks.
type Event struct {
	Participant int // index into Room.Participants
	Key         string
	Result      checks.Result
	// With Key empty: the participant's connection.
	State   State
	Err     string // why it is not Live
	Context string // once Live
	Server  string
}

// Column is one step of the lesson: the keys of the checks the room
// watches for it.
type Column struct {
	Step  int // from 1
	Title string
	Keys  []string
	// Acting counts the step's checks that act on the cluster (probes),
	// which the room never runs.
	Acting int
}

// Watchable binds the checks of l that the room may evaluate: those that
// only read the cluster. A check that acts (Check.Acts: probe pods,
// traffic through the ingress) is never run from the room, however many
// participants there are; it is counted in its step's column instead.
// Questions are left out: whether an answer is right is the reader's
// choice against the cluster, and the room does not know the choice.
func Watchable(l *lessons.Lesson) (set []checks.Bound, cols []Column, err error) {
	for si, s := range l.Steps {
		col := Column{Step: si + 1, Title: s.Title}
		for _, ref := range s.Checks {
			b, err := ref.Bind()
			if err != nil {
				return nil, nil, fmt.Errorf("lesson %s step %d: %v", l.ID, si+1, err)
			}
			if b.Check.Acts != "" {
				col.Acting++
				continue
			}
			set = append(set, b)
			col.Keys = append(col.Keys, b.Key)
		}
		cols = append(cols, col)
	}
	return set, cols, nil
}

// Room watches one set of checks on every participant's cluster.
type Room struct {
	Participants []Participant
	Set          []checks.Bound
	// Timeout bounds each connection attempt and each request of it;
	// cluster.DefaultTimeout when zero.
	Timeout time.Duration
	// Retry is the first wait before trying again to connect to a
	// participant that could not be reached; it doubles up to MaxRetry.
	// Defaults 1s and 30s.
	Retry, MaxRetry time.Duration
	// Traffic is handed to every engine (the room runs no probe, but
	// polled checks read through the same settings).
	Traffic checks.TrafficSettings
	// Tune, when set, adjusts each participant's engine before it
	// watches (tests and benchmarks shorten its timings).
	Tune func(*engine.Engine)

	mu      sync.Mutex
	engines map[int]*engine.Engine
}

// Run connects to every participant at once, each on its own goroutine
// with its own time-out, and watches Set on each with its own engine,
// sending what happens to out until ctx ends. A participant that cannot
// be connected to is tried again on a back-off; once connected, its
// engine reconnects by itself when the API server goes away and comes
// back. Run returns when every participant's goroutine has stopped.
func (r *Room) Run(ctx context.Context, out chan<- Event) {
	var wg sync.WaitGroup
	for i := range r.Participants {
		wg.Go(func() { r.participant(ctx, i, out) })
	}
	wg.Wait()
}

// Recheck asks every connected engine to evaluate again now (and starts
// again the back-off of checks that are polled).
func (r *Room) Recheck() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.engines {
		e.Recheck()
	}
}

// Engine is participant i's engine once connected, else nil.
func (r *Room) Engine(i int) *engine.Engine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.engines[i]
}

func (r *Room) participant(ctx context.Context, i int, out chan<- Event) {
	send := func(ev Event) bool {
		ev.Participant = i
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	wait := r.Retry
	if wait <= 0 {
		wait = time.Second
	}
	maxWait := r.MaxRetry
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	opts := r.Participants[i].Opts
	if r.Timeout > 0 {
		opts.Timeout = r.Timeout
	}
	var conn *cluster.Conn
	for conn == nil {
		c, err := cluster.Connect(ctx, opts)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			conn = c
			break
		}
		st := Down
		if cluster.Refused(err) {
			st = Refused
		}
		if !send(Event{State: st, Err: err.Error(), Context: opts.Context}) {
			return
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		wait = min(2*wait, maxWait)
	}

	eng := conn.Engine()
	eng.Traffic = r.Traffic
	if r.Tune != nil {
		r.Tune(eng)
	}
	r.mu.Lock()
	if r.engines == nil {
		r.engines = map[int]*engine.Engine{}
	}
	r.engines[i] = eng
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.engines, i)
		r.mu.Unlock()
	}()
	if !send(Event{State: Live, Context: conn.Info.Context, Server: conn.Info.Server}) {
		return
	}
	// The engine's own channel, so that it never waits on the other
	// participants' traffic through out for long: this goroutine
	// forwards.
	ups := make(chan checks.Update, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		eng.Watch(ctx, r.Set, ups)
	}()
	for {
		select {
		case u := <-ups:
			if !send(Event{Key: u.Key, Result: u.Result}) {
				<-done
				return
			}
		case <-done:
			return
		}
	}
}
