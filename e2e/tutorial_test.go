package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"

	"github.com/meshdojo/meshdojo/internal/progress"
)

// statusRe matches the status bar's lesson progress.
var statusRe = regexp.MustCompile(`Lesson (\w+) · step (\d+)/(\d+)`)

func TestStartsOfflineAtOnce(t *testing.T) {
	tm := start(t, offlineEnv(t), 80, 24)
	scr := tm.waitText("offline", "· step 1/")
	if m := statusRe.FindStringSubmatch(scr); m == nil || m[2] != "1" {
		t.Fatalf("no status bar at step 1:\n%s", scr)
	}
	// Checks are shown as not checked, not as failures.
	if strings.Contains(scr, "FAIL") {
		t.Errorf("offline checks shown as failing:\n%s", scr)
	}
	if !tm.altScreen() {
		t.Errorf("the tutorial is not on the alternate screen")
	}
	tm.press("q")
	if code := tm.wait(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

func TestOpensLessonAndStep(t *testing.T) {
	tm := start(t, offlineEnv(t), 80, 24, "--lesson", "6", "--step", "2")
	scr := tm.waitText("Lesson 6 · step 2/", "Step 2 of")
	// The sidebar shows the lesson's steps with the current one marked.
	if !strings.Contains(scr, "▶ 2 ") {
		t.Errorf("current step not marked in the sidebar:\n%s", scr)
	}
	tm.press("q")
	tm.wait()
}

func TestGateRefusesOffline(t *testing.T) {
	tm := start(t, offlineEnv(t), 80, 24, "--lesson", "6", "--step", "2")
	tm.waitText("Lesson 6 · step 2/", "offline")
	tm.press("n")
	scr := tm.waitText("Not yet:")
	// Step 2 may be gated by checks or by a question; either way the
	// refusal says what is missing.
	if !strings.Contains(scr, "not checked (offline)") && !strings.Contains(scr, "cannot run") && !strings.Contains(scr, "answer the question") {
		t.Errorf("refusal does not say why:\n%s", scr)
	}
	if !strings.Contains(scr, "step 2/") {
		t.Fatalf("moved on past a closed gate:\n%s", scr)
	}
	tm.press("right") // the arrow is gated the same way
	tm.waitText("Not yet:")
	if !strings.Contains(tm.screen(), "step 2/") {
		t.Fatal("right arrow moved past a closed gate")
	}
	tm.press("q")
	tm.wait()
}

func TestSkipIsRecordedAndResumed(t *testing.T) {
	env := offlineEnv(t)
	tm := start(t, env, 80, 24, "--lesson", "6", "--step", "2")
	tm.waitText("Lesson 6 · step 2/")
	tm.press("x")
	tm.waitText("Skip this step?", "y yes")
	tm.press("y")
	scr := tm.waitText("Lesson 6 · step 3/", "Skipped step 2")
	if !strings.Contains(scr, "» 2 ") {
		t.Errorf("skipped step not marked » in the sidebar:\n%s", scr)
	}
	tm.press("q")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	// The skip is in the progress file, as skipped, not done.
	state := stateFor(t, env, "")
	l := state.Lessons["6"]
	if l == nil || state.Last != "6" {
		t.Fatalf("progress not saved: %+v", state)
	}
	skipped := 0
	for _, s := range l.Steps {
		if s.Status == progress.Skipped {
			skipped++
		}
		if s.Status == progress.Done {
			t.Errorf("a step was recorded as done: %+v", l.Steps)
		}
	}
	if skipped != 1 {
		t.Errorf("want one skipped step, got %+v", l.Steps)
	}

	// Starting again without --lesson resumes at step 3.
	tm = start(t, env, 80, 24)
	tm.waitText("Lesson 6 · step 3/")
	tm.press("q")
	tm.wait()
}

func TestResizeRewraps(t *testing.T) {
	tm := start(t, offlineEnv(t), 80, 24, "--lesson", "6", "--step", "2")
	tm.waitText("Lesson 6 · step 2/")
	for _, sz := range [][2]int{{60, 16}, {120, 40}, {80, 24}} {
		tm.resize(sz[0], sz[1])
		scr := tm.waitFor("a frame sized for the new window", func(s string) bool {
			ls := lines(s)
			return len(ls) == sz[1] && statusRe.MatchString(ls[len(ls)-1])
		})
		for i, l := range lines(scr) {
			if w := ansi.StringWidth(l); w > sz[0] {
				t.Errorf("%dx%d: line %d is %d cells wide", sz[0], sz[1], i, w)
			}
		}
	}
	tm.press("q")
	tm.wait()
}

func TestQuitRestoresTerminal(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		t.Run(k, func(t *testing.T) {
			tm := start(t, offlineEnv(t), 80, 24, "--lesson", "6")
			tm.waitText("Lesson 6 · step")
			if !tm.altScreen() || !tm.cursorHidden() {
				t.Fatalf("while running: alt screen %v, cursor hidden %v", tm.altScreen(), tm.cursorHidden())
			}
			tm.press(k)
			if code := tm.wait(); code != 0 {
				t.Errorf("exit code %d", code)
			}
			if tm.altScreen() {
				t.Error("still on the alternate screen after quitting")
			}
			if tm.cursorHidden() {
				t.Error("cursor still hidden after quitting")
			}
		})
	}
}

func TestCorruptProgressIsMovedAside(t *testing.T) {
	env := offlineEnv(t)
	st, _ := progress.Open(filepath.Join(envValue(env, "XDG_STATE_HOME"), "meshdojo"))
	path := st.Path("")
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte("{not json"), 0o600)

	tm := start(t, env, 100, 24)
	tm.waitText("Warning", "was unreadable", "moved to", "press any key")
	tm.press("j")
	tm.waitGone("press any key")
	tm.waitText("· step 1/") // and the tutorial goes on
	tm.press("q")
	tm.wait()
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 1 {
		t.Errorf("corrupt file not kept aside: %v", matches)
	}
}

