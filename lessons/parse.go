package lessons

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
	"go.yaml.in/yaml/v3"
)

// Parse reads one lesson file; name is the file's name in error
// messages. A file with problems yields every problem found, each an
// *Error naming its line, joined (errors.Join), and no lesson.
func Parse(name, src string) (*Lesson, error) {
	// CRLF files parse as LF ones; a line is still a line, so the line
	// numbers are unchanged.
	src = strings.ReplaceAll(src, "\r\n", "\n")
	p := &parse{file: name, src: []byte(src)}
	for i, c := range p.src {
		if c == '\n' {
			p.starts = append(p.starts, i+1)
		}
	}
	p.starts = append([]int{0}, p.starts...)
	l := &Lesson{File: name}
	end, ok := p.frontMatter(l)
	if ok {
		p.body(l, end)
	}
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return l, nil
}

// parse is the state of parsing one file.
type parse struct {
	file   string
	src    []byte
	starts []int // byte offset of the start of each line; line n (from 1) starts at starts[n-1]
	errs   []*Error
	md     parser.Parser // goldmark, for this file only (it keeps positions in t)
}

func (p *parse) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// lineOf is the line (from 1) holding byte offset off.
func (p *parse) lineOf(off int) int {
	return sort.Search(len(p.starts), func(i int) bool { return p.starts[i] > off })
}

// line is the text of line n (from 1), without its newline.
func (p *parse) line(n int) string {
	if n < 1 || n > len(p.starts) {
		return ""
	}
	end := len(p.src)
	if n < len(p.starts) {
		end = p.starts[n] - 1
	}
	return string(p.src[p.starts[n-1]:end])
}

// frontMatterFields are the fields a lesson's front matter may have.
var frontMatterFields = []string{"id", "chapter", "title", "summary", "mode", "lab", "minutes"}

// frontMatter reads the YAML between the two --- lines into l and
// returns the line of the closing ---. ok is false when the body cannot
// be told apart from the front matter.
func (p *parse) frontMatter(l *Lesson) (end int, ok bool) {
	if strings.TrimSpace(p.line(1)) != "---" {
		p.errorf(1, "a lesson starts with front matter between two --- lines")
		return 0, false
	}
	for n := 2; n <= len(p.starts); n++ {
		if strings.TrimSpace(p.line(n)) == "---" {
			end = n
			break
		}
	}
	if end == 0 {
		p.errorf(1, "front matter is not closed by a --- line")
		return 0, false
	}
	// One blank line for the opening ---, so that the YAML parser's line
	// numbers are the file's.
	yamlSrc := "\n" + string(p.src[p.starts[1]:p.starts[end-1]])
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(yamlSrc), &doc); err != nil {
		p.errorf(1, "front matter is not valid YAML: %v", err)
		return end, true
	}
	l.Fields = map[string]int{}
	vals := map[string]*yaml.Node{}
	if len(doc.Content) == 1 {
		m := doc.Content[0]
		if m.Kind != yaml.MappingNode {
			p.errorf(m.Line, "front matter: want field: value lines (%s)", strings.Join(frontMatterFields, ", "))
			return end, true
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			known := false
			for _, f := range frontMatterFields {
				known = known || f == k.Value
			}
			switch {
			case !known:
				p.errorf(k.Line, "front matter: unknown field %q (the fields are %s)", k.Value, strings.Join(frontMatterFields, ", "))
			case v.Kind != yaml.ScalarNode:
				p.errorf(v.Line, "front matter: %s must be a single value", k.Value)
			default:
				l.Fields[k.Value], vals[k.Value] = k.Line, v
			}
		}
	}
	str := func(f string) string {
		if v := vals[f]; v != nil {
			return strings.TrimSpace(v.Value)
		}
		return ""
	}
	at := func(f string) int {
		if n, ok := l.Fields[f]; ok {
			return n
		}
		return 1
	}
	l.ID, l.Chapter, l.Title, l.Summary = NormalizeID(str("id")), str("chapter"), str("title"), str("summary")
	l.Mode, l.Lab = str("mode"), str("lab")
	for _, f := range []string{"id", "chapter", "title", "summary"} {
		if str(f) == "" {
			p.errorf(at(f), "front matter: %s is missing", f)
		}
	}
	if want := NormalizeID(strings.TrimSuffix(path.Base(p.file), ".md")); l.ID != "" && want != l.ID {
		p.errorf(at("id"), "front matter: id %q does not match the file name (want %q)", str("id"), want)
	}
	switch l.Mode {
	case "sidecar", "ambient", "none":
	default:
		p.errorf(at("mode"), "front matter: mode %q must be sidecar, ambient or none", l.Mode)
	}
	if v := vals["minutes"]; v != nil {
		if err := v.Decode(&l.Minutes); err != nil {
			p.errorf(v.Line, "front matter: minutes %q is not a whole number", v.Value)
		}
	}
	if l.Minutes <= 0 {
		p.errorf(at("minutes"), "front matter: minutes must be a positive estimate")
	}
	return end, true
}

