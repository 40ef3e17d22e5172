package cli

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.1",
		Main:      debug.Module{Path: "github.com/meshdojo/meshdojo", Version: "v0.3.0"},
		Deps: []*debug.Module{
			{Path: "istio.io/client-go", Version: "v1.32.0"},
			{Path: "k8s.io/client-go", Version: "v0.37.2"},
			{Path: "k8s.io/api", Version: "v0.37.0", Replace: &debug.Module{Path: "k8s.io/api", Version: "v0.37.1"}},
		},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}},
	}
	got := versionText(bi, "linux/amd64")
	for _, want := range []string{
		"meshdojo:", "v0.3.0 (commit 0123456789ab, modified)",
		"go1.26.1 linux/amd64",
		"istio.io/client-go:", "v1.32.0",
		"k8s.io/client-go:", "v0.37.2",
		"v0.37.1 (replaces v0.37.0)",
		"istio.io/api:", "not in this build",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("version text lacks %q:\n%s", want, got)
		}
	}
}

// TestVersionFlag: --version prints this binary's own versions and exits
// 0 without a terminal, a cluster or progress.
func TestVersionFlag(t *testing.T) {
	code, out, errs := plain(t, "", "--version")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	// A test binary records no dependencies; e2e checks the real
	// binary's versions. Here: every line is there.
	for _, want := range append([]string{"meshdojo:", "Go:"}, versionModules...) {
		if !strings.Contains(out, want) {
			t.Errorf("--version lacks %q:\n%s", want, out)
		}
	}
}
