package cluster

import (
	"testing"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
)

// Every check counts for the RBAC roles and doctor even when no lesson
// uses it yet: made-up parameters that it accepts stand in for a lesson's.
// A check whose examples it refuses would escape the reader role's test
// silently, so this test names it. Checks that read a Kind the lesson
// names (resource-field, resource-count) count only as the lessons use
// them: a made-up kind would be a made-up read.
func TestEveryCheckHasExampleUses(t *testing.T) {
	used := map[string]bool{}
	for _, b := range Uses(nil, true) {
		used[b.Check.Name] = true
	}
	for _, c := range catalogue.All() {
		if !catalogue.Builtin(c) {
			continue
		}
		byKind := false
		for _, p := range c.Params {
			byKind = byKind || p.Type == checks.KindName
		}
		if !used[c.Name] && !byKind {
			_, err := c.Validate(examples(c))
			t.Errorf("%s: no made-up parameters it accepts (%v); give example() a value for its parameter types", c.Name, err)
		}
	}
}
