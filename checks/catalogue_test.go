package checks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// apiChecks are the checks of the API catalogue (this package's
// istio, mtls, workload, resource, gateway, route and meshconfig files).
var apiChecks = []string{
	"istiod-ready", "ca-root-cert", "namespace-enrolled", "workloads-in-mesh", "mtls-mode",
	"resource-field", "resource-count", "crd-served", "gateway-condition", "workload-ready",
	"route-weights", "mesh-config",
}

// TestCatalogue holds every API check to the contract: documented
// parameters, watched inputs, and fixtures on the real API server with
// at least one passing and one failing cluster state.
func TestCatalogue(t *testing.T) {
	verdicts := map[string]map[Verdict]bool{}
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, f := range files {
		if strings.HasPrefix(f, "testdata/common/") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var spec fixtureSpec
		if err := yaml.Unmarshal([]byte(splitDocs(string(raw))[0]), &spec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range spec.Cases {
			name := spec.Check
			if c.Check != "" {
				name = c.Check
			}
			if verdicts[name] == nil {
				verdicts[name] = map[Verdict]bool{}
			}
			verdicts[name][c.Want] = true
		}
	}
	for _, name := range apiChecks {
		c, ok := Lookup(name)
		if !ok {
			t.Errorf("%s is not registered", name)
			continue
		}
		if !c.Watch || c.Acts != "" || c.Inputs == nil || c.Eval == nil || c.Summary == "" {
			t.Errorf("%s: want Watch, no Acts, Inputs, Eval and Summary", name)
		}
		for _, p := range c.Params {
			if p.Doc == "" {
				t.Errorf("%s: parameter %s has no Doc", name, p.Name)
			}
			if p.Type == Enum && p.Default != "" && !strings.Contains(","+strings.Join(p.Enum, ",")+",", ","+p.Default+",") {
				t.Errorf("%s: default %q of %s is not in its enum", name, p.Default, p.Name)
			}
		}
		if !verdicts[name][Pass] || !verdicts[name][Fail] {
			t.Errorf("%s: fixtures need at least one passing and one failing case (have %v)", name, verdicts[name])
		}
	}
}