// body parses what follows the front matter (which ends on line fmEnd)
// with goldmark: the introduction, then a step per level-2 heading.
func (p *parse) body(l *Lesson, fmEnd int) {
	// goldmark sees the front matter as blank lines, so that its offsets
	// are the file's (and the --- lines are not read as Markdown).
	src := bytes.Clone(p.src)
	fm := len(src)
	if fmEnd < len(p.starts) {
		fm = p.starts[fmEnd]
	}
	for i := range src[:fm] {
		if src[i] != '\n' {
			src[i] = ' '
		}
	}
	t := newTracker()
	p.md = t.parser()
	doc := p.md.Parse(text.NewReader(src))

	// The top-level level-2 headings split the file into the
	// introduction and the steps; a heading nested in a list or a quote
	// is text.
	type section struct {
		first, last int // lines, inclusive
		nodes       []ast.Node
		step        *Step
	}
	total := len(p.starts)
	if len(src) > 0 && src[len(src)-1] == '\n' {
		total-- // the empty "line" after the final newline
	}
	secs := []*section{{first: fmEnd + 1}}
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if h, ok := n.(*ast.Heading); ok && h.Level == 2 {
			line := p.lineOf(t.open[n])
			if !strings.HasPrefix(strings.TrimSpace(p.line(line)), "#") {
				// A setext heading: text with a line of dashes under it.
				line = p.lineOf(h.Lines().At(0).Start)
				p.errorf(line, "a line of dashes under text makes the text a heading, so it would start a step; write a step as \"## Title\", or leave a blank line above the dashes for a horizontal rule")
			}
			secs[len(secs)-1].last = line - 1
			title := ""
			for i := 0; i < h.Lines().Len(); i++ {
				seg := h.Lines().At(i)
				title += string(seg.Value(src))
			}
			title = strings.TrimSpace(title)
			if title == "" {
				p.errorf(line, "a step heading needs a title")
			}
			secs = append(secs, &section{first: line + 1, step: &Step{Title: title, Anchor: Slug(title), Line: line}})
			continue
		}
		secs[len(secs)-1].nodes = append(secs[len(secs)-1].nodes, n)
	}
	secs[len(secs)-1].last = total

	for _, sec := range secs {
		var blocks []fenced
		for _, n := range sec.nodes {
			_ = ast.Walk(n, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
				if fc, ok := n.(*ast.FencedCodeBlock); ok && entering {
					blocks = append(blocks, p.fenced(t, fc, src))
				}
				return ast.WalkContinue, nil
			})
		}
		// The text is the section's lines without its special blocks.
		skip := map[int]bool{}
		for _, b := range blocks {
			if b.kind != KindCode && b.kind != KindShell {
				for n := b.line; n <= b.end; n++ {
					skip[n] = true
				}
			}
		}
		var lines []string
		for n := sec.first; n <= sec.last; n++ {
			if !skip[n] {
				lines = append(lines, p.line(n))
			}
		}
		text := strings.TrimSpace(strings.Join(lines, "\n"))
		links := p.links(sec.nodes, src, PartBody)
		if sec.step == nil {
			l.Intro = text
			for _, b := range blocks {
				if b.kind == KindNotes {
					p.notes(&l.Notes, b, "the introduction")
				}
			}
			for i := range links {
				links[i].Part = PartIntro
			}
			l.Links = links
			continue
		}
		s := sec.step
		s.Body, s.Links = text, links
		for _, b := range blocks {
			p.block(s, b)
		}
		l.Steps = append(l.Steps, *s)
	}
	if len(l.Steps) == 0 && len(p.errs) == 0 {
		p.errorf(fmEnd, "a lesson needs at least one step (a ## heading)")
	}
	names := map[string]int{}
	for i := range l.Steps {
		s := &l.Steps[i]
		for n := range s.Checks {
			r := &s.Checks[n]
			r.Key, r.File, r.Block = fmt.Sprintf("%s/%d/%d", l.ID, i+1, n), p.file, n+1
		}
		if q := s.Question; q != nil && q.Check != nil {
			q.Check.Key, q.Check.File = fmt.Sprintf("%s/%d/q", l.ID, i+1), p.file
		}
		if b := s.Break; b != nil {
			b.ID = breaks.ID(l.ID, b.Name)
			if prev, dup := names[b.Name]; dup {
				p.errorf(b.Line, "break name %q is already used on line %d; each break of a lesson needs its own name", b.Name, prev)
			}
			names[b.Name] = b.Line
		}
	}
}

