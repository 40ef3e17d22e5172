package lessons

import (
	"fmt"
	"regexp"
	"strings"
)

// Link is a Markdown link in lesson text.
type Link struct {
	Text, Target string
}

// Internal reports whether the link leads within the tutorial:
// #step-anchor in the same lesson or lesson:ID#step-anchor.
func (l Link) Internal() bool {
	return strings.HasPrefix(l.Target, "#") || strings.HasPrefix(l.Target, "lesson:")
}

// LinkPattern matches one Markdown link; submatch 1 is its text and 2
// its target. The UI uses it to mark internal links where it shows them.
var LinkPattern = regexp.MustCompile(`\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)

var spanRe = regexp.MustCompile("`[^`\n]*`")

// Links returns the links in Markdown, in order. Links inside fenced
// blocks and code spans are not links, so a shell example that happens
// to contain [x](y) is left alone.
func Links(md string) []Link {
	var out []Link
	fence := ""
	for _, line := range strings.Split(md, "\n") {
		t := strings.TrimSpace(line)
		if fence == "" && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")) {
			fence = t[:3]
			continue
		}
		if fence != "" {
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			continue
		}
		for _, m := range LinkPattern.FindAllStringSubmatch(spanRe.ReplaceAllString(line, ""), -1) {
			out = append(out, Link{Text: m[1], Target: m[2]})
		}
	}
	return out
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
