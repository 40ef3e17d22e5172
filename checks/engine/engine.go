// Package engine evaluates checks (package checks) against a live
// cluster: shared informers for exactly the inputs the checks on screen
// declare, re-evaluation on every change, flap protection, a health
// probe that marks verdicts stale during an outage, and DirectEnv for
// one-off reads. It knows no check by name; package catalogue has them.
package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/checks"
)

// Engine evaluates checks against a live cluster. It implements Runner.
//
// For each Watch it runs one shared informer per distinct input (resource,
// namespace, label selector) of the watched checks, so it holds in memory
// only what the current step reads, and re-evaluates a check whenever one
// of its inputs changes. The informers stop when Watch's context ends.
//
// The exported fields tune timing; set them before the first Watch.
type Engine struct {
	// Settle is how long the engine waits after a change before it
	// evaluates, so that a burst (kubectl apply of a multi-object file)
	// is judged once, on its end state. Default 10ms.
	Settle time.Duration
	// Debounce is the shortest time between two evaluations of the same
	// Watch, bounding the work a busy namespace can cause. Default 50ms.
	Debounce time.Duration
	// PassInterval is the time between evaluations while a check that
	// asks for N consecutive passes (param passes) is counting them.
	// Default 1s.
	PassInterval time.Duration
	// EvalTimeout bounds one evaluation of a watched check. Default 30s.
	EvalTimeout time.Duration
	// ListTimeout bounds each list request an informer makes (one page of
	// 500 objects). Default 60s.
	ListTimeout time.Duration
	// RetryNotServed is how often the engine looks again for a resource
	// that is not served, so a CRD installed mid-lesson is picked up.
	// Default 2s.
	RetryNotServed time.Duration
	// Poll is the first delay between evaluations of a check that cannot
	// be watched (Watch false, Acts empty); it doubles up to 30s, for at
	// most 8 tries, and Recheck starts it again. Default 1s.
	Poll time.Duration
	// HealthInterval is how often, while checks are watched, the engine
	// asks the API server's /readyz whether it is there, to notice an
	// outage that no informer has seen yet. Default 1s.
	HealthInterval time.Duration
	// ReconnectInterval is how often it asks while the server does not
	// answer; the first answer re-evaluates every check (see
	// engine_health.go). Default 250ms.
	ReconnectInterval time.Duration
	// ProbeTimeout bounds one such question while the server answers
	// (at most 1s while it does not). Default 10s.
	ProbeTimeout time.Duration

	// Traffic is the reader's settings for the checks that send traffic
	// (--ingress, --probe-image), handed to checks through Env.Traffic.
	Traffic checks.TrafficSettings

	clients *checks.Clients
	dyn     dynamic.Interface // no request time-out, so watches stay open
	disc    *discovery.DiscoveryClient

	mu        sync.Mutex
	info      checks.ClusterInfo
	sources   map[sourceKey]*source
	watchers  map[*watcher]struct{}
	refreshed time.Time // last discovery refresh

	h health
}

var _ checks.Runner = (*Engine)(nil)

// NewEngine returns an engine reading the cluster through clients, with
// info from discovery at connect time.
func NewEngine(clients *checks.Clients, info checks.ClusterInfo) *Engine {
	e := &Engine{
		Settle:            10 * time.Millisecond,
		Debounce:          50 * time.Millisecond,
		PassInterval:      time.Second,
		EvalTimeout:       30 * time.Second,
		ListTimeout:       60 * time.Second,
		RetryNotServed:    2 * time.Second,
		Poll:              time.Second,
		HealthInterval:    time.Second,
		ReconnectInterval: 250 * time.Millisecond,
		ProbeTimeout:      10 * time.Second,
		clients:           clients,
		info:              info,
		sources:           map[sourceKey]*source{},
		watchers:          map[*watcher]struct{}{},
	}
	var probeCfg *rest.Config
	if clients != nil {
		e.dyn = clients.Dynamic
		if clients.Config != nil {
			// Watches must outlive the per-request time-out of the
			// connection's config; keep a time-out on dialling only, so
			// an unreachable server still fails fast.
			cfg := rest.CopyConfig(clients.Config)
			cfg.Timeout = 0
			if cfg.QPS == 0 {
				// A step's informers start together; client-go's default of
				// 5 requests a second would queue them.
				cfg.QPS, cfg.Burst = 50, 300
			}
			if cfg.Dial == nil {
				cfg.Dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
			}
			if dyn, err := dynamic.NewForConfig(cfg); err == nil {
				e.dyn = dyn
			}
			if dc, err := discovery.NewDiscoveryClientForConfig(clients.Config); err == nil {
				e.disc = dc
			}
			probeCfg = cfg
		}
	}
	e.initHealth(clients, probeCfg)
	return e
}

