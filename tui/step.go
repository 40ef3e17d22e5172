package tui

import (
	"fmt"
	"strings"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/lessons"
)

// row is one check of the current step as the UI tracks it.
type row struct {
	b       checks.Bound
	problem string         // not runnable: unknown check or bad parameters
	res     *checks.Result // latest result; nil means not checked yet
	running bool           // a probe run is in flight
}

func (r *row) acts() bool { return r.b.Check != nil && r.b.Check.Acts != "" }

func (r *row) verdict() checks.Verdict {
	if r.res == nil {
		return ""
	}
	return r.res.Verdict
}

// bindStep binds a step's check blocks (see CheckRef.Bind). A check
// that cannot be bound still gets a row, so the reader sees what is wrong
// instead of a step that silently has no gate.
func bindStep(l *lessons.Lesson, i int) []row {
	s := &l.Steps[i]
	rows := make([]row, 0, len(s.Checks))
	for _, ref := range s.Checks {
		b, err := ref.Bind()
		r := row{b: b}
		switch {
		case b.Check == nil:
			r.problem = fmt.Sprintf("this build has no check named %q", ref.Name)
		case err != nil:
			r.problem = err.Error()
		}
		rows = append(rows, r)
	}
	return rows
}

// answer is the state of a step's question.
type answer struct {
	chosen  int  // index into Choices, -1 when none
	judging bool // waiting for the cluster to judge
	right   bool
	judged  bool
	note    string // why it could not be judged, or the explanation
}

// gate decides whether the reader may move on, and if not, says what is
// holding them back in one line.
func gate(rows []row, q *lessons.Question, a answer, online bool) (bool, string) {
	for i := range rows {
		r := &rows[i]
		name := fmt.Sprintf("%q", r.b.Title)
		switch {
		case r.problem != "":
			return false, name + " cannot run: " + r.problem + "; x skips"
		case r.verdict() == checks.Pass:
			continue
		case !online:
			return false, name + " not checked (offline); x skips"
		case r.running:
			return false, name + " is running…"
		case r.acts() && r.res == nil:
			return false, name + " has not run; t runs it"
		case r.res == nil || r.verdict() == checks.Pending:
			return false, name + " is still being checked…"
		case r.verdict() == checks.Error:
			return false, name + " could not look: " + r.res.Summary
		default:
			return false, name + " is not passing: " + failing(r.res)
		}
	}
	if q != nil && !(a.judged && a.right) {
		if a.judged {
			return false, "that answer is not right yet — try another (1-" + fmt.Sprint(len(q.Choices)) + ")"
		}
		return false, "answer the question first (press 1-" + fmt.Sprint(len(q.Choices)) + ")"
	}
	return true, ""
}

// failing names the first failing condition, or the summary.
func failing(r *checks.Result) string {
	for _, c := range r.Conditions {
		if !c.OK {
			s := c.Name + ": saw " + orNone(c.Observed) + ", want " + c.Expected
			return strings.TrimSpace(s)
		}
	}
	return r.Summary
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "nothing"
	}
	return s
}
