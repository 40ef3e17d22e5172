package testcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Module versions used when go.mod does not require a module (yet). They
// match the versions the team pinned: istio.io/client-go v1.32 ships with
// istio.io/api v1.32.
var fallbackVersions = map[string]string{
	"istio.io/api":            "v1.32.0",
	"sigs.k8s.io/gateway-api": "v1.6.3",
}

var (
	crdOnce sync.Once
	crdYAML string
	crdErr  error
)

// crds returns the Istio and Gateway API CRDs as one YAML stream, read from
// the module cache once per process.
func crds() (string, error) {
	crdOnce.Do(func() { crdYAML, crdErr = readCRDs() })
	return crdYAML, crdErr
}

func readCRDs() (string, error) {
	dirs, err := moduleDirs("istio.io/api", "sigs.k8s.io/gateway-api")
	if err != nil {
		return "", fmt.Errorf("testcluster: locating CRD modules: %w", err)
	}
	files := []string{filepath.Join(dirs["istio.io/api"], "kubernetes", "customresourcedefinitions.gen.yaml")}
	gw, err := filepath.Glob(filepath.Join(dirs["sigs.k8s.io/gateway-api"], "config", "crd", "standard", "*.yaml"))
	if err != nil {
		return "", err
	}
	sort.Strings(gw)
	for _, f := range gw {
		// A ValidatingAdmissionPolicy guarding upgrades, not a CRD.
		if !strings.HasSuffix(f, "vap_safeupgrades.yaml") {
			files = append(files, f)
		}
	}
	if len(files) < 2 {
		return "", fmt.Errorf("testcluster: no Gateway API CRDs under %s", dirs["sigs.k8s.io/gateway-api"])
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("testcluster: reading CRDs: %w", err)
		}
		b.WriteString("\n---\n")
		b.Write(data)
	}
	return b.String(), nil
}

// moduleDirs finds the module cache directories of the given modules at the
// versions the main module's go.mod selects, downloading them if needed.
func moduleDirs(paths ...string) (map[string]string, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	dirs := map[string]string{}
	for _, p := range paths {
		type mod struct{ Path, Version, Dir string }
		var m mod
		cmd := exec.Command("go", append([]string{"list", "-m", "-json"}, p)...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err == nil {
			err = json.Unmarshal(out, &m)
		}
		if err != nil || m.Version == "" {
			m = mod{Path: p, Version: fallbackVersions[p]}
		}
		if m.Dir == "" {
			// Outside the main module, so that go.mod and go.sum stay
			// untouched.
			cmd := exec.Command("go", "mod", "download", "-json", m.Path+"@"+m.Version)
			cmd.Dir = os.TempDir()
			cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
			out, err := cmd.Output()
			if err != nil {
				var e struct{ Error string }
				json.Unmarshal(out, &e) // with -json, the reason is in the output
				return nil, fmt.Errorf("go mod download %s@%s: %v: %s%s", m.Path, m.Version, err, e.Error, stderr(err))
			}
			if err := json.Unmarshal(out, &m); err != nil {
				return nil, err
			}
		}
		if m.Dir == "" {
			return nil, fmt.Errorf("module %s@%s has no directory", m.Path, m.Version)
		}
		dirs[p] = m.Dir
	}
	return dirs, nil
}

func stderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

func (c *Cluster) installCRDs(ctx context.Context) error {
	y, err := crds()
	if err != nil {
		return err
	}
	if err := c.Apply(ctx, y); err != nil {
		return fmt.Errorf("testcluster: installing CRDs: %w", err)
	}
	return nil
}
