package catalogue

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/meshdojo/meshdojo/checks"
)

// liveTests are the tests that hold each check needing a live mesh
// (Check.NeedsMesh) to a passing and a failing case: the API server of
// the tests runs no pods, so these checks are tested against a simulated
// lab (internal/traffic/fakelab), a played kubelet or a fake Prometheus,
// not by YAML fixtures.
var liveTests = map[string][]string{
	"http-probe":       {"TestHTTPProbeLessons", "TestHTTPProbeOnCluster"},
	"pod-probe":        {"TestPodProbeLessons", "TestPodProbeErrors"},
	"prometheus-query": {"TestMetricChecksOnCluster"},
	"envoy-stat":       {"TestMetricChecksOnCluster"},
	"access-log":       {"TestAccessLogOnCluster"},
	"follow-request":   {"TestFollowRequestOnCluster"},
	"request-rate":     {"TestRequestRateOnCluster"},
	"uptime-probe":     {"TestUptimeProbeOnCluster", "TestUptimeProbeParams"},
}

// TestCatalogue holds every check to the contract, naming what is
// missing: listed in the registry, documented parameters and codes,
// declared inputs, capabilities for what it does beyond reading, and
// fixtures with at least one passing and one failing cluster state and a
// case for each of its codes (or, for a check that needs a live mesh,
// tests against a simulated one).
func TestCatalogue(t *testing.T) {
	defined, tests := definedChecks(t)
	listed := map[string]bool{}
	for _, c := range catalogue() {
		listed[c.Name] = true
	}
	for _, name := range defined {
		if !listed[name] {
			t.Errorf("check %s is defined but not listed in catalogue (registry.go): add it there", name)
		}
	}
	verdicts, codes := fixtureVerdicts(t)
	for _, c := range catalogue() {
		name := c.Name
		if c.Summary == "" || c.Eval == nil {
			t.Errorf("%s: declare a Summary and an Eval", name)
		}
		if c.Inputs == nil && len(c.Uses) == 0 {
			t.Errorf("%s: declare what it reads (Inputs) or the capabilities it uses (Uses)", name)
		}
		if c.Acts != "" && len(c.Uses) == 0 {
			t.Errorf("%s: it acts on the cluster (%s) but declares no capability (Uses) to do it with", name, c.Acts)
		}
		if c.Acts != "" && c.Watch {
			t.Errorf("%s: a check that acts must not be watched", name)
		}
		for _, p := range c.Params {
			if p.Doc == "" {
				t.Errorf("%s: parameter %s has no Doc", name, p.Name)
			}
			if p.Type == "" {
				t.Errorf("%s: parameter %s has no Type", name, p.Name)
			}
			if p.Default != "" {
				if err := p.Valid(p.Default); err != nil {
					t.Errorf("%s: the default of %s breaks its own rules: %v", name, p.Name, err)
				}
			}
		}
		for _, r := range c.Rules {
			if r.Doc == "" || r.Check == nil {
				t.Errorf("%s: a rule between parameters lacks its Doc or Check", name)
			}
		}
		kinds := map[checks.Verdict]bool{}
		for _, code := range c.Codes {
			if code.ID == "" || code.Doc == "" || code.Verdict == "" {
				t.Errorf("%s: code %+v lacks an ID, a verdict or a Doc", name, code)
			}
			if err := code.Fits(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			kinds[code.Verdict] = true
		}
		if !kinds[checks.Pass] || !kinds[checks.Fail] && !kinds[checks.Error] {
			t.Errorf("%s: declare its codes (Codes), with the passing one and at least one other (have %v)", name, c.Codes)
		}
		if c.NeedsMesh() {
			if len(liveTests[name]) == 0 {
				t.Errorf("%s needs a live mesh: add the tests that hold it to a passing and a failing case to liveTests", name)
			}
			for _, fn := range liveTests[name] {
				if !tests[fn] {
					t.Errorf("%s: liveTests names %s, which is no test of this package", name, fn)
				}
			}
			continue
		}
		if !verdicts[name][checks.Pass] || !verdicts[name][checks.Fail] {
			t.Errorf("%s: add fixtures under testdata/%s/ with at least one passing and one failing case (have %v)", name, name, verdicts[name])
		}
		for _, code := range c.Codes {
			if !codes[code.ID] {
				t.Errorf("%s: no fixture expects its code %s (%s): add a case with code: %s under testdata/%s/", name, code.ID, code.Doc, code.ID, name)
			}
		}
	}
	for name := range liveTests {
		if c, ok := Lookup(name); !ok || !c.NeedsMesh() {
			t.Errorf("liveTests names %s, which is not a check that needs a live mesh", name)
		}
	}
}

// TestCommonCodesFit: the codes every check shares are messages whose
// templates fit their arguments, as every check's own are (TestCatalogue).
func TestCommonCodesFit(t *testing.T) {
	for _, c := range checks.CommonCodes {
		if err := c.Fits(); err != nil {
			t.Error(err)
		}
	}
}

// TestCodesAreUnique: a code means one outcome, wherever it is declared.
func TestCodesAreUnique(t *testing.T) {
	seen := map[string]checks.Code{}
	for _, c := range checks.CommonCodes {
		seen[c.ID] = c
	}
	for _, ch := range catalogue() {
		for _, c := range ch.Codes {
			if prev, dup := seen[c.ID]; dup && (prev.Verdict != c.Verdict || prev.Template != c.Template || prev.Doc != c.Doc) {
				t.Errorf("%s: code %s (%q: %s) is declared elsewhere as %q: %s", ch.Name, c.ID, c.Template, c.Doc, prev.Template, prev.Doc)
			}
			seen[c.ID] = c
		}
	}
}

// definedChecks finds every package-level `var x = &Check{...}` of the
// package's own (non-test) files, by the Name it gives, and every test
// function of its test files.
func definedChecks(t *testing.T) (names []string, tests map[string]bool) {
	t.Helper()
	tests = map[string]bool{}
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if strings.HasSuffix(f, "_test.go") && strings.HasPrefix(n.Name.Name, "Test") && n.Recv == nil {
					tests[n.Name.Name] = true
				}
				return false
			case *ast.CompositeLit:
				sel, ok := n.Type.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Check" || strings.HasSuffix(f, "_test.go") {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "checks" {
					return true
				}
				for _, e := range n.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if k, _ := kv.Key.(*ast.Ident); ok && k != nil && k.Name == "Name" {
						if lit, ok := kv.Value.(*ast.BasicLit); ok {
							names = append(names, strings.Trim(lit.Value, `"`))
						}
					}
				}
			}
			return true
		})
	}
	slices.Sort(names)
	if len(names) < 10 {
		t.Fatalf("found only %d checks defined in the package's files", len(names))
	}
	return names, tests
}

// fixtureVerdicts reads which verdicts the fixtures expect of each
// check, and which codes.
func fixtureVerdicts(t *testing.T) (map[string]map[checks.Verdict]bool, map[string]bool) {
	t.Helper()
	verdicts := map[string]map[checks.Verdict]bool{}
	codes := map[string]bool{}
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
		if _, ok := Lookup(spec.Check); !ok {
			t.Errorf("%s: fixture of %q, which is no check", f, spec.Check)
		}
		for _, c := range spec.Cases {
			name := spec.Check
			if c.Check != "" {
				name = c.Check
			}
			if verdicts[name] == nil {
				verdicts[name] = map[checks.Verdict]bool{}
			}
			verdicts[name][c.Want] = true
			codes[c.Code] = true
		}
	}
	return verdicts, codes
}
