package cli

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

func writeKubeconfig(t *testing.T, c *testcluster.Cluster, path string, cfg any) {
	t.Helper()
	var b []byte
	var err error
	switch cfg := cfg.(type) {
	case nil:
		b, err = c.Kubeconfig(nil)
	case string: // impersonated user
		b, err = c.Kubeconfig(c.Impersonate(cfg))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// decodeReports reads the stream of documents `check -o json` prints
// for a room, one per participant.
func decodeReports(t *testing.T, s string) []checkReport {
	t.Helper()
	var out []checkReport
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	for {
		var rep checkReport
		err := dec.Decode(&rep)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("not a stream of check reports: %v\n%s", err, s)
		}
		if rep.Schema != CheckReportSchema {
			t.Errorf("schema %q", rep.Schema)
		}
		out = append(out, rep)
	}
}

// TestCheckRoom checks a room of four participants on two real API
// servers: alice (admin, the CRD missing: fail), dave (admin on another
// server that has it: pass), bob (credentials RBAC refuses: error) and
// carol (no server: error, without delaying the others' verdicts).
func TestCheckRoom(t *testing.T) {
	shared := testcluster.Shared(t)
	other, err := testcluster.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Stop)
	if err := other.Apply(t.Context(), testcluster.WidgetCRD); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeKubeconfig(t, shared, filepath.Join(dir, "alice.yaml"), nil)
	writeKubeconfig(t, shared, filepath.Join(dir, "bob.kubeconfig"), "nobody")
	testcluster.ClosedKubeconfig(t, filepath.Join(dir, "carol"), "carol-ctx")
	writeKubeconfig(t, other, filepath.Join(dir, "dave.yml"), nil)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("not a kubeconfig"), 0o600)
	args := []string{"check", "--kubeconfig", dir, "--run", "crd-served", "name=widgets.room.example.com", "--timeout", "3s"}

	code, out, errs := run(t, "", false, args...)
	if code != exitError {
		t.Errorf("exit %d, want 2 (the worst participant errs)\n%s%s", code, out, errs)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = l
		}
	}
	for name, want := range map[string][]string{
		"alice": {"0", "1", "widgets.room.example.com"},
		"bob":   {"forbidden", "list customresourcedefinitions"},
		"carol": {"carol-ctx", "connection refused"},
		"dave":  {"1", "-"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[name], w) {
				t.Errorf("row %s lacks %q:\n%s", name, w, out)
			}
		}
	}
	if !strings.Contains(out, "1 of 4 participants pass all 1 checks") {
		t.Errorf("no summary line:\n%s", out)
	}

	// JSON: the single cluster's document, once per participant.
	code, out, _ = run(t, "", false, append(args, "-o", "json")...)
	reps := decodeReports(t, out)
	if code != exitError || len(reps) != 4 {
		t.Fatalf("json: exit %d, %d documents", code, len(reps))
	}
	want := map[string]struct {
		exit int
		code string
	}{
		"alice": {exitFail, catalogue.CodeCRDMissing}, "bob": {exitError, checks.CodeForbidden}, "carol": {exitError, ""}, "dave": {exitPass, ""},
	}
	for i, name := range []string{"alice", "bob", "carol", "dave"} {
		r := reps[i]
		if r.Participant != name || r.Exit != want[name].exit {
			t.Errorf("document %d: participant %q exit %d, want %s exit %d", i, r.Participant, r.Exit, name, want[name].exit)
		}
		if name == "carol" {
			if r.Error == "" || len(r.Checks) != 0 {
				t.Errorf("carol: %+v", r)
			}
			continue
		}
		if len(r.Checks) != 1 || r.Checks[0].Check != "crd-served" {
			t.Errorf("%s: %+v", name, r)
		}
		if c := want[name].code; c != "" && r.Checks[0].Code != c {
			t.Errorf("%s: code %s, want %s", name, r.Checks[0].Code, c)
		}
	}

	// Only the two admins: the worst is alice's failure.
	code, _, _ = run(t, "", false, "check", "--kubeconfig", filepath.Join(dir, "alice.yaml"), "--kubeconfig", filepath.Join(dir, "dave.yml"),
		"--run", "crd-served", "name=widgets.room.example.com")
	if code != exitFail {
		t.Errorf("alice and dave: exit %d, want 1", code)
	}

	// JUnit: a testsuite per participant, a testcase per check.
	code, out, _ = run(t, "", false, append(args, "-o", "junit")...)
	var doc junitSuites
	if err := xml.Unmarshal([]byte(out), &doc); err != nil || code != exitError {
		t.Fatalf("junit: exit %d, %v\n%s", code, err, out)
	}
	if len(doc.Suites) != 4 || doc.Tests != 4 || doc.Failures != 1 || doc.Errors != 2 {
		t.Fatalf("junit totals: %d suites, %d tests, %d failures, %d errors\n%s", len(doc.Suites), doc.Tests, doc.Failures, doc.Errors, out)
	}
	s := doc.Suites[0]
	if s.Name != "alice" || len(s.Cases) != 1 || s.Cases[0].Failure == nil ||
		!strings.Contains(s.Cases[0].Failure.Message, "widgets.room.example.com") || !strings.Contains(s.Cases[0].Failure.Text, "fix:") {
		t.Errorf("alice's suite: %+v", s)
	}
	if c := doc.Suites[2].Cases; len(c) != 1 || c[0].Error == nil || !strings.Contains(c[0].Error.Message, "connection refused") {
		t.Errorf("carol's suite: %+v", doc.Suites[2])
	}
	if c := doc.Suites[3].Cases; len(c) != 1 || c[0].Failure != nil || c[0].Error != nil || c[0].Skipped != nil {
		t.Errorf("dave's suite: %+v", doc.Suites[3])
	}

	// One kubeconfig with -o junit is a room of one, named after its
	// context.
	code, out, _ = run(t, "", false, "check", "--kubeconfig", filepath.Join(dir, "dave.yml"), "-o", "junit", "--run", "crd-served", "name=widgets.room.example.com")
	doc = junitSuites{}
	if err := xml.Unmarshal([]byte(out), &doc); err != nil || code != exitPass || len(doc.Suites) != 1 || doc.Suites[0].Name != "testcluster" {
		t.Errorf("junit of one: exit %d, %v, %+v", code, err, doc)
	}
}

func TestCheckRoomBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("this: [is not"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--lesson", "6", "--kubeconfig", empty}, "has no files"},
		{[]string{"check", "--lesson", "6", "--kubeconfig", dir}, "a.yaml is not a kubeconfig"},
		{[]string{"check", "--lesson", "6", "--kubeconfig", dir, "--kubeconfig", filepath.Join(dir, "nope")}, "nope"},
		{[]string{"check", "--list", "-o", "junit"}, "not junit"},
		{[]string{"check", "--lesson", "6", "-o", "xml"}, "not text, json or junit"},
	} {
		code, _, errs := run(t, "", false, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}
