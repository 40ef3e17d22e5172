package tui

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/charmbracelet/x/vt"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/lessons"
)

// Test checks. Their names are prefixed so they never collide with the
// real registry.
func init() {
	catalogue.Register(&checks.Check{Name: "tuitest-watch", Summary: "test", Watch: true,
		Params: []checks.ParamSpec{{Name: "namespace", Type: checks.String, Required: true}}})
	catalogue.Register(&checks.Check{Name: "tuitest-probe", Summary: "test",
		Acts: "sends 100 requests through the ingress gateway"})
	catalogue.Register(&checks.Check{Name: "tuitest-value", Summary: "test", Watch: true,
		Params: []checks.ParamSpec{{Name: "value", Type: checks.Enum, Enum: []string{"STRICT", "PERMISSIVE"}, Required: true}}})
}

func fixtures(t testing.TB) []*lessons.Lesson {
	t.Helper()
	all, err := lessons.LoadFS(os.DirFS("testdata/lessons"))
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// fakeRunner stands in for the check engine: verdicts are set by the
// test, and every change is sent to the current watch like the engine's
// informers would.
type fakeRunner struct {
	mu       sync.Mutex
	verdict  map[string]checks.Verdict // by check name; Fail when unset
	ctx      context.Context
	set      []checks.Bound
	out      chan<- checks.Update
	rechecks int
	runs     int
	value    string // what tuitest-value finds on the "cluster"
}

func newFake() *fakeRunner {
	return &fakeRunner{verdict: map[string]checks.Verdict{}, value: "PERMISSIVE"}
}

func (f *fakeRunner) result(b checks.Bound) checks.Result {
	v := f.verdict[b.Check.Name]
	if v == "" {
		v = checks.Fail
	}
	ok := v == checks.Pass
	return checks.Result{Check: b.Check.Name, Verdict: v, Summary: "mode is " + map[bool]string{true: "STRICT", false: "PERMISSIVE"}[ok],
		Code: "MD0601", At: time.Now(),
		Conditions: []checks.Condition{{Name: "bookinfo mTLS mode", OK: ok, Observed: map[bool]string{true: "STRICT", false: "PERMISSIVE"}[ok],
			Expected: "STRICT", Fix: "kubectl apply -n bookinfo -f strict.yaml"}}}
}

func (f *fakeRunner) Watch(ctx context.Context, set []checks.Bound, out chan<- checks.Update) {
	f.mu.Lock()
	f.ctx, f.set, f.out = ctx, set, out
	f.mu.Unlock()
	f.sendAll()
}

func (f *fakeRunner) sendAll() {
	f.mu.Lock()
	ctx, set, out := f.ctx, f.set, f.out
	var ups []checks.Update
	for _, b := range set {
		ups = append(ups, checks.Update{Key: b.Key, Result: f.result(b)})
	}
	f.mu.Unlock()
	for _, u := range ups {
		select {
		case out <- u:
		case <-ctx.Done():
			return
		}
	}
}

func (f *fakeRunner) setVerdict(name string, v checks.Verdict) {
	f.mu.Lock()
	f.verdict[name] = v
	f.mu.Unlock()
	f.sendAll()
}

func (f *fakeRunner) Recheck() {
	f.mu.Lock()
	f.rechecks++
	f.mu.Unlock()
	f.sendAll()
}

func (f *fakeRunner) Run(ctx context.Context, b checks.Bound, out chan<- checks.Update) checks.Result {
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	if b.Check.Name == "tuitest-value" {
		return checks.Result{Check: b.Check.Name, Verdict: verdictOf(b.Params["value"] == f.value), Summary: "mode is " + f.value}
	}
	for i := 1; i <= 3; i++ {
		r := checks.Result{Check: b.Check.Name, Verdict: checks.Pending, Progress: fmt.Sprintf("%d/100 requests", i*30),
			Bars: []checks.Bar{{Group: "version", Label: "v1", Value: i * 27}, {Group: "version", Label: "v3", Value: i * 3}}}
		select {
		case out <- checks.Update{Key: b.Key, Result: r}:
		case <-ctx.Done():
		}
	}
	res := f.result(b)
	res.Progress = "100/100 requests"
	res.Bars = []checks.Bar{{Group: "version", Label: "v1", Value: 90}, {Group: "version", Label: "v3", Value: 10}}
	return res
}

func (f *fakeRunner) Context() string { return "kind-test" }

func (f *fakeRunner) counts() (rechecks, runs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rechecks, f.runs
}

// saves records every progress snapshot the UI saves.
type saves struct {
	mu   sync.Mutex
	last *progress.State
	n    int
}

func (s *saves) save(p *progress.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last, s.n = p, s.n+1
	return nil
}

func (s *saves) status(lesson, step string) progress.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return ""
	}
	return s.last.StatusOf(lesson, step)
}

