package traffic

// A paced probe sends requests at a steady rate for as long as something
// takes (a rollout restart), instead of a burst of a fixed size: the
// question it answers is not "what share of answers" but "did any answer
// fail while it ran, and when". It keeps counts per second and the
// failures as runs, never the answers themselves, so its memory does not
// grow with the time it runs.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of a paced probe.
const (
	MaxRate = 50 // requests per second
	// maxRuns is how many runs of failures a report keeps; later ones
	// are only counted (MoreRuns, MoreBad).
	maxRuns = 100
	// detailKeep is how much of a failing answer's body a run keeps.
	detailKeep = 200
)

// PacedPlan is a stream of identical requests at a steady rate.
type PacedPlan struct {
	Method string
	URL    string // absolute, including the path and query
	Host   string // Host header; empty keeps the URL's host
	Header http.Header
	Rate   int           // requests per second, 1 to MaxRate
	Max    time.Duration // send at most this long (at most MaxDeadline)
	// Timeout is the per-request limit; 0 means 10s.
	Timeout time.Duration
	// Done, when set, is asked once a second with the time since the
	// start; the probe stops sending when it says true. Without it the
	// probe sends until Max.
	Done func(ctx context.Context, elapsed time.Duration) bool
	// OnProgress, when set, receives the running tally after each answer,
	// from one goroutine at a time.
	OnProgress func(PacedTally)
}

// Second is one second of a paced probe, by when its requests were sent.
type Second struct {
	OK, Bad int // answers that were 2xx, and the others (errors included)
}

// FailRun is a run of failing answers with one outcome: every non-2xx
// answer of a probe belongs to exactly one run.
type FailRun struct {
	From, To time.Duration // when the first and last of them were sent, from the start
	Outcome  string        // the status code, or the transport error (timeout, refused, reset)
	Flags    string        // Envoy's response flags, read from its own answer's text (UF, UH, UC, UO, UT, FI), or ""
	N        int
	Detail   string // the first one's body or error, shortened
}

// PacedTally is a paced probe's running count.
type PacedTally struct {
	Sent, Answered, OK, Bad int
	Seconds                 []Second
	Runs                    []FailRun
	MoreRuns, MoreBad       int     // failures beyond the runs kept: how many runs, and failures
	more                    FailRun // the last of the runs not kept
	// Skipped counts ticks at which nothing was sent because every
	// allowed request was still in flight (the target answers slower
	// than the rate allows).
	Skipped int
	Elapsed time.Duration
}

// PacedReport is the result of a paced probe.
type PacedReport struct {
	PacedTally
	Stopped string // "" (Done said so, or Max reached without Done), "max" (Max reached before Done agreed) or "cancelled"
}

func (p PacedPlan) normalised() PacedPlan {
	if p.Method == "" {
		p.Method = http.MethodGet
	}
	p.Method = strings.ToUpper(p.Method)
	p.Rate = clamp(p.Rate, 1, MaxRate)
	if p.Timeout <= 0 {
		p.Timeout = 10 * time.Second
	}
	if p.Max <= 0 || p.Max > MaxDeadline {
		p.Max = MaxDeadline
	}
	return p
}

// Flags reads Envoy's response flags from the text of an answer Envoy
// gave itself. Envoy does not send its flags to the client, but its own
// answers say the same in words; an application's answer gives "".
func Flags(body string) string {
	switch {
	case strings.Contains(body, "no healthy upstream"):
		return "UH"
	case strings.Contains(body, "reset reason: overflow"):
		return "UO"
	case strings.Contains(body, "connection termination"):
		return "UC"
	case strings.Contains(body, "connection failure"), strings.Contains(body, "connect error: Connection refused"):
		return "UF"
	case strings.Contains(body, "upstream request timeout"):
		return "UT"
	case strings.Contains(body, "fault filter abort"):
		return "FI"
	}
	return ""
}

