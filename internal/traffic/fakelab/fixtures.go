package fakelab

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// includeLine is a fixture's "# include: FILE" line (lessons/testdata/
// README.md): FILE's objects are part of the state too.
var includeLine = regexp.MustCompile(`(?m)^# include: (\S+)\s*$`)

// Fixtures reads lesson fixture files from dir as one stream of YAML
// documents, for ParseObjects or a test API server. The files a fixture
// includes come before it, so that its own documents replace theirs, as
// applying them in that order would; a file named twice, directly or
// through includes, is read once.
func Fixtures(dir string, names ...string) (string, error) {
	seen := map[string]bool{}
	var read func(name string) (string, error)
	read = func(name string) (string, error) {
		if seen[name] {
			return "", nil
		}
		seen[name] = true
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		var out strings.Builder
		for _, m := range includeLine.FindAllStringSubmatch(string(b), -1) {
			inc, err := read(m[1])
			if err != nil {
				return "", err
			}
			out.WriteString(inc + "\n---\n")
		}
		return out.String() + string(b), nil
	}
	var docs []string
	for _, name := range names {
		d, err := read(name)
		if err != nil {
			return "", err
		}
		docs = append(docs, d)
	}
	return strings.Join(docs, "\n---\n"), nil
}
