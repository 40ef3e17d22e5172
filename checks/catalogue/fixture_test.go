package catalogue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/engine"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// A fixture (checks/catalogue/testdata/<check>/<name>.yaml) is a cluster state and
// what checks must say about it. Its first YAML document is the spec
// below; the remaining documents are applied to a real API server. A
// document that is only the comment "# pause" waits a little over a
// second before the next ones are applied, so their creationTimestamps
// (whole seconds) differ.
//
// Placeholders {{ns}}, {{ns2}}, {{ns3}}… and {{root}} become fresh namespaces;
// {{root}} is also the Istio root namespace the check is told about, so
// mesh-wide policies of one fixture never reach another.
type fixtureSpec struct {
	Check string        `json:"check"`
	Cases []fixtureCase `json:"cases"`
}

type fixtureCase struct {
	Name       string            `json:"name"`
	Check      string            `json:"check"` // overrides the spec's
	Params     map[string]string `json:"params"`
	Want       checks.Verdict    `json:"want"`
	Code       string            `json:"code"`
	Summary    []string          `json:"summary"`    // substrings of the summary
	Conditions []string          `json:"conditions"` // substrings of some condition (name, observed, expected or fix)
	User       string            `json:"user"`       // impersonate this user (no groups) instead of admin
	// Refused, instead of want, says that Validate refuses the params
	// (a lesson bug caught by the lint and `check --run`, before anything
	// runs): the parameter it names and a text of its error.
	Refused *struct {
		Param string `json:"param"`
		Error string `json:"error"`
	} `json:"refused"`
}

var placeholder = regexp.MustCompile(`\{\{(ns[0-9]*|root)\}\}`)

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.yaml")
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasPrefix(f, "testdata/common/") })
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures found: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "testdata/"), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runFixture(t, f)
		})
	}
}

