package traffic

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunPaced: a paced probe sends until Done agrees, counts
// every answer in the second it was sent, and puts each failure in a run
// with its status and Envoy's flag read from Envoy's own text.
func TestRunPaced(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Requests 6 to 8 meet a pod that refuses, as Envoy says it.
		if i := n.Add(1); i >= 6 && i <= 8 {
			w.WriteHeader(503)
			w.Write([]byte("upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused"))
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	var progress int
	rep, err := RunPaced(context.Background(), nil, PacedPlan{URL: srv.URL + "/productpage", Rate: 10, Max: 10 * time.Second,
		Done:       func(context.Context, time.Duration) bool { return n.Load() >= 20 },
		OnProgress: func(PacedTally) { progress++ }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stopped != "" || rep.Sent < 20 || rep.Answered != rep.Sent || progress != rep.Answered {
		t.Fatalf("want 20 requests or more until Done agreed, every one answered and reported: %+v (progress %d)", rep.PacedTally, progress)
	}
	if rep.Bad != 3 || len(rep.Runs) != 1 || rep.Runs[0].N != 3 || rep.Runs[0].Outcome != "503" || rep.Runs[0].Flags != "UF" {
		t.Fatalf("want one run of three 503 UF: %+v", rep.Runs)
	}
	if s := rep.Runs[0].String(); !strings.HasPrefix(s, "503 UF ×3 sent ") {
		t.Fatalf("run said as %q", s)
	}
	ok, bad := 0, 0
	for _, s := range rep.Seconds {
		ok, bad = ok+s.OK, bad+s.Bad
	}
	if ok != rep.OK || bad != rep.Bad {
		t.Fatalf("per-second counts %+v do not add up to %d/%d", rep.Seconds, rep.OK, rep.Bad)
	}
}

// TestPacedMemoryBound: however many runs of failures, a tally keeps at
// most maxRuns of them and counts the rest.
func TestPacedMemoryBound(t *testing.T) {
	var tl PacedTally
	for i := range 3 * maxRuns {
		// Alternating outcomes seconds apart: every failure a run of its own.
		out := "503"
		if i%2 == 1 {
			out = "reset"
		}
		tl.addFailure(time.Duration(i)*3*time.Second, out, "", strings.Repeat("x", 10_000))
	}
	if len(tl.Runs) != maxRuns || tl.MoreRuns != 2*maxRuns || tl.MoreBad != 2*maxRuns || len(tl.Runs[0].Detail) > detailKeep+len("…") {
		t.Fatalf("runs %d, more %d/%d, detail %d bytes", len(tl.Runs), tl.MoreRuns, tl.MoreBad, len(tl.Runs[0].Detail))
	}
}

func TestFlags(t *testing.T) {
	for body, want := range map[string]string{
		"no healthy upstream": "UH",
		"upstream connect error or disconnect/reset before headers. reset reason: connection termination": "UC",
		"upstream connect error or disconnect/reset before headers. reset reason: overflow":               "UO",
		"upstream request timeout": "UT",
		"fault filter abort":       "FI",
		`{"error": "Sorry, product reviews are currently unavailable"}`: "",
	} {
		if got := Flags(body); got != want {
			t.Errorf("Flags(%q) = %q, want %q", body, got, want)
		}
	}
}

// TestPacedRunsBeyondTheKept: once maxRuns runs are kept, later failures
// are only counted, and counted by runs as the kept ones are: ten
// failures of one outcome within a second are one run, not ten.
func TestPacedRunsBeyondTheKept(t *testing.T) {
	var tl PacedTally
	for i := range maxRuns {
		// Alternating outcomes, so that each failure is a run.
		out := "503"
		if i%2 == 1 {
			out = "reset"
		}
		tl.addFailure(time.Duration(i)*10*time.Second, out, "", "")
	}
	if len(tl.Runs) != maxRuns || tl.MoreRuns != 0 {
		t.Fatalf("%d runs kept, %d more", len(tl.Runs), tl.MoreRuns)
	}
	at := time.Duration(maxRuns) * 10 * time.Second
	for i := range 10 {
		tl.addFailure(at+time.Duration(i)*100*time.Millisecond, "503", "UF", "")
	}
	tl.addFailure(at+time.Minute, "503", "UF", "")
	tl.addFailure(at+time.Minute+100*time.Millisecond, "timeout", "", "")
	if tl.MoreBad != 12 || tl.MoreRuns != 3 {
		t.Fatalf("beyond the kept runs: %d failures in %d runs, want 12 in 3", tl.MoreBad, tl.MoreRuns)
	}
}
