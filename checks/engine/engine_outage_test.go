package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// healthFeed subscribes to e's health.
func healthFeed(t testing.TB, e *Engine) <-chan checks.Health {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan checks.Health, 16)
	done := make(chan struct{})
	go func() { defer close(done); e.Health(ctx, ch) }()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

// awaitHealth reads health changes until one is ok (or not). The
// deadline only keeps a broken engine from hanging the run.
func awaitHealth(t testing.TB, ch <-chan checks.Health, ok bool) checks.Health {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case h := <-ch:
			if h.OK == ok {
				return h
			}
		case <-deadline:
			t.Fatalf("health never became OK=%v", ok)
		}
	}
}

// marked is a result that says the API server is away, rather than a
// verdict that may no longer hold.
func marked(r checks.Result) bool {
	return r.Verdict == checks.Error && r.Code == checks.CodeUnreachable && strings.HasPrefix(r.Summary, "reconnecting…")
}

func fresh(r checks.Result) bool { return !marked(r) }

// outage stops the API server under a running Watch of every key, checks
// that each check is marked while it is away and that the engine says
// so, restarts it, changes cm to value, and returns how long after the
// server answered again every key had a fresh result, and the change was
// seen.
func outage(t testing.TB, c *testcluster.Cluster, ns, value string, out *feed, hs <-chan checks.Health, keys ...string) (all, change time.Duration) {
	t.Helper()
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	up := false
	defer func() {
		if !up {
			_ = c.StartAPIServer()
		}
	}()
	h := awaitHealth(t, hs, false)
	if h.Err == nil || !errors.Is(h.Err, checks.ErrUnreachable) {
		t.Errorf("health while away: %+v", h)
	}
	for _, k := range keys {
		await(t, out, k, "marked as reconnecting while the server is away", marked)
	}
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	up = true
	back := time.Now()
	setCM(t, c, ns, value)
	// No Recheck: the engine notices by itself.
	awaitHealth(t, hs, true)
	changed := func(r checks.Result) bool { return fresh(r) && r.Summary == "value is "+value }
	seen := false
	for i, k := range keys {
		r := await(t, out, k, "fresh after the server is back", fresh)
		if i == 0 && changed(r) {
			seen, change = true, time.Since(back)
		}
	}
	all = time.Since(back)
	if !seen {
		await(t, out, keys[0], "showing the change made after the restart", changed)
		change = time.Since(back)
	}
	return all, change
}

// TestEngineOutages stops and restarts the real API server twice under
// one running Watch. Each time, every check is marked as reconnecting
// while the server is away and Health says so, and once it answers
// again every check is evaluated afresh without a Recheck, and a change
// made just after the restart is seen. Not parallel: it takes the shared
// server away. How long recovery takes is logged (and measured by
// BenchmarkEngineOutageRecovery), not asserted.
func TestEngineOutages(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	setCM(t, c, ns, "a")
	e := newTestEngine(t, c.Config)
	out, _ := watching(t, e,
		bind(t, cmValue, "k1", map[string]string{"namespace": ns, "value": "a"}),
		bind(t, cmValue, "k2", map[string]string{"namespace": ns, "name": "absent", "value": "x"}),
	)
	hs := healthFeed(t, e)
	await(t, out, "k1", "pass", verdict(checks.Pass))
	await(t, out, "k2", "fail", verdict(checks.Fail))
	awaitHealth(t, hs, true)
	for i, v := range []string{"b", "a"} {
		all, change := outage(t, c, ns, v, out, hs, "k1", "k2")
		t.Logf("outage %d: every check fresh %v after the API server answered again; the change made after the restart seen after %v", i+1, all.Round(time.Millisecond), change.Round(time.Millisecond))
	}
}

// BenchmarkEngineOutageRecovery measures, per outage of the real API
// server, the time from its answering again to every watched check being
// fresh (s/recovery) and to a change made just after the restart being
// seen (s/change). The promise is within 2s.
func BenchmarkEngineOutageRecovery(b *testing.B) {
	c := testcluster.Shared(b)
	ns := c.Namespace(b)
	setCM(b, c, ns, "a")
	e := newTestEngine(b, c.Config)
	out, _ := watching(b, e,
		bind(b, cmValue, "k1", map[string]string{"namespace": ns, "value": "a"}),
		bind(b, cmValue, "k2", map[string]string{"namespace": ns, "name": "absent", "value": "x"}),
	)
	hs := healthFeed(b, e)
	await(b, out, "k1", "pass", verdict(checks.Pass))
	awaitHealth(b, hs, true)
	var all, change time.Duration
	for i := 0; b.Loop(); i++ {
		a, ch := outage(b, c, ns, []string{"b", "a"}[i%2], out, hs, "k1", "k2")
		b.Logf("outage %d: every check fresh after %v, the change seen after %v", i+1, a.Round(time.Millisecond), ch.Round(time.Millisecond))
		all += a
		change += ch
	}
	b.ReportMetric(all.Seconds()/float64(b.N), "s/recovery")
	b.ReportMetric(change.Seconds()/float64(b.N), "s/change")
}
