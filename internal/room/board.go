package room

import (
	"sort"
	"strings"

	"github.com/meshdojo/meshdojo/checks"
)

// Kind is what a cell of the room's grid says about one participant's
// step.
type Kind int

// In order of how much it asks of the instructor's attention: a step is
// shown as the worst of its checks.
const (
	NotChecked  Kind = iota // the step has no check the room may run
	Pass                    // every check of the step passes
	Pending                 // not evaluated yet, or counting consecutive passes
	Fail                    // a check fails: the participant has work to do
	Error                   // a check could not look (a CRD not served, a crash)
	Forbidden               // the participant's credentials may not read what a check reads
	Unreachable             // the participant's API server does not answer
)

func (k Kind) String() string {
	return [...]string{"not checked", "pass", "pending", "fail", "error", "forbidden", "unreachable"}[k]
}

// Cell is one participant's step.
type Cell struct {
	Kind Kind
	// Key is the check that decided Kind (the first of the worst), ""
	// when none did; Problem says why it is not a pass, in one line.
	Key     string
	Problem string
}

// Row is one participant as the room last heard of them.
type Row struct {
	Participant
	State   State
	Err     string // why the connection is not Live
	Context string
	Server  string
	Results map[string]checks.Result // by check key
}

// Board is the room's state: a grid of participants by steps, fed by
// Events. It is not safe for concurrent use; the UI owns it.
type Board struct {
	Columns []Column
	Rows    []*Row
	Titles  map[string]string // check key -> title, for details
}

// NewBoard returns a board with every participant connecting and no
// results yet.
func NewBoard(ps []Participant, cols []Column, set []checks.Bound) *Board {
	b := &Board{Columns: cols, Titles: map[string]string{}}
	for _, p := range ps {
		b.Rows = append(b.Rows, &Row{Participant: p, Context: p.Opts.Context, Results: map[string]checks.Result{}})
	}
	for _, s := range set {
		b.Titles[s.Key] = s.Title
	}
	return b
}

// Apply records ev.
func (b *Board) Apply(ev Event) {
	if ev.Participant < 0 || ev.Participant >= len(b.Rows) {
		return
	}
	r := b.Rows[ev.Participant]
	if ev.Key != "" {
		r.Results[ev.Key] = ev.Result
		return
	}
	r.State, r.Err = ev.State, ev.Err
	if ev.Context != "" {
		r.Context = ev.Context
	}
	if ev.Server != "" {
		r.Server = ev.Server
	}
	if ev.State != Live {
		// What was seen before the connection went is no longer known.
		clear(r.Results)
	}
}

// Cell is participant row's cell for column col.
func (b *Board) Cell(row, col int) Cell {
	r, c := b.Rows[row], b.Columns[col]
	if len(c.Keys) == 0 {
		return Cell{Kind: NotChecked}
	}
	switch r.State {
	case Down:
		return Cell{Kind: Unreachable, Problem: oneLine(r.Err)}
	case Refused:
		return Cell{Kind: Forbidden, Problem: oneLine(r.Err)}
	case Connecting:
		return Cell{Kind: Pending, Problem: "connecting"}
	}
	cell := Cell{Kind: Pass}
	for _, k := range c.Keys {
		res, ok := r.Results[k]
		kind := Pending
		if ok {
			kind = kindOf(res)
		}
		if kind > cell.Kind {
			cell = Cell{Kind: kind, Key: k, Problem: "not evaluated yet"}
			if ok {
				cell.Problem = oneLine(Problem(res))
			}
		}
	}
	return cell
}

func kindOf(r checks.Result) Kind {
	switch r.Verdict {
	case checks.Pass:
		return Pass
	case checks.Fail:
		return Fail
	case checks.Error:
		switch r.Code {
		case checks.CodeUnreachable:
			return Unreachable
		case checks.CodeForbidden:
			return Forbidden
		}
		return Error
	}
	return Pending
}

// Progress is how far participant row is: the steps whose checks all
// pass, and the furthest of them (from 1; 0 when none).
func (b *Board) Progress(row int) (passed, furthest int) {
	for col, c := range b.Columns {
		if b.Cell(row, col).Kind == Pass {
			passed++
			furthest = c.Step
		}
	}
	return passed, furthest
}

// Checked is the number of columns that have a check the room runs.
func (b *Board) Checked() int {
	n := 0
	for _, c := range b.Columns {
		if len(c.Keys) > 0 {
			n++
		}
	}
	return n
}

// Sort is an order of the board's rows.
type Sort int

const (
	BehindFirst Sort = iota // least progress first: who needs help
	AheadFirst              // most progress first
	ByName
)

func (s Sort) String() string {
	return [...]string{"behind first", "ahead first", "by name"}[s]
}

// Order returns the rows' indexes in order s. Ties go by name, so the
// order is stable while nothing changes.
func (b *Board) Order(s Sort) []int {
	type key struct {
		passed, furthest int
		name             string
	}
	keys := make([]key, len(b.Rows))
	idx := make([]int, len(b.Rows))
	for i, r := range b.Rows {
		p, f := b.Progress(i)
		keys[i] = key{p, f, strings.ToLower(r.Name)}
		idx[i] = i
	}
	sort.SliceStable(idx, func(x, y int) bool {
		a, c := keys[idx[x]], keys[idx[y]]
		if s != ByName && (a.passed != c.passed || a.furthest != c.furthest) {
			less := a.passed < c.passed || a.passed == c.passed && a.furthest < c.furthest
			if s == AheadFirst {
				return !less
			}
			return less
		}
		return a.name < c.name
	})
	return idx
}
