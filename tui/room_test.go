package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/internal/room"
)

// roomFixture is a room of four participants and a lesson of three
// steps: two checks in step 1, one in step 2, none in step 3 (a traffic
// test only).
func roomFixture(t *testing.T) (*RoomModel, []checks.Bound) {
	t.Helper()
	c, _ := catalogue.Lookup("crd-served")
	bound := func(key, title, crd string) checks.Bound {
		p, err := c.Validate(map[string]string{"name": crd})
		if err != nil {
			t.Fatal(err)
		}
		return checks.Bound{Key: key, Title: title, Check: c, Params: p}
	}
	set := []checks.Bound{
		bound("9/1/0", "gateways served", "gateways.networking.istio.io"),
		bound("9/1/1", "routes served", "virtualservices.networking.istio.io"),
		bound("9/2/0", "widgets served", "widgets.example.com"),
	}
	cols := []room.Column{
		{Step: 1, Title: "Install", Keys: []string{"9/1/0", "9/1/1"}},
		{Step: 2, Title: "Widgets", Keys: []string{"9/2/0"}},
		{Step: 3, Title: "Send traffic", Acting: 1},
	}
	var ps []room.Participant
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		ps = append(ps, room.Participant{Name: n, Opts: cluster.Options{Context: n + "-ctx"}})
	}
	m := NewRoom(RoomOptions{Board: room.NewBoard(ps, cols, set), Set: set, Theme: ThemeDark})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 20})
	return m, set
}

func result(v checks.Verdict, code string, conds ...checks.Condition) checks.Result {
	return checks.Result{Verdict: v, Code: code, Summary: string(v) + " summary", Conditions: conds, At: time.Now()}
}

var missingWidgets = checks.Condition{Name: "widgets.example.com installed", Observed: "not found", Expected: "an Established CRD",
	Fix: "kubectl apply -f widgets.yaml"}

// feed applies events as the room's engines would send them.
func feed(m *RoomModel, evs ...room.Event) { m.Update(roomEventsMsg(evs)) }

func live(i int) room.Event {
	return room.Event{Participant: i, State: room.Live, Context: "ctx", Server: "https://x"}
}

func res(i int, key string, r checks.Result) room.Event {
	return room.Event{Participant: i, Key: key, Result: r}
}

// gridRows returns the participants' names in screen order.
func gridRows(m *RoomModel) []string {
	var out []string
	for _, l := range strings.Split(ansi.Strip(m.View().Content), "\n") {
		f := strings.Fields(strings.TrimPrefix(l, markCurrent))
		if len(f) > 0 && (f[0] == "alice" || f[0] == "bob" || f[0] == "carol" || f[0] == "dave") {
			out = append(out, f[0])
		}
	}
	return out
}

func lineOf(m *RoomModel, name string) string {
	for _, l := range strings.Split(ansi.Strip(m.View().Content), "\n") {
		if f := strings.Fields(strings.TrimPrefix(l, markCurrent)); len(f) > 0 && f[0] == name {
			return l
		}
	}
	return ""
}

func TestRoomGridSortsByProgress(t *testing.T) {
	m, _ := roomFixture(t)
	pass := result(checks.Pass, "MD0420")
	feed(m, live(0), live(1), live(3),
		// alice: both steps pass.
		res(0, "9/1/0", pass), res(0, "9/1/1", pass), res(0, "9/2/0", pass),
		// bob: step 1 passes, step 2 fails.
		res(1, "9/1/0", pass), res(1, "9/1/1", pass), res(1, "9/2/0", result(checks.Fail, "MD0421", missingWidgets)),
		// carol: unreachable.
		room.Event{Participant: 2, State: room.Down, Err: "cannot reach the API server at https://10.0.0.3:6443: connection refused"},
		// dave: forbidden on step 1.
		res(3, "9/1/0", result(checks.Error, checks.CodeForbidden, checks.Condition{Name: "permission to list customresourcedefinitions", Observed: "forbidden", Expected: "allowed"})),
		res(3, "9/1/1", pass), res(3, "9/2/0", pass),
	)
	// Behind first: carol (nothing passes), then bob and dave (one step
	// each; bob's furthest is step 1, dave's step 2), then alice.
	if got := strings.Join(gridRows(m), " "); got != "carol bob dave alice" {
		t.Errorf("behind first: %s", got)
	}
	m.Update(keyMsg("s"))
	if got := strings.Join(gridRows(m), " "); got != "alice dave bob carol" {
		t.Errorf("ahead first: %s", got)
	}
	m.Update(keyMsg("s"))
	if got := strings.Join(gridRows(m), " "); got != "alice bob carol dave" {
		t.Errorf("by name: %s", got)
	}
	m.Update(keyMsg("s")) // behind first again

	for name, want := range map[string][]string{
		"alice": {markDone + " " + markDone + " " + markNone, "2/2"},
		"bob":   {markDone + " " + markFailed + " " + markNone, "1/2", "step 2: widgets.example.com installed: saw not found"},
		"carol": {markUnreachable + " " + markUnreachable, "0/2", "unreachable: cannot reach"},
		"dave":  {markForbidden + " " + markDone, "1/2", "step 1: permission to list"},
	} {
		l := lineOf(m, name)
		for _, w := range want {
			if !strings.Contains(l, w) {
				t.Errorf("%s's row lacks %q: %q", name, w, l)
			}
		}
	}
	st := ansi.Strip(m.View().Content)
	t.Logf("the grid:\n%s", st)
	if !strings.Contains(st, "3 live · 1 unreachable") {
		t.Errorf("status bar:\n%s", st)
	}

	// A change moves bob ahead; the selection stays on whoever it was on.
	m.Update(keyMsg("down")) // bob, second behind-first
	if m.Selected() != "bob" {
		t.Fatalf("selected %s, want bob", m.Selected())
	}
	feed(m, res(1, "9/2/0", pass))
	if got := strings.Join(gridRows(m), " "); got != "carol dave alice bob" {
		t.Errorf("after bob's fix: %s", got)
	}
	if m.Selected() != "bob" || !strings.HasPrefix(lineOf(m, "bob"), markCurrent) {
		t.Errorf("selection left bob: %s\n%s", m.Selected(), ansi.Strip(m.View().Content))
	}
}

