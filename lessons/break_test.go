package lessons_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/lessons"
)

var breakFixture = []string{
	/* 1 */ "---",
	/* 2 */ "id: 14",
	/* 3 */ "chapter: 14",
	/* 4 */ "title: Breaks",
	/* 5 */ "summary: Break blocks.",
	/* 6 */ "mode: sidecar",
	/* 7 */ "lab: chapter-06",
	/* 8 */ "minutes: 10",
	/* 9 */ "---",
	/* 10 */ "",
	/* 11 */ "## Break it",
	/* 12 */ "",
	/* 13 */ "Press b.",
	/* 14 */ "",
	/* 15 */ "```break tls-off",
	/* 16 */ "apiVersion: networking.istio.io/v1",
	/* 17 */ "kind: DestinationRule",
	/* 18 */ "metadata:",
	/* 19 */ "  name: ratings",
	/* 20 */ "  namespace: bookinfo",
	/* 21 */ "spec:",
	/* 22 */ "  host: ratings",
	/* 23 */ "  trafficPolicy: {tls: {mode: DISABLE}}",
	/* 24 */ "```",
}

func TestBreakBlock(t *testing.T) {
	l, err := lessons.Parse("14.md", numbered(breakFixture...))
	if err != nil {
		t.Fatal(err)
	}
	s := l.Steps[0]
	b := s.Break
	if b == nil || b.ID != "14.tls-off" || b.Line != 15 || len(b.Objects) != 1 || b.Objects[0].GetName() != "ratings" {
		t.Fatalf("break %+v", b)
	}
	if strings.Contains(s.Body, "DestinationRule") {
		t.Errorf("the break's YAML is in the step's text:\n%s", s.Body)
	}
}

// A break's problems are reported at the file's lines.
func TestBreakBlockErrorsAtTheirLines(t *testing.T) {
	for _, c := range []struct {
		line    int
		replace string
		want    string
	}{
		{17, "kind: Secret", `14.md:17: break tls-off: a break may not write networking.istio.io/v1 "Secret"`},
		{20, "  namespace: kube-system", `14.md:20: break tls-off: a break may not write in namespace "kube-system"`},
		{15, "```break", "14.md:15: a break block is opened with ```break NAME"},
		{15, "```break Tls_Off", "14.md:15: break name"},
		{23, "  trafficPolicy: [", "14.md:23: break tls-off: not valid YAML"},
	} {
		src := append([]string(nil), breakFixture...)
		src[c.line-1] = c.replace
		_, err := lessons.Parse("14.md", numbered(src...))
		var le *lessons.Error
		if err == nil || !errors.As(err, &le) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("line %d %q: %v, want %q", c.line, c.replace, err, c.want)
		}
	}
	// Two breaks in one step, and one name twice in a lesson.
	two := append(append([]string(nil), breakFixture...), "", "```break other", "apiVersion: networking.istio.io/v1", "kind: Sidecar", "metadata: {name: s, namespace: bookinfo}", "```")
	if _, err := lessons.Parse("14.md", numbered(two...)); err == nil || !strings.Contains(err.Error(), "14.md:26: step \"Break it\" has more than one break block (the first is on line 15)") {
		t.Errorf("two breaks in a step: %v", err)
	}
	again := append(append([]string(nil), breakFixture...), "", "## Again", "", "Text.", "", "```break tls-off", "apiVersion: networking.istio.io/v1", "kind: Sidecar", "metadata: {name: s, namespace: bookinfo}", "```")
	if _, err := lessons.Parse("14.md", numbered(again...)); err == nil || !strings.Contains(err.Error(), "14.md:30: break name \"tls-off\" is already used on line 15") {
		t.Errorf("a name twice: %v", err)
	}
}