// Info is the engine's current view of the cluster: discovery at connect
// time, updated when a CRD appears later.
func (e *Engine) Info() checks.ClusterInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.info
}

// Context names the cluster context, for the status bar.
func (e *Engine) Context() string { return e.Info().Context }

// Informers describes the informers running now, one line each. Tests
// use it to see that leaving a step stops them.
func (e *Engine) Informers() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for k := range e.sources {
		out = append(out, k.String())
	}
	sort.Strings(out)
	return out
}

// Recheck forces a fresh evaluation of every watched check, and restarts
// the informers that are failing (a CRD just installed, a permission just
// granted) instead of waiting for their back-off.
func (e *Engine) Recheck() {
	e.suspect() // and ask whether the server is there, now
	e.signal(func(w *watcher) chan struct{} { return w.recheck })
}

// Watch evaluates the checks of set whenever what they read changes and
// sends each new result to out. While the API server does not answer,
// every check is reported as reconnecting rather than keeping a verdict
// that may no longer hold, and once it answers again every check is
// evaluated afresh (see engine_health.go). It blocks until ctx is cancelled and
// returns only once the informers it started are stopped, so run it in
// its own goroutine and cancel ctx when the step is left.
//
// Checks with Acts are not run; each gets one Pending result saying so
// (see Run). Checks with Watch false are evaluated on a bounded back-off.
// A result equal to the last one sent for the same key is not sent again,
// except after Recheck.
func (e *Engine) Watch(ctx context.Context, set []checks.Bound, out chan<- checks.Update) {
	w := newWatcher(ctx, e, set, out)
	e.use()
	defer e.unuse()
	e.mu.Lock()
	e.watchers[w] = struct{}{}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.watchers, w)
		e.mu.Unlock()
		w.release()
	}()
	w.run()
}

// Run evaluates b once, now, whatever kind of check it is, reading
// straight from the API server. The caller has the reader's consent for
// checks with Acts. Intermediate results the check emits go to out (if
// out is full they are dropped, never blocking the check); the final
// result is returned, not sent. The param passes is ignored: one run is
// one evaluation.
func (e *Engine) Run(ctx context.Context, b checks.Bound, out chan<- checks.Update) checks.Result {
	env := &DirectEnv{clients: e.clients, info: e.Info(), Timeout: e.listTimeout(), Settings: e.Traffic, versions: map[string]string{}}
	if e.clients != nil && e.clients.Config != nil && e.clients.Config.Timeout > 0 {
		env.Timeout = e.clients.Config.Timeout
	}
	env.OnEmit = func(r checks.Result) {
		if out == nil {
			return
		}
		fill(&r, b)
		select {
		case out <- checks.Update{Key: b.Key, Result: r}:
		default:
		}
	}
	// No "reconnecting" here: a single run does not retry, so the reader
	// sees the transport error as it is.
	return Evaluate(ctx, env, b)
}

// Once evaluates every check of set once (see Run) and returns their
// results in order. For the command line; askActs says whether a check
// that acts may run, and when it may not, its result is Pending with code
// CodeNotRun and the reason.
func (e *Engine) Once(ctx context.Context, set []checks.Bound, askActs func(checks.Bound) (ok bool, why string)) []checks.Result {
	out := make([]checks.Result, len(set))
	for i, b := range set {
		if b.Check != nil && b.Check.Acts != "" && askActs != nil {
			if ok, why := askActs(b); !ok {
				out[i] = notRun(b, why)
				continue
			}
		}
		out[i] = e.Run(ctx, b, nil)
	}
	return out
}

func notRun(b checks.Bound, why string) checks.Result {
	if why == "" {
		why = "it runs only when asked"
	}
	r := checks.MsgNotRun.Result(b.Check.Acts, why)
	fill(&r, b)
	return r
}

