package tui

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/session"
)

// Intents: what a region asks of the rest when one of its keys is
// pressed. Regions return them from their update; the root acts on them
// at once (before the next key, so a fast typist's "x y" skips), through
// the session for anything that changes the reader's place or progress.
type (
	nextMsg     struct{}
	prevMsg     struct{}
	askMsg      struct{ kind dlgKind } // a confirmation first
	confirmMsg  struct{ kind dlgKind } // the reader said yes
	cancelMsg   struct{}               // the reader said no
	linksMsg    struct{}               // offer the step's links
	nextLinkMsg struct{}               // offer the next link
	hintMsg     struct{}
	solutionMsg struct{}
	copyMsg     struct{}
	recheckMsg  struct{}
	probeKeyMsg struct{}
	detailsMsg  struct{}
	answerMsg   struct{ choice int }
)

func keyIs(k tea.KeyPressMsg, b ...key.Binding) bool { return key.Matches(k, b...) }

// place is the reader's place, by index.
type place struct{ li, si int }

func (m *Model) place() place {
	li, si := m.ses.Place()
	return place{li, si}
}

// intent acts on a region's request; ok is false for a message that is
// not one.
func (m *Model) intent(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case nil:
		return nil, true
	case nextMsg:
		return m.next(), true
	case prevMsg:
		return m.prev(), true
	case askMsg:
		m.ask(msg.kind)
		return nil, true
	case confirmMsg:
		return m.confirmed(msg.kind), true
	case cancelMsg:
		m.plan = nil
		m.msg.say(lvInfo, "Cancelled.")
		return nil, true
	case linksMsg:
		m.linkKey()
		return nil, true
	case nextLinkMsg:
		m.linkAt = (m.linkAt + 1) % len(m.links)
		m.askLink()
		return nil, true
	case hintMsg:
		m.hint()
		return nil, true
	case solutionMsg:
		m.solutionKey()
		return nil, true
	case copyMsg:
		return m.copyCmd(), true
	case recheckMsg:
		return m.recheck(), true
	case probeKeyMsg:
		m.probeKey()
		return nil, true
	case detailsMsg:
		m.setMode(modeDetail)
		m.over.top()
		return nil, true
	case answerMsg:
		return m.answer(msg.choice), true
	case breakKeyMsg:
		return m.breakKey(), true
	case restoreKeyMsg:
		return m.restoreKey(), true
	case plannedMsg:
		m.planned(msg)
		return nil, true
	case brokeMsg:
		m.broke(msg)
		return nil, true
	case inPlaceMsg:
		m.inPlace(msg)
		return nil, true
	case restoredMsg:
		m.restored(msg)
		return nil, true
	case pickedMsg:
		m.setMode(modeLesson)
		return m.enterStep(msg.lesson, m.ses.ResumeStep(msg.lesson)), true
	case closePickerMsg:
		m.setMode(modeLesson)
		return nil, true
	}
	return nil, false
}

func (m *Model) next() tea.Cmd {
	if ok, why := m.ses.Pass(); !ok {
		m.msg.refuse("Not yet: " + why)
		return nil
	}
	return m.advance("")
}

// advance moves to the following step, or the next lesson after the last.
func (m *Model) advance(note string) tea.Cmd {
	from := m.ses.Lesson()
	li, si, ok := m.ses.Following()
	switch {
	case !ok:
		m.msg.say(lvInfo, "That was the last step of the last lesson. "+note+" Press / to revisit any lesson.")
		return m.save()
	case li == m.place().li:
		if note != "" {
			m.msg.say(lvInfo, note)
		}
		return m.enterStep(li, si)
	}
	cmd := m.enterStep(li, si)
	m.msg.say(lvInfo, fmt.Sprintf("End of lesson %s. %s Now: lesson %s, %s.", strings.ToUpper(from.ID), note, strings.ToUpper(m.ses.Lesson().ID), m.ses.Lesson().Title))
	return cmd
}

func (m *Model) prev() tea.Cmd {
	li, si, ok := m.ses.Previous()
	if !ok {
		m.msg.say(lvInfo, "This is the first step.")
		return nil
	}
	return m.enterStep(li, si)
}

