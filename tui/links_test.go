package tui

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/charmbracelet/x/ansi"

	"github.com/meshdojo/meshdojo/lessons"
)

func TestInternalLinks(t *testing.T) {
	md := "See [a](#one), [web](https://istio.io), `[code](#no)` and [b](lesson:10#two).\n\n```sh\necho [x](#fenced)\n```\n\n[a again](#one)"
	want := []link{{"a", "#one"}, {"b", "lesson:10#two"}}
	if got := internalLinks(lessons.Links(md)); !reflect.DeepEqual(got, want) {
		t.Errorf("internalLinks = %v, want %v", got, want)
	}
}

// TestFollowLinks: o offers the step's links one at a time, names where
// each leads, and y goes there, within the lesson or to another one.
func TestFollowLinks(t *testing.T) {
	s := run(t, New(options(t, nil, 1, nil)), 100, 30)
	s.waitText("Step 1 of 6")
	s.press("o")
	s.waitText("Follow link 1 of 2?", "lesson 6, step 2: Make it strict")
	s.press("o")
	s.waitText("Follow link 2 of 2?", "lesson 10, step 2: Retry")
	s.press("n")
	s.waitText("Cancelled", "Step 1 of 6")
	s.press("o", "y")
	s.waitText("Step 2 of 6 · Make it strict", "Followed the link")
	s.press("o")
	s.waitText("This step has no links")
	s.press("p", "o", "o", "y")
	s.waitText("Step 2 of 2 · Retry")
}

// TestPickerNamesUnwrittenChapters: searching for a chapter of the book
// that has no lesson yet says so, instead of "no lesson matches".
func TestPickerNamesUnwrittenChapters(t *testing.T) {
	m := direct(t, options(t, nil, 1, nil), 80, 24)
	press(t, m, "/", "7")
	if v := ansi.Strip(view(m)); !strings.Contains(v, "7 (not written yet) Authentication and authorization") || !strings.Contains(v, "no written lesson matches yet") {
		t.Fatalf("search for 7 does not name the unwritten chapter:\n%s", v)
	}
	press(t, m, "esc")
	press(t, m, "o", "b", "s", "e", "r", "v")
	if v := ansi.Strip(view(m)); !strings.Contains(v, "8 (not written yet) Observability") {
		t.Fatalf("search by words does not name the unwritten chapter:\n%s", v)
	}
}

// TestHintLinkOfferedOnceShown: a link in a hint is offered only once
// the hint is shown, as the reader cannot see it before.
func TestHintLinkOfferedOnceShown(t *testing.T) {
	src := "---\nid: 6\nchapter: 6\ntitle: T\nsummary: s\nmode: sidecar\nlab: chapter-06\nminutes: 5\n---\n\n" +
		"## One\n\nNo link in the text.\n\n```hint\nSee [the next step](#two).\n```\n\n## Two\n\nText.\n"
	all, err := lessons.LoadFS(fstest.MapFS{"06.md": {Data: []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	o := options(t, nil, 1, nil)
	o.Lessons = all
	m := direct(t, o, 100, 30)
	press(t, m, "o")
	if v := ansi.Strip(view(m)); !strings.Contains(v, "This step has no links") {
		t.Fatalf("a hidden hint's link is offered:\n%s", v)
	}
	press(t, m, "h", "o")
	if v := ansi.Strip(view(m)); !strings.Contains(v, "lesson 6, step 2: Two") {
		t.Fatalf("the shown hint's link is not offered:\n%s", v)
	}
}
