package room

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/lessons"
)

// kubeconfigFile writes a kubeconfig for c with cfg's credentials
// (admin when nil) and returns its path.
func kubeconfigFile(t *testing.T, c *testcluster.Cluster, cfg *rest.Config, name string) string {
	t.Helper()
	b, err := c.Kubeconfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// refusedToken is cfg with a bearer token the API server does not know.
func refusedToken(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.BearerToken = "meshdojo-test-token-nobody-issued"
	return c
}

func closedKubeconfig(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "gone.yaml")
	testcluster.ClosedKubeconfig(t, p, "gone")
	return p
}

// watcher collects a room's events into a board and lets a test wait
// for a state of it.
type watcher struct {
	t      *testing.T
	b      *Board
	events chan Event
	log    []string
}

func (w *watcher) until(what string, ok func(*Board) bool) {
	w.t.Helper()
	start := time.Now()
	defer func() { w.t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond)) }()
	deadline := time.After(90 * time.Second)
	for !ok(w.b) {
		select {
		case ev := <-w.events:
			w.b.Apply(ev)
			w.log = append(w.log, describe(w.b, ev))
		case <-deadline:
			w.t.Fatalf("no %s within 90s; events:\n%s", what, strings.Join(w.log, "\n"))
		}
	}
}

func describe(b *Board, ev Event) string {
	name := b.Rows[ev.Participant].Name
	if ev.Key == "" {
		return name + ": " + ev.State.String() + " " + ev.Err
	}
	return name + ": " + ev.Key + " " + string(ev.Result.Verdict) + " " + ev.Result.Code + " " + ev.Result.Summary
}

func kindIs(row int, k Kind) func(*Board) bool {
	return func(b *Board) bool { return b.Cell(row, 0).Kind == k }
}

// TestRoomOnSeveralServers runs one room over three real API servers
// and one address where nothing listens: alice (admin) sees a change
// in her cluster; bob's ServiceAccount has no role, so his cell is
// forbidden; carol's server never answers and delays no one; dave's API
// server is down when the room starts, comes up (the room connects by
// itself), goes down again and comes back (his engine reconnects).
func TestRoomOnSeveralServers(t *testing.T) {
	shared := testcluster.Shared(t)
	other, err := testcluster.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Stop)
	if err := other.Apply(t.Context(), testcluster.WidgetCRD); err != nil {
		t.Fatal(err)
	}
	sa, err := shared.ServiceAccount(t.Context(), "room-test", "no-role")
	if err != nil {
		t.Fatal(err)
	}
	ps := []Participant{
		{Name: "alice", Opts: cluster.Options{Kubeconfig: kubeconfigFile(t, shared, nil, "alice.yaml"), Context: "testcluster"}},
		{Name: "bob", Opts: cluster.Options{Kubeconfig: kubeconfigFile(t, shared, sa, "bob.yaml"), Context: "testcluster"}},
		{Name: "carol", Opts: cluster.Options{Kubeconfig: closedKubeconfig(t), Context: "gone"}},
		{Name: "dave", Opts: cluster.Options{Kubeconfig: kubeconfigFile(t, other, nil, "dave.yaml"), Context: "testcluster"}},
		{Name: "erin", Opts: cluster.Options{Kubeconfig: kubeconfigFile(t, shared, refusedToken(shared.Config), "erin.yaml"), Context: "testcluster"}},
	}
	c, _ := catalogue.Lookup("crd-served")
	p, err := c.Validate(map[string]string{"name": "widgets.room.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	set := []checks.Bound{{Key: "1/1/0", Title: "widgets are served", Check: c, Params: p}}
	cols := []Column{{Step: 1, Title: "Install widgets", Keys: []string{"1/1/0"}}}

	if err := other.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	r := &Room{Participants: ps, Set: set, Timeout: 2 * time.Second, Retry: 100 * time.Millisecond, MaxRetry: 500 * time.Millisecond}
	ctx, cancel := context.WithCancel(t.Context())
	events := make(chan Event, 64)
	stopped := make(chan struct{})
	go func() { r.Run(ctx, events); close(stopped) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30s of its context ending")
		}
	})
	w := &watcher{t: t, b: NewBoard(ps, cols, set), events: events}

	const alice, bob, carol, dave, erin = 0, 1, 2, 3, 4
	w.until("fail for alice, forbidden for bob, unreachable for carol and dave, refused for erin", func(b *Board) bool {
		return kindIs(alice, Fail)(b) && kindIs(bob, Forbidden)(b) && kindIs(carol, Unreachable)(b) && kindIs(dave, Unreachable)(b) &&
			b.Rows[erin].State == Refused
	})
	// erin's API server refuses her token (401): said as such, not as an
	// unreachable cluster, and no one else waits for her.
	if cell := w.b.Cell(erin, 0); cell.Kind != Forbidden || !strings.Contains(strings.ToLower(cell.Problem), "unauthorized") {
		t.Errorf("erin's refused credentials: %+v", cell)
	}
	if cell := w.b.Cell(alice, 0); !strings.Contains(cell.Problem, "widgets.room.example.com") {
		t.Errorf("alice's problem: %+v", cell)
	}
	if cell := w.b.Cell(bob, 0); !strings.Contains(cell.Problem, "forbidden") {
		t.Errorf("bob's problem: %+v", cell)
	}
	if got := w.b.Order(BehindFirst); w.b.Rows[got[0]].Name != "alice" {
		// Everybody is at 0: by name.
		t.Errorf("order %v", got)
	}

	// A change in alice's cluster reaches her cell, by the watch.
	shared.ApplyT(t, testcluster.WidgetCRD)
	w.until("alice passing", kindIs(alice, Pass))
	if got := w.b.Order(BehindFirst); w.b.Rows[got[len(got)-1]].Name != "alice" {
		t.Errorf("alice passes and is not last behind-first: %v", got)
	}
	if got := w.b.Order(AheadFirst); w.b.Rows[got[0]].Name != "alice" {
		t.Errorf("alice passes and is not first ahead-first: %v", got)
	}

	// Dave's server comes up: the room connects by itself.
	if err := other.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	w.until("dave passing once his server is up", kindIs(dave, Pass))

	// It goes away and comes back: his engine notices both.
	if err := other.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	w.until("dave unreachable while his server is down", func(b *Board) bool {
		return kindIs(dave, Unreachable)(b) || kindIs(dave, Pending)(b)
	})
	if err := other.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	w.until("dave passing again", kindIs(dave, Pass))
	if k := w.b.Cell(carol, 0).Kind; k != Unreachable {
		t.Errorf("carol is %v", k)
	}
}

// TestWatchable: the room binds a lesson's reading checks and never its
// acting ones.
func TestWatchable(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		set, cols, err := Watchable(l)
		if err != nil {
			t.Fatal(err)
		}
		if len(cols) != len(l.Steps) {
			t.Errorf("lesson %s: %d columns for %d steps", l.ID, len(cols), len(l.Steps))
		}
		n, acting := 0, 0
		for _, s := range l.Steps {
			n += len(s.Checks)
		}
		for _, c := range cols {
			acting += c.Acting
		}
		for _, b := range set {
			if b.Check.Acts != "" {
				t.Errorf("lesson %s: %s acts and is in the room's set", l.ID, b.Key)
			}
		}
		if len(set)+acting != n {
			t.Errorf("lesson %s: %d watched + %d acting != %d checks", l.ID, len(set), acting, n)
		}
	}
}