func TestWithoutTerminal(t *testing.T) {
	env := offlineEnv(t)
	cmd := exec.Command(bin)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err == nil {
		t.Fatal("the bare command succeeded without a terminal")
	}
	for _, want := range []string{"needs a terminal", "meshdojo list", "meshdojo show --lesson"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}

	// list and show work without one.
	cmd = exec.Command(bin, "list")
	cmd.Env = env
	b, err := cmd.Output()
	if err != nil || !strings.Contains(string(b), "Certificates and mutual TLS") {
		t.Errorf("list: %v\n%s", err, b)
	}
	cmd = exec.Command(bin, "show", "--lesson", "6", "--step", "2")
	cmd.Env = env
	b, err = cmd.Output()
	if err != nil || !strings.Contains(string(b), "Step 2 of") || !strings.Contains(string(b), "Checks") && !strings.Contains(string(b), "Question:") {
		t.Errorf("show: %v\n%s", err, b)
	}
}

func TestBadFlagsExplain(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--lesson", "99"}, []string{`no lesson "99"`, "valid lessons are", "6"}},
		{[]string{"--lesson", "6", "--step", "99"}, []string{"lesson 6 has steps 1 to"}},
		{[]string{"--step", "2"}, []string{"--step needs --lesson"}},
		{[]string{"--theme", "pink"}, []string{"--theme", "auto, dark, light"}},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = offlineEnv(t)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if !errorsAs(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: err = %v, want exit 2", tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tc.args, w, errb.String())
			}
		}
	}
}

func stateFor(t *testing.T, env []string, context string) *progress.State {
	t.Helper()
	st, _ := progress.Open(filepath.Join(envValue(env, "XDG_STATE_HOME"), "meshdojo"))
	s, err := st.Load(context)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func TestNoColorHonoured(t *testing.T) {
	env := append(offlineEnv(t), "NO_COLOR=1")
	tm := start(t, env, 80, 24, "--lesson", "6", "--step", "2")
	tm.waitText("Lesson 6 · step 2/", "offline")
	tm.press("h")
	tm.waitText("Hint 1 of")
	tm.press("q")
	tm.wait()
	tm.mu.Lock()
	raw := tm.raw.String()
	tm.mu.Unlock()
	// SGR colour parameters: 30-37, 90-97 (foreground), 40-47, 100-107
	// (background), 38;… and 48;… (extended).
	sgr := regexp.MustCompile(`\x1b\[([0-9;:]*)m`)
	for _, m := range sgr.FindAllStringSubmatch(raw, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			n, _ := strconv.Atoi(p)
			if n >= 30 && n <= 49 || n >= 90 && n <= 107 {
				t.Fatalf("colour in NO_COLOR output: %q", m[0])
			}
		}
	}
}

func TestUnreachableClusterGoesOffline(t *testing.T) {
	env := offlineEnv(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: x}
contexts:
- name: gone
  context: {cluster: gone, user: u}
current-context: gone
`), 0o600)
	tm := start(t, env, 100, 30, "--kubeconfig", kc, "--lesson", "6", "--step", "2")
	tm.waitText("Lesson 6 · step 2/") // the first frame does not wait for the cluster
	tm.waitText("offline", "connection refused")
	tm.press("x", "y")
	tm.waitText("Lesson 6 · step 3/")
	tm.press("q")
	tm.wait()
	// Progress is kept under the kubeconfig's context, even offline.
	if s := stateFor(t, env, "gone"); s.Lessons["6"] == nil {
		t.Errorf("progress not saved for context gone: %+v", s)
	}
}

// TestOutputToDevNull: with standard output redirected to /dev/null (a
// character device, but not a terminal) the tutorial explains list and
// show and exits non-zero, as without any terminal, instead of starting
// the full-screen UI and dying with a terminal-reader error.
func TestOutputToDevNull(t *testing.T) {
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	defer tty.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd := exec.Command(bin, "--lesson", "6")
	cmd.Env = offlineEnv(t)
	var errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, null, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, ptm) // whatever reaches the terminal
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(deadline):
		cmd.Process.Kill()
		t.Fatalf("meshdojo took /dev/null for a terminal and kept running; stderr:\n%s", errb.String())
	}
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("err = %v, want exit 1", err)
	}
	for _, want := range []string{"needs a terminal", "meshdojo list", "meshdojo show --lesson"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestVersion: --version names the Istio and Kubernetes client libraries
// the binary was built with, from its build information.
func TestVersion(t *testing.T) {
	cmd := exec.Command(bin, "--version")
	cmd.Env = offlineEnv(t)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, b)
	}
	for _, re := range []string{`(?m)^meshdojo:\s+\S`, `(?m)^Go:\s+go1\.`, `(?m)^istio\.io/client-go:\s+v1\.\d+`, `(?m)^k8s\.io/client-go:\s+v0\.\d+`} {
		if !regexp.MustCompile(re).Match(b) {
			t.Errorf("--version does not match %s:\n%s", re, b)
		}
	}
}
