package room

import (
	"strings"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/session"
)

// Problem is one line saying why r is not a pass, as the reader's check
// panel says it: its first failing condition (what was seen against
// what was wanted), or its summary.
func Problem(r checks.Result) string { return oneLine(session.Failing(&r)) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
