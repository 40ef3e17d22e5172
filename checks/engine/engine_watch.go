package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdojo/meshdojo/checks"
)

// maxPolls bounds the evaluations of a check that cannot be watched.
const maxPolls = 8

// item is one bound check of a Watch, with its evaluation state. Only
// the watcher's loop touches it, except deps (guarded by watcher.mu).
type item struct {
	b      checks.Bound
	kind   itemKind
	need   int // consecutive passes wanted before Pass is reported
	passes int // consecutive passes so far
	polls  int // evaluations so far of a polled check
	due    time.Time
	last   *checks.Result // last result sent
	deps   map[*source]bool
}

type itemKind int

const (
	watched itemKind = iota // re-evaluated when an input changes
	polled                  // Watch false: re-evaluated on a back-off
	acts                    // Acts set: only Run evaluates it
)

// watcher is one call of Watch.
type watcher struct {
	e       *Engine
	ctx     context.Context
	out     chan<- checks.Update
	items   []*item
	kick    chan struct{} // an input changed
	recheck chan struct{}
	outage  chan struct{} // the API server stopped answering

	mu      sync.Mutex
	sources map[sourceKey]*source
	dirty   map[*item]bool

	retryAt time.Time // next look for resources that are not served
}

func newWatcher(ctx context.Context, e *Engine, set []checks.Bound, out chan<- checks.Update) *watcher {
	w := &watcher{
		e: e, ctx: ctx, out: out,
		kick:    make(chan struct{}, 1),
		recheck: make(chan struct{}, 1),
		outage:  make(chan struct{}, 1),
		sources: map[sourceKey]*source{},
		dirty:   map[*item]bool{},
	}
	for _, b := range set {
		it := &item{b: b, need: 1, deps: map[*source]bool{}}
		if n := b.Params.Int("passes"); n > 1 {
			it.need = n
		}
		switch {
		case b.Check == nil:
		case b.Check.Acts != "":
			it.kind = acts
		case !b.Check.Watch:
			it.kind = polled
		}
		w.items = append(w.items, it)
	}
	return w
}

func (w *watcher) run() {
	now := time.Now()
	for _, it := range w.items {
		switch it.kind {
		case acts:
			w.send(it, notRun(it.b, "it runs only when you ask"), false)
		case polled:
			it.due = now
		default:
			// Start every informer before the first evaluation, so their
			// first lists run side by side.
			ins, err := inputs(it.b)
			if err != nil {
				w.send(it, err.(panicked).result(it.b), false)
				continue
			}
			for _, in := range ins {
				s := w.source(in)
				w.mu.Lock()
				it.deps[s] = true
				w.mu.Unlock()
			}
			w.mu.Lock()
			w.dirty[it] = true
			w.mu.Unlock()
		}
	}
	var (
		last  time.Time // start of the last evaluation round
		force = map[*item]bool{}
	)
	for {
		w.mu.Lock()
		pending := len(w.dirty) > 0
		w.mu.Unlock()
		if !pending {
			var (
				timer <-chan time.Time
				t     *time.Timer
			)
			if due := w.nextDue(); !due.IsZero() {
				t = time.NewTimer(time.Until(due))
				timer = t.C
			}
			select {
			case <-w.ctx.Done():
			case <-w.kick:
			case <-w.recheck:
				w.doRecheck(force)
			case <-w.outage:
				w.markAll(force)
			case <-timer:
				w.timers(time.Now())
			}
			if t != nil {
				t.Stop()
			}
			if w.ctx.Err() != nil {
				return
			}
		}
		// Let a burst of changes settle, and keep rounds Debounce apart.
		wait := w.e.Settle
		if d := time.Until(last.Add(w.e.Debounce)); d > wait {
			wait = d
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-w.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		select {
		case <-w.recheck:
			w.doRecheck(force)
		default:
		}
		select {
		case <-w.outage:
			w.markAll(force)
		default:
		}
		// Changes that keep coming must not starve what is scheduled.
		if due := w.nextDue(); !due.IsZero() && !due.After(time.Now()) {
			w.timers(time.Now())
		}
		w.mu.Lock()
		batch := make([]*item, 0, len(w.dirty))
		for _, it := range w.items { // in the step's order
			if w.dirty[it] {
				batch = append(batch, it)
			}
		}
		clear(w.dirty)
		w.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		last = time.Now()
		for _, it := range batch {
			if w.ctx.Err() != nil {
				return
			}
			w.evaluate(it, force[it])
			delete(force, it)
		}
	}
}

// nextDue is the earliest scheduled re-evaluation, or zero.
func (w *watcher) nextDue() time.Time {
	var due time.Time
	for _, it := range w.items {
		if !it.due.IsZero() && (due.IsZero() || it.due.Before(due)) {
			due = it.due
		}
	}
	if w.notServed() {
		if w.retryAt.IsZero() {
			w.retryAt = time.Now().Add(w.e.RetryNotServed)
		}
		if due.IsZero() || w.retryAt.Before(due) {
			due = w.retryAt
		}
	}
	return due
}

// timers marks the items whose time has come, and looks again for
// resources that were not served.
func (w *watcher) timers(now time.Time) {
	w.mu.Lock()
	for _, it := range w.items {
		if !it.due.IsZero() && !it.due.After(now) {
			it.due = time.Time{}
			w.dirty[it] = true
		}
	}
	w.mu.Unlock()
	if !w.retryAt.IsZero() && !w.retryAt.After(now) {
		w.retryAt = time.Time{}
		w.retryNotServed()
	}
}

func (w *watcher) notServed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.sources {
		if errors.Is(s.failing(), checks.ErrNotServed) {
			return true
		}
	}
	return false
}

