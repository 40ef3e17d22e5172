// Package lessons loads meshdojo's lessons: one Markdown file per chapter
// of the book, embedded in the binary so that `go install` gives a
// working tutorial with no files beside it.
//
// The format is described, with a complete example, in README.md in this
// directory. In short: YAML front matter, an introduction, then one step
// per `##` section. Fenced blocks whose info string is check, hint,
// solution or question are taken out of the step's text and given to the
// UI as structured data.
package lessons

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

//go:embed *.md
var files embed.FS

// Lesson is one chapter of the book.
type Lesson struct {
	ID      string `json:"id"`      // "6", "10", "a2"
	Chapter string `json:"chapter"` // as the book numbers it: "6", "A2"
	Title   string `json:"title"`
	Summary string `json:"summary"`
	Mode    string `json:"mode"`    // Istio data-plane mode the lab uses: sidecar, ambient or none
	Lab     string `json:"lab"`     // the lab folder to set up, e.g. chapter-06
	Minutes int    `json:"minutes"` // estimated time
	Intro   string `json:"-"`       // Markdown before the first step
	Steps   []Step `json:"-"`
	File    string `json:"-"`
}

// Step is one `##` section of a lesson.
type Step struct {
	Title    string
	Anchor   string // GitHub-style slug of the title, for internal links
	Body     string // Markdown with check, hint, solution and question blocks removed
	Checks   []CheckRef
	Hints    []string // a ladder: shown one at a time
	Solution string   // Markdown, hidden until asked for
	Commands []string // shell blocks, in order, for the copy key
	Question *Question
	Line     int // line of the heading in the file, for error messages
}

// CheckRef is a check block, or the check of a question: the name of a
// registered check and its raw parameters, as written. Bind turns it
// into something the engine runs.
type CheckRef struct {
	Name   string
	Title  string            // what the reader sees; defaults to the check's name
	Params map[string]string // as written, without check and title
	Key    string            // "6/2/0" (lesson/step/block), "6/2/q" for a question: the engine's and the UI's key
	File   string
	Line   int            // the block's opening fence
	Lines  map[string]int // the line of each key written in the block
	Block  int            // 1 for the step's first check block; 0 for a question's check
}

// Question is a conceptual step's question. The reader picks one of the
// choices. When Check is set, the answer is judged against the live
// cluster: the choice is passed to that check as its `value` parameter
// and the answer is right when the check passes. Otherwise it is judged
// against Answer.
type Question struct {
	Prompt  string
	Choices []string
	Answer  string
	Check   *CheckRef
	Explain string // shown after a right answer
	Line    int
}

// Load parses every embedded lesson, sorted in book order.
func Load() ([]*Lesson, error) {
	if _, err := book(); err != nil {
		return nil, err
	}
	return LoadFS(files)
}

// LoadFS parses every *.md file (except README.md) at the root of fsys.
func LoadFS(fsys fs.FS) ([]*Lesson, error) {
	names, err := fs.Glob(fsys, "*.md")
	if err != nil {
		return nil, err
	}
	var out []*Lesson
	seen := map[string]string{}
	for _, name := range names {
		if strings.EqualFold(name, "README.md") {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		l, err := Parse(name, string(data))
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[l.ID]; dup {
			return nil, fmt.Errorf("%s: lesson id %q is already used by %s", name, l.ID, prev)
		}
		seen[l.ID] = name
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return orderKey(out[i].ID) < orderKey(out[j].ID) })
	return out, nil
}

// orderKey sorts chapters numerically and appendices after them.
func orderKey(id string) string {
	if n, err := strconv.Atoi(id); err == nil {
		return fmt.Sprintf("0%03d", n)
	}
	if strings.HasPrefix(id, "a") {
		n, _ := strconv.Atoi(id[1:])
		return fmt.Sprintf("1%03d", n)
	}
	return "2" + id
}

// NormalizeID turns what a reader types (" 06", "A2", "chapter 10") into
// a lesson ID ("6", "a2", "10").
func NormalizeID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "chapter")
	s = strings.TrimPrefix(s, "ch")
	s = strings.TrimSpace(s)
	prefix := ""
	if strings.HasPrefix(s, "a") {
		prefix, s = "a", strings.TrimPrefix(strings.TrimPrefix(s, "a"), "ppendix")
		s = strings.TrimSpace(s)
	}
	if n, err := strconv.Atoi(s); err == nil {
		return prefix + strconv.Itoa(n)
	}
	return prefix + s
}

// Find returns the lesson with the given ID (as typed by a reader).
func Find(all []*Lesson, id string) (*Lesson, bool) {
	id = NormalizeID(id)
	for _, l := range all {
		if l.ID == id {
			return l, true
		}
	}
	return nil, false
}

