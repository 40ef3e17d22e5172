package session

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/lessons"
)

// Test checks, prefixed so they never collide with the real registry.
func init() {
	catalogue.Register(&checks.Check{Name: "sestest-watch", Summary: "test", Watch: true})
	catalogue.Register(&checks.Check{Name: "sestest-probe", Summary: "test", Acts: "sends 10 requests"})
	catalogue.Register(&checks.Check{Name: "sestest-value", Summary: "test", Watch: true,
		Params: []checks.ParamSpec{{Name: "value", Type: checks.Enum, Enum: []string{"STRICT", "PERMISSIVE"}, Required: true}}})
}

const lesson6 = `---
id: 6
chapter: 6
title: Six
summary: s
mode: sidecar
lab: chapter-06
minutes: 5
---

## Read

Just text.

` + "```sh\nkubectl get pods\n```" + `

## Watched

` + "```check\ncheck: sestest-watch\ntitle: watched check\n```\n\n```hint\nOne.\n```\n\n```hint\nTwo.\n```\n\n~~~~solution\n```sh\nkubectl apply -f fix.yaml\n```\n~~~~\n" + `

## Probe

` + "```check\ncheck: sestest-probe\ntitle: traffic\n```" + `

## Local question

` + "```question\nprompt: Which refuses plain text?\nchoices: PERMISSIVE, STRICT\nanswer: STRICT\nexplain: only mTLS.\n```" + `

## Cluster question

` + "```question\nprompt: Which mode now?\nchoices: STRICT, PERMISSIVE\ncheck: sestest-value\n```" + `

## Broken

` + "```check\ncheck: sestest-nonesuch\ntitle: broken check\n```\n"

const lesson10 = `---
id: 10
chapter: 10
title: Ten
summary: s
mode: sidecar
lab: chapter-10
minutes: 5
---

## First

Text.

## Second

Text.
`

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func newSession(t *testing.T, prog *progress.State) *Session {
	t.Helper()
	all, err := lessons.LoadFS(fstest.MapFS{"06.md": {Data: []byte(lesson6)}, "10.md": {Data: []byte(lesson10)}})
	if err != nil {
		t.Fatal(err)
	}
	if prog == nil {
		prog = progress.New("test")
	}
	return New(all, prog, func() time.Time { return t0 })
}

func (s *Session) status() progress.Status {
	return s.prog.StatusOf(s.Lesson().ID, s.Step().Anchor)
}

func pass(key string) checks.Update {
	return checks.Update{Key: key, Result: checks.Result{Verdict: checks.Pass, Summary: "ok"}}
}

func fail(key string) checks.Update {
	return checks.Update{Key: key, Result: checks.Result{Verdict: checks.Fail, Summary: "no",
		Conditions: []checks.Condition{{Name: "mode", OK: false, Observed: "", Expected: "STRICT"}}}}
}

func TestStartOpensAskedOrResumes(t *testing.T) {
	s := newSession(t, nil)
	s.Start("10", 2)
	if li, si := s.Place(); li != 1 || si != 1 {
		t.Fatalf("--lesson 10 --step 2 opened %d/%d", li, si)
	}
	if s.prog.Last != "10" || s.prog.Lessons["10"].Current != s.Step().Anchor {
		t.Fatalf("the place is not recorded: %+v", s.prog)
	}
	// A new session on the same progress resumes there.
	r := newSession(t, s.prog)
	r.Start("", 0)
	if li, si := r.Place(); li != 1 || si != 1 {
		t.Fatalf("resumed at %d/%d, want 1/1", li, si)
	}
	// A step past the end is the last step.
	r.Start("6", 99)
	if _, si := r.Place(); si != len(r.Lesson().Steps)-1 {
		t.Fatalf("step 99 opened %d", si)
	}
}