// fenced is one fenced code block as found in the file.
type fenced struct {
	kind, info string
	line, end  int      // the fences' lines
	text       []string // the content's lines, indentation removed
	lines      []int    // the file line of each
}

func (p *parse) fenced(t *tracker, fc *ast.FencedCodeBlock, src []byte) fenced {
	b := fenced{line: p.lineOf(t.open[fc])}
	if fc.Info != nil {
		b.info = strings.TrimSpace(string(fc.Info.Segment.Value(src)))
	}
	for i := 0; i < fc.Lines().Len(); i++ {
		seg := fc.Lines().At(i)
		b.text = append(b.text, strings.TrimSuffix(string(seg.Value(src)), "\n"))
		b.lines = append(b.lines, p.lineOf(seg.Start))
	}
	if off, ok := t.closed[fc]; ok {
		b.end = p.lineOf(off)
	} else {
		fence := strings.TrimSpace(p.line(b.line))
		fence = fence[:len(fence)-len(strings.TrimLeft(fence, fence[:1]))]
		p.errorf(b.line, "this code fence (%s) is never closed; close it with a line of %s", fence, fence)
		b.end = b.line + len(b.text)
	}
	b.kind = KindCode
	if f := strings.Fields(b.info); len(f) > 0 {
		b.kind = kindOf(f[0])
	}
	return b
}

// block files one fenced block of step s.
func (p *parse) block(s *Step, b fenced) {
	content := strings.TrimSpace(strings.Join(b.text, "\n"))
	s.Blocks = append(s.Blocks, Block{Kind: b.kind, Info: b.info, Text: content, Line: b.line, End: b.end})
	switch b.kind {
	case KindCheck:
		if ref, ok := p.check(b); ok {
			s.Checks = append(s.Checks, ref)
		}
	case KindNotes:
		p.notes(&s.Notes, b, fmt.Sprintf("step %q", s.Title))
	case KindHint:
		p.nestedNotes(b, "hint")
		s.Hints = append(s.Hints, content)
		for _, lk := range p.linksIn(b, PartHint) {
			lk.Hint = len(s.Hints)
			s.Links = append(s.Links, lk)
		}
	case KindSolution:
		if s.Solution != "" {
			p.errorf(b.line, "step %q has more than one solution block", s.Title)
			return
		}
		p.nestedNotes(b, "solution")
		s.Solution = content
		s.Links = append(s.Links, p.linksIn(b, PartSolution)...)
		s.SolutionCommands = p.shellIn(b)
	case KindQuestion:
		if s.Question != nil {
			p.errorf(b.line, "step %q has more than one question", s.Title)
			return
		}
		if q, ok := p.question(b); ok {
			s.Question = q.Question
			for _, k := range []string{PartPrompt, PartExplain} { // the keys are the parts
				// One line of Markdown, at the key's line.
				md := []byte(q.kv[k])
				if !mayLink(md) {
					continue
				}
				at := func(int) int { return q.Lines[k] }
				s.Links = append(s.Links, linksOf(p.md.Parse(text.NewReader(md)), md, k, at)...)
			}
		}
	case KindShell:
		s.Commands = append(s.Commands, content)
	case KindBreak:
		p.breakBlock(s, b)
	}
}

