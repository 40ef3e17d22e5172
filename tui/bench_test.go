package tui

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	tea "charm.land/bubbletea/v2"

	"github.com/meshdojo/meshdojo/lessons"
)

// bigLesson is a 20 KB lesson: one long step (prose, lists, code, a
// table, Japanese) plus a few short ones, with hints.
func bigLesson(b testing.TB) []*lessons.Lesson {
	var body strings.Builder
	for i := 0; body.Len() < 18*1024; i++ {
		fmt.Fprintf(&body, "### Part %d\n\nIstio's sidecar intercepts traffic and **enforces** the policy for each "+
			"workload; `PeerAuthentication` sets the mode and `DestinationRule` the client side. "+
			"サイドカーは通信を暗号化し、相手の証明書を検証します。\n\n"+
			"- first point about mTLS\n- second point, with `code`\n\n"+
			"```sh\nkubectl get peerauthentication -n bookinfo -o yaml | head -%d\n```\n\n"+
			"| kind | mode |\n|---|---|\n| mesh | STRICT |\n| namespace | PERMISSIVE |\n\n", i, i)
	}
	src := "---\nid: 6\nchapter: 6\ntitle: Big\nsummary: s\nmode: sidecar\nlab: chapter-06\nminutes: 10\n---\n\n" +
		"## The long step\n\n" + body.String() +
		"\n```hint\nFirst hint.\n```\n\n```hint\nSecond hint with `code`.\n```\n\n" +
		"## Second\n\nShort.\n\n## Third\n\nShort too.\n"
	if len(src) < 20*1024-2048 {
		b.Fatalf("lesson is only %d bytes", len(src))
	}
	all, err := lessons.LoadFS(fstest.MapFS{"06.md": {Data: []byte(src)}})
	if err != nil {
		b.Fatal(err)
	}
	return all
}

func benchModel(b *testing.B) *Model {
	o := Options{Lessons: bigLesson(b), Lesson: "6", Step: 1, Theme: ThemeDark}
	m := New(o)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	m.View()
	return m
}

// BenchmarkKeyToFrame: a scroll key on the 20 KB lesson, Update and View,
// which is what the program does per key before writing the frame.
func BenchmarkKeyToFrame(b *testing.B) {
	m := benchModel(b)
	keys := []tea.KeyPressMsg{keyMsg("j"), keyMsg("k")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Update(keys[i%2])
		m.View()
	}
}

// BenchmarkKeyToFrameRefused: n on a closed gate (message line changes).
func BenchmarkKeyToFrameRefused(b *testing.B) {
	o := Options{Lessons: fixtures(b), Lesson: "6", Step: 2, Theme: ThemeDark}
	m := New(o)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Update(keyMsg("n"))
		m.View()
	}
}

// BenchmarkStepSwitchCached: next/previous between steps already rendered.
func BenchmarkStepSwitchCached(b *testing.B) {
	m := benchModel(b)
	m.Update(keyMsg("x"))
	m.Update(keyMsg("y"))
	m.enterStep(0, 1)
	m.View()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.enterStep(0, i%2)
		m.View()
	}
}

// BenchmarkRenderUncached: the one expensive frame, a new width for the
// 20 KB step (glamour runs); a reader meets it on resize, not per key.
func BenchmarkRenderUncached(b *testing.B) {
	m := benchModel(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Update(tea.WindowSizeMsg{Width: 80 + i%40, Height: 30})
		m.View()
		clear(m.lesson.md.out)
	}
}

// BenchmarkFirstFrame: New, Init and the first View at 80x24 with the
// embedded lessons, the model's share of start-up.
func BenchmarkFirstFrame(b *testing.B) {
	all, err := lessons.Load()
	if err != nil || len(all) == 0 {
		b.Fatal("no embedded lessons", err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m := New(Options{Lessons: all, Theme: ThemeDark})
		m.Init()
		m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		m.View()
	}
}

// BenchmarkMemoryAtRest reports the live heap once every lesson is
// loaded and the first frame drawn.
func BenchmarkMemoryAtRest(b *testing.B) {
	var keep []*Model
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		all, _ := lessons.Load()
		m := New(Options{Lessons: all, Theme: ThemeDark})
		m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		m.View()
		runtime.GC()
		runtime.ReadMemStats(&after)
		keep = append(keep, m)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1024, "KiB-heap/model")
		keep = keep[:0]
	}
}