// ask opens the confirmation for kind.
func (m *Model) ask(kind dlgKind) {
	n, title := m.place().si+1, m.ses.Step().Title
	switch kind {
	case dlgSkip:
		m.dlg = &dialog{kind: kind, title: "Skip this step?", body: fmt.Sprintf("Step %d, %q, will be recorded as skipped, not done. You can come back to it any time.", n, title)}
	case dlgReset:
		m.dlg = &dialog{kind: kind, title: "Reset this step?", body: fmt.Sprintf("Step %d, %q, starts over: its hints, solution and answer are hidden again, its recorded status is forgotten, and its checks run afresh. Your cluster is not touched.", n, title)}
	}
}

func (m *Model) confirmed(kind dlgKind) tea.Cmd {
	switch kind {
	case dlgSkip:
		m.ses.Skip()
		return m.advance(fmt.Sprintf("Skipped step %d.", m.place().si+1))
	case dlgSolution:
		m.ses.RevealSolution()
		m.layout()
		m.lesson.scrollToPart("solution")
	case dlgProbe:
		return m.runProbe()
	case dlgReset:
		return m.reset()
	case dlgLink:
		return m.followLink()
	case dlgBreak:
		return m.applyBreak()
	case dlgRestore:
		return m.restoreBreaks()
	}
	return nil
}

// reset starts the step over (see Session.Reset); re-entering it drops
// stale results and watches its checks afresh.
func (m *Model) reset() tea.Cmd {
	m.ses.Reset()
	cmd := m.entered()
	note := ""
	switch {
	case len(m.ses.Rows()) == 0:
	case m.ses.Online():
		note = " Its checks run again."
	default:
		note = " Its checks run when you are connected."
	}
	m.msg.say(lvInfo, fmt.Sprintf("Step %d reset.%s", m.place().si+1, note))
	return cmd
}

func (m *Model) hint() {
	shown, total, more := m.ses.RevealHint()
	switch {
	case total == 0:
		m.msg.say(lvInfo, "This step has no hints."+m.solutionNote())
	case !more:
		m.msg.say(lvInfo, "No more hints."+m.solutionNote())
		m.lesson.scrollToPart(fmt.Sprintf("hint%d", shown))
	default:
		m.layout()
		m.lesson.scrollToPart(fmt.Sprintf("hint%d", shown))
		m.msg.say(lvInfo, fmt.Sprintf("Hint %d of %d.", shown, total))
	}
}

func (m *Model) solutionNote() string {
	if m.ses.Step().Solution != "" && !m.ses.Shown().Solution {
		return " Press s for the solution."
	}
	return ""
}

func (m *Model) solutionKey() {
	switch {
	case m.ses.Step().Solution == "":
		m.msg.say(lvInfo, "This step has no solution to show.")
	case m.ses.Shown().Solution:
		m.lesson.scrollToPart("solution")
	default:
		m.dlg = &dialog{kind: dlgSolution, title: "Show the solution?", body: "Trying first teaches more: h shows one hint at a time. The solution stays visible for this step."}
	}
}

func (m *Model) copyCmd() tea.Cmd {
	cmd, i, n := m.ses.NextCommand()
	if n == 0 {
		m.msg.say(lvInfo, "This step has no command to copy.")
		return nil
	}
	m.copyBox = fmt.Sprintf("command %d of %d, sent to the clipboard (OSC 52); if it did not arrive, select it here:\n\n%s\n", i+1, n, cmd)
	m.msg.say(lvInfo, fmt.Sprintf("Copied command %d of %d. c copies the next.", i+1, n))
	return tea.SetClipboard(cmd)
}

func (m *Model) recheck() tea.Cmd {
	switch m.ses.Conn() {
	case session.Connecting:
		m.msg.say(lvInfo, "Still connecting to the cluster…")
	case session.Offline:
		m.msg.say(lvInfo, "Trying to reach the cluster again…")
		return m.connect()
	default:
		m.runner.Recheck()
		m.msg.say(lvInfo, "Re-checking…")
	}
	return nil
}