// IDs lists the lesson IDs, for error messages.
func IDs(all []*Lesson) string {
	var ids []string
	for _, l := range all {
		ids = append(ids, l.ID)
	}
	return strings.Join(ids, ", ")
}

type frontMatter struct {
	ID      string `json:"id"`
	Chapter string `json:"chapter"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
	Mode    string `json:"mode"`
	Lab     string `json:"lab"`
	Minutes int    `json:"minutes"`
}

// Parse reads one lesson file. name is used in error messages.
func Parse(name, src string) (*Lesson, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	lines := strings.Split(src, "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "---" {
		return nil, fmt.Errorf("%s:1: a lesson starts with front matter between two --- lines", name)
	}
	end := -1
	for i := 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == "---" {
			end = i
			break
		}
	}
	if end < 0 {
		return nil, fmt.Errorf("%s:1: front matter is not closed by a --- line", name)
	}
	var fm frontMatter
	if err := yaml.UnmarshalStrict([]byte(strings.Join(lines[1:end], "\n")), &fm); err != nil {
		return nil, fmt.Errorf("%s: front matter: %v", name, err)
	}
	l := &Lesson{ID: NormalizeID(fm.ID), Chapter: fm.Chapter, Title: fm.Title, Summary: fm.Summary,
		Mode: fm.Mode, Lab: fm.Lab, Minutes: fm.Minutes, File: name}
	var problems []string
	if fm.ID == "" {
		problems = append(problems, "id is missing")
	}
	if want := NormalizeID(strings.TrimSuffix(path.Base(name), ".md")); fm.ID != "" && want != l.ID {
		problems = append(problems, fmt.Sprintf("id %q does not match the file name (want %q)", fm.ID, want))
	}
	if fm.Chapter == "" {
		problems = append(problems, "chapter is missing")
	}
	if fm.Title == "" {
		problems = append(problems, "title is missing")
	}
	if fm.Summary == "" {
		problems = append(problems, "summary is missing")
	}
	switch fm.Mode {
	case "sidecar", "ambient", "none":
	default:
		problems = append(problems, fmt.Sprintf("mode %q must be sidecar, ambient or none", fm.Mode))
	}
	if fm.Minutes <= 0 {
		problems = append(problems, "minutes must be a positive estimate")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: front matter: %s", name, strings.Join(problems, "; "))
	}

	// Split into intro and steps on `## ` headings outside fences.
	var cur *Step
	var buf []string
	fence := ""
	flush := func() error {
		text := strings.Join(buf, "\n")
		buf = nil
		if cur == nil {
			l.Intro = strings.TrimSpace(text)
			return nil
		}
		if err := parseStep(name, cur, text); err != nil {
			return err
		}
		l.Steps = append(l.Steps, *cur)
		return nil
	}
	for i := end + 1; i < len(lines); i++ {
		line := lines[i]
		if f := fenceOf(line); f != "" {
			if fence == "" {
				fence = f
			} else if strings.HasPrefix(strings.TrimSpace(line), fence) && strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), fence[:1])) == "" {
				fence = ""
			}
		}
		if fence == "" && strings.HasPrefix(line, "## ") {
			if err := flush(); err != nil {
				return nil, err
			}
			title := strings.TrimSpace(strings.TrimPrefix(line, "## "))
			cur = &Step{Title: title, Anchor: Slug(title), Line: i + 1}
			continue
		}
		if cur != nil && cur.Line > 0 && len(buf) == 0 {
			buf = append(buf, fmt.Sprintf("<!--line %d-->", i+1))
		}
		buf = append(buf, line)
	}
	if fence != "" {
		return nil, fmt.Errorf("%s: a code fence (%s) is never closed", name, fence)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(l.Steps) == 0 {
		return nil, fmt.Errorf("%s: a lesson needs at least one step (a ## heading)", name)
	}
	for i := range l.Steps {
		s := &l.Steps[i]
		for n := range s.Checks {
			r := &s.Checks[n]
			r.Key, r.File, r.Block = fmt.Sprintf("%s/%d/%d", l.ID, i+1, n), name, n+1
		}
		if q := s.Question; q != nil && q.Check != nil {
			q.Check.Key, q.Check.File = fmt.Sprintf("%s/%d/q", l.ID, i+1), name
		}
	}
	return l, nil
}

// fenceOf returns the fence marker (``` or ~~~, possibly longer) that
// opens or closes on this line, or "".
func fenceOf(line string) string {
	t := strings.TrimSpace(line)
	for _, ch := range []string{"`", "~"} {
		n := 0
		for n < len(t) && t[n:n+1] == ch {
			n++
		}
		if n >= 3 {
			return t[:n]
		}
	}
	return ""
}

