package traffic

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
)

// probe runs one plan against a fake lab and judges it.
func probe(t *testing.T, cfg fakelab.Config, plan Plan, e Expect) (*Report, []Finding) {
	t.Helper()
	srv := httptest.NewServer(fakelab.New(cfg))
	t.Cleanup(srv.Close)
	if plan.URL == "" {
		plan.URL = srv.URL + "/api/v1/products/0/reviews"
	} else {
		plan.URL = srv.URL + plan.URL
	}
	rep, err := Run(context.Background(), nil, plan)
	if err != nil {
		t.Fatal(err)
	}
	return rep, Judge(rep, e)
}

// verdict is true when every finding is OK.
func verdict(fs []Finding) bool {
	for _, f := range fs {
		if !f.OK {
			return false
		}
	}
	return true
}

func describe(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		mark := "ok "
		if !f.OK {
			mark = "BAD"
		}
		b.WriteString("\n  " + mark + " " + f.Name + ": " + f.Observed + " (want " + f.Expected + ")")
	}
	return b.String()
}

// expectVerdict runs the same probe against the right and the wrong
// behaviour and insists the assertion tells them apart.
func expectVerdict(t *testing.T, name string, right, wrong fakelab.Config, plan Plan, e Expect) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		if _, fs := probe(t, right, plan, e); !verdict(fs) {
			t.Errorf("right behaviour failed:%s", describe(fs))
		}
		if _, fs := probe(t, wrong, plan, e); verdict(fs) {
			t.Errorf("wrong behaviour passed:%s", describe(fs))
		}
	})
}

