package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/lessons"
)

// Conn is how far the session is from the reader's cluster.
type Conn int

const (
	Connecting Conn = iota
	Online
	Offline
)

// Row is one check of the open step: what it is bound to, and its latest
// state.
type Row struct {
	Bound   checks.Bound
	Problem string         // not runnable: unknown check or bad parameters
	Res     *checks.Result // latest result; nil means not checked yet
	Running bool           // a run that acts on the cluster is in flight
}

// Acts reports whether the row's check acts on the cluster, so it runs
// only with the reader's consent.
func (r *Row) Acts() bool { return r.Bound.Check != nil && r.Bound.Check.Acts != "" }

// Verdict is the latest verdict, "" before the first result.
func (r *Row) Verdict() checks.Verdict {
	if r.Res == nil {
		return ""
	}
	return r.Res.Verdict
}

// Answer is the state of a step's question.
type Answer struct {
	Chosen  int  // index into Choices, -1 when none
	Judging bool // waiting for the cluster to judge
	Right   bool
	Judged  bool
	Note    string // why it could not be judged, or the explanation
}

// Revealed is what the reader uncovered in one step; it survives moving
// away and back within a session, and a reset forgets it.
type Revealed struct {
	Hints    int  // hints shown, from the first
	Solution bool // the solution is shown
	CopyNext int  // which command is copied next
	Ans      Answer
}

// Session is the reader's place in the lessons. It is not safe for
// concurrent use: a front end changes it from one goroutine (Bubble
// Tea's Update), and only Acting is shared with the work it starts.
type Session struct {
	all    []*lessons.Lesson
	prog   *progress.State
	now    func() time.Time
	li, si int
	rows   []Row
	shown  map[string]*Revealed
	conn   Conn
	acting Acting
}

// New starts a session over the lessons, recording in prog. now is the
// clock for progress records (nil: time.Now). It opens nothing: call
// Start or Open.
func New(all []*lessons.Lesson, prog *progress.State, now func() time.Time) *Session {
	if now == nil {
		now = time.Now
	}
	return &Session{all: all, prog: prog, now: now, shown: map[string]*Revealed{}}
}

// Lessons are every lesson, in order.
func (s *Session) Lessons() []*lessons.Lesson { return s.all }

// Progress is the reader's recorded progress.
func (s *Session) Progress() *progress.State { return s.prog }

// Place is the open lesson's and step's indexes.
func (s *Session) Place() (li, si int) { return s.li, s.si }

// Lesson is the open lesson.
func (s *Session) Lesson() *lessons.Lesson { return s.all[s.li] }

// Step is the open step.
func (s *Session) Step() *lessons.Step { return &s.all[s.li].Steps[s.si] }

// Rows are the open step's checks. The slice is the session's own: a
// front end reads it and changes it only through the session's methods.
func (s *Session) Rows() []Row { return s.rows }

// Row finds the open step's row for a check key, or nil.
func (s *Session) Row(key string) *Row {
	for i := range s.rows {
		if s.rows[i].Bound.Key == key {
			return &s.rows[i]
		}
	}
	return nil
}

// Conn is the connection state.
func (s *Session) Conn() Conn { return s.conn }

// Online reports whether checks run.
func (s *Session) Online() bool { return s.conn == Online }

// SetConn records the connection state. Going online drops every result,
// which were either absent or from an earlier connection.
func (s *Session) SetConn(c Conn) {
	if c == Online && s.conn != Online {
		for i := range s.rows {
			s.rows[i].Res = nil
		}
	}
	s.conn = c
}

// Acting tracks the runs that act on the cluster; see Run.
func (s *Session) Acting() *Acting { return &s.acting }

// Shown is what the reader uncovered in the open step, as a copy: it
// reads without changing anything, so a view may call it.
func (s *Session) Shown() Revealed {
	if r := s.shown[s.Lesson().ID+"/"+s.Step().Anchor]; r != nil {
		return *r
	}
	return Revealed{Ans: Answer{Chosen: -1}}
}

// Revealed is what the reader uncovered in the open step, to change.
func (s *Session) Revealed() *Revealed {
	k := s.Lesson().ID + "/" + s.Step().Anchor
	r := s.shown[k]
	if r == nil {
		r = &Revealed{Ans: Answer{Chosen: -1}}
		s.shown[k] = r
	}
	return r
}

// Start opens where the reader asked (a lesson ID and a 1-based step, 0
// for where they left off in it), or with no lesson where they left off.
func (s *Session) Start(lessonID string, step int) {
	if len(s.all) == 0 {
		return
	}
	id := lessonID
	if id == "" {
		id = s.prog.Last
	}
	li := 0
	if l, ok := lessons.Find(s.all, id); ok {
		li = s.index(l)
	}
	if lessonID != "" && step > 0 {
		s.Open(li, min(step-1, len(s.all[li].Steps)-1))
		return
	}
	s.Open(li, s.ResumeStep(li))
}