func TestRoomSelectionAndDetails(t *testing.T) {
	m, _ := roomFixture(t)
	pass := result(checks.Pass, "MD0420")
	feed(m, live(0), live(1), live(2), live(3),
		res(0, "9/1/0", pass), res(0, "9/1/1", pass), res(0, "9/2/0", pass),
		res(1, "9/1/0", pass), res(1, "9/1/1", result(checks.Fail, "MD0421", missingWidgets)),
		res(2, "9/1/0", pass), res(2, "9/1/1", pass),
		res(3, "9/1/0", pass), res(3, "9/1/1", pass), res(3, "9/2/0", result(checks.Fail, "MD0421", missingWidgets)),
	)
	// Behind first: bob (0), carol (1, step 2 pending), dave (1), alice.
	if got := strings.Join(gridRows(m), " "); got != "bob carol dave alice" {
		t.Fatalf("order: %s", got)
	}
	if m.Selected() != "bob" {
		t.Errorf("first selected: %s", m.Selected())
	}
	m.Update(keyMsg("up")) // stays at the top
	m.Update(keyMsg("down"))
	m.Update(keyMsg("down"))
	if m.Selected() != "dave" {
		t.Errorf("two down: %s", m.Selected())
	}
	m.Update(keyMsg("G"))
	m.Update(keyMsg("down")) // stays at the bottom
	if m.Selected() != "alice" {
		t.Errorf("end: %s", m.Selected())
	}
	m.Update(keyMsg("g"))
	m.Update(keyMsg("down"))
	m.Update(keyMsg("down")) // dave

	// Details: the reader's details view for dave's checks that do not
	// pass, each titled with its step, with the fix.
	m.Update(keyMsg("enter"))
	d := ansi.Strip(m.View().Content)
	for _, want := range []string{"dave", "Check details", "Step 2 · widgets served", "widgets.example.com installed",
		"not found", "an Established CRD", "kubectl apply -f widgets.yaml", "1 traffic tests"} {
		if !strings.Contains(d, want) {
			t.Errorf("details lack %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "gateways served") {
		t.Errorf("details list a passing check:\n%s", d)
	}
	// A result arriving while it is open shows at once.
	feed(m, res(3, "9/2/0", pass))
	if d := ansi.Strip(m.View().Content); !strings.Contains(d, "Every check the room runs passes for dave") {
		t.Errorf("details after dave's fix:\n%s", d)
	}
	m.Update(keyMsg("esc"))
	if d := ansi.Strip(m.View().Content); !strings.Contains(d, "FIRST PROBLEM") {
		t.Errorf("esc did not go back to the grid:\n%s", d)
	}

	// An unreachable participant's details say why and that the room
	// retries.
	feed(m, room.Event{Participant: 1, State: room.Down, Err: "cannot reach the API server: connection refused"})
	for m.Selected() != "bob" {
		m.Update(keyMsg("up"))
	}
	m.Update(keyMsg("d"))
	if d := ansi.Strip(m.View().Content); !strings.Contains(d, "Not connected: cannot reach the API server") || !strings.Contains(d, "tries again by itself") {
		t.Errorf("bob's details:\n%s", d)
	}
}

func TestRoomScrollsToSelection(t *testing.T) {
	c, _ := catalogue.Lookup("crd-served")
	p, _ := c.Validate(map[string]string{"name": "gateways.networking.istio.io"})
	set := []checks.Bound{{Key: "1/1/0", Title: "t", Check: c, Params: p}}
	var ps []room.Participant
	for i := range 30 {
		ps = append(ps, room.Participant{Name: "p" + string(rune('a'+i/10)) + string(rune('0'+i%10))})
	}
	m := NewRoom(RoomOptions{Board: room.NewBoard(ps, []room.Column{{Step: 1, Keys: []string{"1/1/0"}}}, set), Set: set, Theme: ThemeDark})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 12})
	for range 20 {
		m.Update(keyMsg("down"))
	}
	if m.Selected() != "pc0" {
		t.Fatalf("selected %s", m.Selected())
	}
	v := ansi.Strip(m.View().Content)
	if !strings.Contains(v, markCurrent+" pc0") || strings.Contains(v, "pa0") {
		t.Errorf("the selection is not on screen, or the top did not scroll away:\n%s", v)
	}
	if n := len(strings.Split(v, "\n")); n != 12 {
		t.Errorf("%d lines on a 12-line screen", n)
	}
}
