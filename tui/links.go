package tui

import (
	"fmt"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/meshdojo/meshdojo/lessons"
)

// link is an internal link in a step's text: [text](#anchor) within the
// lesson or [text](lesson:ID#anchor) to another one.
type link struct {
	text, target string
}

// internalLinks keeps the internal links, in order, once each.
func internalLinks(ls []lessons.Link) []link {
	var out []link
	seen := map[string]bool{}
	for _, l := range ls {
		if l.Internal() && !seen[l.Target] {
			seen[l.Target] = true
			out = append(out, link{text: l.Text, target: l.Target})
		}
	}
	return out
}

// linkOrder is the order the step's parts are read in.
var linkOrder = map[string]int{lessons.PartIntro: 0, lessons.PartBody: 1, lessons.PartHint: 2, lessons.PartSolution: 3, lessons.PartExplain: 4}

// stepLinks are the links in what the reader can see of the step (the
// lesson parsed them once, with where each is).
func (m *Model) stepLinks() []link {
	s, shown := m.ses.Step(), m.ses.Shown()
	var ls []lessons.Link
	if m.place().si == 0 {
		ls = append(ls, m.ses.Lesson().Links...)
	}
	for _, l := range s.Links {
		switch l.Part {
		case lessons.PartBody:
		case lessons.PartHint:
			if l.Hint > shown.Hints {
				continue
			}
		case lessons.PartSolution:
			if !shown.Solution {
				continue
			}
		case lessons.PartExplain:
			if s.Question == nil || !shown.Ans.Judged || !shown.Ans.Right {
				continue
			}
		default:
			continue // the prompt's: not offered
		}
		ls = append(ls, l)
	}
	sort.SliceStable(ls, func(i, j int) bool { return linkOrder[ls[i].Part] < linkOrder[ls[j].Part] })
	return internalLinks(ls)
}

// resolveLink finds where a link leads: a lesson index and step index.
func (m *Model) resolveLink(l link) (li, si int, err error) {
	all := m.ses.Lessons()
	les, si, err := lessons.Resolve(all, m.ses.Lesson(), l.target)
	if err != nil {
		return 0, 0, err
	}
	for i := range all {
		if all[i] == les {
			li = i
		}
	}
	return li, si, nil
}

// linkKey offers the step's links one at a time: o shows the first, o
// again the next, y follows the one shown.
func (m *Model) linkKey() {
	ls := m.stepLinks()
	if len(ls) == 0 {
		m.msg.say(lvInfo, "This step has no links to other steps.")
		return
	}
	m.links, m.linkAt = ls, 0
	m.askLink()
}

func (m *Model) askLink() {
	l := m.links[m.linkAt]
	where := l.target
	if li, si, err := m.resolveLink(l); err == nil {
		les := m.ses.Lessons()[li]
		where = fmt.Sprintf("lesson %s, step %d: %s", strings.ToUpper(les.ID), si+1, les.Steps[si].Title)
	}
	title := "Follow this link?"
	if len(m.links) > 1 {
		title = fmt.Sprintf("Follow link %d of %d?", m.linkAt+1, len(m.links))
	}
	m.dlg = &dialog{kind: dlgLink, title: title, body: fmt.Sprintf("%q leads to %s.", l.text, where), moreLinks: len(m.links) > 1}
}

// followLink opens the step the offered link leads to.
func (m *Model) followLink() tea.Cmd {
	if m.linkAt >= len(m.links) {
		return nil
	}
	li, si, err := m.resolveLink(m.links[m.linkAt])
	if err != nil {
		m.msg.say(lvWarn, "Cannot follow the link: "+err.Error()+".")
		return nil
	}
	from := fmt.Sprintf("lesson %s step %d", strings.ToUpper(m.ses.Lesson().ID), m.place().si+1)
	cmd := m.enterStep(li, si)
	m.msg.say(lvInfo, "Followed the link from "+from+"; / lists every lesson to go back.")
	return cmd
}