func (s *Session) index(l *lessons.Lesson) int {
	for i := range s.all {
		if s.all[i] == l {
			return i
		}
	}
	return 0
}

// ResumeStep is the step of lesson li where the reader left off.
func (s *Session) ResumeStep(li int) int {
	l := s.all[li]
	if rec := s.prog.Lessons[l.ID]; rec != nil {
		for i := range l.Steps {
			if l.Steps[i].Anchor == rec.Current {
				return i
			}
		}
	}
	return 0
}

// Open makes a step the reader's place: its checks are bound afresh
// (with no results) and it is recorded as where they are.
func (s *Session) Open(li, si int) {
	s.li, s.si = li, si
	s.rows = bindStep(s.Lesson(), si)
	s.prog.SetCurrent(s.Lesson().ID, s.Step().Anchor, s.now())
}

// bindStep binds a step's check blocks (see CheckRef.Bind). A check
// that cannot be bound still gets a row, so the reader sees what is wrong
// instead of a step that silently has no gate.
func bindStep(l *lessons.Lesson, i int) []Row {
	st := &l.Steps[i]
	rows := make([]Row, 0, len(st.Checks))
	for _, ref := range st.Checks {
		b, err := ref.Bind()
		r := Row{Bound: b}
		switch {
		case b.Check == nil:
			r.Problem = fmt.Sprintf("this build has no check named %q", ref.Name)
		case err != nil:
			r.Problem = err.Error()
		}
		rows = append(rows, r)
	}
	return rows
}

// Following is the step after the open one: the next step, or where the
// reader left off in the next lesson after the last step. ok is false
// after the last step of the last lesson.
func (s *Session) Following() (li, si int, ok bool) {
	switch {
	case s.si+1 < len(s.Lesson().Steps):
		return s.li, s.si + 1, true
	case s.li+1 < len(s.all):
		return s.li + 1, s.ResumeStep(s.li + 1), true
	}
	return s.li, s.si, false
}

// Previous is the step before the open one, across lessons; ok is false
// on the very first step.
func (s *Session) Previous() (li, si int, ok bool) {
	switch {
	case s.si > 0:
		return s.li, s.si - 1, true
	case s.li > 0:
		return s.li - 1, len(s.all[s.li-1].Steps) - 1, true
	}
	return s.li, s.si, false
}

// Gate decides whether the reader may move on, and if not, says what is
// holding them back in one line.
func (s *Session) Gate() (bool, string) {
	open, why := gate(s.rows, s.Step().Question, s.Shown().Ans, s.conn == Online)
	if !open && s.conn == Connecting {
		// Not offline yet: the reader should wait a moment, not skip.
		why = strings.Replace(why, "not checked (offline); x skips", "not checked yet: still connecting to the cluster", 1)
	}
	return open, why
}

func gate(rows []Row, q *lessons.Question, a Answer, online bool) (bool, string) {
	for i := range rows {
		r := &rows[i]
		name := fmt.Sprintf("%q", r.Bound.Title)
		switch {
		case r.Problem != "":
			return false, name + " cannot run: " + r.Problem + "; x skips"
		case r.Verdict() == checks.Pass:
			continue
		case !online:
			return false, name + " not checked (offline); x skips"
		case r.Running:
			return false, name + " is running…"
		case r.Acts() && r.Res == nil:
			return false, name + " has not run; t runs it"
		case r.Res == nil || r.Verdict() == checks.Pending:
			return false, name + " is still being checked…"
		case r.Verdict() == checks.Error:
			return false, name + " could not look: " + r.Res.Summary
		default:
			return false, name + " is not passing: " + Failing(r.Res)
		}
	}
	if q != nil && !(a.Judged && a.Right) {
		if a.Judged {
			return false, "that answer is not right yet — try another (1-" + fmt.Sprint(len(q.Choices)) + ")"
		}
		return false, "answer the question first (press 1-" + fmt.Sprint(len(q.Choices)) + ")"
	}
	return true, ""
}

// Failing names a result's first failing condition, or its summary.
func Failing(r *checks.Result) string {
	for _, c := range r.Conditions {
		if !c.OK {
			return strings.TrimSpace(c.Name + ": saw " + OrNone(c.Observed) + ", want " + c.Expected)
		}
	}
	return r.Summary
}

// OrNone is s, or "nothing" when it is blank.
func OrNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "nothing"
	}
	return s
}

