package lessons_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/lessons"
)

// The parser keeps the line of everything a lint error or a reader's
// report may point at. These tests pin exact line numbers, counted from
// 1 as editors and compilers count them.

// numbered joins lines into a file; the index of each line in the slice
// plus one is its line number, which the comments in the fixtures say.
func numbered(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

var lineFixture = []string{
	/* 1 */ "---",
	/* 2 */ "# a comment in the front matter",
	/* 3 */ "id: 6",
	/* 4 */ "chapter: 6",
	/* 5 */ "title: Lines",
	/* 6 */ "summary: Where everything is.",
	/* 7 */ "mode: sidecar",
	/* 8 */ "lab: chapter-06",
	/* 9 */ "minutes: 10",
	/* 10 */ "---",
	/* 11 */ "",
	/* 12 */ "Intro with [a link](#second).",
	/* 13 */ "",
	/* 14 */ "## First",
	/* 15 */ "",
	/* 16 */ "Some text, then a command:",
	/* 17 */ "",
	/* 18 */ "```sh",
	/* 19 */ "kubectl get pods",
	/* 20 */ "```",
	/* 21 */ "",
	/* 22 */ "```check",
	/* 23 */ "check: linttest-mode",
	/* 24 */ "title: the mode",
	/* 25 */ "# a comment line",
	/* 26 */ "namespace: bookinfo",
	/* 27 */ "mode: STRICT",
	/* 28 */ "```",
	/* 29 */ "",
	/* 30 */ "```hint",
	/* 31 */ "Look at",
	/* 32 */ "[the second step](#second).",
	/* 33 */ "```",
	/* 34 */ "",
	/* 35 */ "1. A list item with its own block:",
	/* 36 */ "",
	/* 37 */ "   ```check",
	/* 38 */ "   check: linttest-mode",
	/* 39 */ "   namespace: istio-system",
	/* 40 */ "   ```",
	/* 41 */ "",
	/* 42 */ "## Second",
	/* 43 */ "",
	/* 44 */ "Text with",
	/* 45 */ "a link on its second line: [back](#first).",
	/* 46 */ "",
	/* 47 */ "~~~~question",
	/* 48 */ "prompt: Which mode?",
	/* 49 */ "choices: STRICT, PERMISSIVE",
	/* 50 */ "check: linttest-mode",
	/* 51 */ "namespace: bookinfo",
	/* 52 */ "explain: See [the first step](#first).",
	/* 53 */ "~~~~",
}

func TestParseLines(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"LF", numbered(lineFixture...)},
		{"CRLF", strings.ReplaceAll(numbered(lineFixture...), "\n", "\r\n")},
		{"no final newline", strings.TrimSuffix(numbered(lineFixture...), "\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := lessons.Parse("06.md", tc.src)
			if err != nil {
				t.Fatal(err)
			}
			eq := func(what string, got, want any) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: got %v, want %v", what, got, want)
				}
			}
			eq("front matter fields", l.Fields, map[string]int{"id": 3, "chapter": 4, "title": 5, "summary": 6, "mode": 7, "lab": 8, "minutes": 9})
			eq("intro links", l.Links, []lessons.Link{{Text: "a link", Target: "#second", Line: 12, Part: "intro"}})
			if len(l.Steps) != 2 {
				t.Fatalf("%d steps", len(l.Steps))
			}
			s1, s2 := &l.Steps[0], &l.Steps[1]
			eq("step lines", []int{s1.Line, s2.Line}, []int{14, 42})
			var blocks [][3]any
			for _, b := range s1.Blocks {
				blocks = append(blocks, [3]any{b.Kind, b.Line, b.End})
			}
			eq("step 1 blocks", blocks, [][3]any{{"sh", 18, 20}, {"check", 22, 28}, {"hint", 30, 33}, {"check", 37, 40}})
			eq("commands", s1.Commands, []string{"kubectl get pods"})
			if len(s1.Checks) != 2 {
				t.Fatalf("%d checks", len(s1.Checks))
			}
			c1, c2 := s1.Checks[0], s1.Checks[1]
			eq("check 1 line", c1.Line, 22)
			eq("check 1 key lines", c1.Lines, map[string]int{"check": 23, "title": 24, "namespace": 26, "mode": 27})
			eq("check 1 params", c1.Params, map[string]string{"namespace": "bookinfo", "mode": "STRICT"})
			eq("check 2 (in a list) lines", []any{c2.Line, c2.Lines}, []any{37, map[string]int{"check": 38, "namespace": 39}})
			eq("check 2 params", c2.Params, map[string]string{"namespace": "istio-system"})
			eq("keys", []string{c1.Key, c2.Key, s2.Question.Check.Key}, []string{"6/1/0", "6/1/1", "6/2/q"})
			eq("step 1 body", s1.Body, "Some text, then a command:\n\n```sh\nkubectl get pods\n```\n\n\n\n1. A list item with its own block:")
			eq("step 1 links", s1.Links, []lessons.Link{{Text: "the second step", Target: "#second", Line: 32, Part: "hint", Hint: 1}})
			q := s2.Question
			eq("question line", q.Line, 47)
			eq("question key lines", q.Lines, map[string]int{"prompt": 48, "choices": 49, "check": 50, "namespace": 51, "explain": 52})
			eq("question check: a choice is the choices line's", q.Check.Lines["value"], 49)
			eq("step 2 links", s2.Links, []lessons.Link{
				{Text: "back", Target: "#first", Line: 45, Part: "body"},
				{Text: "the first step", Target: "#first", Line: 52, Part: "explain"},
			})
		})
	}
}

