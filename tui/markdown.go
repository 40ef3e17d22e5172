package tui

import (
	"github.com/meshdojo/meshdojo/lessons"

	"regexp"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/glamour/v2"
)

// mdKey identifies one rendered piece of a step. Rendering is by far the
// most expensive thing the UI does, so each piece (body, each hint, the
// solution) is rendered once per width and theme and kept; a keypress
// that does not change the text never reaches glamour.
type mdKey struct {
	lesson string
	step   int
	part   string // "body", "hint1", "solution", ...
	width  int
	theme  string
}

// mdCache renders Markdown with glamour and remembers the results.
type mdCache struct {
	out       map[mdKey]string
	renderers map[[2]string]*glamour.TermRenderer // by theme and width
	pending   map[mdKey]bool                      // being rendered in the background
	renders   int                                 // glamour calls on the UI goroutine
	prefetch  int                                 // glamour calls in the background
}

func newMDCache() *mdCache {
	return &mdCache{out: map[mdKey]string{}, renderers: map[[2]string]*glamour.TermRenderer{}, pending: map[mdKey]bool{}}
}

// renderedMsg carries a piece rendered in the background.
type renderedMsg struct {
	k   mdKey
	out string
}

// ahead renders a piece the reader is likely to open next (the next
// step) in a command, off the UI goroutine, with its own renderer since
// glamour's are not safe to share. Pressing n then finds it cached.
func (c *mdCache) ahead(k mdKey, st *styles, src string) tea.Cmd {
	if _, ok := c.out[k]; ok || c.pending[k] || src == "" {
		return nil
	}
	c.pending[k] = true
	c.prefetch++
	cfg, width := st.markdown, k.width
	return func() tea.Msg {
		r, err := glamour.NewTermRenderer(glamour.WithStyles(cfg), glamour.WithWordWrap(max(width, 20)))
		if err != nil {
			return nil
		}
		out, err := r.Render(prepare(src))
		if err != nil {
			return nil
		}
		return renderedMsg{k, strings.Trim(out, "\n")}
	}
}

// store keeps a background result unless the UI rendered it meanwhile.
func (c *mdCache) store(msg renderedMsg) {
	delete(c.pending, msg.k)
	if _, ok := c.out[msg.k]; !ok {
		c.out[msg.k] = msg.out
	}
}

// render returns src rendered for k, from the cache when possible.
func (c *mdCache) render(k mdKey, st *styles, src string) string {
	if s, ok := c.out[k]; ok {
		return s
	}
	c.renders++
	s := c.renderNow(st, k.width, src)
	// Each width keeps a bounded number of entries: a reader dragging a
	// window edge would otherwise fill memory with every width passed.
	if len(c.out) > 512 {
		for key := range c.out {
			if key.width != k.width || key.theme != k.theme {
				delete(c.out, key)
			}
		}
	}
	c.out[k] = s
	return s
}

func (c *mdCache) renderNow(st *styles, width int, src string) string {
	width = max(width, 20)
	rk := [2]string{st.id, strconv.Itoa(width)}
	r := c.renderers[rk]
	if r == nil {
		var err error
		// The style is always explicit: glamour's own default would ignore
		// the reader's theme and NO_COLOR.
		r, err = glamour.NewTermRenderer(glamour.WithStyles(st.markdown), glamour.WithWordWrap(width))
		if err != nil {
			return src
		}
		if len(c.renderers) > 8 {
			clear(c.renderers)
		}
		c.renderers[rk] = r
	}
	out, err := r.Render(prepare(src))
	if err != nil {
		// Show the source rather than nothing; the lint test keeps this
		// from happening with shipped lessons.
		return src
	}
	return strings.Trim(out, "\n")
}

var (
	itemRe  = regexp.MustCompile(`^\s*([-*+]|\d+[.)])\s+`)
	blockRe = regexp.MustCompile("^\\s*(#|>|\\||```|~~~)")
)

// joinListLines joins the source lines of each list item into one.
// Glamour keeps a list item's soft line breaks as real ones, so an item
// wrapped in the source came out as ragged lines ("a database that /
// runs in Docker, / outside the cluster.") at every width. Paragraphs
// are not affected, fenced code is left alone, and a hard break (two
// trailing spaces or a backslash) is kept.
func joinListLines(md string) string {
	lines := strings.Split(md, "\n")
	out := make([]string, 0, len(lines))
	fence, inItem := "", false
	for _, line := range lines {
		t := strings.TrimSpace(line)
		switch {
		case fence != "":
			// Closed by a run of the same character at least as long.
			if strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
				fence = ""
			}
		case strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~"):
			fence, inItem = t[:len(t)-len(strings.TrimLeft(t, t[:1]))], false
		case t == "":
			inItem = false
		case itemRe.MatchString(line):
			inItem = true
		case inItem && !blockRe.MatchString(line):
			prev := out[len(out)-1]
			if !strings.HasSuffix(prev, "  ") && !strings.HasSuffix(prev, "\\") {
				out[len(out)-1] = prev + " " + t
				continue
			}
		default:
			inItem = false
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// prepare adapts lesson Markdown for glamour: list items on one line,
// and internal links marked so the reader knows o follows them (glamour
// drops an #anchor target and prints lesson:ID targets raw).
func prepare(md string) string { return markLinks(joinListLines(md)) }

// linkMark follows an internal link's text; the help explains it.
const linkMark = "↗"

// markLinks rewrites [text](#anchor) and [text](lesson:ID#anchor) outside
// code as *text*↗.
func markLinks(md string) string {
	if !strings.Contains(md, "](") {
		return md
	}
	lines := strings.Split(md, "\n")
	fence := ""
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = t[:len(t)-len(strings.TrimLeft(t, t[:1]))]
			continue
		}
		// Even pieces between backticks are outside code spans.
		parts := strings.Split(line, "`")
		for j := 0; j < len(parts); j += 2 {
			parts[j] = lessons.LinkPattern.ReplaceAllStringFunc(parts[j], func(m string) string {
				sub := lessons.LinkPattern.FindStringSubmatch(m)
				if !strings.HasPrefix(sub[2], "#") && !strings.HasPrefix(sub[2], "lesson:") {
					return m
				}
				return "*" + sub[1] + "*" + linkMark
			})
		}
		lines[i] = strings.Join(parts, "`")
	}
	return strings.Join(lines, "\n")
}