// parseStep pulls the special blocks out of one step's text.
func parseStep(file string, s *Step, text string) error {
	lines := strings.Split(text, "\n")
	base := s.Line
	var body []string
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(line, "<!--line ") {
			fmt.Sscanf(line, "<!--line %d-->", &base)
			base -= i
			continue
		}
		f := fenceOf(line)
		if f == "" {
			body = append(body, line)
			continue
		}
		info := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), f))
		kind := strings.ToLower(strings.Fields(info + " x")[0])
		if info == "" {
			kind = ""
		}
		// Find the closing fence: same character, at least as long.
		j := i + 1
		for ; j < len(lines); j++ {
			t := strings.TrimSpace(lines[j])
			if strings.HasPrefix(t, f) && strings.Trim(t, f[:1]) == "" {
				break
			}
		}
		content := strings.Join(lines[i+1:min(j, len(lines))], "\n")
		at := base + i
		switch kind {
		case "check":
			ref, err := parseCheck(content, at)
			if err != nil {
				return fmt.Errorf("%s:%d: %v", file, at, err)
			}
			s.Checks = append(s.Checks, ref)
		case "hint":
			s.Hints = append(s.Hints, strings.TrimSpace(content))
		case "solution":
			if s.Solution != "" {
				return fmt.Errorf("%s:%d: step %q has more than one solution block", file, at, s.Title)
			}
			s.Solution = strings.TrimSpace(content)
		case "question":
			if s.Question != nil {
				return fmt.Errorf("%s:%d: step %q has more than one question", file, at, s.Title)
			}
			q, err := parseQuestion(content, at)
			if err != nil {
				return fmt.Errorf("%s:%d: %v", file, at, err)
			}
			s.Question = q
		default:
			if kind == "sh" || kind == "bash" || kind == "shell" || kind == "console" {
				s.Commands = append(s.Commands, strings.TrimSpace(content))
			}
			body = append(body, lines[i:min(j+1, len(lines))]...)
		}
		i = j
	}
	s.Body = strings.TrimSpace(strings.Join(body, "\n"))
	return nil
}

// keyValues parses `key: value` lines; # starts a comment line.
func keyValues(content string) (map[string]string, error) {
	out := map[string]string{}
	for n, line := range strings.Split(content, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("line %d of the block: %q is not a key: value line", n+1, t)
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("key %q appears twice in the block", k)
		}
		out[k] = v
	}
	return out, nil
}

func parseCheck(content string, line int) (CheckRef, error) {
	kv, err := keyValues(content)
	if err != nil {
		return CheckRef{}, fmt.Errorf("check block: %v", err)
	}
	name := kv["check"]
	if name == "" {
		return CheckRef{}, fmt.Errorf("check block: the first key must be `check: <name>`")
	}
	ref := CheckRef{Name: name, Title: kv["title"], Line: line, Params: map[string]string{}}
	for k, v := range kv {
		if k != "check" && k != "title" {
			ref.Params[k] = v
		}
	}
	if ref.Title == "" {
		ref.Title = name
	}
	return ref, nil
}

func parseQuestion(content string, line int) (*Question, error) {
	kv, err := keyValues(content)
	if err != nil {
		return nil, fmt.Errorf("question block: %v", err)
	}
	q := &Question{Prompt: kv["prompt"], Answer: kv["answer"], Explain: kv["explain"], Line: line}
	for _, c := range strings.Split(kv["choices"], ",") {
		if c = strings.TrimSpace(c); c != "" {
			q.Choices = append(q.Choices, c)
		}
	}
	if q.Prompt == "" || len(q.Choices) < 2 {
		return nil, fmt.Errorf("question block: needs a prompt and at least two comma-separated choices")
	}
	if name := kv["check"]; name != "" {
		ref := &CheckRef{Name: name, Title: name, Line: line, Params: map[string]string{}}
		for k, v := range kv {
			switch k {
			case "prompt", "choices", "answer", "explain", "check":
			default:
				ref.Params[k] = v
			}
		}
		q.Check = ref
	} else if q.Answer == "" {
		return nil, fmt.Errorf("question block: needs either answer: or check: to judge the reply")
	}
	if q.Answer != "" {
		found := false
		for _, c := range q.Choices {
			found = found || c == q.Answer
		}
		if !found {
			return nil, fmt.Errorf("question block: answer %q is not one of the choices", q.Answer)
		}
	}
	return q, nil
}

// Slug makes a GitHub-style anchor from a heading.
func Slug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r == ' ' || r == '-':
			b.WriteRune('-')
		case r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}
