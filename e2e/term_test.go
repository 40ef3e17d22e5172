package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
	"github.com/creack/pty"

	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// bin is the meshdojo binary built once for all tests.
var bin string

func TestMain(m *testing.M) {
	// The binary goes to a fixed place under the user's cache, replaced
	// on every run: testcluster.Main exits the process, so a temporary
	// directory would never be removed.
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "meshdojo", "e2e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "meshdojo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".." // the module root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building meshdojo:", err)
		os.Exit(1)
	}
	// The online test shares one real API server, started on first use.
	testcluster.Main(m)
}

// deadline bounds every wait. It is generous because CI machines are
// slow and shared; a passing test never waits for it.
const deadline = 30 * time.Second

// offlineEnv is an environment with no reachable cluster and a private
// state directory.
func offlineEnv(t testing.TB) []string {
	home := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"KUBECONFIG=" + filepath.Join(home, "no-such-kubeconfig"),
		"TERM=xterm-256color",
		"LANG=C.UTF-8",
	}
}

// term is the binary running in a pty, seen through a terminal emulator.
type term struct {
	t    testing.TB
	cmd  *exec.Cmd
	pty  *os.File
	mu   sync.Mutex // guards emu
	emu  *vt.Emulator
	raw  bytes.Buffer // everything the program wrote, for failure reports
	done chan struct{}
	exit error
}

func start(t testing.TB, env []string, w, h int, args ...string) *term {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(w), Rows: uint16(h)})
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, cmd: cmd, pty: f, emu: vt.NewEmulator(w, h), done: make(chan struct{})}
	readDone := make(chan struct{})
	go func() { // program output -> emulator
		defer close(readDone)
		buf := make([]byte, 32*1024)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				tm.mu.Lock()
				tm.raw.Write(buf[:n])
				tm.emu.Write(buf[:n])
				tm.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // emulator replies (colour, mode and size queries) -> program
		io.Copy(f, tm.emu)
	}()
	go func() {
		tm.exit = cmd.Wait()
		// Linux returns EIO on the master once the child is gone; give
		// the reader a moment to drain what is left first.
		select {
		case <-readDone:
		case <-time.After(2 * time.Second):
		}
		close(tm.done)
	}()
	t.Cleanup(func() {
		select {
		case <-tm.done:
		default:
			cmd.Process.Kill()
			<-tm.done
		}
		f.Close() // ends the reply pump too; the emulator is left to the GC
	})
	return tm
}

// screen is the emulator's visible text.
func (tm *term) screen() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.emu.String()
}

// waitFor polls the screen until ok holds, failing with the last screen
// after the deadline.
func (tm *term) waitFor(what string, ok func(screen string) bool) string {
	tm.t.Helper()
	end := time.Now().Add(deadline)
	for {
		s := tm.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(end) {
			tm.t.Fatalf("timed out waiting for %s; screen:\n%s", what, s)
		}
		select {
		case <-tm.done:
			s = tm.screen()
			if ok(s) {
				return s
			}
			tm.t.Fatalf("meshdojo exited (%v) while waiting for %s; screen:\n%s", tm.exit, what, s)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (tm *term) waitText(subs ...string) string {
	tm.t.Helper()
	return tm.waitFor(fmt.Sprintf("%q", subs), func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	})
}

// waitGone waits until none of subs is on screen.
func (tm *term) waitGone(subs ...string) string {
	tm.t.Helper()
	return tm.waitFor(fmt.Sprintf("%q to go away", subs), func(s string) bool {
		for _, sub := range subs {
			if strings.Contains(s, sub) {
				return false
			}
		}
		return true
	})
}

func (tm *term) press(keys ...string) {
	tm.t.Helper()
	for _, k := range keys {
		seq, ok := keySeq[k]
		if !ok {
			seq = k
		}
		if _, err := tm.pty.Write([]byte(seq)); err != nil {
			tm.t.Fatalf("pressing %q: %v", k, err)
		}
	}
}

var keySeq = map[string]string{
	"enter":  "\r",
	"esc":    "\x1b",
	"ctrl+c": "\x03",
	"right":  "\x1b[C",
	"left":   "\x1b[D",
	"up":     "\x1b[A",
	"down":   "\x1b[B",
	"pgdown": "\x1b[6~",
	"pgup":   "\x1b[5~",
}

// resize changes the pty size as a terminal window would; the kernel
// delivers SIGWINCH, and we send one too in case the process group
// differs.
func (tm *term) resize(w, h int) {
	tm.t.Helper()
	tm.mu.Lock()
	tm.emu.Resize(w, h)
	tm.mu.Unlock()
	if err := pty.Setsize(tm.pty, &pty.Winsize{Cols: uint16(w), Rows: uint16(h)}); err != nil {
		tm.t.Fatal(err)
	}
	tm.cmd.Process.Signal(syscall.SIGWINCH)
}

// wait waits for the program to exit and returns its exit code.
func (tm *term) wait() int {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(deadline):
		tm.t.Fatalf("meshdojo did not exit; screen:\n%s", tm.screen())
	}
	var ee *exec.ExitError
	if errors.As(tm.exit, &ee) {
		return ee.ExitCode()
	}
	if tm.exit != nil {
		tm.t.Fatalf("wait: %v", tm.exit)
	}
	return 0
}

func (tm *term) altScreen() bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.emu.IsAltScreen()
}

func (tm *term) cursorHidden() bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.emu.CursorHidden()
}

// lines splits a screen into lines, for assertions on rows.
func lines(s string) []string { return strings.Split(s, "\n") }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