func (e *Engine) listTimeout() time.Duration {
	if e.ListTimeout > 0 {
		return e.ListTimeout
	}
	return 60 * time.Second
}

// Evaluate runs b's check once against env. A panic in the check becomes
// an Error result naming where it happened; the check's name, its
// parameters and the time are filled in.
func Evaluate(ctx context.Context, env checks.Env, b checks.Bound) (r checks.Result) {
	if b.Check == nil || b.Check.Eval == nil {
		r = checks.MsgBadParams.Result(errors.New("no such check"))
		fill(&r, b)
		return r
	}
	defer func() {
		if p := recover(); p != nil {
			at := panicSite()
			r = checks.MsgPanic.Result(fmt.Sprintf("crashed (%v)", p), checks.Condition{
				Name:     "check ran to the end",
				Observed: fmt.Sprintf("panic: %v%s", p, at),
				Expected: "a verdict",
				Fix:      "Please report it with the output of `meshdojo check --run " + b.Check.Name + " -o json`; you can skip this step meanwhile.",
			})
		}
		if r.Verdict == "" {
			r = checks.MsgPanic.Result("returned no verdict")
		}
		fill(&r, b)
	}()
	if len(b.Check.Uses) == 0 && env != nil {
		// Only a check that declares a capability reaches the cluster
		// beyond its inputs.
		env = readOnly{env}
	}
	if env != nil {
		// A check reads only what it declares: that is what the engine
		// watches and what the reader role grants.
		var declared []checks.Input
		if b.Check.Inputs != nil {
			declared = b.Check.Inputs(b.Params)
		}
		env = declaredOnly{Env: env, check: b.Check.Name, declared: declared}
	}
	return b.Check.Eval(ctx, env, b.Params)
}

// declaredOnly is the Env of every evaluation: it lists only the inputs
// the check declares for its parameters, and refuses any other with an
// *checks.UndeclaredError.
type declaredOnly struct {
	checks.Env
	check    string
	declared []checks.Input
}

func (d declaredOnly) List(ctx context.Context, in checks.Input) ([]*unstructured.Unstructured, error) {
	if !slices.Contains(d.declared, in) {
		return nil, &checks.UndeclaredError{Check: d.check, Input: in, Declared: d.declared}
	}
	return d.Env.List(ctx, in)
}

// readOnly is the Env of a check that declares no capability.
type readOnly struct{ checks.Env }

func (readOnly) Clients() *checks.Clients { return nil }

func fill(r *checks.Result, b checks.Bound) { checks.Finish(r, b.Check, b.Params) }

// panicSite finds the first frame outside the runtime below a recover,
// i.e. the line that panicked.
func panicSite() string {
	pc := make([]uintptr, 32)
	n := runtime.Callers(3, pc)
	frames := runtime.CallersFrames(pc[:n])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") && f.Function != "" {
			file := f.File
			if i := strings.Index(file, "/meshdojo/"); i >= 0 {
				file = file[i+len("/meshdojo/"):]
			}
			return fmt.Sprintf(" at %s:%d", file, f.Line)
		}
		if !more {
			return ""
		}
	}
}

// reconnecting rewrites a result whose reads failed because the API
// server could not be reached: the reader sees that the engine is
// reconnecting by itself, whatever the check made of the failure.
func reconnecting(r checks.Result, err error) checks.Result {
	if err == nil || r.Verdict == checks.Pass {
		return r
	}
	er := checks.ErrorResult(err)
	er.Check, er.Params, er.At = r.Check, r.Params, r.At
	er.Summary = "reconnecting… " + err.Error()
	return er
}

// spyEnv remembers whether any read failed for want of the API server.
type spyEnv struct {
	checks.Env
	mu          sync.Mutex
	unreachable error
}

func (s *spyEnv) List(ctx context.Context, in checks.Input) ([]*unstructured.Unstructured, error) {
	items, err := s.Env.List(ctx, in)
	if err != nil && errors.Is(err, checks.ErrUnreachable) {
		s.mu.Lock()
		if s.unreachable == nil {
			s.unreachable = err
		}
		s.mu.Unlock()
	}
	return items, err
}

// sameResult says whether two results would look the same to the reader.
func sameResult(a, b checks.Result) bool {
	a.At, b.At = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}