// retryNotServed asks discovery again and restarts the informers of
// resources that have become served (a CRD installed mid-lesson).
func (w *watcher) retryNotServed() {
	w.e.refresh(w.ctx)
	info := w.e.Info()
	for _, s := range w.snapshot() {
		if !errors.Is(s.failing(), checks.ErrNotServed) {
			continue
		}
		if _, ok := info.Served[checks.ResourceName(s.key.GVR)]; ok || info.Served == nil {
			s.restart(info)
		}
	}
}

func (w *watcher) doRecheck(force map[*item]bool) {
	info := w.e.Info()
	if w.e.down() == nil {
		for _, s := range w.snapshot() {
			if s.failing() != nil {
				s.restart(info)
			}
		}
	}
	w.markAll(force)
}

// markAll has every check but those that act evaluated again, and its
// result sent even if unchanged.
func (w *watcher) markAll(force map[*item]bool) {
	w.mu.Lock()
	for _, it := range w.items {
		if it.kind == acts {
			continue
		}
		it.polls, it.due = 0, time.Time{}
		w.dirty[it] = true
		force[it] = true
	}
	w.mu.Unlock()
}

func (w *watcher) snapshot() []*source {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*source, 0, len(w.sources))
	for _, s := range w.sources {
		out = append(out, s)
	}
	return out
}

// source returns the watcher's source for in, acquiring it on first use.
func (w *watcher) source(in checks.Input) *source {
	key := keyOf(in)
	w.mu.Lock()
	s := w.sources[key]
	w.mu.Unlock()
	if s != nil {
		return s
	}
	s = w.e.acquire(key, w)
	w.mu.Lock()
	if old := w.sources[key]; old != nil {
		w.mu.Unlock()
		w.e.release(s, w)
		return old
	}
	w.sources[key] = s
	w.mu.Unlock()
	return s
}

