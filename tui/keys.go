package tui

import "charm.land/bubbles/v2/key"

// keyMap holds every binding, so the help overlay and the status bar are
// generated from the same data the Update function matches against.
type keyMap struct {
	Next, Prev, Skip, Reset  key.Binding
	Up, Down, PageUp, PageDn key.Binding
	Top, Bottom              key.Binding
	Hint, Solution, Copy     key.Binding
	Recheck, Probe, Details  key.Binding
	Answer, Link             key.Binding
	Break, Restore           key.Binding
	Lessons, Sidebar, Help   key.Binding
	Present, Quit            key.Binding
}

func newKeyMap() keyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return keyMap{
		Next:     b([]string{"n", "right"}, "n/→", "next step (when checks pass)"),
		Prev:     b([]string{"p", "left"}, "p/←", "previous step"),
		Skip:     b([]string{"x"}, "x", "skip this step (asks first)"),
		Reset:    b([]string{"R"}, "R", "start this step over (asks first)"),
		Up:       b([]string{"up", "k"}, "↑/k", "scroll up"),
		Down:     b([]string{"down", "j"}, "↓/j", "scroll down"),
		PageUp:   b([]string{"pgup", "b"}, "PgUp", "page up"),
		PageDn:   b([]string{"pgdown", "space", "f"}, "PgDn/space", "page down"),
		Top:      b([]string{"home", "g"}, "g/Home", "top of the step"),
		Bottom:   b([]string{"end", "G"}, "G/End", "end of the step"),
		Hint:     b([]string{"h"}, "h", "hint (one more per press)"),
		Solution: b([]string{"s"}, "s", "show the solution (asks first)"),
		Copy:     b([]string{"c"}, "c", "copy the next command"),
		Recheck:  b([]string{"r"}, "r", "re-check now"),
		Probe:    b([]string{"t"}, "t", "run the traffic test (asks first)"),
		Details:  b([]string{"d"}, "d", "check details: seen vs expected, fix"),
		Answer:   b([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}, "1-9", "answer the question"),
		Link:     b([]string{"o"}, "o", "follow a link to another step"),
		Break:    b([]string{"B"}, "B", "break the lab for the exercise (asks first)"),
		Restore:  b([]string{"u"}, "u", "put back what B broke (asks first)"),
		Lessons:  b([]string{"/", "L"}, "/", "lessons (type to search)"),
		Sidebar:  b([]string{"tab"}, "tab", "show/hide the sidebar"),
		Help:     b([]string{"?"}, "?", "help"),
		Present:  b([]string{"P", "f5"}, "P/F5", "presenter mode"),
		Quit:     b([]string{"q", "ctrl+c"}, "q", "quit"),
	}
}

// ShortHelp is what the status bar offers: the same keys, one word each,
// most important first (help, which leads to every other key). The bar
// keeps as many as fit, in this order, and shows them in reading order
// (see statusBar).
func (k keyMap) ShortHelp() []key.Binding {
	short := func(b key.Binding, k, desc string) key.Binding {
		b.SetHelp(k, desc)
		return b
	}
	return []key.Binding{
		short(k.Help, "?", "help"), short(k.Next, "n", "next"), short(k.Hint, "h", "hint"),
		short(k.Skip, "x", "skip"), short(k.Quit, "q", "quit"), short(k.Lessons, "/", "lessons"),
		short(k.Reset, "R", "reset"),
	}
}

// barOrder is the reading order of the status bar's keys.
var barOrder = []string{"n", "h", "x", "R", "/", "?", "q"}

// FullHelp is the help overlay, in columns.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Prev, k.Skip, k.Reset, k.Link, k.Lessons, k.Sidebar, k.Present, k.Help, k.Quit},
		{k.Up, k.Down, k.PageUp, k.PageDn, k.Top, k.Bottom},
		{k.Hint, k.Solution, k.Copy, k.Recheck, k.Probe, k.Details, k.Answer},
		{k.Break, k.Restore},
	}
}
