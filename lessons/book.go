package lessons

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"
)

// Chapter is one chapter or appendix of the book, by lesson ID.
type Chapter struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

//go:embed book.yaml
var bookYAML []byte

// book parses book.yaml once; it is embedded, so an error here is a
// build defect that Load reports and the tests catch.
var book = sync.OnceValues(func() ([]Chapter, error) { return parseBook(bookYAML) })

func parseBook(data []byte) ([]Chapter, error) {
	var cs []Chapter
	if err := yaml.UnmarshalStrict(data, &cs); err != nil {
		return nil, fmt.Errorf("book.yaml: %v", err)
	}
	seen := map[string]bool{}
	for i, c := range cs {
		id := NormalizeID(c.ID)
		switch {
		case c.ID == "" || c.Title == "":
			return nil, fmt.Errorf("book.yaml: entry %d needs both an id and a title", i+1)
		case id != c.ID:
			return nil, fmt.Errorf("book.yaml: id %q is not written as a lesson ID; write %q", c.ID, id)
		case seen[id]:
			return nil, fmt.Errorf("book.yaml: id %q is listed twice", id)
		}
		seen[id] = true
	}
	return cs, nil
}

// Chapters are the book's chapters and appendices in order, from
// book.yaml, whether or not their lesson is written yet. Nil only if
// book.yaml does not parse, which Load reports.
func Chapters() []Chapter {
	cs, _ := book()
	return cs
}

// ChapterTitle returns the book's title for a lesson ID as typed.
func ChapterTitle(id string) (string, bool) {
	id = NormalizeID(id)
	for _, c := range Chapters() {
		if c.ID == id {
			return c.Title, true
		}
	}
	return "", false
}

// ChapterName says "chapter 10" or "appendix 2".
func ChapterName(id string) string {
	id = NormalizeID(id)
	if n, ok := strings.CutPrefix(id, "a"); ok {
		return "appendix " + n
	}
	return "chapter " + id
}
