package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// run runs meshdojo with args and returns its exit code and output.
func run(t *testing.T, stdin string, tty bool, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, IO{In: strings.NewReader(stdin), Out: &out, Err: &errb, IsTTY: tty})
	return code, out.String(), errb.String()
}

// kubeconfigFor writes a kubeconfig for the harness's API server with
// cfg's credentials (admin when nil).
func kubeconfigFor(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	b, err := testcluster.Shared(t).Kubeconfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeReport(t *testing.T, s string) checkReport {
	t.Helper()
	var rep checkReport
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("output is not a check report: %v\n%s", err, s)
	}
	if rep.Schema != CheckReportSchema {
		t.Errorf("schema %q", rep.Schema)
	}
	return rep
}

func TestCheckList(t *testing.T) {
	code, out, _ := run(t, "", false, "check", "--list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range catalogue.All() {
		if !strings.Contains(out, "\n"+c.Name+"\n") && !strings.HasPrefix(out, c.Name+"\n") {
			t.Errorf("--list lacks %s", c.Name)
		}
		if !strings.Contains(out, "meshdojo check --run "+c.Name) {
			t.Errorf("--list has no example for %s", c.Name)
		}
	}
	code, out, _ = run(t, "", false, "check", "--list", "-o", "json", "mtls-mode")
	var infos []checkInfo
	if err := json.Unmarshal([]byte(out), &infos); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if len(infos) != 1 || infos[0].Name != "mtls-mode" || !infos[0].Watch {
		t.Fatalf("--list mtls-mode: %+v", infos)
	}
	names := map[string]paramInfo{}
	for _, p := range infos[0].Params {
		names[p.Name] = p
	}
	if !names["namespace"].Required || names["mode"].Default != "STRICT" || len(names["mode"].Enum) != 3 || names["passes"].Type != "int" {
		t.Errorf("params: %+v", infos[0].Params)
	}
	if code, _, errs := run(t, "", false, "check", "--list", "no-such-check"); code != 2 || !strings.Contains(errs, "mtls-mode") {
		t.Errorf("unknown name: exit %d, %q", code, errs)
	}
}

func TestCheckBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check"}, "say what to check"},
		{[]string{"check", "--lesson", "6", "--list"}, "do not go together"},
		{[]string{"check", "--step", "2"}, "--step needs --lesson"},
		{[]string{"check", "--lesson", "99"}, `there is no lesson "99"`},
		{[]string{"check", "--lesson", "6", "--step", "99"}, "not 99"},
		{[]string{"check", "--run", "no-such-check"}, `there is no check "no-such-check"`},
		{[]string{"check", "--run", "mtls-mode"}, `missing required parameter "namespace"`},
		{[]string{"check", "--run", "mtls-mode", "namespace=x", "mode=LOOSE"}, `"LOOSE" is not one of STRICT, PERMISSIVE, DISABLE`},
		// Required means non-empty, and names are Kubernetes names: refused
		// before anything runs (issue 15).
		{[]string{"check", "--run", "mtls-mode", "namespace="}, `missing required parameter "namespace" (namespace whose workloads are judged; it is empty)`},
		{[]string{"check", "--run", "mtls-mode", "namespace=Book_info"}, `parameter "namespace": "Book_info" is not a namespace name`},
		{[]string{"check", "--run", "http-probe", "count=5000"}, `parameter "count": "5000" is not 1 to 1000`},
		{[]string{"check", "--run", "mtls-mode", "bookinfo"}, `"bookinfo" is not key=value`},
		{[]string{"check", "--lesson", "6", "extra=1"}, "takes no key=value"},
		{[]string{"check", "--lesson", "6", "-o", "yaml"}, `-o "yaml" is not text, json or junit`},
		{[]string{"check", "--run", "mtls-mode", "namespace=a", "namespace=b"}, `parameter "namespace" is given twice`},
		{[]string{"check", "--lesson", "6", "--timeout", "-5s"}, "--timeout -5s is not a positive duration"},
		{[]string{"check", "--run", "mtls-mode", "namespace=a", "--timeout", "0s"}, "--timeout 0s is not a positive duration"},
	} {
		code, _, errs := run(t, "", false, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	// With -o json the error is a report too, for scripts.
	code, out, _ := run(t, "", false, "check", "--run", "mtls-mode", "-o", "json")
	rep := decodeReport(t, out)
	if code != 2 || rep.Exit != 2 || !strings.Contains(rep.Error, "namespace") || rep.Checks == nil {
		t.Errorf("json error: exit %d %+v", code, rep)
	}
}

func TestCheckNoCluster(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	testcluster.ClosedKubeconfig(t, kc, "gone")
	code, out, _ := run(t, "", false, "check", "--run", "crd-served", "name=x.example.com", "--kubeconfig", kc, "-o", "json")
	rep := decodeReport(t, out)
	if code != 2 || !strings.Contains(rep.Error, "connection refused") {
		t.Errorf("exit %d, %+v", code, rep)
	}
}

func TestCheckRunOnCluster(t *testing.T) {
	admin := kubeconfigFor(t, nil)

	// Pass: the harness serves Istio's CRDs.
	code, out, _ := run(t, "", false, "check", "--kubeconfig", admin, "--run", "crd-served", "name=peerauthentications.security.istio.io")
	if code != 0 || !strings.Contains(out, "PASS") || !strings.Contains(out, "1 passed, 0 failed") {
		t.Errorf("pass: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "", false, "check", "--run", "crd-served", "name=peerauthentications.security.istio.io", "-o", "json", "--kubeconfig", admin)
	rep := decodeReport(t, out)
	if code != 0 || rep.Exit != 0 || rep.Counts != (checkCounts{Pass: 1}) || len(rep.Checks) != 1 || rep.Context != "testcluster" {
		t.Fatalf("pass json: exit %d %+v", code, rep)
	}
	c := rep.Checks[0]
	if c.Check != "crd-served" || c.Key != "crd-served" || c.Params["name"] != "peerauthentications.security.istio.io" ||
		c.Verdict != checks.Pass || c.Code == "" || c.Summary == "" || c.At.IsZero() {
		t.Errorf("entry: %+v", c)
	}

	// Fail: a CRD nobody installed; the report says what was seen and
	// what to do.
	code, out, _ = run(t, "", false, "check", "--kubeconfig", admin, "-o", "json", "--run", "crd-served", "name=widgets.nothing.example.com")
	rep = decodeReport(t, out)
	if code != 1 || rep.Exit != 1 || rep.Counts.Fail != 1 {
		t.Fatalf("fail: exit %d %+v", code, rep)
	}
	failing := false
	for _, cond := range rep.Checks[0].Conditions {
		failing = failing || (!cond.OK && cond.Observed != "" && cond.Expected != "" && cond.Fix != "")
	}
	if !failing {
		t.Errorf("fail without an explained condition: %+v", rep.Checks[0])
	}
	code, out, _ = run(t, "", false, "check", "--kubeconfig", admin, "--run", "crd-served", "name=widgets.nothing.example.com")
	for _, want := range []string{"FAIL", "observed:", "expected:", "fix:", "0 passed, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("fail text lacks %q:\n%s", want, out)
		}
	}

	// Error: credentials that may read nothing.
	nobody := kubeconfigFor(t, testcluster.Shared(t).Impersonate("nobody"))
	code, out, _ = run(t, "", false, "check", "--kubeconfig", nobody, "-o", "json", "--run", "crd-served", "name=peerauthentications.security.istio.io")
	rep = decodeReport(t, out)
	if code != 2 || rep.Counts.Error != 1 || rep.Checks[0].Code != checks.CodeForbidden ||
		!strings.Contains(rep.Checks[0].Summary, "list customresourcedefinitions.apiextensions.k8s.io") {
		t.Errorf("forbidden: exit %d %+v", code, rep)
	}
}

func TestCheckActsNeedConsent(t *testing.T) {
	admin := kubeconfigFor(t, nil)
	code, out, _ := run(t, "", false, "check", "--kubeconfig", admin, "-o", "json", "--run", "http-probe")
	rep := decodeReport(t, out)
	if code != 1 || rep.Counts.Pending != 1 || rep.Checks[0].Code != checks.CodeNotRun || !strings.Contains(rep.Checks[0].Summary, "pass --yes") {
		t.Errorf("no consent: exit %d %+v", code, rep)
	}
	// On a terminal the reader is asked; "n" keeps it from running.
	code, out, errs := run(t, "n\n", true, "check", "--kubeconfig", admin, "--run", "http-probe")
	if code != 1 || !strings.Contains(errs, "Run it? [y/N]") || !strings.Contains(out, "NOT RUN") || !strings.Contains(out, "you said no") {
		t.Errorf("declined: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
}

func TestCheckLesson(t *testing.T) {
	admin := kubeconfigFor(t, nil)
	code, out, _ := run(t, "", false, "check", "--kubeconfig", admin, "--lesson", "06", "-o", "json")
	rep := decodeReport(t, out)
	if rep.Lesson != "6" || len(rep.Checks) == 0 {
		t.Fatalf("lesson 6: %+v", rep)
	}
	want := 0
	switch {
	case rep.Counts.Error > 0:
		want = 2
	case rep.Counts.Fail+rep.Counts.Pending > 0:
		want = 1
	}
	if code != want || rep.Exit != want {
		t.Errorf("exit %d (report %d), want %d for counts %+v", code, rep.Exit, want, rep.Counts)
	}
	total := rep.Counts.Pass + rep.Counts.Fail + rep.Counts.Error + rep.Counts.Pending
	if total != len(rep.Checks) {
		t.Errorf("counts %+v for %d checks", rep.Counts, len(rep.Checks))
	}
	for _, c := range rep.Checks {
		if !strings.HasPrefix(c.Key, "6/") || c.Step == 0 || c.StepTitle == "" || c.Title == "" || c.Check == "" || c.Verdict == "" || c.Summary == "" {
			t.Errorf("entry: %+v", c)
		}
		if c.Verdict != checks.Pass && c.Code == checks.CodeForbidden {
			t.Errorf("admin was refused: %+v", c)
		}
	}
	step := rep.Checks[0].Step
	_, out, _ = run(t, "", false, "check", "--kubeconfig", admin, "--lesson", "6", "--step", strconv.Itoa(step))
	if !strings.Contains(out, "Step "+strconv.Itoa(step)+": "+rep.Checks[0].StepTitle) || strings.Contains(out, "Step "+strconv.Itoa(step+1)+":") {
		t.Errorf("--step %d:\n%s", step, out)
	}
}

// Fix texts that say to check again name, on the command line, the
// command that does it, not the tutorial's key.
func TestCheckFixSaysWhatToRun(t *testing.T) {
	r := checks.Result{Conditions: []checks.Condition{{Fix: "See the events, then " + checks.Again + "."}}}
	got := sayRerun(r, "meshdojo check --run pod-probe 'url=http://x/?a=1'").Conditions[0].Fix
	if want := "See the events, then run meshdojo check --run pod-probe 'url=http://x/?a=1' again."; got != want {
		t.Errorf("fix = %q, want %q", got, want)
	}
	if r.Conditions[0].Fix != "See the events, then "+checks.Again+"." {
		t.Error("sayRerun changed the result it was given")
	}
	if got := shellJoin([]string{"--run", "pod-probe", "url=http://x/?a=1", "it's"}); got != `--run pod-probe 'url=http://x/?a=1' 'it'\''s'` {
		t.Errorf("shellJoin = %s", got)
	}
}