func runFixture(t *testing.T, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	raw = expandIncludes(t, raw)
	c := testcluster.Shared(t)
	names := map[string]string{}
	for _, m := range placeholder.FindAllStringSubmatch(string(raw), -1) {
		if names[m[1]] == "" {
			names[m[1]] = c.Namespace(t)
		}
	}
	if names["root"] == "" {
		names["root"] = c.Namespace(t)
	}
	text := placeholder.ReplaceAllStringFunc(string(raw), func(s string) string {
		return names[strings.Trim(s, "{}")]
	})
	docs := splitDocs(text)
	var spec fixtureSpec
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &spec); err != nil {
		t.Fatalf("%s: spec: %v", file, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var batch []string
	flush := func() {
		if len(batch) > 0 {
			if err := c.Apply(ctx, strings.Join(batch, "\n---\n")); err != nil {
				t.Fatalf("%s: applying fixture: %v", file, err)
			}
			batch = nil
		}
	}
	for _, d := range docs[1:] {
		if onlyComments(d) && !isPause(d) {
			continue
		}
		if isPause(d) {
			flush()
			time.Sleep(1100 * time.Millisecond)
			continue
		}
		batch = append(batch, d)
	}
	flush()

	info := checks.ClusterInfo{Server: c.Config.Host, RootNamespace: names["root"]}
	var bounds []checks.Bound
	direct := map[string]checks.Result{}
	for i, tc := range spec.Cases {
		checkName := spec.Check
		if tc.Check != "" {
			checkName = tc.Check
		}
		label := tc.Name
		if label == "" {
			label = fmt.Sprintf("case %d", i)
		}
		chk, ok := Lookup(checkName)
		if !ok {
			t.Fatalf("%s: unknown check %q", label, checkName)
		}
		p, err := chk.Validate(tc.Params)
		if tc.Refused != nil {
			var inv *checks.InvalidParams
			switch {
			case !errors.As(err, &inv):
				t.Errorf("%s: Validate accepted %v, want a refusal of %s", label, tc.Params, tc.Refused.Param)
			case inv.Problems[0].Param != tc.Refused.Param || !strings.Contains(err.Error(), tc.Refused.Error):
				t.Errorf("%s: Validate said %q, want a refusal of %s saying %q", label, err, tc.Refused.Param, tc.Refused.Error)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		cfg := c.Config
		if tc.User != "" {
			cfg = c.Impersonate(tc.User)
		}
		env := &recordingEnv{Env: engine.NewDirectEnv(clientsFor(t, cfg), info), declared: chk.Inputs(p)}
		r := engine.Evaluate(ctx, env, checks.Bound{Key: label, Check: chk, Params: p})
		checkResult(t, label, r, tc)
		if err := chk.Conforms(r); err != nil {
			t.Errorf("%s: %s reported a result that is not one of its codes' messages: %v", label, chk.Name, err)
		}
		if !chk.Declares(r.Code) {
			t.Errorf("%s: %s reported code %s, which it does not declare (Codes)", label, chk.Name, r.Code)
		}
		if tc.User == "" {
			key := fmt.Sprint(i)
			bounds = append(bounds, checks.Bound{Key: key, Title: label, Check: chk, Params: p})
			direct[key] = r
		}
		for _, in := range env.listed {
			if !slices.Contains(env.declared, in) {
				t.Errorf("%s: Eval listed %v, which Inputs does not declare (declared: %v)", label, in, env.declared)
			}
		}
	}
	sameThroughEngine(t, c.Config, info, bounds, direct)
}

// sameThroughEngine evaluates the cases again through the engine, which
// reads from informers on exactly the declared inputs, and expects the
// verdicts and codes the direct reads gave.
func sameThroughEngine(t *testing.T, cfg *rest.Config, info checks.ClusterInfo, bounds []checks.Bound, direct map[string]checks.Result) {
	t.Helper()
	if len(bounds) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	e := engine.NewEngine(clientsFor(t, cfg), info)
	out := make(chan checks.Update, 64)
	go e.Watch(ctx, bounds, out)
	got := map[string]checks.Result{}
	for len(got) < len(bounds) {
		select {
		case u := <-out:
			if u.Result.Verdict != checks.Pending {
				got[u.Key] = u.Result
			}
		case <-ctx.Done():
			t.Fatalf("engine: only %d of %d results before the deadline", len(got), len(bounds))
		}
	}
	for _, b := range bounds {
		d, g := direct[b.Key], got[b.Key]
		if d.Verdict != g.Verdict || d.Code != g.Code {
			t.Errorf("%s: through the engine %s %s (%s), directly %s %s (%s)", b.Title, g.Verdict, g.Code, g.Summary, d.Verdict, d.Code, d.Summary)
		}
	}
}

func checkResult(t *testing.T, label string, r checks.Result, tc fixtureCase) {
	t.Helper()
	dump := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "verdict %s code %s\nsummary: %s\n", r.Verdict, r.Code, r.Summary)
		for _, c := range r.Conditions {
			fmt.Fprintf(&b, "  [%v] %s\n      observed: %s\n      expected: %s\n      fix: %s\n", c.OK, c.Name, c.Observed, c.Expected, c.Fix)
		}
		return b.String()
	}
	if r.Verdict != tc.Want || (tc.Code != "" && r.Code != tc.Code) {
		t.Errorf("%s: got %s %s, want %s %s\n%s", label, r.Verdict, r.Code, tc.Want, tc.Code, dump())
		return
	}
	if r.Code == "" || r.Summary == "" || r.Check == "" || r.At.IsZero() {
		t.Errorf("%s: result lacks code, summary, check name or time\n%s", label, dump())
	}
	if strings.Contains(r.Summary, "\n") {
		t.Errorf("%s: summary is not one line: %q", label, r.Summary)
	}
	for _, s := range tc.Summary {
		if !strings.Contains(r.Summary, s) {
			t.Errorf("%s: summary lacks %q\n%s", label, s, dump())
		}
	}
	for _, s := range tc.Conditions {
		found := false
		for _, c := range r.Conditions {
			if strings.Contains(c.Name+"\n"+c.Observed+"\n"+c.Expected+"\n"+c.Fix, s) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no condition mentions %q\n%s", label, s, dump())
		}
	}
	if r.Verdict != checks.Pass {
		explained := false
		for _, c := range r.Conditions {
			if !c.OK && c.Observed != "" && c.Expected != "" && c.Fix != "" {
				explained = true
			}
		}
		if !explained {
			t.Errorf("%s: a %s result must carry a failing condition with observed, expected and fix\n%s", label, r.Verdict, dump())
		}
	}
	if testing.Verbose() {
		t.Logf("%s:\n%s", label, dump())
	}
}

// expandIncludes replaces each line "# include: <file>" with that file
// from testdata/common, so fixtures can share the lab's pods.
func expandIncludes(t *testing.T, raw []byte) []byte {
	t.Helper()
	re := regexp.MustCompile(`(?m)^# include: (\S+)\s*$`)
	var err error
	out := re.ReplaceAllFunc(raw, func(line []byte) []byte {
		name := string(re.FindSubmatch(line)[1])
		b, rerr := os.ReadFile(filepath.Join("testdata", "common", name))
		if rerr != nil {
			err = rerr
		}
		return b
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func splitDocs(s string) []string {
	var out []string
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(s, -1) {
		if strings.TrimSpace(d) != "" {
			out = append(out, d)
		}
	}
	return out
}

func onlyComments(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func isPause(doc string) bool {
	for _, line := range strings.Split(strings.TrimSpace(doc), "\n") {
		if strings.TrimSpace(line) != "# pause" {
			return false
		}
	}
	return true
}

func clientsFor(t testing.TB, rc *rest.Config) *checks.Clients {
	t.Helper()
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &checks.Clients{Kube: kube, Dynamic: dyn, Config: rc}
}

// recordingEnv notes what Eval lists, so tests can hold checks to their
// declared Inputs (the engine watches only those).
type recordingEnv struct {
	checks.Env
	declared []checks.Input
	listed   []checks.Input
}

func (e *recordingEnv) List(ctx context.Context, in checks.Input) ([]*unstructured.Unstructured, error) {
	e.listed = append(e.listed, in)
	return e.Env.List(ctx, in)
}