func TestProbeAssertions(t *testing.T) {
	seq := func(n int) Plan { return Plan{Count: n, Concurrency: 1, Timeout: 5 * time.Second} }

	// ch.5: all traffic to v4, then an 80/20 canary.
	expectVerdict(t, "all v4",
		fakelab.Config{Seed: 1, Weights: map[string]int{"v4": 100}},
		fakelab.Config{Seed: 1, Weights: map[string]int{"v1": 10, "v4": 90}},
		seq(30), Expect{Status: []string{"200"}, Versions: map[string]int{"v1": 0, "v2": 0, "v4": 100}})
	expectVerdict(t, "80/20 split",
		fakelab.Config{Seed: 2, Weights: map[string]int{"v1": 80, "v2": 20}},
		fakelab.Config{Seed: 2, Weights: map[string]int{"v1": 50, "v2": 50}},
		seq(100), Expect{Versions: map[string]int{"v1": 80, "v2": 20}})
	expectVerdict(t, "three-way phased release",
		fakelab.Config{Seed: 3, Weights: map[string]int{"v1": 33, "v2": 33, "v4": 33}},
		fakelab.Config{Seed: 3, Weights: map[string]int{"v4": 100}},
		seq(60), Expect{Versions: map[string]int{"v1": 33, "v2": 33, "v4": 33}})
	expectVerdict(t, "star colour field",
		fakelab.Config{Seed: 4, Weights: map[string]int{"v4": 100}},
		fakelab.Config{Seed: 4, Weights: map[string]int{"v2": 100}},
		Plan{Count: 5, Fields: []string{"reviews.0.rating.color"}}, Expect{Fields: []string{"reviews.0.rating.color=red"}})

	// ch.9: injected aborts.
	expectVerdict(t, "abort 500",
		fakelab.Config{Seed: 5, AbortStatus: 500, AbortPercent: 100},
		fakelab.Config{Seed: 5},
		seq(10), Expect{Status: []string{"500"}})
	expectVerdict(t, "abort 503 as a class",
		fakelab.Config{Seed: 6, AbortStatus: 503, AbortPercent: 100},
		fakelab.Config{Seed: 6, AbortStatus: 500, AbortPercent: 100},
		seq(10), Expect{Status: []string{"503"}})
	// ch.9: a delay then 504 (300 ms standing in for the lab's 7 s).
	expectVerdict(t, "delay then 504",
		fakelab.Config{Seed: 7, FixedDelay: 300 * time.Millisecond, DelayPercent: 100, AbortStatus: 504, AbortPercent: 100},
		fakelab.Config{Seed: 7, AbortStatus: 504, AbortPercent: 100},
		Plan{Count: 4, Concurrency: 4, Timeout: 5 * time.Second}, Expect{Status: []string{"504"}, MinLatency: 250 * time.Millisecond})

	// ch.10 baseline: half the calls are slow (300 ms standing in for
	// 7 s). The share of slow answers tells it from a lab where a route
	// timeout cuts them short, and from one where nothing is slow.
	expectVerdict(t, "half the calls slow",
		fakelab.Config{Seed: 14, SlowDelay: 300 * time.Millisecond, SlowPercent: 50},
		fakelab.Config{Seed: 14, SlowDelay: 300 * time.Millisecond, SlowPercent: 50, Timeout: 200 * time.Millisecond},
		Plan{Count: 40, Concurrency: 20, Timeout: 5 * time.Second},
		Expect{SlowAfter: 280 * time.Millisecond, SlowShare: 50})
	expectVerdict(t, "nothing slow",
		fakelab.Config{Seed: 15, SlowDelay: 300 * time.Millisecond, SlowPercent: 50},
		fakelab.Config{Seed: 15},
		Plan{Count: 40, Concurrency: 20, Timeout: 5 * time.Second},
		Expect{SlowAfter: 280 * time.Millisecond, SlowShare: 50})

	// ch.10 timeout: half the calls are slow; a 200 ms route timeout
	// turns them into 504s, so nothing waits for the full 300 ms delay.
	expectVerdict(t, "route timeout",
		fakelab.Config{Seed: 8, SlowDelay: 300 * time.Millisecond, SlowPercent: 50, Timeout: 200 * time.Millisecond},
		fakelab.Config{Seed: 8, SlowDelay: 300 * time.Millisecond, SlowPercent: 50},
		Plan{Count: 12, Concurrency: 4, Timeout: 5 * time.Second},
		Expect{Status: []string{"200", "504"}, MinStatus: map[string]int{"504": 1}})
	// The latency bound on its own: with no route timeout the slow calls
	// take at least 300 ms, which a 290 ms bound must reject.
	t.Run("latency bound rejects slow calls", func(t *testing.T) {
		_, fs := probe(t, fakelab.Config{Seed: 9, SlowDelay: 300 * time.Millisecond, SlowPercent: 100}, Plan{Count: 3, Concurrency: 3, Timeout: 5 * time.Second},
			Expect{MaxLatency: 290 * time.Millisecond})
		if verdict(fs) {
			t.Errorf("slow calls passed a 290ms bound:%s", describe(fs))
		}
	})

	// ch.10 retry: half the calls fail with 503; three retries on 5xx
	// bring that to about 6%.
	expectVerdict(t, "retries hide 503s",
		fakelab.Config{Seed: 10, FailStatus: 503, FailPercent: 50, Retries: 3},
		fakelab.Config{Seed: 10, FailStatus: 503, FailPercent: 50},
		seq(40), Expect{MaxStatusShare: map[string]int{"5xx": 20}})
	expectVerdict(t, "503 share near half without retries",
		fakelab.Config{Seed: 11, FailStatus: 503, FailPercent: 50},
		fakelab.Config{Seed: 11, FailStatus: 503, FailPercent: 50, Retries: 3},
		seq(60), Expect{StatusSplit: map[string]int{"200": 50, "503": 50}})

	// ch.10 outlier ejection: five 500s in a row eject the only host.
	// (With a backend failing half the time, a run of five needs luck;
	// lessons ask for enough requests and say so.)
	expectVerdict(t, "outlier ejection",
		fakelab.Config{Seed: 12, FailStatus: 500, FailPercent: 90, EjectAfter: 5},
		fakelab.Config{Seed: 12, FailStatus: 500, FailPercent: 90},
		seq(40), Expect{MinStatus: map[string]int{"503": 1}, BodyContains: "no healthy upstream"})

	// ch.10 connection pool: a burst beyond the pool overflows.
	expectVerdict(t, "pool overflow",
		fakelab.Config{Seed: 13, SlowDelay: 100 * time.Millisecond, SlowPercent: 100, MaxPending: 3},
		fakelab.Config{Seed: 13, SlowDelay: 100 * time.Millisecond, SlowPercent: 100},
		Plan{Count: 30, Concurrency: 20, Timeout: 5 * time.Second},
		Expect{Headers: []string{"x-envoy-overloaded=true"}, MinStatus: map[string]int{"503": 1}})
}

func TestProbeNoVersionField(t *testing.T) {
	_, fs := probe(t, fakelab.Config{}, Plan{URL: "/productpage", Count: 3}, Expect{Versions: map[string]int{"v4": 100}})
	f := fs[len(fs)-1]
	if f.OK || !strings.Contains(f.Fix, "/api/v1/products/0/reviews") {
		t.Fatalf("want a failed version finding pointing at the reviews API, got %+v", f)
	}
}