// probeKey: t shows a running traffic test, or asks before running one.
func (m *Model) probeKey() {
	i, err := m.ses.ProbeTarget()
	switch {
	case errors.Is(err, session.ErrNoProbe):
		m.msg.say(lvInfo, "This step has no traffic test to run.")
	case errors.Is(err, session.ErrProbeOffline):
		m.msg.say(lvWarn, "Traffic tests need a cluster; you are offline. x skips the step.")
	case m.ses.Rows()[i].Running:
		m.over.probeRow = i
		m.setMode(modeProbe)
	default:
		m.over.probeRow = i
		b := m.ses.Rows()[i].Bound
		m.dlg = &dialog{kind: dlgProbe, title: "Run " + b.Title + "?", body: "This acts on your cluster: " + b.Check.Acts + "."}
	}
}

// runProbe starts the consented probe. Its command is admitted by the
// session's Acting only when it starts: the program may never run it if
// the reader quits first, and then nothing runs and nothing is waited
// for.
func (m *Model) runProbe() tea.Cmd {
	b, ok := m.ses.StartProbe(m.over.probeRow)
	if !ok || m.runner == nil {
		return nil
	}
	m.setMode(modeProbe)
	ch := make(chan checks.Update, 64)
	ctx, runner, gen, acting := m.stepCtx, m.runner, m.gen, m.ses.Acting()
	return tea.Batch(
		func() tea.Msg {
			res, ok := acting.Run(ctx, runner, b, ch)
			if !ok {
				return nil
			}
			return probeDoneMsg{gen, b.Key, res}
		},
		wait(ctx, gen, ch, true),
	)
}

func (m *Model) probeDone(msg probeDoneMsg) tea.Cmd {
	r := m.ses.Row(msg.key)
	if r == nil {
		return nil
	}
	var cmd tea.Cmd
	if m.ses.ProbeDone(msg.key, msg.res) {
		cmd = m.save()
	}
	m.refreshOverlay()
	switch res := msg.res; res.Verdict {
	case checks.Pass:
		m.msg.say(lvInfo, r.Bound.Title+" passed.")
		m.gateChanged()
	case checks.Fail:
		m.msg.say(lvWarn, r.Bound.Title+" failed: "+session.Failing(&res))
	default:
		m.msg.say(lvWarn, r.Bound.Title+": "+res.Summary)
	}
	return cmd
}

func (m *Model) answer(choice int) tea.Cmd {
	got, b, saved := m.ses.Choose(choice)
	switch got {
	case session.NoQuestion:
		m.msg.say(lvInfo, "This step has no question to answer.")
		return nil
	case session.OutOfRange:
		m.msg.say(lvInfo, fmt.Sprintf("Choose 1 to %d.", len(m.ses.Step().Question.Choices)))
		return nil
	case session.StillJudging:
		m.msg.say(lvInfo, "Still judging the last answer…")
		return nil
	case session.AlreadyRight:
		m.msg.say(lvInfo, "Already answered. n moves on.")
		return nil
	case session.Judged:
		if saved {
			return tea.Batch(m.judgedSay(), m.save())
		}
		return m.judgedSay()
	case session.NeedsCluster:
		m.msg.say(lvWarn, "Offline: this question is judged on your cluster. x skips the step.")
		m.layout()
		return nil
	case session.CannotJudge:
		m.layout()
		return nil
	}
	m.layout()
	ch := make(chan checks.Update, 64)
	ctx, runner, gen, acting := m.stepCtx, m.runner, m.gen, m.ses.Acting()
	return func() tea.Msg {
		go func() { // intermediate results are not shown for questions
			for {
				select {
				case <-ch:
				case <-ctx.Done():
					return
				}
			}
		}()
		res, ok := acting.Run(ctx, runner, b, ch)
		if !ok {
			return nil
		}
		return judgedMsg{gen, choice, res}
	}
}

func (m *Model) judged(choice int, res checks.Result) tea.Cmd {
	saved := m.ses.JudgedAs(choice, res)
	cmd := m.judgedSay()
	if saved {
		cmd = tea.Batch(cmd, m.save())
	}
	return cmd
}

// judgedSay tells the reader how the answer was judged.
func (m *Model) judgedSay() tea.Cmd {
	a := m.ses.Shown().Ans
	switch {
	case a.Right:
		m.msg.say(lvInfo, "Right. n moves on.")
		m.gateChanged()
	case a.Judged:
		m.msg.say(lvWarn, "Not quite. Try another answer, or h for a hint.")
	default:
		m.msg.say(lvWarn, "Could not judge the answer: "+strings.TrimPrefix(a.Note, "could not judge: "))
	}
	m.layout()
	return nil
}