// RunPaced sends plan.Rate requests a second through client until
// plan.Done agrees, plan.Max passes or ctx ends; then it waits for the
// answers still in flight.
func RunPaced(ctx context.Context, client *http.Client, plan PacedPlan) (*PacedReport, error) {
	plan = plan.normalised()
	if _, err := url.ParseRequestURI(plan.URL); err != nil {
		return nil, fmt.Errorf("probe URL %q is not valid: %v", plan.URL, err)
	}
	// Enough workers for a second of answers at the rate, within the
	// limit every probe keeps.
	inflight := min(MaxConcurrency, plan.Rate*max(1, int(plan.Timeout/time.Second)))
	if client == nil {
		client = NewClient(inflight)
		defer client.CloseIdleConnections()
	}
	var (
		mu    sync.Mutex
		t     PacedTally
		busy  atomic.Int32
		wg    sync.WaitGroup
		done  atomic.Bool
		start = time.Now()
	)
	record := func(at time.Duration, status int, errKind, detail, body string) {
		mu.Lock()
		defer mu.Unlock()
		t.Answered++
		sec := int(at / time.Second)
		for len(t.Seconds) <= sec {
			t.Seconds = append(t.Seconds, Second{})
		}
		if status >= 200 && status < 300 {
			t.OK++
			t.Seconds[sec].OK++
		} else {
			t.Bad++
			t.Seconds[sec].Bad++
			out, flags := errKind, ""
			if status != 0 {
				out, flags = fmt.Sprint(status), Flags(body)
				detail = body
			}
			t.addFailure(at, out, flags, detail)
		}
		t.Elapsed = time.Since(start)
		if plan.OnProgress != nil {
			plan.OnProgress(t.clone())
		}
	}
	send := func(at time.Duration) {
		defer wg.Done()
		defer busy.Add(-1)
		rctx, cancel := context.WithTimeout(ctx, plan.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, plan.Method, plan.URL, nil)
		if err != nil {
			record(at, 0, "error", err.Error(), "")
			return
		}
		for k, vs := range plan.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		if plan.Host != "" {
			req.Host = plan.Host
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return // the reader stopped the probe: not an answer
			}
			kind, detail := classify(err, rctx)
			record(at, 0, kind, detail, "")
			return
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, bodyRead))
		resp.Body.Close()
		body := ""
		if resp.StatusCode < 200 || resp.StatusCode >= 300 {
			body = string(raw[:min(len(raw), 4<<10)])
		}
		record(at, resp.StatusCode, "", "", body)
	}
	// Whether to go on is asked once a second, away from the sending
	// loop, since it may ask the API server.
	askCtx, stopAsking := context.WithCancel(ctx)
	defer stopAsking()
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-askCtx.Done():
				return
			case <-tick.C:
			}
			if plan.Done == nil {
				return
			}
			if plan.Done(askCtx, time.Since(start)) {
				done.Store(true)
				return
			}
		}
	}()
	interval := time.Second / time.Duration(plan.Rate)
	rep := &PacedReport{}
	timer := time.NewTimer(0)
	defer timer.Stop()
loop:
	for i := 0; ; i++ {
		at := time.Duration(i) * interval
		timer.Reset(time.Until(start.Add(at)))
		select {
		case <-ctx.Done():
			rep.Stopped = "cancelled"
			break loop
		case <-timer.C:
		}
		switch {
		case at >= plan.Max:
			if plan.Done != nil && !done.Load() {
				rep.Stopped = "max"
			}
			break loop
		case done.Load():
			break loop
		}
		if int(busy.Load()) >= inflight {
			mu.Lock()
			t.Skipped++
			mu.Unlock()
			continue
		}
		busy.Add(1)
		wg.Add(1)
		mu.Lock()
		t.Sent++
		mu.Unlock()
		go send(at)
	}
	wg.Wait()
	mu.Lock()
	t.Elapsed = time.Since(start)
	rep.PacedTally = t.clone()
	mu.Unlock()
	return rep, nil
}

// addFailure puts a failing answer into the run it continues (same
// outcome, sent within a second of the run's last), or starts a run.
func (t *PacedTally) addFailure(at time.Duration, outcome, flags, detail string) {
	for i := len(t.Runs) - 1; i >= 0 && i >= len(t.Runs)-3; i-- {
		r := &t.Runs[i]
		if r.Outcome == outcome && r.Flags == flags && at >= r.From-time.Second && at <= r.To+time.Second {
			r.N++
			r.From, r.To = min(r.From, at), max(r.To, at)
			return
		}
	}
	if len(t.Runs) >= maxRuns {
		// Counted only, but by runs as the kept ones are: a failure that
		// continues the last uncounted run is not a run of its own.
		t.MoreBad++
		if m := &t.more; m.N == 0 || m.Outcome != outcome || m.Flags != flags || at > m.To+time.Second || at < m.From-time.Second {
			t.MoreRuns++
			*m = FailRun{From: at, To: at, Outcome: outcome, Flags: flags}
		}
		t.more.N++
		t.more.From, t.more.To = min(t.more.From, at), max(t.more.To, at)
		return
	}
	detail = strings.TrimSpace(detail)
	if len(detail) > detailKeep {
		detail = detail[:detailKeep] + "…"
	}
	t.Runs = append(t.Runs, FailRun{From: at, To: at, Outcome: outcome, Flags: flags, N: 1, Detail: detail})
}

func (t PacedTally) clone() PacedTally {
	t.Seconds = append([]Second(nil), t.Seconds...)
	t.Runs = append([]FailRun(nil), t.Runs...)
	return t
}

// String says a run in one line: "503 UF ×14 sent 12.1s-13.4s".
func (r FailRun) String() string {
	what := r.Outcome
	if r.Flags != "" {
		what += " " + r.Flags
	}
	when := "at " + secs(r.From)
	if r.To > r.From {
		when = secs(r.From) + "-" + secs(r.To)
	}
	return fmt.Sprintf("%s ×%d sent %s", what, r.N, when)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
