package lessons

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
)

// Error is a problem at one line of a lesson file. It prints the way a
// compiler's message does, file:line: what is wrong, so an editor can
// jump to it.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// This file is the one binding of a lesson's check blocks and questions
// to the check registry: the UI, `meshdojo check`, `doctor`, the lint and
// the walk test all get a runnable checks.Bound from here, so the lookup,
// the parameter validation, the keys and where an error is reported are
// decided once.

// Bind looks the block's check up in the registry and validates its
// parameters. The Bound's Check is set whenever the check exists, even
// if its parameters are wrong (the UI still shows what it would do);
// Params is set only when they are valid. The error is an *Error, or
// one per bad parameter joined (errors.Join) in line order, each naming
// the line of the offending parameter, or of the block when no single
// parameter is to blame.
func (r *CheckRef) Bind() (checks.Bound, error) {
	b := checks.Bound{Key: r.Key, Title: r.Title}
	c, ok := catalogue.Lookup(r.Name)
	if !ok {
		return b, r.errorf(r.lineOf("check"), "unknown check %q (registered: %s)", r.Name, registered())
	}
	b.Check = c
	p, err := c.Validate(r.Params)
	if err != nil {
		return b, r.paramError(err, "")
	}
	b.Params = p
	return b, nil
}

// Bind binds the question's check with choice (an index into Choices)
// as its value parameter. The question's Check must be set.
func (q *Question) Bind(choice int) (checks.Bound, error) {
	r := q.Check
	if r == nil {
		return checks.Bound{}, fmt.Errorf("the question is judged against its answer, not by a check")
	}
	if choice < 0 || choice >= len(q.Choices) {
		return checks.Bound{}, fmt.Errorf("choice %d: the question has choices 1 to %d", choice+1, len(q.Choices))
	}
	b := checks.Bound{Key: r.Key, Title: q.Prompt}
	c, ok := catalogue.Lookup(r.Name)
	if !ok {
		return b, r.errorf(r.lineOf("check"), "question check with choice %q: unknown check %q (registered: %s)", q.Choices[choice], r.Name, registered())
	}
	b.Check = c
	raw := map[string]string{}
	maps.Copy(raw, r.Params)
	raw["value"] = q.Choices[choice]
	p, err := c.Validate(raw)
	if err != nil {
		return b, r.paramError(err, fmt.Sprintf("question check with choice %q: ", q.Choices[choice]))
	}
	b.Params = p
	return b, nil
}

// paramError places a validation error: at the line of the parameter it
// names when the registry says which one (a *checks.ParamError, alone or
// joined with others), else at the block's first line.
func (r *CheckRef) paramError(err error, prefix string) error {
	var errs []error
	for _, e := range leaves(err) {
		line := r.Line
		var pe *checks.ParamError
		if errors.As(e, &pe) {
			line = r.lineOf(pe.Param)
		}
		errs = append(errs, r.errorf(line, "%s%v", prefix, e))
	}
	// In the order of the file, as a compiler reports.
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].(*Error).Line < errs[j].(*Error).Line })
	return errors.Join(errs...)
}

// leaves flattens errors.Join trees.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

func (r *CheckRef) errorf(line int, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if r.Block > 0 { // a question's messages say so themselves
		msg = fmt.Sprintf("check block %d: %s", r.Block, msg)
	}
	return &Error{File: r.File, Line: line, Msg: msg}
}

// lineOf is the line of a key of the block; a key that is not written
// (a missing parameter, the value a question supplies) is the block's.
func (r *CheckRef) lineOf(key string) int {
	if n, ok := r.Lines[key]; ok {
		return n
	}
	return r.Line
}

func registered() string {
	var names []string
	for _, c := range catalogue.All() {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}