// changed marks the items that read s for evaluation.
func (w *watcher) changed(s *source) {
	n := 0
	w.mu.Lock()
	for _, it := range w.items {
		if it.deps[s] {
			w.dirty[it] = true
			n++
		}
	}
	w.mu.Unlock()
	if n > 0 {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

func (w *watcher) release() {
	w.mu.Lock()
	srcs := w.sources
	w.sources = map[sourceKey]*source{}
	w.mu.Unlock()
	for _, s := range srcs {
		w.e.release(s, w)
	}
}

func (w *watcher) evaluate(it *item, force bool) {
	if down := w.e.down(); down != nil {
		// Nothing read now would be current: say so instead of judging
		// the informers' last copies. The first answer re-evaluates.
		r := reconnecting(checks.Result{Verdict: checks.Error}, down)
		fill(&r, it.b)
		it.passes, it.due = 0, time.Time{}
		w.send(it, r, force)
		return
	}
	env := &spyEnv{Env: &watchEnv{w: w, it: it, info: w.e.Info()}}
	ctx, cancel := context.WithTimeout(w.ctx, w.e.EvalTimeout)
	r := Evaluate(ctx, env, it.b)
	cancel()
	if w.ctx.Err() != nil {
		return // the step was left mid-evaluation
	}
	if env.unreachable != nil {
		w.e.suspect()
	}
	r = reconnecting(r, env.unreachable)

	counting := false
	if r.Verdict == checks.Pass {
		it.passes++
		if it.passes < it.need {
			counting = true
			r.Verdict = checks.Pending
			r.Progress = fmt.Sprintf("%d/%d passes", it.passes, it.need)
			r.Summary = r.Progress + ": " + r.Summary
		}
	} else {
		it.passes = 0
	}
	switch {
	case counting:
		it.due = time.Now().Add(w.e.PassInterval)
	case it.kind == polled && r.Verdict != checks.Pass && it.polls < maxPolls:
		it.due = time.Now().Add(backoff(w.e.Poll, it.polls))
	}
	if it.kind == polled {
		it.polls++
	}
	w.send(it, r, force)
}

// backoff is the delay before poll n+1: first, doubling, at most 30s.
func backoff(first time.Duration, n int) time.Duration {
	d := first
	for i := 0; i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

func (w *watcher) send(it *item, r checks.Result, force bool) {
	if !force && it.last != nil && sameResult(*it.last, r) {
		return
	}
	it.last = &r
	select {
	case w.out <- checks.Update{Key: it.b.Key, Result: r}:
	case <-w.ctx.Done():
	}
}

// inputs calls the check's Inputs, recovering a panic.
func inputs(b checks.Bound) (ins []checks.Input, err error) {
	if b.Check == nil || b.Check.Inputs == nil {
		return nil, nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = panicked{p, panicSite()}
		}
	}()
	return b.Check.Inputs(b.Params), nil
}

type panicked struct {
	v  any
	at string
}

func (p panicked) Error() string { return fmt.Sprint(p.v) }

func (p panicked) result(b checks.Bound) checks.Result {
	r := Evaluate(context.Background(), nil, checks.Bound{Key: b.Key, Title: b.Title, Params: b.Params, Check: &checks.Check{
		Name: b.Check.Name,
		Eval: func(context.Context, checks.Env, checks.Params) checks.Result {
			panic(fmt.Sprintf("%v (in Inputs%s)", p.v, p.at))
		},
	}})
	return r
}

// watchEnv is the Env of one evaluation of a watched check: it reads the
// informers' caches, starting an informer for an input the check did not
// declare (so it is watched from then on).
type watchEnv struct {
	w    *watcher
	it   *item
	info checks.ClusterInfo
}

func (v *watchEnv) List(ctx context.Context, in checks.Input) ([]*unstructured.Unstructured, error) {
	s := v.w.source(in)
	v.w.mu.Lock()
	v.it.deps[s] = true
	v.w.mu.Unlock()
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.list(), nil
}

func (v *watchEnv) Cluster() checks.ClusterInfo { return v.info }

func (v *watchEnv) Clients() *checks.Clients { return v.w.e.clients }

func (v *watchEnv) Traffic() checks.TrafficSettings { return v.w.e.Traffic }

// Emit forwards an intermediate result without blocking the check.
func (v *watchEnv) Emit(r checks.Result) {
	fill(&r, v.it.b)
	select {
	case v.w.out <- checks.Update{Key: v.it.b.Key, Result: r}:
	default:
	}
}

// refresh asks discovery again which resources are served, at most once
// per RetryNotServed.
func (e *Engine) refresh(ctx context.Context) {
	e.mu.Lock()
	if e.disc == nil || time.Since(e.refreshed) < e.RetryNotServed {
		e.mu.Unlock()
		return
	}
	e.refreshed = time.Now()
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	groups, lists, err := e.disc.ServerGroupsAndResourcesWithContext(ctx)
	if err != nil && len(lists) == 0 {
		return
	}
	served := ServedResources(groups, lists)
	e.mu.Lock()
	e.info.Served = served // a new map: copies handed out earlier stay as they were
	e.mu.Unlock()
}
