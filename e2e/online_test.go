package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/lessons"
)

// TestOnlineGateOpensOnRealCluster runs the tutorial against a real API
// server (the test harness's kube-apiserver and etcd): the step's checks
// are watched by the real engine, fail while the cluster lacks what they
// want, and pass, opening the gate, the moment it appears.
func TestOnlineGateOpensOnRealCluster(t *testing.T) {
	l, si := nodeCountStep(t)
	s := &l.Steps[si]
	c := testcluster.Shared(t)
	kc, err := c.Kubeconfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	env := offlineEnv(t)
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kcPath, kc, 0o600)

	// The nodes the step counts do not exist yet; they are made below,
	// labelled as each check's selector asks.
	var nodes strings.Builder
	for n, ref := range s.Checks {
		want, _ := strconv.Atoi(ref.Params["min"])
		labels := ""
		for _, kv := range strings.Split(ref.Params["selector"], ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			labels += fmt.Sprintf("    %s: %q\n", k, v)
		}
		for i := range max(want, 1) {
			fmt.Fprintf(&nodes, "---\napiVersion: v1\nkind: Node\nmetadata:\n  name: e2e-online-%d-%d\n  labels:\n%s", n, i, labels)
		}
	}

	step := strconv.Itoa(si + 1)
	tm := start(t, env, 100, 30, "--kubeconfig", kcPath, "--lesson", l.ID, "--step", step)
	tm.waitText("● testcluster", "Lesson "+strings.ToUpper(l.ID)+" · step "+step+"/", "FAIL")
	tm.press("n")
	tm.waitText("Not yet:", "is not passing")

	if err := c.Apply(t.Context(), nodes.String()); err != nil {
		t.Fatal(err)
	}
	// t.Context is already cancelled when cleanups run.
	t.Cleanup(func() { c.Delete(context.Background(), nodes.String()) })
	tm.waitFor("every check to pass", func(scr string) bool {
		return strings.Count(scr, "PASS ") == len(s.Checks) && !strings.Contains(scr, "FAIL")
	})
	tm.press("n")
	tm.waitText("· step " + strconv.Itoa(si+2) + "/")
	tm.press("q")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if st := stateFor(t, env, "testcluster").StatusOf(l.ID, s.Anchor); st != progress.Done {
		t.Errorf("step saved as %q, want done (progress is per context: testcluster)", st)
	}
}

// nodeCountStep finds a shipped step whose checks all count Nodes by
// equality labels (resource-count with kind Node and min) and that has no
// question, so the test can satisfy it by making nodes; chapter 1's
// first step is one.
func nodeCountStep(t *testing.T) (*lessons.Lesson, int) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		for i := range l.Steps {
			s := &l.Steps[i]
			if len(s.Checks) == 0 || i+1 >= len(l.Steps) || s.Question != nil {
				continue
			}
			ok := true
			for _, c := range s.Checks {
				p := c.Params
				ok = ok && c.Name == "resource-count" && p["kind"] == "Node" && p["min"] != "" && p["max"] == "" &&
					p["selector"] != "" && !strings.ContainsAny(p["selector"], "!() ")
			}
			if ok {
				return l, i
			}
		}
	}
	t.Fatal("no lesson step only counts labelled Nodes (resource-count, kind Node, min); pick another step for this test")
	return nil, 0
}

// TestStatusBarSaysWhenClusterAway stops the real API server under the
// running tutorial: the status bar stops saying the context is connected
// and says it is not answering, the checks say they are reconnecting,
// and once the server is back both recover without the reader pressing
// r, twice in one run.
func TestStatusBarSaysWhenClusterAway(t *testing.T) {
	l, si := nodeCountStep(t)
	c := testcluster.Shared(t)
	kc, err := c.Kubeconfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	env := offlineEnv(t)
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kcPath, kc, 0o600)
	step := strconv.Itoa(si + 1)
	tm := start(t, env, 100, 30, "--kubeconfig", kcPath, "--lesson", l.ID, "--step", step)
	tm.waitText("● testcluster", "FAIL")
	for range 2 {
		if err := c.StopAPIServer(); err != nil {
			t.Fatal(err)
		}
		up := false
		defer func() {
			if !up {
				c.StartAPIServer()
			}
		}()
		tm.waitText("○ testcluster not answering, reconnecting…", "reconnecting…")
		tm.waitGone("● testcluster", "FAIL")
		if err := c.StartAPIServer(); err != nil {
			t.Fatal(err)
		}
		up = true
		tm.waitText("● testcluster", "FAIL")
		tm.waitGone("not answering", "reconnecting…")
	}
	tm.press("q")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