func TestProbeDeadlineAndCancel(t *testing.T) {
	slow := fakelab.Config{SlowDelay: time.Hour, SlowPercent: 100}
	t.Run("per-request timeout", func(t *testing.T) {
		rep, fs := probe(t, slow, Plan{Count: 2, Concurrency: 2, Timeout: 50 * time.Millisecond}, Expect{Status: []string{"200"}})
		if n := rep.Tally().Outcomes["timeout"]; n != 2 {
			t.Fatalf("want 2 timeouts, got %+v", rep.Tally().Outcomes)
		}
		if verdict(fs) || !strings.Contains(describe(fs), "timeout") {
			t.Fatalf("timeouts should fail a 200 expectation:%s", describe(fs))
		}
	})
	t.Run("whole-probe deadline", func(t *testing.T) {
		rep, fs := probe(t, slow, Plan{Count: 5, Timeout: time.Hour, Deadline: 50 * time.Millisecond}, Expect{})
		if rep.Stopped != "deadline" || len(rep.Samples) != 0 {
			t.Fatalf("want a probe stopped by its deadline with nothing counted, got %q and %d samples", rep.Stopped, len(rep.Samples))
		}
		if fs[0].OK || !strings.Contains(fs[0].Fix, "deadline") {
			t.Fatalf("budget finding should explain the deadline: %+v", fs[0])
		}
	})
	t.Run("cancel", func(t *testing.T) {
		srv := httptest.NewServer(fakelab.New(slow))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		plan := Plan{URL: srv.URL + "/productpage", Count: 10, Concurrency: 2, Timeout: time.Hour,
			OnProgress: func(Tally) {}}
		go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		rep, err := Run(ctx, nil, plan)
		if err != nil || rep.Stopped != "cancelled" {
			t.Fatalf("want a cancelled report, got %v, %+v", err, rep)
		}
	})
}

func TestProbeRequestShape(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Header().Set("Location", "/logout")
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	h := http.Header{}
	h.Set("Cookie", "access_token=abc")
	h.Set("Authorization", "Bearer xyz")
	rep, err := Run(context.Background(), nil, Plan{Method: "post", URL: srv.URL + "/productpage?u=normal", Host: "bookinfo.example", Header: h, Body: "x=1", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "POST" || got.Host != "bookinfo.example" || got.Header.Get("Cookie") != "access_token=abc" ||
		got.Header.Get("Authorization") != "Bearer xyz" || got.URL.RawQuery != "u=normal" {
		t.Fatalf("request arrived as %s %s host=%s headers=%v", got.Method, got.URL, got.Host, got.Header)
	}
	// Redirects are answers, not something to follow.
	if s := rep.Samples[0]; s.Status != http.StatusFound {
		t.Fatalf("want the 302 itself, got %+v", s)
	}
}

func TestProbeProgress(t *testing.T) {
	srv := httptest.NewServer(fakelab.New(fakelab.Config{Weights: map[string]int{"v1": 1, "v2": 1}}))
	defer srv.Close()
	var last Tally
	calls := 0
	rep, err := Run(context.Background(), nil, Plan{URL: srv.URL + "/api/v1/products/0/reviews", Count: 7, Concurrency: 3,
		OnProgress: func(t Tally) { calls++; last = t }})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 7 || last.Done != 7 || last.Planned != 7 || last.Versions["v1"]+last.Versions["v2"] != 7 || len(rep.Samples) != 7 {
		t.Fatalf("progress: %d calls, last %+v", calls, last)
	}
	sum := 0
	for _, n := range last.Latency {
		sum += n
	}
	if sum != 7 || len(last.Latency) != len(LatencyLabels()) {
		t.Fatalf("latency buckets %v", last.Latency)
	}
}

func TestProbeRefusedAndBadURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more
	rep, err := Run(context.Background(), nil, Plan{URL: addr + "/productpage", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	fs := Judge(rep, Expect{Status: []string{"200"}})
	if rep.Samples[0].Err != "refused" || verdict(fs) || !strings.Contains(describe(fs), "refused") {
		t.Fatalf("want refused connections explained, got %+v%s", rep.Samples[0], describe(fs))
	}
	if _, err := Run(context.Background(), nil, Plan{URL: "not a url", Count: 1}); err == nil {
		t.Fatal("want an error for a bad URL")
	}
}

// The lab's rendered product page is about 13 KB and its reviews
// section comes after the first 8 KB: a text there must still be found.
func TestBodyContainsLatePageText(t *testing.T) {
	page := strings.Repeat("<div class=\"filler\"></div>\n", 500) + "<p><strong>403</strong>: Please sign in to view product reviews.</p>"
	if len(page) < 12<<10 {
		t.Fatalf("page only %d bytes", len(page))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, page) }))
	defer srv.Close()
	rep, err := Run(context.Background(), nil, Plan{Method: "GET", URL: srv.URL, Count: 1, Concurrency: 1, Timeout: 5 * time.Second, Deadline: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"Please sign in to view product reviews", "no such text"} {
		judge := func(e Expect) bool {
			ok := true
			for _, f := range Judge(rep, e) {
				ok = ok && f.OK
			}
			return ok
		}
		present := text != "no such text"
		if ok := judge(Expect{Status: []string{"200"}, BodyContains: text}); ok != present {
			t.Errorf("body-contains %q at the end of a %d-byte page: passed %v", text, len(page), ok)
		}
		if ok := judge(Expect{Status: []string{"200"}, BodyLacks: text}); ok == present {
			t.Errorf("body-lacks %q at the end of a %d-byte page: passed %v", text, len(page), ok)
		}
	}
}
