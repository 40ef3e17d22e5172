package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestJoinListLines(t *testing.T) {
	in := "Para\nnext line.\n\n- one\n  two\n- three  \n  four\n1. five\n   six\n\n````md\n```sh\n```\n- a\n  b\n````\n- x\n> quote"
	want := "Para\nnext line.\n\n- one two\n- three  \n  four\n1. five six\n\n````md\n```sh\n```\n- a\n  b\n````\n- x\n> quote"
	if got := joinListLines(in); got != want {
		t.Errorf("joinListLines:\n%s\nwant:\n%s", got, want)
	}
}

// TestListItemsWrapAsParagraphs: a list item wrapped in the source is
// re-wrapped to the screen, not broken where the source line ended.
func TestListItemsWrapAsParagraphs(t *testing.T) {
	out := ansi.Strip(newMDCache().renderNow(newStyles(ThemeDark, false), 60, "- a database that runs in Docker,\n  outside the cluster."))
	if !strings.Contains(out, "Docker, outside the cluster.") {
		t.Errorf("list item keeps its source line break:\n%s", out)
	}
}

func TestMarkLinks(t *testing.T) {
	in := "See [a](#one), [web](https://istio.io), `[code](#no)` and [b](lesson:10#two).\n```\n[x](#fenced)\n```"
	want := "See *a*" + linkMark + ", [web](https://istio.io), `[code](#no)` and *b*" + linkMark + ".\n```\n[x](#fenced)\n```"
	if got := markLinks(in); got != want {
		t.Errorf("markLinks:\n%s\nwant:\n%s", got, want)
	}
}
