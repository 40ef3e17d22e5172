package session

import (
	"sync"
	"time"
)

// Acting tracks the check runs that act on the cluster (a probe's pod, a
// question judged on the cluster), so that quitting waits for their
// clean-up and nothing is left behind in the reader's cluster.
//
// A run is admitted by Begin when its work starts, not when it is asked
// for: a UI may never start work it scheduled just before quitting, and
// a count taken at scheduling time would then never drop to zero. Once
// Close is called no run is admitted, so work scheduled before the quit
// and started after it does nothing.
type Acting struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Begin admits a run; it reports false once Close was called. A run that
// was admitted calls End when it has cleaned up.
func (a *Acting) Begin() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.wg.Add(1)
	return true
}

// End marks an admitted run finished.
func (a *Acting) End() { a.wg.Done() }

// Close admits no more runs and waits, at most timeout, for the admitted
// ones to end. It reports whether they all did.
func (a *Acting) Close(timeout time.Duration) bool {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