// Pass moves the reader past the open step if its gate is open: the step
// is recorded as done. Otherwise it says why not. The caller opens the
// Following step.
func (s *Session) Pass() (bool, string) {
	open, why := s.Gate()
	if !open {
		return false, why
	}
	s.prog.Mark(s.Lesson().ID, s.Step().Anchor, progress.Done, s.now())
	return true, ""
}

// MarkIfOpen records the open step as done once everything passes, so
// progress is kept even if the reader quits without moving on. It
// reports whether progress changed. A step with neither checks nor a
// question is done only when the reader moves on.
func (s *Session) MarkIfOpen() bool {
	open, _ := s.Gate()
	if !open || len(s.rows) == 0 && s.Step().Question == nil {
		return false
	}
	if s.prog.StatusOf(s.Lesson().ID, s.Step().Anchor) == progress.Done {
		return false
	}
	s.prog.Mark(s.Lesson().ID, s.Step().Anchor, progress.Done, s.now())
	return true
}

// markFailed records a failure, unless the step was done already: a
// failed retry does not undo it.
func (s *Session) markFailed() bool {
	l, st := s.Lesson().ID, s.Step().Anchor
	if s.prog.StatusOf(l, st) == progress.Done {
		return false
	}
	s.prog.Mark(l, st, progress.Failed, s.now())
	return true
}

// Skip records the open step as skipped, not done; a step already done
// stays done. The caller opens the Following step.
func (s *Session) Skip() {
	l, st := s.Lesson().ID, s.Step().Anchor
	if s.prog.StatusOf(l, st) != progress.Done {
		s.prog.Mark(l, st, progress.Skipped, s.now())
	}
}

// Reset starts the open step over, rustlings-style: what the reader
// revealed and answered is forgotten, so is its recorded status, and its
// checks are bound afresh without results (a passing step is marked done
// again as soon as its checks pass). The cluster is not touched.
func (s *Session) Reset() {
	l, st := s.Lesson().ID, s.Step().Anchor
	delete(s.shown, l+"/"+st)
	s.prog.Forget(l, st, s.now())
	s.Open(s.li, s.si)
}

// Apply records a watched check's new result. It reports whether
// progress changed (the gate opened and the step was recorded as done).
func (s *Session) Apply(u checks.Update) bool {
	r := s.Row(u.Key)
	if r == nil {
		return false
	}
	res := u.Result
	r.Res = &res
	return s.MarkIfOpen()
}

// Watchable are the open step's checks that run by themselves: bound
// without a problem, and not acting on the cluster.
func (s *Session) Watchable() []checks.Bound {
	var set []checks.Bound
	for i := range s.rows {
		if s.rows[i].Problem == "" && !s.rows[i].Acts() {
			set = append(set, s.rows[i].Bound)
		}
	}
	return set
}

// RevealHint shows one more hint. It returns how many are shown and how
// many there are; more is false when none was left to show.
func (s *Session) RevealHint() (shown, total int, more bool) {
	r, hints := s.Revealed(), s.Step().Hints
	if r.Hints >= len(hints) {
		return r.Hints, len(hints), false
	}
	r.Hints++
	return r.Hints, len(hints), true
}

// RevealSolution shows the step's solution; false when it has none.
func (s *Session) RevealSolution() bool {
	if s.Step().Solution == "" {
		return false
	}
	s.Revealed().Solution = true
	return true
}

// Commands are the open step's shell blocks, plus the solution's once
// it is shown.
func (s *Session) Commands() []string {
	out := append([]string(nil), s.Step().Commands...)
	if s.Shown().Solution {
		out = append(out, s.Step().SolutionCommands...)
	}
	return out
}

// NextCommand is the next command to copy, in turn; n is 0 when the
// step has none, and i is the command's index.
func (s *Session) NextCommand() (cmd string, i, n int) {
	cmds := s.Commands()
	if len(cmds) == 0 {
		return "", 0, 0
	}
	r := s.Revealed()
	i = r.CopyNext % len(cmds)
	r.CopyNext++
	return cmds[i], i, len(cmds)
}

// Errors for a probe (a check that acts on the cluster) that cannot run.
var (
	ErrNoProbe      = errors.New("this step has no traffic test to run")
	ErrProbeOffline = errors.New("traffic tests need a cluster, and none is connected")
)

// ProbeTarget is the row a probe request is about: the step's first
// runnable check that acts on the cluster, preferring one that is not
// passing yet. It may be running already (then Row.Running is set).
func (s *Session) ProbeTarget() (int, error) {
	i := -1
	for n := range s.rows {
		if s.rows[n].Acts() && s.rows[n].Problem == "" {
			if i < 0 || s.rows[i].Verdict() == checks.Pass && s.rows[n].Verdict() != checks.Pass {
				i = n
			}
		}
	}
	switch {
	case i < 0:
		return -1, ErrNoProbe
	case s.conn != Online:
		return i, ErrProbeOffline
	}
	return i, nil
}

