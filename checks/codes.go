package checks

import (
	"strings"
	"time"
)

// The messages of the outcomes any check may report: what stops it from
// looking (ErrorResult gives these, filled with the typed error that
// says what and why), and what the engine says of it.
var (
	MsgNotServed   = Msg1[error](Code{ID: CodeNotServed, Verdict: Error, Template: "%v", Doc: "a resource the check reads is not served: its CRD is not installed"})
	MsgForbidden   = Msg1[error](Code{ID: CodeForbidden, Verdict: Error, Template: "%v", Doc: "the reader's credentials may not read what the check reads"})
	MsgUnreachable = Msg1[error](Code{ID: CodeUnreachable, Verdict: Error, Template: "%v", Doc: "the API server could not be reached or did not answer in time"})
	MsgReadFailed  = Msg1[error](Code{ID: CodeReadFailed, Verdict: Error, Template: "%v", Doc: "a read failed for another reason"})
	MsgBadParams   = Msg1[error](Code{ID: CodeBadParams, Verdict: Error, Template: "%v", Doc: "a parameter cannot be used (a lesson bug), found only when the check ran"})
	MsgPanic       = Msg1[string](Code{ID: CodePanic, Verdict: Error, Template: "the check %s; this is a meshdojo bug, not a problem with your cluster", Doc: "the check crashed: a meshdojo bug"})
	MsgNotRun      = Msg2[string, string](Code{ID: CodeNotRun, Verdict: Pending, Template: "not run: this check %s (%s)", Doc: "the check acts on the cluster and was not asked to run"})
	MsgUndeclared  = Msg1[error](Code{ID: CodeUndeclared, Verdict: Error, Template: "%v", Doc: "the check read objects its Inputs do not declare: a meshdojo bug"})
)

// CommonCodes are the outcomes any check may report.
var CommonCodes = []Code{MsgNotServed.Code, MsgForbidden.Code, MsgUnreachable.Code, MsgReadFailed.Code,
	MsgBadParams.Code, MsgPanic.Code, MsgNotRun.Code, MsgUndeclared.Code}

// Declares says whether code is one of the check's outcomes or one
// every check shares.
func (c *Check) Declares(code string) bool {
	_, ok := c.CodeOf(code)
	return ok
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