// notes files a notes block of where (a step, or the introduction)
// into n. An optional first line `minutes: N` is the time planned for
// the step in class; the rest is Markdown for the instructor.
func (p *parse) notes(n *Notes, b fenced, where string) {
	if n.Line != 0 {
		p.errorf(b.line, "%s has more than one notes block (the first is on line %d); put all of its notes in one", where, n.Line)
		return
	}
	n.Line = b.line
	text := b.text
	for len(text) > 0 && strings.TrimSpace(text[0]) == "" {
		text = text[1:]
	}
	if len(text) > 0 {
		first := strings.TrimSpace(text[0])
		if k, v, ok := strings.Cut(first, ":"); ok && strings.TrimSpace(k) == "minutes" {
			at := b.lines[len(b.lines)-len(text)]
			m, err := strconv.Atoi(strings.TrimSpace(v))
			switch {
			case err != nil:
				p.errorf(at, "notes block: minutes %q is not a whole number (write minutes: 5)", strings.TrimSpace(v))
			case m <= 0 || m > 240:
				p.errorf(at, "notes block: minutes %d is not a plausible time for one step (1 to 240)", m)
			default:
				n.Minutes = m
			}
			text = text[1:]
		}
	}
	n.Text = strings.TrimSpace(strings.Join(text, "\n"))
	if n.Text == "" {
		p.errorf(b.line, "notes block of %s has no notes: write what to say, show or watch for", where)
	}
}

// nestedNotes refuses a notes block inside a hint or a solution: it
// would be shown to the reader as part of that block.
func (p *parse) nestedNotes(b fenced, what string) {
	for i, l := range b.text {
		t := strings.TrimSpace(l)
		rest := strings.TrimLeft(t, "`~")
		if len(t)-len(rest) >= 3 && kindOf(strings.Fields(rest + " x")[0]) == KindNotes {
			p.errorf(b.lines[i], "a notes block inside a %s would be shown to readers with it; move it out of the %s block (line %d)", what, what, b.line)
		}
	}
}

// breakBlock reads a break block: its name from the info string, its
// objects from the YAML, each problem at the file line it is on.
func (p *parse) breakBlock(s *Step, b fenced) {
	if s.Break != nil {
		p.errorf(b.line, "step %q has more than one break block (the first is on line %d); put every object of the fault in one", s.Title, s.Break.Line)
		return
	}
	f := strings.Fields(b.info)
	if len(f) != 2 {
		p.errorf(b.line, "a break block is opened with ```break NAME (one name, e.g. ```break subset-without-pods)")
		return
	}
	if err := breaks.ValidName(f[1]); err != nil {
		p.errorf(b.line, "%v", err)
		return
	}
	text := strings.Join(b.text, "\n")
	objs, errs := breaks.Parse(text)
	for _, e := range errs {
		line := b.line
		if e.Line >= 1 && e.Line <= len(b.lines) {
			line = b.lines[e.Line-1]
		}
		p.errorf(line, "break %s: %s", f[1], e.Msg)
	}
	if len(errs) > 0 {
		return
	}
	s.Break = &Break{Name: f[1], Objects: objs, Text: strings.TrimSpace(text), Line: b.line}
}

