package lessons_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/lessons"
)

// BenchmarkLoad: parsing every embedded lesson, which the binary does
// once at start-up (the UI never parses per frame). Its cost grows with
// the course, so it also reports the course's size and the allocations
// per KiB of it: between two commits with different lessons, a change
// in allocs/KiB-lessons is the parser's, one in KiB-lessons the course's.
func BenchmarkLoad(b *testing.B) {
	// The embed pattern is *.md in this directory: the files on disk are
	// the embedded ones.
	names, err := filepath.Glob("*.md")
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, n := range names {
		if strings.EqualFold(n, "README.md") {
			continue
		}
		fi, err := os.Stat(n)
		if err != nil {
			b.Fatal(err)
		}
		size += int(fi.Size())
	}
	kib := float64(size) / 1024
	var before, after runtime.MemStats
	b.ReportAllocs()
	runtime.ReadMemStats(&before)
	for i := 0; i < b.N; i++ {
		if _, err := lessons.Load(); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(kib, "KiB-lessons")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/kib, "allocs/KiB-lessons")
}
