package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/checks"
)

var _ checks.HealthReporter = (*Engine)(nil)

// Why an engine probes: informers alone recover slowly from an outage.
// client-go's reflector retries a failed list or watch on an exponential
// back-off (0.8s doubling to 30s, with jitter of up to the same again)
// that is reset only after two minutes without a failure, so after a
// restart of the API server a check showed its old verdict for 15 to 38
// seconds, longer on every outage. The engine instead asks /readyz, every
// HealthInterval while the server answers and every ReconnectInterval
// while it does not; the first failure marks every watched check as
// reconnecting (nothing stale is shown as current), and the first answer
// after an outage restarts every informer, which lists at once, and
// re-evaluates every check.

// health is the engine's probe of the API server and what it found.
type health struct {
	client *http.Client // nil: no cluster to probe
	url    string       // the server's /readyz

	mu     sync.Mutex
	cur    checks.Health
	wake   chan struct{} // closed and replaced on every change of cur
	users  int           // Watch and Health calls under way; the probe runs while there are any
	cancel context.CancelFunc
	done   chan struct{}
	poke   chan struct{} // a request failed for want of the server: probe now
}

// initHealth prepares the probe of the server cfg reaches. Without
// clients the engine is never connected; with clients but no config
// (fakes in tests) there is nothing to probe, and the informers alone
// report failures.
func (e *Engine) initHealth(clients *checks.Clients, cfg *rest.Config) {
	e.h.wake = make(chan struct{})
	e.h.poke = make(chan struct{}, 1)
	e.h.cur = checks.Health{OK: true, Since: time.Now()}
	if clients == nil {
		e.h.cur = checks.Health{Err: &checks.UnreachableError{Server: e.info.Server, Err: errors.New("not connected to a cluster")}, Since: time.Now()}
		return
	}
	if cfg == nil {
		return
	}
	c, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return // probed never; the informers still report failures
	}
	e.h.client = c
	e.h.url = strings.TrimRight(cfg.Host, "/") + "/readyz"
}

// Health implements checks.HealthReporter.
func (e *Engine) Health(ctx context.Context, out chan<- checks.Health) {
	e.use()
	defer e.unuse()
	var last *checks.Health
	for {
		e.h.mu.Lock()
		h, wake := e.h.cur, e.h.wake
		e.h.mu.Unlock()
		if last == nil || h != *last {
			select {
			case out <- h:
				last = &h
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// down returns why the API server is not answering, or nil.
func (e *Engine) down() error {
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	if e.h.cur.OK {
		return nil
	}
	return e.h.cur.Err
}

// suspect asks for a probe now: a request just failed for want of the
// server.
func (e *Engine) suspect() {
	select {
	case e.h.poke <- struct{}{}:
	default:
	}
}

// use and unuse count the callers that need the probe, and start and
// stop it.
func (e *Engine) use() {
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	e.h.users++
	if e.h.users == 1 && e.h.client != nil {
		ctx, cancel := context.WithCancel(context.Background())
		e.h.cancel, e.h.done = cancel, make(chan struct{})
		go e.probeLoop(ctx, e.h.done)
	}
}

func (e *Engine) unuse() {
	e.h.mu.Lock()
	e.h.users--
	var (
		cancel context.CancelFunc
		done   chan struct{}
	)
	if e.h.users == 0 && e.h.cancel != nil {
		cancel, done = e.h.cancel, e.h.done
		e.h.cancel, e.h.done = nil, nil
	}
	e.h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (e *Engine) probeLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTimer(0) // look at once
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.h.poke:
		}
		wasDown := e.down() != nil
		timeout := e.ProbeTimeout
		if wasDown {
			// A server on its way back answers quickly; a probe stuck in
			// a dial must not hold up the next one.
			timeout = min(timeout, time.Second)
		}
		err := e.probe(ctx, timeout)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			e.wentDown(err)
		case wasDown:
			e.cameBack()
		}
		next := e.HealthInterval
		if err != nil {
			next = e.ReconnectInterval
		}
		t.Reset(next)
	}
}

// probe asks /readyz. Any answer but a server error means the server
// is there: one that refuses the reader's credentials (401, 403) is
// answering, while 5xx is a server that is not ready yet.
func (e *Engine) probe(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.h.url, nil)
	if err != nil {
		return err
	}
	resp, err := e.h.client.Do(req)
	if err != nil {
		return &checks.UnreachableError{Server: e.Info().Server, Err: unwrapURL(err)}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 500 {
		return &checks.UnreachableError{Server: e.Info().Server, Err: fmt.Errorf("it is not ready (/readyz: %s)", resp.Status)}
	}
	return nil
}

// unwrapURL drops net/http's "Get \"https://…/readyz\":" prefix, which
// repeats the server and names an endpoint the reader never asked for.
func unwrapURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.HasPrefix(err.Error(), "Get ") {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// wentDown records an outage and has every Watch mark its checks as not
// current.
func (e *Engine) wentDown(err error) {
	e.h.mu.Lock()
	was := e.h.cur
	if !was.OK && was.Err.Error() == err.Error() {
		e.h.mu.Unlock()
		return
	}
	since := time.Now()
	if !was.OK {
		since = was.Since // the same outage, a new reason
	}
	e.h.cur = checks.Health{Err: err, Since: since}
	close(e.h.wake)
	e.h.wake = make(chan struct{})
	e.h.mu.Unlock()
	if was.OK {
		e.signal(func(w *watcher) chan struct{} { return w.outage })
	}
}

// cameBack ends an outage: every informer starts afresh (so none waits
// out its back-off) and every watched check is evaluated again.
func (e *Engine) cameBack() {
	e.mu.Lock()
	srcs := make([]*source, 0, len(e.sources))
	for _, s := range e.sources {
		srcs = append(srcs, s)
	}
	e.refreshed = time.Time{} // a CRD may have come or gone meanwhile
	e.mu.Unlock()
	// Mark the server up first: evaluations started by the restarts
	// must read the new informers, not report the outage again.
	e.h.mu.Lock()
	e.h.cur = checks.Health{OK: true, Since: time.Now()}
	close(e.h.wake)
	e.h.wake = make(chan struct{})
	e.h.mu.Unlock()
	info := e.Info()
	for _, s := range srcs {
		s.restart(info)
	}
	e.signal(func(w *watcher) chan struct{} { return w.recheck })
}

// signal wakes every Watch on the channel ch picks.
func (e *Engine) signal(ch func(*watcher) chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for w := range e.watchers {
		select {
		case ch(w) <- struct{}{}:
		default:
		}
	}
}
