package lessons

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/yuin/goldmark/text"
)

// Link is a Markdown link in lesson text.
type Link struct {
	Text, Target string
	Line         int // in the lesson file; for Links, in the Markdown given
	// Part is where a lesson's link is (PartIntro, PartBody, ...), so the
	// UI can offer only the links the reader can see; Hint says which
	// hint, from 1.
	Part string
	Hint int
}

// Where a link is (Link.Part).
const (
	PartIntro    = "intro"
	PartBody     = "body"
	PartHint     = "hint"
	PartSolution = "solution"
	PartPrompt   = "prompt"  // a question's prompt
	PartExplain  = "explain" // a question's explanation, shown after a right answer
)

// Internal reports whether the link leads within the tutorial:
// #step-anchor in the same lesson or lesson:ID#step-anchor.
func (l Link) Internal() bool {
	return strings.HasPrefix(l.Target, "#") || strings.HasPrefix(l.Target, "lesson:")
}

// LinkPattern matches one Markdown link; submatch 1 is its text and 2
// its target. The UI uses it to mark internal links where it shows them.
var LinkPattern = regexp.MustCompile(`\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)

// Links returns the links in Markdown, in order, as goldmark (CommonMark)
// reads them: links inside code blocks and code spans are not links, so
// a shell example that happens to contain [x](y) is left alone.
func Links(md string) []Link {
	src := []byte(md)
	lineOf := func(off int) int { return bytes.Count(src[:min(off, len(src))], []byte("\n")) + 1 }
	return linksOf(newTracker().parser().Parse(text.NewReader(src)), src, "", lineOf)
}

// Resolve finds where an internal link written in lesson from leads: the
// lesson and the index of the step (0 when the link names no anchor).
// The error says what is wrong and lists what exists.
func Resolve(all []*Lesson, from *Lesson, target string) (*Lesson, int, error) {
	id, anchor := from.ID, strings.TrimPrefix(target, "#")
	if rest, ok := strings.CutPrefix(target, "lesson:"); ok {
		id, anchor, _ = strings.Cut(rest, "#")
	} else if !strings.HasPrefix(target, "#") {
		return nil, 0, fmt.Errorf("link %s: internal links are #step-anchor or lesson:ID#step-anchor; web links start with https://", target)
	}
	l, ok := Find(all, id)
	if !ok {
		return nil, 0, fmt.Errorf("link %s: there is no lesson %q (lessons: %s)", target, id, IDs(all))
	}
	if anchor == "" {
		return l, 0, nil
	}
	var anchors []string
	for i := range l.Steps {
		if l.Steps[i].Anchor == anchor {
			return l, i, nil
		}
		anchors = append(anchors, "#"+l.Steps[i].Anchor)
	}
	return nil, 0, fmt.Errorf("link %s: lesson %s has no step with that anchor (anchors: %s)", target, l.ID, strings.Join(anchors, " "))
}