func TestGateFollowsChecksAndConnection(t *testing.T) {
	s := newSession(t, nil)
	s.Start("6", 2)
	key := s.Rows()[0].Bound.Key

	s.SetConn(Connecting)
	if open, why := s.Gate(); open || !strings.Contains(why, "still connecting") {
		t.Fatalf("connecting: %v %q", open, why)
	}
	s.SetConn(Offline)
	if open, why := s.Gate(); open || !strings.Contains(why, "offline") || !strings.Contains(why, "x skips") {
		t.Fatalf("offline: %v %q", open, why)
	}
	if ok, _ := s.Pass(); ok {
		t.Fatal("passed a step whose check was never run")
	}
	s.SetConn(Online)
	if open, why := s.Gate(); open || !strings.Contains(why, "still being checked") {
		t.Fatalf("online before a result: %v %q", open, why)
	}
	if s.Apply(fail(key)) {
		t.Fatal("a failing result changed progress")
	}
	if open, why := s.Gate(); open || !strings.Contains(why, `"watched check" is not passing: mode: saw nothing, want STRICT`) {
		t.Fatalf("failing: %v %q", open, why)
	}
	if !s.Apply(pass(key)) {
		t.Fatal("the gate opened but progress did not change")
	}
	if s.status() != progress.Done {
		t.Fatalf("status %q, want done as soon as the checks pass", s.status())
	}
	if s.Apply(pass(key)) {
		t.Fatal("a second pass saved again")
	}
	if s.Apply(pass("6/9/9")) {
		t.Fatal("a result for another step's check was applied")
	}
	// Going offline keeps results; coming back drops them.
	s.SetConn(Offline)
	if open, _ := s.Gate(); !open {
		t.Fatal("a passing result was lost going offline")
	}
	s.SetConn(Online)
	if s.Rows()[0].Res != nil {
		t.Fatal("results of an earlier connection survive reconnecting")
	}
}

func TestPassMarksDoneAndFollowingCrossesLessons(t *testing.T) {
	s := newSession(t, nil)
	s.Start("6", 1)
	if ok, why := s.Pass(); !ok {
		t.Fatalf("a step without checks refused: %s", why)
	}
	if s.status() != progress.Done {
		t.Fatalf("status %q, want done", s.status())
	}
	if li, si, ok := s.Following(); !ok || li != 0 || si != 1 {
		t.Fatalf("following: %d/%d %v", li, si, ok)
	}
	if _, _, ok := s.Previous(); ok {
		t.Fatal("there is a step before the first")
	}
	s.Open(0, len(s.Lesson().Steps)-1)
	if li, si, ok := s.Following(); !ok || li != 1 || si != 0 {
		t.Fatalf("after the last step of 6: %d/%d %v", li, si, ok)
	}
	s.Open(1, 0)
	if li, si, ok := s.Previous(); !ok || li != 0 || si != len(s.Lessons()[0].Steps)-1 {
		t.Fatalf("before the first step of 10: %d/%d %v", li, si, ok)
	}
	s.Open(1, 1)
	if _, _, ok := s.Following(); ok {
		t.Fatal("there is a step after the last of the last lesson")
	}
}

func TestSkipNeverUndoesDone(t *testing.T) {
	s := newSession(t, nil)
	s.Start("6", 2)
	s.Skip()
	if s.status() != progress.Skipped {
		t.Fatalf("status %q, want skipped", s.status())
	}
	s.SetConn(Online)
	s.Apply(pass(s.Rows()[0].Bound.Key))
	s.Skip()
	if s.status() != progress.Done {
		t.Fatalf("skipping a done step made it %q", s.status())
	}
}

func TestResetForgetsRevealedAndStatus(t *testing.T) {
	s := newSession(t, nil)
	s.Start("6", 2)
	s.SetConn(Online)
	if n, total, more := s.RevealHint(); n != 1 || total != 2 || !more {
		t.Fatalf("first hint: %d of %d, %v", n, total, more)
	}
	s.RevealHint()
	if n, _, more := s.RevealHint(); n != 2 || more {
		t.Fatalf("a third hint of two: %d, %v", n, more)
	}
	if !s.RevealSolution() {
		t.Fatal("the solution was not shown")
	}
	s.Apply(pass(s.Rows()[0].Bound.Key))
	s.Reset()
	if got := s.Shown(); got.Hints != 0 || got.Solution || got.Ans.Chosen != -1 {
		t.Fatalf("reset kept %+v", got)
	}
	if s.status() != "" {
		t.Fatalf("reset kept the status %q", s.status())
	}
	if s.Rows()[0].Res != nil {
		t.Fatal("reset kept the check's result")
	}
	// Another step keeps what was revealed and recorded in it.
	s.Open(0, 3)
	s.Choose(1)
	s.Open(0, 1)
	s.Reset()
	s.Open(0, 3)
	if !s.Shown().Ans.Right || s.status() != progress.Done {
		t.Fatalf("resetting step 2 touched step 4: %+v %q", s.Shown().Ans, s.status())
	}
	if s.Open(0, 0); s.RevealSolution() {
		t.Fatal("a step without a solution showed one")
	}
}

