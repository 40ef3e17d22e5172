package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/internal/testcluster"
)

func TestRoomBadInput(t *testing.T) {
	dir := t.TempDir()
	testcluster.ClosedKubeconfig(t, filepath.Join(dir, "alice.yaml"), "alice")
	empty := t.TempDir()
	junk := t.TempDir()
	os.WriteFile(filepath.Join(junk, "notes.txt"), []byte("[not yaml"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"room", "--kubeconfig", dir}, 2, "say which lesson"},
		{[]string{"room", "--lesson", "6"}, 2, "give the participants' kubeconfigs"},
		{[]string{"room", "--lesson", "99", "--kubeconfig", dir}, 2, `there is no lesson "99"`},
		{[]string{"room", "--lesson", "6", "--kubeconfig", empty}, 2, "has no files"},
		{[]string{"room", "--lesson", "6", "--kubeconfig", junk}, 2, "notes.txt is not a kubeconfig"},
		{[]string{"room", "--lesson", "6", "--kubeconfig", dir, "--timeout", "0s"}, 2, "not a positive duration"},
		{[]string{"room", "--lesson", "6", "--kubeconfig", dir, "--theme", "pink"}, 2, `--theme "pink"`},
		{[]string{"room", "--lesson", "6", "--kubeconfig", dir, "extra"}, 2, `unexpected argument "extra"`},
		// Without a terminal it says what to use instead.
		{[]string{"room", "--lesson", "6", "--kubeconfig", dir}, 1, "meshdojo check --lesson 6 --kubeconfig"},
	} {
		code, _, errs := run(t, "", false, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}
