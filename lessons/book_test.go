package lessons

import (
	"strings"
	"testing"
)

func TestBook(t *testing.T) {
	cs, err := book()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) < 15 || cs[0].ID != "1" {
		t.Fatalf("book.yaml has %d chapters starting with %+v; want the book's 15 chapters and appendices", len(cs), cs[0])
	}
	for _, c := range cs {
		if n := len([]rune(c.Title)); n > 32 {
			t.Errorf("chapter %s title %q is %d long; keep it to 32 so meshdojo list fits 80 columns", c.ID, c.Title, n)
		}
	}
	if title, ok := ChapterTitle(" A2"); !ok || title != "Gateway API in sidecar mode" {
		t.Errorf("ChapterTitle(A2) = %q, %v", title, ok)
	}
	if got := ChapterName("a2"); got != "appendix 2" {
		t.Errorf("ChapterName(a2) = %q", got)
	}
}

func TestBookRefusesBadData(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`- {id: "1", title: "One", pages: 3}`, "unknown field"},
		{`- {id: "1"}`, "needs both an id and a title"},
		{`- {id: "01", title: "One"}`, `write "1"`},
		{"- {id: \"1\", title: \"One\"}\n- {id: \"1\", title: \"Again\"}", "listed twice"},
	} {
		_, err := parseBook([]byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.src, err, tc.want)
		}
	}
}
