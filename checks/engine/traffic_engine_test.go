package engine

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
)

// TestTrafficThroughEngine runs http-probe the way the UI does: Watch
// leaves it alone (it acts), Run sends its progress as updates, and
// cancelling Run's context stops it with what it has.
func TestTrafficThroughEngine(t *testing.T) {
	lab := httptest.NewServer(fakelab.New(fakelab.Config{SlowDelay: 20 * time.Millisecond, SlowPercent: 100}))
	defer lab.Close()
	e := NewEngine(nil, checks.ClusterInfo{})
	c, _ := catalogue.Lookup("http-probe")
	b := bind(t, c, "10/3/0", map[string]string{"ingress": lab.URL, "count": "1000", "path": "/api/v1/products/0/reviews"})

	f, stop := watching(t, e, b)
	r := await(t, f, "10/3/0", "not run by Watch", func(r checks.Result) bool { return r.Verdict == checks.Pending })
	if r.Code != checks.CodeNotRun {
		t.Fatalf("Watch gave %s", explain(r))
	}
	stop()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan checks.Update, 16)
	done := make(chan checks.Result, 1)
	go func() { done <- e.Run(ctx, b, out) }()
	seen := 0
	for u := range out {
		if u.Key != "10/3/0" || u.Result.Check != "http-probe" || !strings.HasSuffix(u.Result.Progress, "/1000 requests") {
			t.Fatalf("update %+v", u)
		}
		if seen++; seen == 3 {
			cancel()
			break
		}
	}
	final := <-done
	if final.Verdict != checks.Error || final.Code != catalogue.CodeProbeCancelled || !strings.Contains(final.Summary, "/1000 requests") {
		t.Fatalf("cancelled run gave %s", explain(final))
	}
}

// explain is a result in full, for a test's failure message.
func explain(r checks.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", r.Verdict, r.Code, r.Summary)
	for _, c := range r.Conditions {
		fmt.Fprintf(&b, "\n  [%v] %s: %s (want %s) %s", c.OK, c.Name, c.Observed, c.Expected, c.Fix)
	}
	return b.String()
}
