package lessons_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/lessons"
)

// The lesson linter: every embedded lesson must parse, have sound front
// matter and a unique ID, name only registered checks with valid
// parameters (question checks included, once per choice), have text in
// every step, and link only to steps and lessons that exist. The table
// test below proves it catches each of these on purpose-made bad input.

func TestLintEmbeddedLessons(t *testing.T) {
	// The embed pattern is *.md in this directory, so the files on disk
	// are exactly the embedded ones; Load proves they load as embedded.
	fsys := os.DirFS(".")
	embedded, err := lessons.Load()
	if err != nil {
		t.Fatalf("embedded lessons do not load: %v", err)
	}
	names, _ := fs.Glob(fsys, "*.md")
	lessonsSeen := 0
	for _, n := range names {
		if !strings.EqualFold(n, "README.md") {
			lessonsSeen++
		}
	}
	if lessonsSeen == 0 || lessonsSeen != len(embedded) {
		t.Fatalf("%d lesson files, %d embedded lessons", lessonsSeen, len(embedded))
	}
	for _, p := range lintFS(fsys) {
		t.Error(p)
	}
	// The README's complete example is a lesson too, and must stay valid.
	readme, err := fs.ReadFile(fsys, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	example := lintExample(string(readme))
	if example == "" {
		t.Fatal("README.md has no complete example between the example markers")
	}
	for _, p := range lintFS(fstest.MapFS{"06.md": {Data: []byte(example)}}) {
		t.Errorf("README example: %s", p)
	}
}

// lintExample extracts the example lesson from README.md: the fenced
// block after the line "<!-- example lesson -->".
func lintExample(readme string) string {
	_, rest, ok := strings.Cut(readme, "<!-- example lesson -->")
	if !ok {
		return ""
	}
	rest = strings.TrimLeft(rest, "\n")
	first, body, ok := strings.Cut(rest, "\n")
	fence := strings.TrimSuffix(strings.TrimSpace(first), "markdown")
	if !ok || !strings.HasPrefix(fence, "```") {
		return ""
	}
	src, _, ok := strings.Cut(body, "\n"+fence+"\n")
	if !ok {
		return ""
	}
	return src + "\n"
}

// lintFS lints every lesson in fsys and returns the problems, each
// naming its file and what to do.
func lintFS(fsys fs.FS) []string {
	var probs []string
	names, err := fs.Glob(fsys, "*.md")
	if err != nil {
		return []string{err.Error()}
	}
	var all []*lessons.Lesson
	byID := map[string]string{}
	for _, name := range names {
		if strings.EqualFold(name, "README.md") {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		l, err := lessons.Parse(name, string(data))
		if err != nil {
			probs = append(probs, err.Error())
			continue
		}
		if prev, dup := byID[l.ID]; dup {
			probs = append(probs, fmt.Sprintf("%s: duplicate lesson id %q, already used by %s", name, l.ID, prev))
			continue
		}
		byID[l.ID] = name
		all = append(all, l)
	}
	for _, l := range all {
		probs = append(probs, lintLesson(l, all)...)
	}
	return probs
}

func lintLesson(l *lessons.Lesson, all []*lessons.Lesson) []string {
	var probs []string
	bad := func(line int, format string, args ...any) {
		probs = append(probs, fmt.Sprintf("%s:%d: %s", l.File, line, fmt.Sprintf(format, args...)))
	}
	field := func(f string) int {
		if n, ok := l.Fields[f]; ok {
			return n
		}
		return 1
	}
	if lessons.NormalizeID(l.Chapter) != l.ID {
		bad(field("chapter"), "front matter: chapter %q does not match id %q", l.Chapter, l.ID)
	}
	if _, ok := lessons.ChapterTitle(l.ID); !ok {
		bad(field("id"), "front matter: lesson %s is not a chapter of the book; add it to book.yaml (chapters: %s)", l.ID, lintBookIDs())
	}
	if strings.TrimSpace(l.Lab) == "" {
		bad(1, "front matter: lab is missing (the lab folder the reader sets up, e.g. chapter-06)")
	}
	if l.Minutes > 600 {
		bad(field("minutes"), "front matter: minutes %d is not a plausible estimate", l.Minutes)
	}
	anchors := map[string]int{}
	for i := range l.Steps {
		s := &l.Steps[i]
		if prev, dup := anchors[s.Anchor]; dup {
			bad(s.Line, "step %q has the same anchor #%s as the step on line %d; rename one so links are unambiguous", s.Title, s.Anchor, prev)
		}
		anchors[s.Anchor] = s.Line
	}
	for i := range l.Steps {
		s := &l.Steps[i]
		if strings.TrimSpace(s.Title) == "" {
			bad(s.Line, "step %d has no title", i+1)
		}
		if strings.TrimSpace(lintStripComments(s.Body)) == "" {
			bad(s.Line, "step %q is empty: it needs text for the reader, not only check, hint or question blocks", s.Title)
		}
		for _, ref := range s.Checks {
			if _, err := ref.Bind(); err != nil {
				probs = append(probs, lintLocated(err, s.Title)...)
			}
		}
		if q := s.Question; q != nil && q.Check != nil {
			for n := range q.Choices {
				if _, err := q.Bind(n); err != nil {
					probs = append(probs, lintLocated(err, s.Title)...)
					break
				}
			}
		}
		n := 0
		for _, b := range s.Blocks {
			if b.Kind != lessons.KindHint {
				continue
			}
			if n++; strings.TrimSpace(b.Text) == "" {
				bad(b.Line, "step %q: hint %d is empty", s.Title, n)
			}
		}
		for _, link := range s.Links {
			if err := lintLink(link, l, all); err != nil {
				bad(link.Line, "step %q: %s: %v", s.Title, link.Part, err)
			}
		}
	}
	for _, link := range l.Links {
		if err := lintLink(link, l, all); err != nil {
			bad(link.Line, "introduction: %v", err)
		}
	}
	// Speaker notes are all or nothing: `meshdojo notes` showing nothing
	// for one step would leave the instructor guessing whether it is
	// broken.
	noted := 0
	for i := range l.Steps {
		if l.Steps[i].Notes.Line != 0 {
			noted++
		}
	}
	if noted > 0 {
		for i := range l.Steps {
			if s := &l.Steps[i]; s.Notes.Line == 0 {
				bad(s.Line, "step %q has no notes block, while %d other steps of the lesson have one; add one (```notes) so the instructor is never left without notes", s.Title, noted)
			}
		}
	}
	return probs
}

func lintBookIDs() string {
	var ids []string
	for _, c := range lessons.Chapters() {
		ids = append(ids, c.ID)
	}
	return strings.Join(ids, ", ")
}

// lintLocated turns a binding error into problems at the lines it names.
func lintLocated(err error, step string) []string {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var probs []string
	for _, e := range errs {
		var le *lessons.Error
		if !errors.As(e, &le) {
			probs = append(probs, fmt.Sprintf("step %q: %v (an error without a line: the binding should say where)", step, e))
			continue
		}
		probs = append(probs, fmt.Sprintf("%s:%d: step %q: %s", le.File, le.Line, step, le.Msg))
	}
	return probs
}

// lintLink reports an internal link that leads nowhere. Web links are
// not checked here.
func lintLink(link lessons.Link, l *lessons.Lesson, all []*lessons.Lesson) error {
	t := link.Target
	if strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://") || strings.HasPrefix(t, "mailto:") {
		return nil
	}
	_, _, err := lessons.Resolve(all, l, t)
	return err
}

func lintStripComments(s string) string {
	return regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAllString(s, "")
}

// A check only this test registers, so the bad-input table does not
// depend on the real catalogue.
func init() {
	catalogue.Register(&checks.Check{Name: "linttest-mode", Summary: "test", Watch: true, Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.String, Required: true},
		{Name: "mode", Type: checks.Enum, Enum: []string{"STRICT", "PERMISSIVE"}, Default: "STRICT"},
		{Name: "value", Type: checks.Enum, Enum: []string{"STRICT", "PERMISSIVE"}},
	}})
}

