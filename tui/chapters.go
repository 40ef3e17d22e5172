package tui

import (
	"strings"

	"github.com/meshdojo/meshdojo/lessons"
)

// Chapter is one chapter or appendix of the book, by lesson ID.
type Chapter struct{ ID, Title string }

// Chapters are the book's chapters and appendices in order. Lessons are
// written one chapter at a time; this table lets the UI and the commands
// name a chapter whose lesson does not exist yet, instead of answering a
// reader who typed a real chapter number as if it were a typo. Titles
// are short (32 columns at most) so meshdojo list fits 80 columns.
var Chapters = []Chapter{
	{"1", "Microservices and why a mesh"},
	{"2", "Istio's architecture, installing"},
	{"3", "Control-plane settings"},
	{"4", "A tour of Istio's resources"},
	{"5", "L4/L7 traffic management"},
	{"6", "Certificates, PeerAuthentication"},
	{"7", "Authentication and authorization"},
	{"8", "Observability"},
	{"9", "Black-box tests, fault injection"},
	{"10", "Timeouts, retries and breakers"},
	{"11", "Ambient mode traffic management"},
	{"12", "Designing with sidecar mode"},
	{"13", "Istio and organisations"},
	{"14", "Troubleshooting"},
	{"15", "The future of service meshes"},
	{"a1", "Upgrading sidecar mode"},
	{"a2", "Gateway API in sidecar mode"},
	{"a3", "Native sidecars"},
}

// ChapterTitle returns the book's title for a lesson ID as typed.
func ChapterTitle(id string) (string, bool) {
	id = lessons.NormalizeID(id)
	for _, c := range Chapters {
		if c.ID == id {
			return c.Title, true
		}
	}
	return "", false
}

// ChapterName says "chapter 10" or "appendix 2".
func ChapterName(id string) string {
	id = lessons.NormalizeID(id)
	if n, ok := strings.CutPrefix(id, "a"); ok {
		return "appendix " + n
	}
	return "chapter " + id
}

// unwritten are the chapters matching q that have no lesson in all.
func unwritten(all []*lessons.Lesson, q string) []Chapter {
	var out []Chapter
	for _, c := range Chapters {
		if _, ok := lessons.Find(all, c.ID); ok {
			continue
		}
		if c.ID == lessons.NormalizeID(q) || allWords(strings.ToLower(c.Title), q) {
			out = append(out, c)
		}
	}
	return out
}