// options for a test model: fixture lessons, lesson 6, online with the
// fake runner unless r is nil.
func options(t testing.TB, r checks.Runner, step int, sv *saves) Options {
	o := Options{Lessons: fixtures(t), Lesson: "6", Step: step, Theme: ThemeDark, Context: "kind-test"}
	if r != nil {
		o.Connect = func(context.Context) (checks.Runner, error) { return r, nil }
	} else {
		o.Connect = func(context.Context) (checks.Runner, error) { return nil, fmt.Errorf("no cluster in tests") }
	}
	if sv != nil {
		o.Save = sv.save
	}
	return o
}

// screen runs a model under teatest and reads its output through a
// terminal emulator, so tests assert on what a reader would see.
type screen struct {
	t   testing.TB
	tm  *teatest.TestModel
	mu  sync.Mutex
	emu *vt.Emulator
	raw strings.Builder
}

func run(t testing.TB, m *Model, w, h int) *screen {
	t.Helper()
	s := &screen{t: t, emu: vt.NewEmulator(w, h)}
	go io.Copy(io.Discard, s.emu) // replies to terminal queries go nowhere here
	// The program's output is not a tty here, so Bubble Tea writes bare
	// newlines expecting the tty to add carriage returns; LNM makes the
	// emulator do that.
	s.emu.WriteString("\x1b[20h")
	s.tm = teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	t.Cleanup(func() {
		s.tm.Quit()
		s.tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
		// The emulator is not closed: its Close races with the reader
		// above (in x/vt), and the blocked reader costs nothing.
	})
	return s
}

func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := io.ReadAll(s.tm.Output())
	s.raw.Write(b)
	s.emu.Write(b)
	return s.emu.String()
}

// waitFor polls the screen; the deadline is generous and only reached
// by a failing test.
func (s *screen) waitFor(what string, ok func(string) bool) string {
	s.t.Helper()
	end := time.Now().Add(15 * time.Second)
	for {
		txt := s.text()
		if ok(txt) {
			return txt
		}
		if time.Now().After(end) {
			s.t.Fatalf("timed out waiting for %s; screen:\n%s", what, txt)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *screen) waitText(subs ...string) string {
	s.t.Helper()
	return s.waitFor(fmt.Sprintf("%q", subs), func(txt string) bool {
		for _, sub := range subs {
			if !strings.Contains(txt, sub) {
				return false
			}
		}
		return true
	})
}

// waitGone waits until none of subs is on screen.
func (s *screen) waitGone(subs ...string) string {
	s.t.Helper()
	return s.waitFor(fmt.Sprintf("%q to go away", subs), func(txt string) bool {
		for _, sub := range subs {
			if strings.Contains(txt, sub) {
				return false
			}
		}
		return true
	})
}

func (s *screen) press(keys ...string) {
	for _, k := range keys {
		s.tm.Send(keyMsg(k))
	}
}

func (s *screen) resize(w, h int) {
	s.mu.Lock()
	s.emu.Resize(w, h)
	s.mu.Unlock()
	s.tm.Send(tea.WindowSizeMsg{Width: w, Height: h})
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// direct drives a model without a program, for tests about what Update
// and View do (render counts, styles) rather than about the screen.
func direct(t testing.TB, o Options, w, h int) *Model {
	t.Helper()
	m := New(o)
	drain(t, m, m.Init())
	_, cmd := m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	drain(t, m, cmd)
	return m
}

// drain runs a command and feeds its messages back, like the program
// would. Offline models have no command that waits for long (no watches,
// a steady cursor), so a command still running after the deadline is a
// bug, and fails the test.
func drain(t testing.TB, m *Model, cmd tea.Cmd) {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		if len(queue) > 1000 {
			t.Fatal("drain: commands keep coming")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		done := make(chan tea.Msg, 1)
		go func() { done <- c() }()
		var msg tea.Msg
		select {
		case msg = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("drain: a command is still running after 30s")
		}
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
}

func press(t testing.TB, m *Model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, cmd := m.Update(keyMsg(k))
		drain(t, m, cmd)
	}
}

func view(m *Model) string { return m.View().Content }

func verdictOf(ok bool) checks.Verdict {
	if ok {
		return checks.Pass
	}
	return checks.Fail
}
