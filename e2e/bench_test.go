package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
	"github.com/creack/pty"
)

// BenchmarkStartToFirstFrame runs the built binary in a pty, offline,
// and measures from exec to the first complete frame (the status bar
// drawn). It also reports the process's resident memory once idle.
func BenchmarkStartToFirstFrame(b *testing.B) {
	env := offlineEnv(b)
	var rss float64
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, "--lesson", "6")
		cmd.Env = env
		emu := vt.NewEmulator(80, 24)
		go func() { // answer the terminal's queries like a real terminal
			buf := make([]byte, 4096)
			for {
				if _, err := emu.Read(buf); err != nil {
					return
				}
			}
		}()
		f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 80, Rows: 24})
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 32*1024)
		for {
			n, err := f.Read(buf)
			if err != nil {
				b.Fatalf("no frame: %v", err)
			}
			emu.Write(buf[:n])
			if strings.Contains(emu.String(), "Lesson 6 · step") {
				break
			}
		}
		b.StopTimer()
		if i == 0 {
			// Memory at rest: after the first frame, once start-up work
			// (connection attempt, background colour, prefetch) settled.
			time.Sleep(500 * time.Millisecond)
			rss = vmRSS(cmd.Process.Pid)
		}
		f.Write([]byte("q"))
		done := make(chan struct{})
		go func() { // drain until the process exits
			for {
				if _, err := f.Read(buf); err != nil {
					close(done)
					return
				}
			}
		}()
		cmd.Wait()
		f.Close()
		<-done
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/first-frame")
	b.ReportMetric(rss, "KiB-RSS-at-rest")
}

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseFloat(f[1], 64)
				return n
			}
		}
	}
	return 0
}