func TestCommandsInTurnWithSolution(t *testing.T) {
	s := newSession(t, nil)
	s.Start("6", 2)
	if _, _, n := s.NextCommand(); n != 0 {
		t.Fatalf("%d commands before the solution is shown", n)
	}
	s.RevealSolution()
	if c, i, n := s.NextCommand(); c != "kubectl apply -f fix.yaml" || i != 0 || n != 1 {
		t.Fatalf("NextCommand = %q %d/%d", c, i, n)
	}
	s.Open(0, 0)
	c1, _, _ := s.NextCommand()
	c2, _, _ := s.NextCommand()
	if c1 != "kubectl get pods" || c2 != c1 {
		t.Fatalf("commands in turn: %q, %q", c1, c2)
	}
}

func TestChooseLocalQuestion(t *testing.T) {
	s := newSession(t, nil)
	s.Start("6", 4)
	if got, _, _ := s.Choose(5); got != OutOfRange {
		t.Fatalf("choice 6 of 2: %v", got)
	}
	got, _, saved := s.Choose(0)
	if got != Judged || !saved || s.status() != progress.Failed {
		t.Fatalf("wrong answer: %v saved=%v status=%q", got, saved, s.status())
	}
	if open, why := s.Gate(); open || !strings.Contains(why, "not right yet") {
		t.Fatalf("gate after a wrong answer: %v %q", open, why)
	}
	got, _, saved = s.Choose(1)
	if got != Judged || !saved || s.status() != progress.Done || s.Shown().Ans.Note != "right: only mTLS." {
		t.Fatalf("right answer: %v saved=%v status=%q note=%q", got, saved, s.status(), s.Shown().Ans.Note)
	}
	if got, _, _ := s.Choose(0); got != AlreadyRight {
		t.Fatalf("answering again: %v", got)
	}
	s.Open(0, 0)
	if got, _, _ := s.Choose(0); got != NoQuestion {
		t.Fatalf("a step without a question: %v", got)
	}
}

func TestChooseClusterQuestion(t *testing.T) {
	s := newSession(t, nil)
	s.Start("6", 5)
	s.SetConn(Offline)
	if got, _, _ := s.Choose(0); got != NeedsCluster || !strings.Contains(s.Shown().Ans.Note, "offline") {
		t.Fatalf("offline: %v %q", got, s.Shown().Ans.Note)
	}
	s.SetConn(Online)
	got, b, _ := s.Choose(1)
	if got != ToJudge || b.Params["value"] != "PERMISSIVE" || b.Check.Name != "sestest-value" {
		t.Fatalf("online: %v %+v", got, b)
	}
	if got, _, _ := s.Choose(0); got != StillJudging {
		t.Fatalf("while judging: %v", got)
	}
	if s.JudgedAs(1, checks.Result{Verdict: checks.Error, Summary: "forbidden"}) {
		t.Fatal("an error changed progress")
	}
	if a := s.Shown().Ans; a.Judged || a.Judging || a.Note != "could not judge: forbidden" {
		t.Fatalf("after an error: %+v", a)
	}
	s.Choose(1)
	if !s.JudgedAs(1, checks.Result{Verdict: checks.Pass}) || s.status() != progress.Done {
		t.Fatalf("a right answer on the cluster: status %q", s.status())
	}
}

