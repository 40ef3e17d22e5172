// Package lessons is meshdojo's course: one Markdown lesson per chapter
// of the book, the book's table of contents (book.yaml), and the model
// the UI and the commands use, parsed once. Everything is embedded in
// the binary, so that `go install` gives a working tutorial with no files
// beside it.
//
// The format is described, with a complete example, in README.md in this
// directory. In short: YAML front matter, an introduction, then one step
// per `##` section. Fenced blocks whose info string is check, hint,
// solution or question are taken out of the step's text and given to the
// UI as structured data; shell blocks become the step's commands. The
// Markdown is parsed with goldmark (CommonMark, as GitHub reads it), and
// every step, block, key and link keeps its line in the file, so a
// problem is reported as file:line like a compiler's. Check blocks and
// questions are bound to the check registry in one place, bind.go.
package lessons

import (
	"embed"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	Links   []Link `json:"-"`       // the links of the introduction
	// Notes are the instructor's notes for the introduction (a notes
	// block before the first step): what to say before step 1.
	Notes Notes  `json:"-"`
	Steps []Step `json:"-"`
	File  string `json:"-"`
	// Fields is the line of each front matter field written.
	Fields map[string]int `json:"-"`
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
	// SolutionCommands are the shell blocks inside the solution, which
	// the copy key offers once the solution is shown.
	SolutionCommands []string
	Question         *Question
	// Notes are the instructor's speaker notes for the step: never shown
	// to readers, only by `meshdojo notes`.
	Notes Notes
	// Break is the step's break block: objects the tutorial writes, with
	// the reader's consent, to break the lab for an exercise
	// (internal/breaks); nil for most steps.
	Break  *Break
	Line   int     // line of the heading in the file
	Blocks []Block // every fenced block of the step, in order
	Links  []Link  // every link the step's text can show, in order (see Link.Part)
}

// Block is one fenced code block of a step.
type Block struct {
	Kind string // check, hint, solution, question, sh (any shell block) or code
	Info string // the info string as written (sh, yaml, check, ...)
	Text string // the content, without the fences
	Line int    // the opening fence
	End  int    // the closing fence
}

// Block kinds (Block.Kind).
const (
	KindCheck    = "check"
	KindHint     = "hint"
	KindSolution = "solution"
	KindQuestion = "question"
	KindNotes    = "notes"
	KindBreak    = "break"
	KindShell    = "sh"
	KindCode     = "code"
)

// Notes are a notes block: an instructor's speaker notes, Markdown,
// with the time the step is planned to take in class when the block
// starts with a `minutes: N` line.
type Notes struct {
	Text    string // Markdown, without the minutes line; "" when there is no notes block
	Minutes int    // planned minutes in class; 0 when not given
	Line    int    // the block's opening fence; 0 when there is none
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

// Break is a step's break block: "```break NAME" followed by the YAML
// of the objects to write. The tutorial applies it when the reader asks
// (and agrees to the diff), and restores it with a key or `meshdojo
// reset`; see internal/breaks.
type Break struct {
	Name    string // unique in the lesson; the break's ID is lesson.name
	ID      string // lesson.name, set once the lesson's ID is known
	Objects []*unstructured.Unstructured
	Text    string // the YAML as written
	Line    int    // the opening fence
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
	Explain string         // shown after a right answer
	Line    int            // the block's opening fence
	Lines   map[string]int // the line of each key written in the block
}

// Load parses every embedded lesson, sorted in book order.
func Load() ([]*Lesson, error) {
	if _, err := book(); err != nil {
		return nil, err
	}
	return LoadFS(files)
}

// LoadFS parses every *.md file (except README.md) at the root of fsys.
// The files are parsed side by side, one goroutine per core: this is
// the start-up's share of the lessons, done once.
func LoadFS(fsys fs.FS) ([]*Lesson, error) {
	all, err := fs.Glob(fsys, "*.md")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range all {
		if !strings.EqualFold(name, "README.md") {
			names = append(names, name)
		}
	}
	parsed := make([]*Lesson, len(names))
	errs := make([]error, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(names)) {
		wg.Go(func() {
			for i := range next {
				data, err := fs.ReadFile(fsys, names[i])
				if err == nil {
					parsed[i], err = Parse(names[i], string(data))
				}
				errs[i] = err
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []*Lesson
	seen := map[string]string{}
	for i, name := range names {
		if errs[i] != nil {
			return nil, errs[i]
		}
		l := parsed[i]
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