// errorLines parses src and returns "line: message" for every problem.
func errorLines(t *testing.T, src string) []string {
	t.Helper()
	_, err := lessons.Parse("06.md", src)
	if err == nil {
		return nil
	}
	var out []string
	for _, e := range unjoin(err) {
		var le *lessons.Error
		if !errors.As(e, &le) {
			t.Fatalf("an error without a line: %v", e)
		}
		if le.File != "06.md" || !strings.HasPrefix(le.Error(), "06.md:") {
			t.Fatalf("error %q does not name the file as file:line", le.Error())
		}
		out = append(out, le.Error())
	}
	return out
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// with returns the fixture with line n (from 1) replaced by lines.
func with(n int, lines ...string) string {
	out := append([]string{}, lineFixture[:n-1]...)
	out = append(out, lines...)
	return numbered(append(out, lineFixture[n:]...)...)
}

func TestParseErrorLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string // each error's prefix: file:line: and the start of the message
	}{
		{"no front matter", "## Step\n\nText.\n", []string{"06.md:1: a lesson starts with front matter"}},
		{"front matter not closed", "---\nid: 6\n", []string{"06.md:1: front matter is not closed"}},
		{"unknown front matter field", with(9, "minutes: 10", "level: easy"), []string{`06.md:10: front matter: unknown field "level"`}},
		{"bad mode", with(7, "mode: mesh"), []string{`06.md:7: front matter: mode "mesh"`}},
		{"minutes not a number", with(9, "minutes: ten"), []string{`06.md:9: front matter: minutes "ten" is not a whole number`, "06.md:9: front matter: minutes must be"}},
		{"id does not match", with(3, "id: 7"), []string{`06.md:3: front matter: id "7" does not match the file name`}},
		{"missing title", with(5), []string{"06.md:1: front matter: title is missing"}},
		{"YAML syntax", with(5, "title: [unclosed"), []string{"06.md:1: front matter is not valid YAML: yaml: "}},
		{"first line of a check block", with(23, "chek linttest-mode"), []string{`06.md:23: check block: "chek linttest-mode" is not a key: value line`}},
		{"a parameter line", with(26, "namespace bookinfo"), []string{`06.md:26: check block: "namespace bookinfo" is not a key: value line`}},
		{"last line of a block", with(27, "mode STRICT"), []string{`06.md:27: check block: "mode STRICT" is not a key: value line`}},
		{"a key twice", with(27, "namespace: other"), []string{`06.md:27: check block: key "namespace" appears twice in the block (first on line 26)`}},
		{"no check key", with(23, "# no name"), []string{"06.md:22: check block: the first key must be `check: <name>`"}},
		{"a line in a list item's block", with(39, "   namespace istio-system"), []string{`06.md:39: check block: "namespace istio-system" is not a key: value line`}},
		{"question answer not a choice", with(50, "answer: DISABLE"), []string{`06.md:50: question block: answer "DISABLE" is not one of the choices`}},
		{"question with one choice", with(49, "choices: STRICT"), []string{"06.md:49: question block: needs a prompt and at least two"}},
		{"two solutions", with(33, "```", "", "```solution", "One.", "```", "", "```solution", "Two.", "```"), []string{`06.md:39: step "First" has more than one solution block`}},
		{"unclosed fence", numbered(append(lineFixture, "", "```sh", "ls")...), []string{"06.md:55: this code fence (```) is never closed"}},
		{"setext heading", with(16, "Some text", "---"), []string{"06.md:16: a line of dashes under text"}},
		{"several problems, in line order", with(26, "namespace bookinfo", "mode STRICT"), []string{
			`06.md:26: check block: "namespace bookinfo"`, `06.md:27: check block: "mode STRICT"`}},
		{"no steps", numbered(lineFixture[:13]...), []string{"06.md:10: a lesson needs at least one step"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, src := range []string{tc.src, strings.ReplaceAll(tc.src, "\n", "\r\n")} {
				got := errorLines(t, src)
				if len(got) != len(tc.want) {
					t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
				}
				for i := range got {
					if !strings.HasPrefix(got[i], tc.want[i]) {
						t.Errorf("error %d:\ngot  %s\nwant %s...", i+1, got[i], tc.want[i])
					}
				}
			}
		})
	}
}

