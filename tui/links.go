package tui

import (
	"fmt"
	"regexp"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/meshdojo/meshdojo/lessons"
)

// link is an internal link in a step's text: [text](#anchor) within the
// lesson or [text](lesson:ID#anchor) to another one.
type link struct {
	text, target string
}

var (
	linkRe = regexp.MustCompile(`\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	spanRe = regexp.MustCompile("`[^`\n]*`")
)

// internalLinks finds the internal links in Markdown, in order, once
// each; links inside code are not links.
func internalLinks(md string) []link {
	var out []link
	seen := map[string]bool{}
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
		for _, m := range linkRe.FindAllStringSubmatch(spanRe.ReplaceAllString(line, ""), -1) {
			tg := m[2]
			if (strings.HasPrefix(tg, "#") || strings.HasPrefix(tg, "lesson:")) && !seen[tg] {
				seen[tg] = true
				out = append(out, link{text: m[1], target: tg})
			}
		}
	}
	return out
}

// stepLinks are the links in what the reader can see of the step.
func (m *Model) stepLinks() []link {
	s, ui := m.step(), m.stepState()
	src := []string{s.Body}
	if m.si == 0 {
		src = append([]string{m.lesson().Intro}, src...)
	}
	src = append(src, s.Hints[:min(ui.hints, len(s.Hints))]...)
	if ui.solution {
		src = append(src, s.Solution)
	}
	if s.Question != nil && ui.ans.judged && ui.ans.right {
		src = append(src, s.Question.Explain)
	}
	return internalLinks(strings.Join(src, "\n\n"))
}

// resolve finds where a link leads: a lesson index and step index.
func (m *Model) resolveLink(l link) (li, si int, err error) {
	id, anchor := m.lesson().ID, strings.TrimPrefix(l.target, "#")
	if rest, ok := strings.CutPrefix(l.target, "lesson:"); ok {
		id, anchor, _ = strings.Cut(rest, "#")
	}
	les, ok := lessons.Find(m.all, id)
	if !ok {
		return 0, 0, fmt.Errorf("lesson %s is not in this build", strings.ToUpper(id))
	}
	for i := range m.all {
		if m.all[i] == les {
			li = i
		}
	}
	if anchor == "" {
		return li, 0, nil
	}
	for i := range les.Steps {
		if les.Steps[i].Anchor == anchor {
			return li, i, nil
		}
	}
	return 0, 0, fmt.Errorf("lesson %s has no step #%s", strings.ToUpper(les.ID), anchor)
}

// linkKey offers the step's links one at a time: o shows the first, o
// again the next, y follows the one shown.
func (m *Model) linkKey() {
	ls := m.stepLinks()
	if len(ls) == 0 {
		m.say(lvInfo, "This step has no links to other steps.")
		return
	}
	m.links, m.linkAt = ls, 0
	m.askLink()
}

func (m *Model) askLink() {
	l := m.links[m.linkAt]
	where := l.target
	if li, si, err := m.resolveLink(l); err == nil {
		les := m.all[li]
		where = fmt.Sprintf("lesson %s, step %d: %s", strings.ToUpper(les.ID), si+1, les.Steps[si].Title)
	}
	title := "Follow this link?"
	if len(m.links) > 1 {
		title = fmt.Sprintf("Follow link %d of %d?", m.linkAt+1, len(m.links))
	}
	m.ask("link", title, fmt.Sprintf("%q leads to %s.", l.text, where))
}

// followLink opens the step the offered link leads to.
func (m *Model) followLink() tea.Cmd {
	if m.linkAt >= len(m.links) {
		return nil
	}
	li, si, err := m.resolveLink(m.links[m.linkAt])
	if err != nil {
		m.say(lvWarn, "Cannot follow the link: "+err.Error()+".")
		return nil
	}
	from := fmt.Sprintf("lesson %s step %d", strings.ToUpper(m.lesson().ID), m.si+1)
	cmd := m.enterStep(li, si)
	m.say(lvInfo, "Followed the link from "+from+"; / lists every lesson to go back.")
	return cmd
}
