package engine_test

import (
	"testing"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/engine"
	"github.com/meshdojo/meshdojo/lessons"
)

func init() {
	engine.LessonChecks = func(tb testing.TB, id string) []checks.Bound {
		all, err := lessons.Load()
		if err != nil {
			tb.Fatal(err)
		}
		l, ok := lessons.Find(all, id)
		if !ok {
			tb.Fatalf("no lesson %s", id)
		}
		var out []checks.Bound
		for _, s := range l.Steps {
			for _, ref := range s.Checks {
				b, err := ref.Bind()
				if err != nil {
					tb.Fatal(err)
				}
				out = append(out, b)
			}
		}
		return out
	}
}
