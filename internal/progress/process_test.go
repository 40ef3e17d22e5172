package progress

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run the test binary again as separate processes (the
// instances), so the lock and the merge are tried across processes, as
// with two terminals or `meshdojo progress --reset` beside the tutorial.

const childEnv = "MESHDOJO_PROGRESS_CHILD"

// TestMain runs the test binary as a child instance when childEnv is set
// (so no test of the package has to skip itself in a normal run), and the
// tests otherwise. A child's arguments come from the environment: the
// mode, the state directory, the lesson and a count.
//
//	mark:   marks steps 0..n-1 of the lesson as done, saving after each.
//	follow: loads, then for each line on stdin "mark S" or "current S"
//	        changes the step S, saves, and answers "ok <status of S> <steps on disk>".
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		runChild(mode)
	}
	os.Exit(m.Run())
}

// runChild is the body of a child instance; it never returns.
func runChild(mode string) {
	dir, lesson := os.Getenv("CHILD_DIR"), os.Getenv("CHILD_LESSON")
	st, _ := Open(dir)
	s, err := st.Load("ctx")
	if err != nil {
		fmt.Println("load:", err)
		os.Exit(3)
	}
	switch mode {
	case "mark":
		n, _ := strconv.Atoi(os.Getenv("CHILD_N"))
		for i := 0; i < n; i++ {
			s.Mark(lesson, fmt.Sprint("s", i), Done, time.Now())
			s.SetCurrent(lesson, fmt.Sprint("s", i), time.Now())
			if err := st.Save(s); err != nil {
				fmt.Println("save:", err)
				os.Exit(3)
			}
		}
	case "follow":
		in := bufio.NewScanner(os.Stdin)
		fmt.Println("ready")
		for in.Scan() {
			verb, step, _ := strings.Cut(in.Text(), " ")
			switch verb {
			case "mark":
				s.Mark(lesson, step, Done, time.Now())
			case "current":
				s.SetCurrent(lesson, step, time.Now())
			}
			if err := st.Save(s); err != nil {
				fmt.Println("save:", err)
				os.Exit(3)
			}
			fmt.Println("ok", s.StatusOf(lesson, step), len(s.Lesson(lesson).Steps))
		}
	default:
		fmt.Println("unknown child mode:", mode)
		os.Exit(2)
	}
	os.Exit(0)
}

func child(t *testing.T, mode, dir, lesson string, n int) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "CHILD_DIR="+dir, "CHILD_LESSON="+lesson, fmt.Sprint("CHILD_N=", n))
	cmd.Stderr = os.Stderr
	return cmd
}

// Two processes record different steps at the same time, each saving
// after every step; no record is lost.
func TestTwoProcessesMerge(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	var wg sync.WaitGroup
	for _, lesson := range []string{"5", "6"} {
		cmd := child(t, "mark", dir, lesson, n)
		out := &strings.Builder{}
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := cmd.Wait(); err != nil {
				t.Errorf("child for lesson %s: %v %s", lesson, err, out)
			}
		})
	}
	wg.Wait()
	st, _ := Open(dir)
	got, err := st.Load("ctx")
	if err != nil {
		t.Fatal(err)
	}
	for _, lesson := range []string{"5", "6"} {
		var lost []string
		for i := 0; i < n; i++ {
			if got.StatusOf(lesson, fmt.Sprint("s", i)) != Done {
				lost = append(lost, fmt.Sprint("s", i))
			}
		}
		if len(lost) > 0 {
			t.Errorf("lesson %s lost %d of %d records: %v", lesson, len(lost), n, lost)
		}
		if c := got.Lesson(lesson).Current; c != fmt.Sprint("s", n-1) {
			t.Errorf("lesson %s current = %q", lesson, c)
		}
	}
}

// A running instance (another process) does not undo a reset made by a
// third process on its next save, shows the reset itself, and keeps what
// it records after.
func TestResetWhileAnotherProcessRuns(t *testing.T) {
	dir := t.TempDir()
	cmd := child(t, "follow", dir, "6", 0)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	lines := bufio.NewScanner(stdout)
	ask := func(line string) string {
		t.Helper()
		if line != "" {
			io.WriteString(stdin, line+"\n")
		}
		if !lines.Scan() {
			t.Fatalf("child ended: %v", lines.Err())
		}
		return lines.Text()
	}
	if got := ask(""); got != "ready" {
		t.Fatalf("child said %q", got)
	}
	ask("mark a")
	if got := ask("mark b"); got != "ok done 2" {
		t.Fatalf("child said %q", got)
	}

	st, _ := Open(dir)
	time.Sleep(2 * time.Millisecond) // the reset is strictly later than b
	if ok, err := st.Reset("ctx", ""); !ok || err != nil {
		t.Fatalf("Reset = %v, %v", ok, err)
	}
	// The child moves on (its next save) and then records a new step.
	if got := ask("current c"); got != "ok  0" {
		t.Errorf("after the reset the child sees %q, want no steps", got)
	}
	if got := ask("mark d"); got != "ok done 1" {
		t.Errorf("child said %q", got)
	}
	got, _ := st.Load("ctx")
	if got.StatusOf("6", "a") != "" || got.StatusOf("6", "b") != "" {
		t.Errorf("the running instance brought back records the reset removed: %+v", got.Lessons["6"])
	}
	if got.StatusOf("6", "d") != Done {
		t.Errorf("a record made after the reset was lost: %+v", got.Lessons["6"])
	}
}
