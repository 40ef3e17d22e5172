package lessons_test

import (
	"testing"

	"github.com/meshdojo/meshdojo/lessons"
)

// BenchmarkLoad: parsing every embedded lesson, which the binary does
// once at start-up (the UI never parses per frame).
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := lessons.Load(); err != nil {
			b.Fatal(err)
		}
	}
}
