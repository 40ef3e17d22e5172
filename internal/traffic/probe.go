package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits that keep a probe bounded whatever a lesson asks for.
const (
	MaxCount       = 1000
	MaxConcurrency = 64
	MaxDeadline    = 5 * time.Minute
	// bodyKeep is how much of each body is kept for text matching. The
	// lab's productpage page is about 13 KB once rendered, its reviews
	// section (the sign-in and unavailable notes, "Reviews served by")
	// after the first 8 KB; 32 KB keeps all of it, and a full probe of
	// MaxCount pages at most 32 MB.
	bodyKeep = 32 << 10
	bodyRead = 1 << 20 // bytes of each body read at most
)

// Plan is one bounded burst of identical requests.
type Plan struct {
	Method      string
	URL         string // absolute, including the path and query
	Host        string // Host header; empty keeps the URL's host
	Header      http.Header
	Body        string
	Count       int           // request budget
	Concurrency int           // requests in flight at once
	Timeout     time.Duration // per request
	Deadline    time.Duration // for the whole probe; 0 means only ctx
	// VersionKey names the JSON key whose value is the pod that answered
	// (the lab's reviews service reports "podname"). A value starting
	// with "header:" reads a response header instead.
	VersionKey string
	Fields     []string // JSON paths to record for each response
	// OnProgress, when set, receives the running tally after each
	// response. It is called from one goroutine at a time.
	OnProgress func(Tally)
}

// Sample is what one request saw.
type Sample struct {
	Status  int    // 0 when no HTTP response arrived
	Err     string // why no response arrived: timeout, refused, reset, dns, error
	Detail  string // the underlying error text, for the reader
	Latency time.Duration
	Pod     string // who answered, from VersionKey
	Version string
	Fields  map[string]string // recorded JSON fields that were present
	Header  http.Header
	Body    string // the first bodyKeep bytes
}

// Outcome is the label a sample is counted under: its status code, or
// the transport error.
func (s Sample) Outcome() string {
	if s.Status != 0 {
		return strconv.Itoa(s.Status)
	}
	return s.Err
}

// Report is the result of one probe.
type Report struct {
	Plan    Plan
	Samples []Sample
	Stopped string // "", "deadline" or "cancelled": why fewer than Count were sent
	Elapsed time.Duration
}

// Run sends plan.Count requests with plan.Concurrency workers through
// client and returns what came back. It stops early, keeping what it
// has, when ctx is cancelled or the plan's deadline passes; requests in
// flight at that moment are not counted.
func Run(ctx context.Context, client *http.Client, plan Plan) (*Report, error) {
	plan = plan.normalised()
	if _, err := url.ParseRequestURI(plan.URL); err != nil {
		return nil, fmt.Errorf("probe URL %q is not valid: %v", plan.URL, err)
	}
	if client == nil {
		client = NewClient(plan.Concurrency)
		// Our own connections end with the probe, not 30 s later on a
		// port-forward that is about to close.
		defer client.CloseIdleConnections()
	}
	parent := ctx
	if plan.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, plan.Deadline)
		defer cancel()
	}
	start := time.Now()
	rep := &Report{Plan: plan}
	var (
		mu    sync.Mutex
		tally = newTally(plan.Count)
		next  = 0
		wg    sync.WaitGroup
	)
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if next >= plan.Count || ctx.Err() != nil {
			return false
		}
		next++
		return true
	}
	for w := 0; w < plan.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for take() {
				s, counted := one(ctx, client, plan)
				if !counted {
					return
				}
				mu.Lock()
				rep.Samples = append(rep.Samples, s)
				tally.add(s)
				if plan.OnProgress != nil {
					plan.OnProgress(tally.clone())
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	if len(rep.Samples) < plan.Count {
		if parent.Err() != nil {
			rep.Stopped = "cancelled"
		} else {
			rep.Stopped = "deadline"
		}
	}
	return rep, nil
}

func (p Plan) normalised() Plan {
	if p.Method == "" {
		p.Method = http.MethodGet
	}
	p.Method = strings.ToUpper(p.Method)
	p.Count = clamp(p.Count, 1, MaxCount)
	p.Concurrency = clamp(p.Concurrency, 1, MaxConcurrency)
	if p.Concurrency > p.Count {
		p.Concurrency = p.Count
	}
	if p.Timeout <= 0 {
		p.Timeout = 10 * time.Second
	}
	if p.Deadline <= 0 || p.Deadline > MaxDeadline {
		p.Deadline = MaxDeadline
	}
	if p.VersionKey == "" {
		p.VersionKey = "podname"
	}
	return p
}

func clamp(n, lo, hi int) int {
	return max(lo, min(n, hi))
}

// NewClient returns an HTTP client suited to probes: it keeps enough idle
// connections for the workers, never follows redirects (a 302 to /logout
// is an answer worth seeing) and ignores proxy settings from the
// environment, since the ingress is reached directly.
func NewClient(concurrency int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        MaxConcurrency,
		MaxIdleConnsPerHost: max(concurrency, 2),
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// one sends a single request. counted is false when the probe as a whole
// was stopped while it was in flight.
func one(ctx context.Context, client *http.Client, plan Plan) (s Sample, counted bool) {
	rctx, cancel := context.WithTimeout(ctx, plan.Timeout)
	defer cancel()
	var body io.Reader
	if plan.Body != "" {
		body = strings.NewReader(plan.Body)
	}
	req, err := http.NewRequestWithContext(rctx, plan.Method, plan.URL, body)
	if err != nil {
		return Sample{Err: "error", Detail: err.Error()}, true
	}
	for k, vs := range plan.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if plan.Host != "" {
		req.Host = plan.Host
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Sample{}, false
		}
		s.Latency = time.Since(start)
		s.Err, s.Detail = classify(err, rctx)
		return s, true
	}
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, bodyRead))
	resp.Body.Close()
	s.Latency = time.Since(start)
	if rerr != nil && ctx.Err() != nil {
		return Sample{}, false
	}
	s.Status = resp.StatusCode
	s.Header = resp.Header
	s.Body = string(raw[:min(len(raw), bodyKeep)])
	inspect(&s, raw, plan)
	return s, true
}

