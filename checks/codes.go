package checks

import (
	"slices"
	"strings"
	"time"
)

// CommonCodes are the outcomes any check may report: what stops it from
// looking, and what the engine says of it.
var CommonCodes = []Code{
	{CodeNotServed, Error, "a resource the check reads is not served: its CRD is not installed"},
	{CodeForbidden, Error, "the reader's credentials may not read what the check reads"},
	{CodeUnreachable, Error, "the API server could not be reached or did not answer in time"},
	{CodeReadFailed, Error, "a read failed for another reason"},
	{CodeBadParams, Error, "a parameter cannot be used (a lesson bug), found only when the check ran"},
	{CodePanic, Error, "the check crashed: a meshdojo bug"},
	{CodeNotRun, Pending, "the check acts on the cluster and was not asked to run"},
	{CodeUndeclared, Error, "the check read objects its Inputs do not declare: a meshdojo bug"},
}

// Declares says whether code is one of the check's outcomes or one
// every check shares.
func (c *Check) Declares(code string) bool {
	has := func(cs []Code) bool { return slices.ContainsFunc(cs, func(x Code) bool { return x.ID == code }) }
	return has(c.Codes) || has(CommonCodes)
}

// Finish makes every result carry its check's name, parameters and
// time, and keeps its summary to one line of reasonable length (values a
// check quotes may hold newlines).
func Finish(r *Result, c *Check, p Params) {
	if c != nil {
		r.Check = c.Name
	}
	if r.Params == nil {
		r.Params = p
	}
	r.Summary = oneLine(r.Summary)
	if r.At.IsZero() {
		r.At = time.Now()
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:299]) + "…"
	}
	return s
}

// Codes the engine itself gives, next to the ones ErrorResult gives for
// what stops a check from looking.
const (
	CodePanic  = "MD0090" // the check crashed; a meshdojo bug
	CodeNotRun = "MD0091" // the check acts on the cluster and was not asked to run
	// CodeUndeclared: the check listed an input it does not declare; a
	// meshdojo bug, since the engine would not watch it and the reader
	// role would not grant it.
	CodeUndeclared = "MD0092"
)