// TestBindErrorLines: binding errors name the line to fix: the check's
// name for an unknown check, the choices for a choice the check refuses.
func TestBindErrorLines(t *testing.T) {
	l, err := lessons.Parse("06.md", with(23, "check: no-such-check"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Steps[0].Checks[0].Bind()
	if err == nil || !strings.HasPrefix(err.Error(), `06.md:23: check block 1: unknown check "no-such-check"`) {
		t.Errorf("unknown check: %v", err)
	}
	if b, err := l.Steps[0].Checks[1].Bind(); err != nil || b.Key != "6/1/1" || b.Check == nil || b.Params["namespace"] != "istio-system" || b.Params["mode"] != "STRICT" {
		t.Errorf("good check: %+v, %v", b, err)
	}

	l, err = lessons.Parse("06.md", with(49, "choices: STRICT, MAYBE"))
	if err != nil {
		t.Fatal(err)
	}
	q := l.Steps[1].Question
	if b, err := q.Bind(0); err != nil || b.Params["value"] != "STRICT" || b.Title != q.Prompt || b.Key != "6/2/q" {
		t.Errorf("choice 1: %+v, %v", b, err)
	}
	if _, err := q.Bind(1); err == nil || !strings.HasPrefix(err.Error(), `06.md:49: question check with choice "MAYBE": parameter "value": "MAYBE" is not one of`) {
		t.Errorf("choice 2: %v", err)
	}
	if _, err := q.Bind(2); err == nil {
		t.Error("choice 3 of 2 bound")
	}
}

// TestBindParameterLines: each bad parameter is reported at its own
// line, in the order of the file; a missing one at the block.
func TestBindParameterLines(t *testing.T) {
	l, err := lessons.Parse("06.md", with(27, "mode: strict", "passes: 0", "namspace: x"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Steps[0].Checks[0].Bind()
	var got []string
	for _, e := range unjoin(err) {
		got = append(got, e.Error())
	}
	want := []string{
		`06.md:27: check block 1: parameter "mode": "strict" is not one of`,
		`06.md:28: check block 1: parameter "passes": "0"`,
		`06.md:29: check block 1: unknown parameter "namspace"`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("got  %s\nwant %s...", got[i], want[i])
		}
	}
	l, err = lessons.Parse("06.md", with(26))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Steps[0].Checks[0].Bind(); err == nil || !strings.HasPrefix(err.Error(), `06.md:22: check block 1: missing required parameter "namespace"`) {
		t.Errorf("missing parameter: %v", err)
	}
	// The second check block of a step says so.
	l, err = lessons.Parse("06.md", with(39, "   namespace: istio-system", "   mode: strict"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Steps[0].Checks[1].Bind(); err == nil || !strings.HasPrefix(err.Error(), `06.md:40: check block 2: parameter "mode"`) {
		t.Errorf("second block: %v", err)
	}
}

func TestParseSolutionCommands(t *testing.T) {
	src := with(33, "```", "", "~~~~solution", "First:", "", "```sh", "kubectl apply -f a.yaml", "```", "", "```yaml", "kind: X", "```", "", "```bash", "kubectl get x", "```", "~~~~")
	l, err := lessons.Parse("06.md", src)
	if err != nil {
		t.Fatal(err)
	}
	s := &l.Steps[0]
	if want := []string{"kubectl apply -f a.yaml", "kubectl get x"}; !reflect.DeepEqual(s.SolutionCommands, want) {
		t.Errorf("solution commands %q, want %q", s.SolutionCommands, want)
	}
	if want := []string{"kubectl get pods"}; !reflect.DeepEqual(s.Commands, want) {
		t.Errorf("commands %q, want %q (a solution's are not the step's)", s.Commands, want)
	}
	if !strings.HasPrefix(s.Solution, "First:\n\n```sh\n") || strings.Contains(s.Body, "kubectl apply") {
		t.Errorf("solution %q / body %q", s.Solution, s.Body)
	}
}

// TestLinks: links as Markdown has them, not inside code, with lines.
func TestLinks(t *testing.T) {
	md := "Text\nand [a step](#one) and `[code](#not)`,\n\n```sh\necho [no](#link)\n```\n\n[ref][r] <https://istio.io>\n\n[r]: lesson:10#two\n"
	want := []lessons.Link{
		{Text: "a step", Target: "#one", Line: 2},
		{Text: "ref", Target: "lesson:10#two", Line: 8},
		{Text: "https://istio.io", Target: "https://istio.io", Line: 8},
	}
	if got := lessons.Links(md); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