// keyValues parses a block's `key: value` lines; # starts a comment
// line. lines is the file line of each key.
func (p *parse) keyValues(b fenced, what string) (kv map[string]string, lines map[string]int, ok bool) {
	kv, lines, ok = map[string]string{}, map[string]int{}, true
	for i, raw := range b.text {
		t := strings.TrimSpace(raw)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, found := strings.Cut(t, ":")
		if !found {
			p.errorf(b.lines[i], "%s: %q is not a key: value line", what, t)
			ok = false
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		if prev, dup := lines[k]; dup {
			p.errorf(b.lines[i], "%s: key %q appears twice in the block (first on line %d)", what, k, prev)
			ok = false
			continue
		}
		kv[k], lines[k] = v, b.lines[i]
	}
	return kv, lines, ok
}

func (p *parse) check(b fenced) (CheckRef, bool) {
	kv, lines, ok := p.keyValues(b, "check block")
	if !ok {
		return CheckRef{}, false
	}
	name := kv["check"]
	if name == "" {
		p.errorf(b.line, "check block: the first key must be `check: <name>`")
		return CheckRef{}, false
	}
	ref := CheckRef{Name: name, Title: kv["title"], Line: b.line, Lines: lines, Params: map[string]string{}}
	for k, v := range kv {
		if k != "check" && k != "title" {
			ref.Params[k] = v
		}
	}
	if ref.Title == "" {
		ref.Title = name
	}
	return ref, true
}

// parsedQuestion keeps the raw keys for the links of prompt and explain.
type parsedQuestion struct {
	*Question
	kv map[string]string
}

func (p *parse) question(b fenced) (parsedQuestion, bool) {
	kv, lines, ok := p.keyValues(b, "question block")
	if !ok {
		return parsedQuestion{}, false
	}
	at := func(k string) int {
		if n, ok := lines[k]; ok {
			return n
		}
		return b.line
	}
	q := &Question{Prompt: kv["prompt"], Answer: kv["answer"], Explain: kv["explain"], Line: b.line, Lines: lines}
	for _, c := range strings.Split(kv["choices"], ",") {
		if c = strings.TrimSpace(c); c != "" {
			q.Choices = append(q.Choices, c)
		}
	}
	switch {
	case q.Prompt == "":
		p.errorf(b.line, "question block: needs a prompt and at least two comma-separated choices (prompt is missing)")
		return parsedQuestion{}, false
	case len(q.Choices) < 2:
		p.errorf(at("choices"), "question block: needs a prompt and at least two comma-separated choices")
		return parsedQuestion{}, false
	}
	if name := kv["check"]; name != "" {
		ref := &CheckRef{Name: name, Title: name, Line: b.line, Lines: maps.Clone(lines), Params: map[string]string{}}
		// The reader's choice is the check's value: a bad one is the
		// choices line's fault.
		if n, ok := lines["choices"]; ok {
			ref.Lines["value"] = n
		}
		for k, v := range kv {
			switch k {
			case "prompt", "choices", "answer", "explain", "check":
			default:
				ref.Params[k] = v
			}
		}
		q.Check = ref
	} else if q.Answer == "" {
		p.errorf(b.line, "question block: needs either answer: or check: to judge the reply")
		return parsedQuestion{}, false
	}
	if q.Answer != "" {
		found := false
		for _, c := range q.Choices {
			found = found || c == q.Answer
		}
		if !found {
			p.errorf(at("answer"), "question block: answer %q is not one of the choices", q.Answer)
			return parsedQuestion{}, false
		}
	}
	return parsedQuestion{q, kv}, true
}

// links are the links in nodes, with their lines.
func (p *parse) links(nodes []ast.Node, src []byte, part string) []Link {
	var out []Link
	for _, n := range nodes {
		out = append(out, linksOf(n, src, part, p.lineOf)...)
	}
	return out
}

// linksIn are the links of a hint's or solution's Markdown, which
// goldmark saw as a code block's text: parsed on their own, with lines
// mapped back to the file.
func (p *parse) linksIn(b fenced, part string) []Link {
	md := []byte(strings.Join(b.text, "\n"))
	if !mayLink(md) {
		return nil
	}
	starts := []int{0}
	for i, c := range md {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	lineOf := func(off int) int {
		i := sort.Search(len(starts), func(i int) bool { return starts[i] > off }) - 1
		return b.lines[max(0, min(i, len(b.lines)-1))]
	}
	return linksOf(p.md.Parse(text.NewReader(md)), md, part, lineOf)
}

// shellIn are the shell blocks of a solution's Markdown.
func (p *parse) shellIn(b fenced) []string {
	md := []byte(strings.Join(b.text, "\n"))
	if !bytes.Contains(md, []byte("```")) && !bytes.Contains(md, []byte("~~~")) {
		return nil // no fence, no block: most solutions are one command
	}
	var out []string
	_ = ast.Walk(p.md.Parse(text.NewReader(md)), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		fc, ok := n.(*ast.FencedCodeBlock)
		if !ok || !entering || kindOf(string(fc.Language(md))) != KindShell {
			return ast.WalkContinue, nil
		}
		var lines []string
		for i := 0; i < fc.Lines().Len(); i++ {
			seg := fc.Lines().At(i)
			lines = append(lines, strings.TrimSuffix(string(seg.Value(md)), "\n"))
		}
		out = append(out, strings.TrimSpace(strings.Join(lines, "\n")))
		return ast.WalkSkipChildren, nil
	})
	return out
}

// kindOf is the kind of block an info string's first word makes.
func kindOf(word string) string {
	switch k := strings.ToLower(word); k {
	case KindCheck, KindHint, KindSolution, KindQuestion, KindNotes, KindBreak:
		return k
	case "sh", "bash", "shell", "console":
		return KindShell
	}
	return KindCode
}

// mayLink is false for Markdown that cannot hold a link (no [ or <),
// which is most hints: parsing it would only cost time at start-up.
func mayLink(md []byte) bool { return bytes.ContainsAny(md, "[<") }

// linksOf walks a Markdown tree for links; lineOf maps a byte offset of
// src to a line.
func linksOf(root ast.Node, src []byte, part string, lineOf func(int) int) []Link {
	var out []Link
	_ = ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Link:
			out = append(out, Link{Text: plain(n, src), Target: string(n.Destination), Line: lineOf(offsetOf(n)), Part: part})
			return ast.WalkSkipChildren, nil
		case *ast.AutoLink:
			u := string(n.URL(src))
			out = append(out, Link{Text: u, Target: u, Line: lineOf(offsetOf(n)), Part: part})
		}
		return ast.WalkContinue, nil
	})
	return out
}

