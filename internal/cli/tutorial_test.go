package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/lessons"
)

// Tests for the tutorial entry point and the plain commands (list, show,
// progress). None needs a cluster: the kube context is resolved from a
// kubeconfig file without contacting its server.

// plain runs meshdojo in-process with the given stdin.
func plain(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, IO{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// isolate gives the test its own state directory and a kubeconfig whose
// current context is ctx (none when ctx is empty).
func isolate(t *testing.T, ctx string) (state string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	t.Setenv("HOME", dir)
	kc := filepath.Join(dir, "kubeconfig")
	if ctx != "" {
		cfg := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: x}
contexts:
- name: ` + ctx + `
  context: {cluster: c, user: u}
- name: other
  context: {cluster: c, user: u}
current-context: ` + ctx + "\n"
		if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("KUBECONFIG", kc)
	return filepath.Join(dir, "state", "meshdojo")
}

func saveProgress(t *testing.T, ctx string, f func(*progress.State)) {
	t.Helper()
	st, err := progress.Open("")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := st.Load(ctx)
	f(s)
	if err := st.Save(s); err != nil {
		t.Fatal(err)
	}
}

func lesson6(t *testing.T) *lessons.Lesson {
	t.Helper()
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	l, ok := lessons.Find(all, "6")
	if !ok || len(l.Steps) < 3 {
		t.Fatal("lesson 6 with at least three steps is needed")
	}
	return l
}

func TestTutorialWithoutTerminal(t *testing.T) {
	isolate(t, "")
	code, out, errs := plain(t, "")
	if code == 0 {
		t.Fatal("exit 0 without a terminal")
	}
	if out != "" {
		t.Errorf("wrote to stdout: %q", out)
	}
	for _, w := range []string{"needs a terminal", "meshdojo list", "meshdojo show --lesson"} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
	// Flags are still checked first, so a typo is reported as such.
	code, _, errs = plain(t, "", "--lesson", "99")
	if code != 2 || !strings.Contains(errs, "valid lessons are") {
		t.Errorf("bad lesson without a terminal: %d %s", code, errs)
	}
}

func TestTutorialBadFlags(t *testing.T) {
	isolate(t, "")
	l := lesson6(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--lesson", "nine"}, `no lesson "nine"; valid lessons are`},
		{[]string{"--lesson", "6", "--step", "-1"}, "lesson 6 has steps 1 to " + itoa(len(l.Steps))},
		{[]string{"--lesson", "6", "--step", itoa(len(l.Steps) + 1)}, "not " + itoa(len(l.Steps)+1)},
		{[]string{"--step", "2"}, "--step needs --lesson"},
		{[]string{"--theme", "blue"}, `--theme "blue" is not one of auto, dark, light`},
		{[]string{"--lesson", "6", "extra"}, `unexpected argument "extra"`},
		{[]string{"--nope"}, "meshdojo: unknown flag --nope (see: meshdojo --help)"},
		{[]string{"--lesson", "6", "--step", "0"}, "lesson 6 has steps 1 to " + itoa(len(l.Steps)) + ", not 0"},
		{[]string{"--step", "0"}, "--step needs --lesson"},
	} {
		code, _, errs := plain(t, "", tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	// --lesson accepts what readers type.
	for _, id := range []string{"06", "6", "chapter 6", " 6 "} {
		if _, err := findLesson(lessonsOrFail(t), id); err != nil {
			t.Errorf("--lesson %q: %v", id, err)
		}
	}
}

// A bad flag gets one line that names it, says which command, and
// points to --help, for every command: not the flag package's message
// followed by the whole usage.
func TestBadFlagIsOneLine(t *testing.T) {
	isolate(t, "")
	// A flag that takes a value, for each command.
	valued := map[string]string{"": "lesson", "list": "context", "show": "lesson", "progress": "lesson", "check": "run", "doctor": "context"}
	for _, cmd := range []string{"", "list", "show", "progress", "check", "doctor"} {
		name := strings.TrimSpace("meshdojo " + cmd)
		for _, tc := range []struct {
			flag []string
			want string
		}{
			{[]string{"--nope"}, name + ": unknown flag --nope (see: " + name + " --help)"},
			{[]string{"-x=1"}, name + ": unknown flag --x (see: " + name + " --help)"},
			{[]string{"--" + valued[cmd]}, name + ": flag --" + valued[cmd] + " needs a value (see: " + name + " --help)"},
		} {
			args := tc.flag
			if cmd != "" {
				args = append([]string{cmd}, args...)
			}
			code, out, errs := plain(t, "", args...)
			if code != 2 || out != "" || errs != tc.want+"\n" {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and the one line %q", args, code, out, errs, tc.want)
			}
		}
	}
	code, out, errs := plain(t, "", "lst")
	if code != 2 || out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, `meshdojo: unknown command "lst"; the commands are `) ||
		!strings.Contains(errs, " list, ") || !strings.HasSuffix(errs, "(see: meshdojo --help)\n") {
		t.Errorf("unknown command: exit %d, stderr %q; want one line naming it and the commands", code, errs)
	}
	// -h still prints the usage, and succeeds.
	if code, _, errs := plain(t, "", "list", "-h"); code != 0 || !strings.Contains(errs, "-context") {
		t.Errorf("list -h: %d %q", code, errs)
	}
}

// --step 0 is refused everywhere a step is taken, as any other step that
// does not exist, instead of meaning "no step given".
func TestStepZeroRefused(t *testing.T) {
	isolate(t, "")
	l := lesson6(t)
	want := "lesson 6 has steps 1 to " + itoa(len(l.Steps)) + ", not 0"
	for _, args := range [][]string{
		{"--lesson", "6", "--step", "0"},
		{"show", "--lesson", "6", "--step", "0"},
		{"check", "--lesson", "6", "--step", "0"},
	} {
		code, _, errs := plain(t, "", args...)
		if code != 2 || !strings.Contains(errs, want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", args, code, errs, want)
		}
	}
}

// With neither HOME nor XDG_STATE_HOME set there is no place for
// progress, but reading needs none: list, show and progress work and show
// no progress; only a reset, which writes, says what to set.
func TestReadingNeedsNoStateDir(t *testing.T) {
	isolate(t, "lab")
	t.Setenv("HOME", "")
	t.Setenv("XDG_STATE_HOME", "")
	for _, args := range [][]string{{"list"}, {"show", "--lesson", "6"}, {"progress"}} {
		code, out, errs := plain(t, "", args...)
		if code != 0 || out == "" || errs != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errs)
		}
	}
	code, _, errs := plain(t, "", "progress", "--reset", "--yes")
	if code != 1 || !strings.Contains(errs, "nothing was reset") || !strings.Contains(errs, "XDG_STATE_HOME") {
		t.Errorf("reset without a state directory: %d %q", code, errs)
	}
}

func TestTutorialHelp(t *testing.T) {
	isolate(t, "")
	code, _, errs := plain(t, "", "--help")
	if code != 0 || !strings.Contains(errs, "--lesson") || !strings.Contains(errs, "Commands:") {
		t.Errorf("--help: %d\n%s", code, errs)
	}
}

func TestListShowsProgressPerContext(t *testing.T) {
	isolate(t, "lab-a")
	l := lesson6(t)
	saveProgress(t, "lab-a", func(s *progress.State) {
		s.Mark("6", l.Steps[0].Anchor, progress.Done, time.Now())
		s.Mark("6", l.Steps[1].Anchor, progress.Skipped, time.Now())
	})
	code, out, errs := plain(t, "", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "context lab-a") {
		t.Errorf("list does not name the context:\n%s", out)
	}
	row := lineWith(out, l.Title)
	f := strings.Fields(row)
	if len(f) < 5 || f[0] != "6" || f[1] != "*" || f[len(f)-3] != itoa(len(l.Steps)) || f[len(f)-2] != "1" || f[len(f)-1] != "1" {
		t.Errorf("lesson 6 row lacks the resume mark or counts (steps, done, skipped): %q", row)
	}
	// Another context has its own progress.
	code, out, _ = plain(t, "", "list", "--context", "other")
	if code != 0 || !strings.Contains(out, "context other") || strings.Contains(out, "* ") {
		t.Errorf("other context shows lab-a's progress:\n%s", out)
	}
}

func TestListWarnsOnCorruptProgress(t *testing.T) {
	state := isolate(t, "lab-a")
	st, _ := progress.Open(state)
	os.MkdirAll(state, 0o700)
	os.WriteFile(st.Path("lab-a"), []byte("garbage"), 0o600)
	code, out, errs := plain(t, "", "list")
	if code != 0 || !strings.Contains(errs, "moved to") || !strings.Contains(out, "LESSON") {
		t.Errorf("corrupt progress: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
}

func TestShowStep(t *testing.T) {
	isolate(t, "")
	l := lesson6(t)
	code, out, _ := plain(t, "", "show", "--lesson", "6", "--step", "2")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	s := l.Steps[1]
	for _, w := range []string{"Step 2 of", s.Title} {
		if !strings.Contains(out, w) {
			t.Errorf("show lacks %q:\n%s", w, out)
		}
	}
	if len(s.Checks) > 0 && !strings.Contains(out, "Checks") {
		t.Errorf("show lacks the checks:\n%s", out)
	}
	for _, c := range s.Checks {
		if !strings.Contains(out, c.Name) {
			t.Errorf("show lacks check %s", c.Name)
		}
	}
	if len(s.Hints) > 0 && !strings.Contains(out, "Hints:") {
		t.Errorf("show lacks the hints")
	}
	if s.Solution != "" {
		if strings.Contains(out, "Solution:") {
			t.Errorf("solution printed without --solution")
		}
		_, out, _ = plain(t, "", "show", "--lesson", "6", "--step", "2", "--solution")
		if !strings.Contains(out, "Solution:") {
			t.Errorf("--solution does not print it")
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("plain text has escape sequences")
	}
}

func TestShowLessonAndErrors(t *testing.T) {
	isolate(t, "")
	l := lesson6(t)
	code, out, _ := plain(t, "", "show", "--lesson", "06")
	if code != 0 || !strings.Contains(out, l.Title) || !strings.Contains(out, "Step "+itoa(len(l.Steps))+" of") {
		t.Errorf("show --lesson 06: %d\n%.300s", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"show"}, "--lesson is required; valid lessons are"},
		{[]string{"show", "--lesson", "99"}, `no lesson "99"`},
		{[]string{"show", "--lesson", "6", "--step", "99"}, "lesson 6 has steps 1 to"},
	} {
		code, _, errs := plain(t, "", tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: %d %q", tc.args, code, errs)
		}
	}
}

func TestProgressResetAsksFirst(t *testing.T) {
	isolate(t, "lab-a")
	l := lesson6(t)
	mark := func() {
		saveProgress(t, "lab-a", func(s *progress.State) {
			s.Mark("6", l.Steps[0].Anchor, progress.Done, time.Now())
			s.Mark("1", "x", progress.Done, time.Now())
		})
	}
	has := func(lesson string) bool {
		st, _ := progress.Open("")
		s, _ := st.Load("lab-a")
		return s.Lessons[lesson] != nil
	}
	mark()
	code, out, _ := plain(t, "", "progress")
	if code != 0 || !strings.Contains(out, "done") || !strings.Contains(out, l.Steps[0].Title) {
		t.Errorf("progress: %d\n%s", code, out)
	}

	// No stdin (CI): nothing happens.
	code, _, errs := plain(t, "", "progress", "--reset")
	if code != 1 || !strings.Contains(errs, "nothing was reset") || !has("6") {
		t.Errorf("reset without an answer: %d %q", code, errs)
	}
	// "n" keeps it too.
	if code, _, _ = plain(t, "n\n", "progress", "--reset"); code != 1 || !has("6") {
		t.Errorf("reset answered n: %d", code)
	}
	// --lesson resets only that lesson.
	code, out, _ = plain(t, "y\n", "progress", "--reset", "--lesson", "6")
	if code != 0 || !strings.Contains(out, "lesson 6") || has("6") || !has("1") {
		t.Errorf("reset --lesson 6: %d %q", code, out)
	}
	// --yes resets everything without asking.
	mark()
	code, out, _ = plain(t, "", "progress", "--reset", "--yes")
	if code != 0 || has("6") || has("1") || strings.Contains(out, "[y/N]") {
		t.Errorf("reset --yes: %d %q", code, out)
	}
	code, out, _ = plain(t, "", "progress", "--reset", "--yes")
	if code != 0 || !strings.Contains(out, "no all progress") && !strings.Contains(out, "nothing") && !strings.Contains(out, "There was no") {
		t.Errorf("second reset: %d %q", code, out)
	}
	for _, args := range [][]string{{"progress", "--yes"}, {"progress", "--lesson", "6"}, {"progress", "--reset", "--lesson", "99", "--yes"}} {
		if code, _, _ := plain(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func lessonsOrFail(t *testing.T) []*lessons.Lesson {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestUnwrittenChapter: asking for a chapter of the book whose lesson is
// not written names the chapter and the lessons that exist; list shows
// the unwritten chapters as not yet available.
func TestUnwrittenChapter(t *testing.T) {
	isolate(t, "")
	all := lessonsOrFail(t)
	var missing string
	for _, c := range lessons.Chapters() {
		if _, ok := lessons.Find(all, c.ID); !ok {
			missing = c.ID
			break
		}
	}
	if missing == "" {
		return // every chapter is written: nothing left to announce
	}
	title, _ := lessons.ChapterTitle(missing)
	for _, args := range [][]string{{"--lesson", missing}, {"show", "--lesson", missing}} {
		code, _, errs := plain(t, "", args...)
		if code != 2 || !strings.Contains(errs, "is not written yet") || !strings.Contains(errs, title) || !strings.Contains(errs, "open now: "+strings.ToUpper(lessons.IDs(all))) {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	code, out, _ := plain(t, "", "list")
	row := lineWith(out, title)
	if code != 0 || !strings.Contains(row, "not yet") {
		t.Errorf("list does not show chapter %s as not yet available: %q\n%s", missing, row, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("list line has trailing spaces: %q", line)
		}
	}
}

// A second reset says plainly that there was nothing to forget, and a
// state directory that cannot be written says what to do, not only the
// system error.
func TestProgressResetMessages(t *testing.T) {
	isolate(t, "")
	code, out, _ := plain(t, "", "progress", "--reset", "--yes")
	if code != 0 || !strings.Contains(out, "There was no progress to forget") || strings.Contains(out, "no all progress") {
		t.Errorf("reset of nothing: %d %q", code, out)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_STATE_HOME", file) // a file, so the state dir cannot exist
	code, _, errs := plain(t, "", "progress", "--reset", "--yes")
	if code != 1 || !strings.Contains(errs, "XDG_STATE_HOME") || !strings.Contains(errs, "Nothing was reset") {
		t.Errorf("reset into an unusable state dir: %d %q", code, errs)
	}
}
