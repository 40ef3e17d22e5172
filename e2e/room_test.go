package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// TestRoomGridOnScreen runs `meshdojo room` in a pseudo-terminal over
// three participants: alice (admin on the harness's API server), bob
// (credentials RBAC refuses) and carol (no server at all), and reads the
// grid and alice's details off the screen.
func TestRoomGridOnScreen(t *testing.T) {
	c := testcluster.Shared(t)
	dir := t.TempDir()
	for name, user := range map[string]string{"alice": "", "bob": "nobody"} {
		cfg := c.Config
		if user != "" {
			cfg = c.Impersonate(user)
		}
		kc, err := c.Kubeconfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name+".yaml"), kc, 0o600)
	}
	testcluster.ClosedKubeconfig(t, filepath.Join(dir, "carol.yaml"), "gone")

	tm := start(t, offlineEnv(t), 120, 30, "room", "--lesson", "6", "--kubeconfig", dir, "--timeout", "3s")
	scr := tm.waitFor("a verdict for everyone", func(s string) bool {
		return strings.Contains(s, "3 participants") && strings.Contains(s, "2 live") &&
			strings.Contains(s, "1 unreachable") && rowHas(s, "bob", "⊘") && rowHas(s, "alice", "✗")
	})
	for _, want := range []string{"Room · Lesson 6", "WHO", "DONE", "FIRST PROBLEM", "unreachable: cannot reach"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
	// Nobody passes anything on an empty cluster: by name.
	if got := rowOrder(scr, "alice", "bob", "carol"); got != "alice bob carol" {
		t.Errorf("rows %s:\n%s", got, scr)
	}

	tm.press("enter") // alice, at the top
	tm.waitText("alice", "Check details", "Step ")
	tm.press("esc")
	tm.waitText("FIRST PROBLEM")
	tm.press("q")
	if code := tm.wait(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// rowHas says whether the screen line of participant name holds sub.
func rowHas(s, name, sub string) bool {
	for _, l := range lines(s) {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "▶"))
		if len(f) > 0 && f[0] == name {
			return strings.Contains(l, sub)
		}
	}
	return false
}

func rowOrder(s string, names ...string) string {
	var out []string
	for _, l := range lines(s) {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "▶"))
		for _, n := range names {
			if len(f) > 0 && f[0] == n {
				out = append(out, n)
			}
		}
	}
	return strings.Join(out, " ")
}
