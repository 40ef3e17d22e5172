package tui

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/meshdojo/meshdojo/internal/breaks"
)

// Breaks reaches the reader's cluster for a lesson's break (see
// internal/breaks); nil when there is no cluster configured.
type Breaks func(ctx context.Context) (*breaks.Client, error)

// Messages of the break actions: a plan to show, a break written, the
// breaks in place (to ask before restoring), a restore done.
type (
	breakKeyMsg   struct{}
	restoreKeyMsg struct{}
	plannedMsg    struct {
		plan *breaks.Plan
		err  error
	}
	brokeMsg   struct{ err error }
	inPlaceMsg struct {
		recs []breaks.Record
		err  error
	}
	restoredMsg struct {
		rep *breaks.Report
		err error
	}
)

// diffLines is how much of a break's diff the dialog shows on a screen
// of height h: what fits around the dialog's own lines.
func diffLines(h int) int { return max(8, h-16) }

// breakKey: B asks the API server for a dry run of the step's break,
// then shows its diff and asks before writing anything.
func (m *Model) breakKey() tea.Cmd {
	b := m.ses.Step().Break
	switch {
	case b == nil:
		m.msg.say(lvInfo, "This step has no break to apply.")
		return nil
	case m.opt.Breaks == nil:
		m.msg.say(lvWarn, "Breaks need a cluster; none is configured.")
		return nil
	}
	m.msg.say(lvInfo, "Asking the API server what the break would change (dry run)…")
	f, ctx := m.opt.Breaks, m.ctx
	return func() tea.Msg {
		c, err := f(ctx)
		if err != nil {
			return plannedMsg{err: err}
		}
		p, err := c.Plan(ctx, b.ID, b.Objects)
		return plannedMsg{plan: p, err: err}
	}
}

func (m *Model) planned(msg plannedMsg) {
	if msg.err != nil {
		m.msg.say(lvWarn, "Not broken: "+msg.err.Error())
		return
	}
	m.plan = msg.plan
	lines := strings.Split(strings.TrimRight(msg.plan.Diff, "\n"), "\n")
	if n := diffLines(m.h); len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… %d more lines", len(lines)-n))
	}
	// The diff comes last: on a small screen the dialog cuts its body
	// from the end, and the diff's tail is what can best give way.
	m.dlg = &dialog{kind: dlgBreak, title: "Break your lab for this exercise?",
		body: "What was there before is recorded; u puts it back, and so does meshdojo reset. " +
			"meshdojo writes this (server-side apply, field manager " + breaks.Manager + "; the dry run against your cluster):\n\n" +
			strings.Join(lines, "\n")}
}

// applyBreak writes the plan the reader agreed to. It is admitted as an
// action on the cluster, so quitting waits for it.
func (m *Model) applyBreak() tea.Cmd {
	p, f, ctx, acting := m.plan, m.opt.Breaks, m.ctx, m.ses.Acting()
	m.plan = nil
	if p == nil || f == nil {
		return nil
	}
	m.msg.say(lvInfo, "Breaking the lab…")
	return func() tea.Msg {
		if !acting.Begin() {
			return nil
		}
		defer acting.End()
		c, err := f(ctx)
		if err == nil {
			err = c.Apply(context.WithoutCancel(ctx), p)
		}
		return brokeMsg{err}
	}
}

func (m *Model) broke(msg brokeMsg) {
	if msg.err != nil {
		m.msg.say(lvErr, "The break was not fully written: "+msg.err.Error()+" (u puts back what was written)")
		return
	}
	m.msg.say(lvInfo, "Broken. Find the cause; u puts the lab back if you want to start over.")
}

// restoreKey: u lists the breaks in place, then asks.
func (m *Model) restoreKey() tea.Cmd {
	if m.opt.Breaks == nil {
		m.msg.say(lvWarn, "Nothing to restore: no cluster is configured.")
		return nil
	}
	f, ctx := m.opt.Breaks, m.ctx
	return func() tea.Msg {
		c, err := f(ctx)
		if err != nil {
			return inPlaceMsg{err: err}
		}
		recs, err := c.InPlace()
		return inPlaceMsg{recs: recs, err: err}
	}
}

func (m *Model) inPlace(msg inPlaceMsg) {
	switch {
	case msg.err != nil:
		m.msg.say(lvWarn, msg.err.Error())
		return
	case len(msg.recs) == 0:
		m.msg.say(lvInfo, "The tutorial has broken nothing in this context.")
		return
	}
	var b strings.Builder
	for _, r := range msg.recs {
		fmt.Fprintf(&b, "%s:\n", r.ID)
		for _, w := range r.Objects {
			how := "put back the fields it set"
			if w.Created {
				how = "delete (it created it)"
			}
			fmt.Fprintf(&b, "  %s: %s\n", w, how)
		}
	}
	m.dlg = &dialog{kind: dlgRestore, title: "Put back what the tutorial broke?",
		body: b.String() + "\nWhat you changed yourself since is kept."}
}

func (m *Model) restoreBreaks() tea.Cmd {
	f, ctx, acting := m.opt.Breaks, m.ctx, m.ses.Acting()
	m.msg.say(lvInfo, "Restoring…")
	return func() tea.Msg {
		if !acting.Begin() {
			return nil
		}
		defer acting.End()
		c, err := f(ctx)
		if err != nil {
			return restoredMsg{err: err}
		}
		rep, err := c.Restore(context.WithoutCancel(ctx), "")
		return restoredMsg{rep, err}
	}
}

func (m *Model) restored(msg restoredMsg) {
	if msg.err != nil {
		m.msg.say(lvErr, "Not everything was restored: "+msg.err.Error())
		return
	}
	note := fmt.Sprintf("Restored %d object(s).", len(msg.rep.Restored))
	if len(msg.rep.Kept) > 0 {
		note += " Kept as you left them: " + strings.Join(msg.rep.Kept, "; ")
	}
	m.msg.say(lvInfo, note)
}
