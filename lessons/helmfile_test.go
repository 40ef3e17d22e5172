package lessons_test

import (
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/lessons"
)

// helmfileCmd matches a helmfile command line: the file and the verb,
// then the rest of the line (its --set arguments).
var helmfileCmd = regexp.MustCompile(`helmfile\s+-f\s+(\S+)\s+(apply|sync|destroy)\b(.*)`)

// TestHelmfileApplyChangesSomething: `helmfile apply` upgrades only the
// releases helm-diff finds a difference in, and helm-diff compares the
// chart with the release Helm stored, not with the cluster. An apply of
// the same helmfile with the same values as the last command on that
// chart directory (the lab's variants of one release share a directory)
// therefore changes nothing, whatever the reader changed by hand in
// between: lesson 5 once finished its phased release that way, and the
// step could never pass. The check reads the solutions in step order
// (the commands a reader who follows them runs).
func TestHelmfileApplyChangesSomething(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		type last struct {
			cmd  string
			step int
		}
		seen := map[string]last{}
		for i, s := range l.Steps {
			cmds := s.SolutionCommands
			if len(cmds) == 0 {
				cmds = s.Commands
			}
			for _, block := range cmds {
				for _, line := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
					m := helmfileCmd.FindStringSubmatch(line)
					if m == nil {
						continue
					}
					file, verb := m[1], m[2]
					args := strings.Join(strings.Fields(strings.SplitN(m[3], "&&", 2)[0]), " ")
					cmd := file + " " + args
					dir := path.Dir(file)
					if p, ok := seen[dir]; ok && verb == "apply" && p.cmd == cmd {
						t.Errorf("lesson %s step %d: `%s` repeats step %d's command on that chart: helm-diff compares with the stored release, not the cluster, so it changes nothing (hand edits stay); use sync after removing the edited object, or different values",
							l.ID, i+1, strings.TrimSpace("helmfile -f "+file+" apply "+args), p.step)
					}
					seen[dir] = last{cmd, i + 1}
				}
			}
		}
	}
}