// StartProbe marks row i running, after the reader consented, and
// returns what to run (with Run). ok is false when it cannot run now.
func (s *Session) StartProbe(i int) (b checks.Bound, ok bool) {
	if i < 0 || i >= len(s.rows) || s.conn != Online || s.rows[i].Running || !s.rows[i].Acts() || s.rows[i].Problem != "" {
		return checks.Bound{}, false
	}
	r := &s.rows[i]
	r.Running, r.Res = true, nil
	return r.Bound, true
}

// ProbeProgress records an intermediate result of a running probe.
func (s *Session) ProbeProgress(u checks.Update) bool {
	r := s.Row(u.Key)
	if r == nil || !r.Running {
		return false
	}
	res := u.Result
	r.Res = &res
	return true
}

// ProbeDone records a probe's final result: a pass may open the gate
// (the step is done), a fail is recorded as failed unless the step is
// done already. It reports whether progress changed.
func (s *Session) ProbeDone(key string, res checks.Result) (saved bool) {
	r := s.Row(key)
	if r == nil {
		return false
	}
	r.Running = false
	r.Res = &res
	switch res.Verdict {
	case checks.Pass:
		return s.MarkIfOpen()
	case checks.Fail:
		return s.markFailed()
	}
	return false
}

// Run runs a bound check that acts on the cluster, admitted by a: it does
// nothing (ok false) when ctx is done or a is closed, because the reader
// quit before the work started. It is safe to call from any goroutine.
func (a *Acting) Run(ctx context.Context, r checks.Runner, b checks.Bound, out chan<- checks.Update) (res checks.Result, ok bool) {
	if ctx.Err() != nil || !a.Begin() {
		return checks.Result{}, false
	}
	defer a.End()
	return r.Run(ctx, b, out), true
}

// Choice is what choosing an answer led to.
type Choice int

const (
	NoQuestion   Choice = iota // the step has no question
	OutOfRange                 // there is no such choice
	StillJudging               // the last answer is still being judged
	AlreadyRight               // the question was answered right already
	Judged                     // judged at once against the lesson's answer
	NeedsCluster               // judged on the cluster, and none is connected
	CannotJudge                // the question's check cannot be bound
	ToJudge                    // run the returned check (with Run), then call JudgedAs
)

// Choose takes the reader's answer (0-based). A question with a plain
// answer is judged at once (saved reports whether progress changed);
// one judged on the cluster returns the check to run, and the answer
// waits for JudgedAs.
func (s *Session) Choose(choice int) (got Choice, run checks.Bound, saved bool) {
	q := s.Step().Question
	a := s.Shown().Ans
	switch {
	case q == nil:
		return NoQuestion, run, false
	case choice < 0 || choice >= len(q.Choices):
		return OutOfRange, run, false
	case a.Judging:
		return StillJudging, run, false
	case a.Judged && a.Right:
		return AlreadyRight, run, false
	}
	r := s.Revealed()
	r.Ans = Answer{Chosen: choice}
	if q.Check == nil {
		v := checks.Fail
		if q.Choices[choice] == q.Answer {
			v = checks.Pass
		}
		return Judged, run, s.JudgedAs(choice, checks.Result{Verdict: v})
	}
	if s.conn != Online {
		r.Ans.Note = "this answer is judged on your cluster; you are offline (x skips)"
		return NeedsCluster, run, false
	}
	b, err := q.Bind(choice)
	if err != nil {
		r.Ans.Note = err.Error()
		return CannotJudge, run, false
	}
	r.Ans.Judging = true
	return ToJudge, b, false
}

// JudgedAs records the verdict on an answer. A right answer may open the
// gate (the step is done); a wrong one is recorded as failed unless the
// step is done already; an error leaves the answer unjudged. It reports
// whether progress changed.
func (s *Session) JudgedAs(choice int, res checks.Result) (saved bool) {
	q, r := s.Step().Question, s.Revealed()
	r.Ans = Answer{Chosen: choice, Judged: res.Verdict == checks.Pass || res.Verdict == checks.Fail, Right: res.Verdict == checks.Pass}
	switch {
	case r.Ans.Right:
		r.Ans.Note = "right"
		if q.Explain != "" {
			r.Ans.Note = "right: " + q.Explain
		}
		return s.MarkIfOpen()
	case r.Ans.Judged:
		r.Ans.Note = "not right; try another choice (h for a hint)"
		return s.markFailed()
	default:
		r.Ans.Note = "could not judge: " + res.Summary
	}
	return false
}
