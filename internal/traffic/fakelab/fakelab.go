// Package fakelab simulates the book's lab for tests, in two forms.
//
// Sim (NewSim) is the lab itself: Bookinfo behind the ingress gateway,
// with every mesh behaviour derived from the Istio and Kubernetes objects
// it is given (VirtualService routes, matches, faults, timeouts and
// retries; DestinationRule subsets, outlier detection, connection pools
// and TLS; PeerAuthentication; the pods that exist and are ready; the
// mesh config's discoverySelectors). Nothing in it is configured per
// test: change the objects and the traffic changes. The lesson walk runs
// it behind a real API server; lessons/README.md says how.
//
// Lab (New) is a fixed behaviour set by a Config, with no objects
// behind it. Package checks uses it to test the traffic checks'
// judgement (a split, a status share, a latency bound) in isolation.
//
// Randomness comes from a seeded source, so a run with one worker is
// reproducible.
package fakelab

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Config is the behaviour Lab simulates. Zero values switch a feature off.
type Config struct {
	Seed uint64
	// Weights is the reviews route's split between versions (v1, v2, v4
	// or any name); empty means all v4.
	Weights map[string]int
	// AbortStatus with AbortPercent is a VirtualService fault abort.
	AbortStatus  int
	AbortPercent float64
	// FixedDelay with DelayPercent is a fault delay; it is applied
	// before an abort, as Envoy does.
	FixedDelay   time.Duration
	DelayPercent float64
	// SlowDelay with SlowPercent is a backend that is itself slow (the
	// lab's ratings-v-delayed answers half its calls after 7 s).
	SlowDelay   time.Duration
	SlowPercent float64
	// Timeout is the route timeout: a backend slower than this is cut
	// off with 504 "upstream request timeout".
	Timeout time.Duration
	// FailStatus with FailPercent is a backend that fails on its own
	// (the lab's ratings-v-faulty answers 503 half the time).
	FailStatus  int
	FailPercent float64
	// Retries is how many more attempts a 5xx from the backend gets.
	Retries int
	// EjectAfter consecutive 5xx eject the only endpoint; from then on
	// the answer is 503 "no healthy upstream".
	EjectAfter int
	// MaxPending is the connection pool: requests beyond this many in
	// flight get 503 with x-envoy-overloaded: true.
	MaxPending int
}

// Lab is the config-driven application.
type Lab struct {
	cfg Config

	mu       sync.Mutex
	rng      *rand.Rand
	inflight int
	fails    int // consecutive 5xx, for ejection
	ejected  bool
	hits     map[string]int
}

// New returns a lab with the given behaviour.
func New(cfg Config) *Lab {
	return &Lab{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), hits: map[string]int{}}
}

// Hits returns how many backend calls each version received, retries
// included.
func (l *Lab) Hits() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for k, v := range l.hits {
		out[k] = v
	}
	return out
}

func (l *Lab) chance(percent float64) bool {
	if percent <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rng.Float64()*100 < percent
}

func (l *Lab) pickVersion() string {
	w := l.cfg.Weights
	if len(w) == 0 {
		return "v4"
	}
	names := make([]string, 0, len(w))
	total := 0
	for k, v := range w {
		if v > 0 {
			names = append(names, k)
			total += v
		}
	}
	sort.Strings(names)
	l.mu.Lock()
	x := l.rng.IntN(total)
	l.mu.Unlock()
	for _, n := range names {
		if x < w[n] {
			return n
		}
		x -= w[n]
	}
	return names[len(names)-1]
}