// inspect reads who answered and the requested fields from the body.
func inspect(s *Sample, raw []byte, plan Plan) {
	if h, ok := strings.CutPrefix(plan.VersionKey, "header:"); ok {
		s.Pod = s.Header.Get(h)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		s.Version = VersionOf(s.Pod)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		s.Version = VersionOf(s.Pod)
		return
	}
	if s.Pod == "" && !strings.HasPrefix(plan.VersionKey, "header:") {
		s.Pod, _ = findKey(doc, plan.VersionKey)
	}
	s.Version = VersionOf(s.Pod)
	for _, f := range plan.Fields {
		if v, ok := Field(doc, f); ok {
			if s.Fields == nil {
				s.Fields = map[string]string{}
			}
			s.Fields[f] = v
		}
	}
}

// classify names a transport failure in words a reader knows.
func classify(err error, rctx context.Context) (kind, detail string) {
	detail = err.Error()
	var dns *net.DNSError
	switch {
	case errors.Is(rctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout", detail
	case errors.As(err, &dns):
		return "dns", detail
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused", detail
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "reset", detail
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout", detail
	}
	return "error", detail
}

// Latency buckets for the live chart: upper bounds, the last is open.
var latencyBounds = []time.Duration{
	100 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// LatencyLabels names the latency buckets in order.
func LatencyLabels() []string {
	out := make([]string, 0, len(latencyBounds)+1)
	for _, b := range latencyBounds {
		out = append(out, "≤"+shortDur(b))
	}
	return append(out, ">"+shortDur(latencyBounds[len(latencyBounds)-1]))
}

func bucketOf(d time.Duration) int {
	for i, b := range latencyBounds {
		if d <= b {
			return i
		}
	}
	return len(latencyBounds)
}

func shortDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	default:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
}

// Tally is the running count a probe shows while it works.
type Tally struct {
	Planned  int
	Done     int
	Outcomes map[string]int // "200", "503", "timeout"
	Versions map[string]int // "v4"; "" for responses that named no pod
	Latency  []int          // per bucket, see LatencyLabels
	Min, Max time.Duration
}

func newTally(planned int) *Tally {
	return &Tally{Planned: planned, Outcomes: map[string]int{}, Versions: map[string]int{}, Latency: make([]int, len(latencyBounds)+1)}
}

func (t *Tally) add(s Sample) {
	t.Done++
	t.Outcomes[s.Outcome()]++
	if s.Status != 0 {
		t.Versions[s.Version]++
	}
	t.Latency[bucketOf(s.Latency)]++
	if t.Done == 1 || s.Latency < t.Min {
		t.Min = s.Latency
	}
	if s.Latency > t.Max {
		t.Max = s.Latency
	}
}

func (t *Tally) clone() Tally {
	c := *t
	c.Outcomes = make(map[string]int, len(t.Outcomes))
	for k, v := range t.Outcomes {
		c.Outcomes[k] = v
	}
	c.Versions = make(map[string]int, len(t.Versions))
	for k, v := range t.Versions {
		c.Versions[k] = v
	}
	c.Latency = append([]int(nil), t.Latency...)
	return c
}

// Tally counts a finished report.
func (r *Report) Tally() Tally {
	t := newTally(r.Plan.Count)
	for _, s := range r.Samples {
		t.add(s)
	}
	return *t
}

// Keys returns a map's keys in natural order (v2 before v10).
func Keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return naturalLess(out[i], out[j]) })
	return out
}
