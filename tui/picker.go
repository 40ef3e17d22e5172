package tui

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/lessons"
)

// picker is the lesson list with search. Filtering is synchronous: what
// is on screen when the reader presses enter is what they get, however
// fast they type.
type picker struct {
	input  textinput.Model
	all    []*lessons.Lesson
	match  []int // indexes into all, best first
	cursor int
}

func newPicker(all []*lessons.Lesson, current int, dark bool) picker {
	in := textinput.New()
	in.Prompt = "Search: "
	in.Placeholder = "chapter number or words (mtls, 証明書…)"
	ts := textinput.DefaultStyles(dark)
	ts.Cursor.Blink = false // a steady cursor: no timer waking the UI twice a second
	in.SetStyles(ts)
	in.Focus()
	p := picker{input: in, all: all}
	p.filter()
	for i, n := range p.match {
		if n == current {
			p.cursor = i
		}
	}
	return p
}

// filter ranks lessons for the query: an exact lesson ID first, then
// title matches, then matches anywhere in the summary.
func (p *picker) filter() {
	q := strings.ToLower(strings.TrimSpace(p.input.Value()))
	p.match = p.match[:0]
	type scored struct{ i, score int }
	var hits []scored
	for i, l := range p.all {
		if q == "" {
			hits = append(hits, scored{i, 0})
			continue
		}
		title := strings.ToLower(l.Title)
		score := -1
		switch {
		case l.ID == lessons.NormalizeID(q):
			score = 3
		case strings.Contains(title, q):
			score = 2
		case allWords(title+" "+strings.ToLower(l.Summary)+" "+l.ID, q):
			score = 1
		}
		if score >= 0 {
			hits = append(hits, scored{i, score})
		}
	}
	sort.SliceStable(hits, func(a, b int) bool { return hits[a].score > hits[b].score })
	for _, h := range hits {
		p.match = append(p.match, h.i)
	}
	p.cursor = min(p.cursor, max(0, len(p.match)-1))
}

func allWords(text, q string) bool {
	for _, w := range strings.Fields(q) {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// pickedMsg asks the root model to open a lesson.
type pickedMsg struct{ lesson int }

// closePickerMsg closes the list without a choice.
type closePickerMsg struct{}

func (p picker) update(msg tea.Msg) (picker, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "esc":
			if p.input.Value() != "" {
				p.input.SetValue("")
				p.filter()
				return p, nil
			}
			return p, func() tea.Msg { return closePickerMsg{} }
		case "enter":
			if len(p.match) == 0 {
				return p, nil
			}
			i := p.match[p.cursor]
			return p, func() tea.Msg { return pickedMsg{i} }
		case "up", "ctrl+p":
			p.cursor = max(0, p.cursor-1)
			return p, nil
		case "down", "ctrl+n", "tab":
			p.cursor = min(max(0, len(p.match)-1), p.cursor+1)
			return p, nil
		}
	}
	before := p.input.Value()
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	if p.input.Value() != before {
		p.cursor = 0
		p.filter()
	}
	return p, cmd
}

func (p picker) view(st *styles, prog *progress.State, w, h int) string {
	p.input.SetWidth(max(10, w-len(p.input.Prompt)-2))
	lines := []string{
		st.title.Render("Lessons"),
		p.input.View(),
		"",
	}
	rows := h - len(lines) - 1
	start := 0
	if p.cursor >= rows {
		start = p.cursor - rows + 1
	}
	for n := start; n < len(p.match) && n < start+max(0, rows); n++ {
		l := p.all[p.match[n]]
		anchors := make([]string, len(l.Steps))
		for i := range l.Steps {
			anchors[i] = l.Steps[i].Anchor
		}
		done, skipped := prog.Count(l.ID, anchors)
		status := fmt.Sprintf("%d/%d done", done, len(l.Steps))
		if skipped > 0 {
			status += ", " + strconv.Itoa(skipped) + " skipped"
		}
		label := lessonLabel(l)
		text := ansi.Truncate(label, max(5, w-len(status)-4), "…")
		pad := max(1, w-ansi.StringWidth(text)-len(status)-3)
		line := text + strings.Repeat(" ", pad) + st.subtle.Render(status)
		if n == p.cursor {
			lines = append(lines, st.sideCurStep.Render("▶ "+text)+strings.Repeat(" ", pad)+st.subtle.Render(status))
		} else {
			lines = append(lines, "  "+line)
		}
	}
	// Chapters of the book that match but have no lesson yet are named,
	// faint and not selectable, so a reader looking for chapter 10
	// learns it is coming rather than that it does not exist.
	coming := 0
	if q := strings.ToLower(strings.TrimSpace(p.input.Value())); q != "" {
		for _, c := range unwritten(p.all, q) {
			coming++
			if len(lines) >= h-1 {
				break
			}
			text := fmt.Sprintf("  %s (not written yet) %s", strings.ToUpper(c.ID), c.Title)
			lines = append(lines, st.subtle.Render(ansi.Truncate(text, w, "…")))
		}
	}
	switch {
	case len(p.match) == 0 && coming > 0:
		lines = append(lines, "", st.subtle.Render("  no written lesson matches yet; esc clears the search"))
	case len(p.match) == 0:
		lines = append(lines, st.subtle.Render("  no lesson matches; esc clears the search"))
	}
	lines = append(lines, "", st.subtle.Render("↑/↓ choose · enter open · esc back"))
	return strings.Join(lines, "\n")
}

// unwritten are the chapters of the book matching q that have no lesson
// in all.
func unwritten(all []*lessons.Lesson, q string) []lessons.Chapter {
	var out []lessons.Chapter
	for _, c := range lessons.Chapters() {
		if _, ok := lessons.Find(all, c.ID); ok {
			continue
		}
		if c.ID == lessons.NormalizeID(q) || allWords(strings.ToLower(c.Title), q) {
			out = append(out, c)
		}
	}
	return out
}
