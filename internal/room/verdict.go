package room

import (
	"strings"

	"github.com/meshdojo/meshdojo/checks"
)

// FirstFailing is the first condition of r that does not hold, which is
// what the instructor is shown first for a participant. ok is false
// when r has none (a pass, a pending result, or an error that only has
// a summary).
func FirstFailing(r checks.Result) (c checks.Condition, ok bool) {
	for _, c := range r.Conditions {
		if !c.OK {
			return c, true
		}
	}
	return checks.Condition{}, false
}

// Problem is one line saying why r is not a pass: its first failing
// condition (what was seen against what was wanted), or its summary.
func Problem(r checks.Result) string {
	if c, ok := FirstFailing(r); ok {
		s := c.Name + ": " + orNone(c.Observed)
		if c.Expected != "" {
			s += ", expected " + c.Expected
		}
		return s
	}
	return r.Summary
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