// TestProbeLifeCycle: consent is the front end's; the session picks the
// check, marks it running, takes progress and the final verdict, and
// records a failure without undoing a step already done.
func TestProbeLifeCycle(t *testing.T) {
	s := newSession(t, nil)
	s.Start("6", 1)
	if _, err := s.ProbeTarget(); !errors.Is(err, ErrNoProbe) {
		t.Fatalf("a step without a probe: %v", err)
	}
	s.Open(0, 2)
	s.SetConn(Offline)
	if _, err := s.ProbeTarget(); !errors.Is(err, ErrProbeOffline) {
		t.Fatalf("offline: %v", err)
	}
	if _, ok := s.StartProbe(0); ok {
		t.Fatal("a probe started offline")
	}
	s.SetConn(Online)
	if len(s.Watchable()) != 0 {
		t.Fatal("a check that acts on the cluster is watched")
	}
	i, err := s.ProbeTarget()
	if err != nil || i != 0 {
		t.Fatalf("ProbeTarget = %d, %v", i, err)
	}
	if open, why := s.Gate(); open || !strings.Contains(why, "t runs it") {
		t.Fatalf("before running: %v %q", open, why)
	}
	b, ok := s.StartProbe(i)
	if !ok || b.Check.Name != "sestest-probe" {
		t.Fatalf("StartProbe = %+v, %v", b, ok)
	}
	if _, ok := s.StartProbe(i); ok {
		t.Fatal("a running probe started twice")
	}
	if open, why := s.Gate(); open || !strings.Contains(why, "is running") {
		t.Fatalf("while running: %v %q", open, why)
	}
	if !s.ProbeProgress(checks.Update{Key: b.Key, Result: checks.Result{Verdict: checks.Pending, Progress: "3/10"}}) || s.Rows()[0].Res.Progress != "3/10" {
		t.Fatal("progress of a running probe not recorded")
	}
	if !s.ProbeDone(b.Key, fail(b.Key).Result) || s.status() != progress.Failed || s.Rows()[0].Running {
		t.Fatalf("a failed probe: status %q", s.status())
	}
	if s.ProbeProgress(checks.Update{Key: b.Key}) {
		t.Fatal("progress recorded for a probe that is not running")
	}
	s.StartProbe(i)
	if !s.ProbeDone(b.Key, pass(b.Key).Result) || s.status() != progress.Done {
		t.Fatalf("a passing probe: status %q", s.status())
	}
	s.StartProbe(i)
	if s.ProbeDone(b.Key, fail(b.Key).Result) || s.status() != progress.Done {
		t.Fatalf("a failed retry undid done: %q", s.status())
	}
}

func TestBrokenCheckHoldsTheGate(t *testing.T) {
	s := newSession(t, nil)
	s.Start("6", 6)
	s.SetConn(Online)
	r := s.Rows()[0]
	if !strings.Contains(r.Problem, `no check named "sestest-nonesuch"`) {
		t.Fatalf("problem = %q", r.Problem)
	}
	if open, why := s.Gate(); open || !strings.Contains(why, "cannot run") {
		t.Fatalf("gate: %v %q", open, why)
	}
	if len(s.Watchable()) != 0 {
		t.Fatal("a broken check is watched")
	}
}

// TestShownChangesNothing: reading what was revealed, as a view does,
// records nothing.
func TestShownChangesNothing(t *testing.T) {
	s := newSession(t, nil)
	s.Start("6", 4)
	s.Shown()
	s.Gate()
	s.Commands()
	if len(s.shown) != 0 {
		t.Fatalf("reading created %d records", len(s.shown))
	}
}

type countingRunner struct{ runs int }

func (r *countingRunner) Watch(context.Context, []checks.Bound, chan<- checks.Update) {}
func (r *countingRunner) Recheck()                                                    {}
func (r *countingRunner) Context() string                                             { return "test" }
func (r *countingRunner) Run(ctx context.Context, b checks.Bound, out chan<- checks.Update) checks.Result {
	r.runs++
	return checks.Result{Verdict: checks.Pass}
}

// TestRunAfterQuitDoesNothing: a run scheduled before the reader quit
// and started after does not reach the runner.
func TestRunAfterQuitDoesNothing(t *testing.T) {
	var a Acting
	r := &countingRunner{}
	if _, ok := a.Run(context.Background(), r, checks.Bound{}, nil); !ok || r.runs != 1 {
		t.Fatalf("an admitted run: ok=%v runs=%d", ok, r.runs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := a.Run(ctx, r, checks.Bound{}, nil); ok || r.runs != 1 {
		t.Fatalf("a cancelled run reached the runner: runs=%d", r.runs)
	}
	a.Close(time.Second)
	if _, ok := a.Run(context.Background(), r, checks.Bound{}, nil); ok || r.runs != 1 {
		t.Fatalf("a run after Close reached the runner: runs=%d", r.runs)
	}
}