const lintGood = `---
id: 6
chapter: 6
title: Good lesson
summary: A lesson with nothing wrong.
mode: sidecar
lab: chapter-06
minutes: 10
---

Intro linking to [the second step](#second-step) and [chapter 10](lesson:10#timeouts).

## First step

Text, and a link to [the same lesson](#first-step). Code is not a link: ` + "`[x](#nowhere)`" + `

` + "```check\ncheck: linttest-mode\nnamespace: bookinfo\n```" + `

` + "```hint\nA hint.\n```" + `

## Second step

More text.

` + "```question\nprompt: Which mode?\nchoices: STRICT, PERMISSIVE\ncheck: linttest-mode\nnamespace: bookinfo\n```" + `
`

const lintTen = `---
id: 10
chapter: 10
title: Ten
summary: Target of cross-lesson links.
mode: sidecar
lab: chapter-10
minutes: 10
---

## Timeouts

Text.
`

func TestLintCatchesEachDefect(t *testing.T) {
	swap := func(old, new string) string {
		if !strings.Contains(lintGood, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(lintGood, old, new, 1)
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"good", map[string]string{"06.md": lintGood, "10.md": lintTen}, ""},
		{"no front matter", map[string]string{"06.md": "## Step\n\nText.\n"}, "starts with front matter"},
		{"front matter unknown key", map[string]string{"06.md": swap("minutes: 10", "minutes: 10\nlevel: easy")}, "unknown field"},
		{"front matter missing title", map[string]string{"06.md": swap("title: Good lesson\n", "")}, "title is missing"},
		{"front matter bad mode", map[string]string{"06.md": swap("mode: sidecar", "mode: mesh")}, "mode \"mesh\""},
		{"front matter no lab", map[string]string{"06.md": swap("lab: chapter-06\n", ""), "10.md": lintTen}, "lab is missing"},
		{"front matter chapter mismatch", map[string]string{"06.md": swap("chapter: 6", "chapter: 7"), "10.md": lintTen}, "does not match id"},
		{"not in the book", map[string]string{"99.md": strings.NewReplacer("id: 6", "id: 99", "chapter: 6", "chapter: 99").Replace(lintGood), "10.md": lintTen}, "not a chapter of the book"},
		{"id does not match file", map[string]string{"07.md": lintGood}, "does not match the file name"},
		{"duplicate id", map[string]string{"06.md": lintGood, "6.md": lintGood, "10.md": lintTen}, "duplicate lesson id \"6\""},
		{"unknown check", map[string]string{"06.md": swap("check: linttest-mode\nnamespace: bookinfo\n```\n\n```hint", "check: no-such-check\nnamespace: bookinfo\n```\n\n```hint"), "10.md": lintTen}, "unknown check \"no-such-check\""},
		{"unknown parameter", map[string]string{"06.md": swap("namespace: bookinfo\n```\n\n```hint", "namespace: bookinfo\nnamspace: x\n```\n\n```hint"), "10.md": lintTen}, "unknown parameter \"namspace\""},
		{"missing parameter", map[string]string{"06.md": swap("check: linttest-mode\nnamespace: bookinfo\n```\n\n```hint", "check: linttest-mode\n```\n\n```hint"), "10.md": lintTen}, "missing required parameter \"namespace\""},
		{"bad enum", map[string]string{"06.md": swap("namespace: bookinfo\n```\n\n```hint", "namespace: bookinfo\nmode: strict\n```\n\n```hint"), "10.md": lintTen}, "\"strict\" is not one of"},
		{"bad passes", map[string]string{"06.md": swap("namespace: bookinfo\n```\n\n```hint", "namespace: bookinfo\npasses: two\n```\n\n```hint"), "10.md": lintTen}, "parameter \"passes\""},
		{"question check unknown", map[string]string{"06.md": swap("choices: STRICT, PERMISSIVE\ncheck: linttest-mode", "choices: STRICT, PERMISSIVE\ncheck: nope"), "10.md": lintTen}, "question check with choice"},
		{"question choice not valid for check", map[string]string{"06.md": swap("choices: STRICT, PERMISSIVE", "choices: STRICT, MAYBE"), "10.md": lintTen}, "choice \"MAYBE\""},
		{"question answer not a choice", map[string]string{"06.md": swap("choices: STRICT, PERMISSIVE\ncheck: linttest-mode\nnamespace: bookinfo", "choices: STRICT, PERMISSIVE\nanswer: DISABLE")}, "not one of the choices"},
		{"empty step", map[string]string{"06.md": swap("More text.\n", ""), "10.md": lintTen}, "step \"Second step\" is empty"},
		{"empty hint", map[string]string{"06.md": swap("```hint\nA hint.\n```", "```hint\n```"), "10.md": lintTen}, "hint 1 is empty"},
		{"duplicate anchor", map[string]string{"06.md": swap("## Second step", "## First step"), "10.md": lintTen}, "same anchor #first-step"},
		{"broken anchor link", map[string]string{"06.md": swap("(#first-step)", "(#frist-step)"), "10.md": lintTen}, "link #frist-step"},
		{"broken lesson link", map[string]string{"06.md": lintGood}, "there is no lesson \"10\""},
		{"broken cross-lesson anchor", map[string]string{"06.md": swap("lesson:10#timeouts", "lesson:10#retries"), "10.md": lintTen}, "lesson 10 has no step with that anchor"},
		{"relative file link", map[string]string{"06.md": swap("(#first-step)", "(10.md)"), "10.md": lintTen}, "internal links are #step-anchor"},
		{"unclosed fence", map[string]string{"06.md": lintGood + "\n```sh\nls\n"}, "never closed"},
		{"no steps", map[string]string{"06.md": strings.Split(lintGood, "## First step")[0]}, "at least one step"},
		{"notes on some steps only", map[string]string{"06.md": swap("More text.\n", "More text.\n\n```notes\nminutes: 2\nAsk the room.\n```\n"), "10.md": lintTen}, `step "First step" has no notes block, while 1 other`},
		{"bad notes minutes", map[string]string{"06.md": swap("More text.\n", "More text.\n\n```notes\nminutes: soon\nAsk.\n```\n"), "10.md": lintTen}, `minutes "soon" is not a whole number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, src := range tc.files {
				fsys[n] = &fstest.MapFile{Data: []byte(src)}
			}
			probs := lintFS(fsys)
			if tc.want == "" {
				if len(probs) > 0 {
					t.Fatalf("good input reported: %q", probs)
				}
				return
			}
			for _, p := range probs {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("want a problem containing %q, got %q", tc.want, probs)
		})
	}
}

// TestLintLines: the lint names the line to fix, as a compiler does: the
// offending key, link or block, not the step's heading.
func TestLintLines(t *testing.T) {
	swap := func(old, new string) string {
		if !strings.Contains(lintGood, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(lintGood, old, new, 1)
	}
	for _, tc := range []struct {
		name, src, want string
	}{
		{"chapter mismatch", swap("chapter: 6", "chapter: 7"), `06.md:3: front matter: chapter "7"`},
		{"broken intro link", swap("lesson:10#timeouts", "lesson:10#retries"), "06.md:11: introduction: link lesson:10#retries"},
		{"broken body link", swap("(#first-step)", "(#frist-step)"), `06.md:15: step "First step": body: link #frist-step`},
		{"unknown check", swap("check: linttest-mode\nnamespace: bookinfo\n```\n\n```hint", "check: no-such-check\nnamespace: bookinfo\n```\n\n```hint"), `06.md:18: step "First step": check block 1: unknown check "no-such-check"`},
		{"missing parameter", swap("check: linttest-mode\nnamespace: bookinfo\n```\n\n```hint", "check: linttest-mode\n```\n\n```hint"), `06.md:17: step "First step": check block 1: missing required parameter "namespace"`},
		{"unknown parameter", swap("namespace: bookinfo\n```\n\n```hint", "namespace: bookinfo\nnamspace: x\n```\n\n```hint"), `06.md:20: step "First step": check block 1: unknown parameter "namspace"`},
		{"empty hint", swap("```hint\nA hint.\n```", "```hint\n```"), `06.md:22: step "First step": hint 1 is empty`},
		{"duplicate anchor", swap("## Second step", "## First step"), `06.md:26: step "First step" has the same anchor #first-step as the step on line 13`},
		{"notes missing on a step", swap("More text.\n", "More text.\n\n```notes\nAsk the room.\n```\n"), `06.md:13: step "First step" has no notes block`},
		{"notes minutes", swap("More text.\n", "More text.\n\n```notes\nminutes: -1\nAsk.\n```\n"), `06.md:31: notes block: minutes -1 is not a plausible time`},
		{"question choice", swap("choices: STRICT, PERMISSIVE", "choices: STRICT, MAYBE"), `06.md:32: step "Second step": question check with choice "MAYBE": parameter "value"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := lintFS(fstest.MapFS{"06.md": {Data: []byte(tc.src)}, "10.md": {Data: []byte(lintTen)}})
			for _, p := range probs {
				if strings.HasPrefix(p, tc.want) {
					return
				}
			}
			t.Errorf("want a problem starting %q, got %q", tc.want, probs)
		})
	}
}
