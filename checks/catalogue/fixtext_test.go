package catalogue

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Fix texts are shown by the tutorial and by meshdojo check alike, so
// they may name neither a key of the UI ("try again with r") nor a path
// in meshdojo's sources (assets/rbac/): they say Again and GrantRBAC, and
// each surface says how. This reads the package's own string literals.
func TestFixTextsNameNoKeyOrSourcePath(t *testing.T) {
	bad := regexp.MustCompile(`(?i)(with|press) r\b|\br to (re)?check|assets/rbac/`)
	files, _ := filepath.Glob("*.go")
	lit := regexp.MustCompile("\"(?:[^\"\\\\\\n]|\\\\.)*\"|`[^`]*`")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lit.FindAllString(string(src), -1) {
			if bad.MatchString(l) {
				t.Errorf("%s: fix text names a key or a source path: %s", f, l)
			}
		}
	}
}