// ServeHTTP answers the paths the lab's probes use.
func (l *Lab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l.cfg.MaxPending > 0 {
		l.mu.Lock()
		over := l.inflight >= l.cfg.MaxPending
		if !over {
			l.inflight++
		}
		l.mu.Unlock()
		if over {
			w.Header().Set("x-envoy-overloaded", "true")
			text(w, http.StatusServiceUnavailable, "upstream connect error or disconnect/reset before headers. reset reason: overflow")
			return
		}
		defer func() { l.mu.Lock(); l.inflight--; l.mu.Unlock() }()
	}
	switch r.URL.Path {
	case "/productpage", "/api/v1/products/0/reviews", "/api/v1/products/0/ratings", "/api/v1/products/0":
	default:
		text(w, http.StatusNotFound, "not found")
		return
	}
	if l.cfg.FixedDelay > 0 && l.chance(l.cfg.DelayPercent) {
		if !sleep(r, l.cfg.FixedDelay) {
			return
		}
	}
	if l.cfg.AbortStatus != 0 && l.chance(l.cfg.AbortPercent) {
		text(w, l.cfg.AbortStatus, "fault filter abort")
		return
	}
	l.mu.Lock()
	ejected := l.ejected
	l.mu.Unlock()
	if ejected {
		text(w, http.StatusServiceUnavailable, "no healthy upstream")
		return
	}
	version := l.pickVersion()
	status, msg := 0, ""
	for attempt := 0; attempt <= l.cfg.Retries; attempt++ {
		status, msg = l.backend(r, version)
		if status == 0 {
			return // client went away
		}
		l.mu.Lock()
		if status >= 500 {
			l.fails++
			if l.cfg.EjectAfter > 0 && l.fails >= l.cfg.EjectAfter {
				l.ejected = true
			}
		} else {
			l.fails = 0
		}
		l.mu.Unlock()
		if status < 500 || status == http.StatusGatewayTimeout {
			break
		}
	}
	if msg != "" {
		text(w, status, msg)
		return
	}
	l.answer(w, r, version)
}

// backend is one call to the chosen version: 200 with msg "" on success.
func (l *Lab) backend(r *http.Request, version string) (int, string) {
	l.mu.Lock()
	l.hits[version]++
	l.mu.Unlock()
	if l.cfg.SlowDelay > 0 && l.chance(l.cfg.SlowPercent) {
		if l.cfg.Timeout > 0 && l.cfg.SlowDelay > l.cfg.Timeout {
			if !sleep(r, l.cfg.Timeout) {
				return 0, ""
			}
			return http.StatusGatewayTimeout, "upstream request timeout"
		}
		if !sleep(r, l.cfg.SlowDelay) {
			return 0, ""
		}
	}
	if l.cfg.FailStatus != 0 && l.chance(l.cfg.FailPercent) {
		return l.cfg.FailStatus, fmt.Sprintf("backend %s failed", version)
	}
	return http.StatusOK, ""
}

func (l *Lab) answer(w http.ResponseWriter, r *http.Request, version string) {
	pod := fmt.Sprintf("reviews-%s-5f7b9c6d4-%05d", version, len(version)*7919%100000)
	switch r.URL.Path {
	case "/productpage":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "<html><body><h3>The Comedy of Errors</h3><p>served by %s</p></body></html>", pod)
	case "/api/v1/products/0/ratings":
		writeJSON(w, map[string]any{"id": 0, "ratings": map[string]int{"Reviewer1": 5, "Reviewer2": 4}})
	case "/api/v1/products/0":
		writeJSON(w, map[string]any{"id": 0, "author": "William Shakespeare", "publisher": "PublisherA"})
	default:
		review := func(name string, stars int) map[string]any {
			m := map[string]any{"reviewer": name, "text": "a fine play"}
			switch version {
			case "v2":
				m["rating"] = map[string]any{"stars": stars, "color": "black"}
			case "v1":
			default:
				m["rating"] = map[string]any{"stars": stars, "color": "red"}
			}
			return m
		}
		writeJSON(w, map[string]any{"id": "0", "podname": pod, "clustername": "null",
			"reviews": []any{review("Reviewer1", 5), review("Reviewer2", 4)}})
	}
}

func sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func text(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	fmt.Fprint(w, msg)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}