// offsetOf is where an inline node's text starts in the source: its own
// or its first descendant's segment, else its block's first line.
func offsetOf(n ast.Node) int {
	found := -1
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			found = t.Segment.Start
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	if found >= 0 {
		return found
	}
	for b := n.Parent(); b != nil; b = b.Parent() {
		if b.Type() == ast.TypeBlock && b.Lines().Len() > 0 {
			return b.Lines().At(0).Start
		}
	}
	return 0
}

// plain is the text of an inline node, markup removed.
func plain(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch t := c.(type) {
		case *ast.Text:
			b.Write(t.Segment.Value(src))
			if t.SoftLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(t.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// tracker wraps goldmark's block parsers to remember where each block
// opens, and where a fenced code block's closing fence is: goldmark's
// tree has no positions of its own for those, and a lint that names
// lines needs both.
type tracker struct {
	open   map[ast.Node]int // node -> offset of the line it opens on
	closed map[ast.Node]int // fenced code block -> offset of its closing fence
}

func newTracker() *tracker {
	return &tracker{open: map[ast.Node]int{}, closed: map[ast.Node]int{}}
}

// parser is goldmark's CommonMark parser with the parsers of the blocks
// whose lines matter (headings and fenced code) wrapped by t.
func (t *tracker) parser() parser.Parser {
	var bps []util.PrioritizedValue
	for _, v := range parser.DefaultBlockParsers() {
		bp := v.Value.(parser.BlockParser)
		if tracks[reflect.TypeOf(bp)] {
			v.Value = &tracked{BlockParser: bp, t: t}
		}
		bps = append(bps, v)
	}
	return parser.NewParser(parser.WithBlockParsers(bps...),
		parser.WithInlineParsers(parser.DefaultInlineParsers()...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...))
}

// tracks are the block parsers whose blocks' lines the lessons use.
var tracks = map[reflect.Type]bool{
	reflect.TypeOf(parser.NewATXHeadingParser()):      true,
	reflect.TypeOf(parser.NewSetextHeadingParser()):   true,
	reflect.TypeOf(parser.NewFencedCodeBlockParser()): true,
}

type tracked struct {
	parser.BlockParser
	t *tracker
}

func (b *tracked) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	_, seg := reader.PeekLine()
	n, st := b.BlockParser.Open(parent, reader, pc)
	if n != nil {
		b.t.open[n] = seg.Start
	}
	return n, st
}

func (b *tracked) Continue(node ast.Node, reader text.Reader, pc parser.Context) parser.State {
	_, seg := reader.PeekLine()
	st := b.BlockParser.Continue(node, reader, pc)
	if _, ok := node.(*ast.FencedCodeBlock); ok && st&parser.Close != 0 {
		b.t.closed[node] = seg.Start
	}
	return st
}
