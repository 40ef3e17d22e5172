// Package tui is meshdojo's terminal UI: a lesson step rendered from
// Markdown, a sidebar of lessons and steps, a panel of live checks, and a
// status bar, in one Bubble Tea program.
//
// The root Model owns the state; each region (lesson viewport, sidebar,
// check panel, status bar, lesson list, overlays) is drawn by a small
// function or model from that state, and every change arrives as a
// message. Nothing here touches the network directly: the cluster is
// reached through a Connect function run as a command, and checks
// through the checks.Runner it returns, so the first frame never waits
// and the UI works the same offline and in tests.
package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/internal/session"
	"github.com/meshdojo/meshdojo/lessons"
)

// Connect reaches the reader's cluster and returns a runner for checks.
// It runs in the background; an error puts the UI in offline mode.
type Connect func(ctx context.Context) (checks.Runner, error)

// Options configure a Model.
type Options struct {
	Lessons []*lessons.Lesson
	Lesson  string // lesson ID to open; empty resumes where the reader left off
	Step    int    // 1-based step to open; 0 resumes
	Theme   string // auto, dark or light
	NoColor bool   // NO_COLOR is set
	// Context is the kube context name as read from the kubeconfig, shown
	// while connecting and offline.
	Context  string
	Progress *progress.State
	// Save merges a snapshot of progress (a Clone) into the store and
	// leaves in it what the store holds, other instances' records
	// included; the UI then adopts it. Nil: not saved.
	Save    func(s *progress.State) error
	Connect Connect // nil: offline
	Warning string  // shown on the first frame (e.g. a corrupt progress file)
	Now     func() time.Time
}

type connState int

const (
	connecting connState = iota
	online
	offline
)

type mode int

const (
	modeLesson mode = iota
	modeDetail
	modeProbe
	modePicker
	modeHelp
)

type level int

const (
	lvInfo level = iota
	lvWarn
	lvErr
)

// stepUI is what the reader has revealed in one step; it survives moving
// away and back within a session.
type stepUI struct {
	hints    int
	solution bool
	copyNext int
	ans      answer
}

// dialog asks a yes/no question; yes sends confirmMsg{kind}.
type dialog struct {
	kind        string
	title, body string
}

// Model is the root of the UI.
type Model struct {
	opt  Options
	all  []*lessons.Lesson
	keys keyMap
	st   *styles
	md   *mdCache
	auto bool // theme follows the terminal's background

	w, h   int
	li, si int
	rows   []row
	ui     map[string]*stepUI

	conn    connState
	connErr string
	runner  checks.Runner
	away    error // online, but the API server does not answer now (checks.Health)

	ctx        context.Context // the program's lifetime
	cancel     context.CancelFunc
	acting     *session.Acting // Runner.Run calls under way; Shutdown waits for their clean-up
	stepCtx    context.Context // the current step's watches and probes
	stepCancel context.CancelFunc
	gen        int // bumped on every step change; stale messages are dropped

	mode     mode
	dlg      *dialog
	pick     picker
	side     sidebar
	help     help.Model
	vp       viewport.Model // the lesson step
	vpKey    string         // what vp holds, so unchanged content is not reset
	parts    map[string]int // where each part (hint2, solution…) starts in vp
	ov       viewport.Model // detail, probe and help overlays
	probeRow int
	copyBox  string

	flash     string
	flashLvl  level
	flashGate bool // the flash is a gate refusal, stale once the gate opens

	links  []link // the step's links while one is offered
	linkAt int

	prog *progress.State
}

// New builds the model; it does no I/O.
func New(opt Options) *Model {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Progress == nil {
		opt.Progress = progress.New(opt.Context)
	}
	m := &Model{
		opt: opt, all: opt.Lessons, keys: newKeyMap(), md: newMDCache(),
		ui: map[string]*stepUI{}, prog: opt.Progress, help: help.New(),
		vp: viewport.New(), ov: viewport.New(), probeRow: -1, parts: map[string]int{},
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.acting = &session.Acting{}
	theme := opt.Theme
	switch {
	case opt.NoColor:
		theme = themeNoColor
	case theme == ThemeLight || theme == ThemeDark:
	default:
		// Auto starts dark and changes when the terminal answers; the
		// first frame never waits for that answer.
		theme, m.auto = ThemeDark, true
	}
	m.setTheme(theme)
	m.vp.MouseWheelDelta = 3
	m.ov.MouseWheelDelta = 3
	if opt.Connect == nil {
		m.conn, m.connErr = offline, "no cluster configured"
	}
	if opt.Warning != "" {
		// A notice that waits for a key, so it cannot scroll by unread.
		m.dlg = &dialog{kind: "notice", title: "Warning", body: opt.Warning}
	}
	if len(m.all) > 0 {
		li, si := m.startAt()
		m.enterStep(li, si)
	}
	return m
}

// startAt finds where to open: the requested lesson and step, or where
// the reader left off.
func (m *Model) startAt() (int, int) {
	id := m.opt.Lesson
	if id == "" {
		id = m.prog.Last
	}
	li := 0
	if l, ok := lessons.Find(m.all, id); ok {
		for i := range m.all {
			if m.all[i] == l {
				li = i
			}
		}
	}
	if m.opt.Lesson != "" && m.opt.Step > 0 {
		return li, min(m.opt.Step-1, len(m.all[li].Steps)-1)
	}
	return li, m.resumeStep(li)
}

func (m *Model) resumeStep(li int) int {
	l := m.all[li]
	if rec := m.prog.Lessons[l.ID]; rec != nil {
		for i := range l.Steps {
			if l.Steps[i].Anchor == rec.Current {
				return i
			}
		}
	}
	return 0
}

func (m *Model) setTheme(name string) {
	m.st = newStyles(name)
	m.help.Styles = help.DefaultStyles(name != ThemeLight)
	m.vpKey = "" // re-compose from the cache for the new theme
}

func (m *Model) lesson() *lessons.Lesson { return m.all[m.li] }
func (m *Model) step() *lessons.Step     { return &m.all[m.li].Steps[m.si] }

func (m *Model) stepState() *stepUI {
	k := m.lesson().ID + "/" + m.step().Anchor
	s := m.ui[k]
	if s == nil {
		s = &stepUI{ans: answer{chosen: -1}}
		m.ui[k] = s
	}
	return s
}

// Init starts the cluster connection and asks the terminal for its
// background colour; both answer later as messages.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.connect()}
	if m.auto {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	if len(m.all) > 0 {
		cmds = append(cmds, m.save())
	}
	return tea.Batch(cmds...)
}

// Messages.
type (
	connectedMsg struct {
		r   checks.Runner
		err error
	}
	updateMsg struct {
		gen int
		u   checks.Update
		ch  <-chan checks.Update
	}
	probeMsg struct {
		gen int
		u   checks.Update
		ch  <-chan checks.Update
	}
	probeDoneMsg struct {
		gen int
		key string
		res checks.Result
	}
	judgedMsg struct {
		gen    int
		choice int
		res    checks.Result
	}
	healthMsg struct {
		h  checks.Health
		ch <-chan checks.Health
	}
	savedMsg struct {
		snap *progress.State
		err  error
	}
	confirmMsg struct{ kind string }
)

func (m *Model) connect() tea.Cmd {
	if m.opt.Connect == nil {
		return nil
	}
	m.conn, m.connErr = connecting, ""
	ctx, f := m.ctx, m.opt.Connect
	return func() tea.Msg {
		r, err := f(ctx)
		return connectedMsg{r, err}
	}
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.layout()
		return m, m.prefetch()
	case renderedMsg:
		m.md.store(msg)
		return m, nil
	case tea.BackgroundColorMsg:
		if m.auto {
			if msg.IsDark() {
				m.setTheme(ThemeDark)
			} else {
				m.setTheme(ThemeLight)
			}
			m.layout()
			return m, m.prefetch()
		}
		return m, nil
	case connectedMsg:
		return m, m.connected(msg)
	case updateMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		cmd := m.apply(msg.u)
		return m, tea.Batch(cmd, wait(m.stepCtx, msg.gen, msg.ch, false))
	case probeMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if r := m.row(msg.u.Key); r != nil && r.running {
			res := msg.u.Result
			r.res = &res
			m.refreshOverlay()
		}
		return m, wait(m.stepCtx, msg.gen, msg.ch, true)
	case healthMsg:
		m.away = msg.h.Err
		if msg.h.OK {
			m.away = nil
		}
		return m, waitHealth(m.ctx, msg.ch)
	case probeDoneMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		return m, m.probeDone(msg)
	case judgedMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		return m, m.judged(msg.choice, msg.res)
	case savedMsg:
		var corrupt *progress.CorruptError
		switch {
		case errors.As(msg.err, &corrupt):
			m.say(lvWarn, corrupt.Error())
			m.prog.Adopt(msg.snap)
		case msg.err != nil:
			m.say(lvErr, "Progress not saved: "+msg.err.Error())
		default:
			// What other instances saved (or a progress --reset) shows here too.
			m.prog.Adopt(msg.snap)
		}
		return m, nil
	case confirmMsg:
		return m, m.confirmed(msg.kind)
	case pickedMsg:
		m.setMode(modeLesson)
		return m, m.enterStep(msg.lesson, m.resumeStep(msg.lesson))
	case closePickerMsg:
		m.setMode(modeLesson)
		return m, nil
	case tea.MouseWheelMsg:
		var cmd tea.Cmd
		if m.mode == modeLesson {
			m.vp, cmd = m.vp.Update(msg)
		} else if m.mode != modePicker {
			m.ov, cmd = m.ov.Update(msg)
		}
		return m, cmd
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	if m.mode == modePicker {
		var cmd tea.Cmd
		m.pick, cmd = m.pick.update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		return m.quit()
	}
	if m.dlg != nil && m.dlg.kind == "notice" {
		m.dlg = nil
		return nil
	}
	if m.dlg != nil {
		switch k.String() {
		case "y", "Y", "enter":
			kind := m.dlg.kind
			m.dlg = nil
			return func() tea.Msg { return confirmMsg{kind} }
		case "n", "N", "esc", "q":
			m.dlg = nil
			m.say(lvInfo, "Cancelled.")
		case "o":
			if m.dlg.kind == "link" {
				m.linkAt = (m.linkAt + 1) % len(m.links)
				m.askLink()
			}
		}
		return nil
	}
	if m.mode == modePicker {
		var cmd tea.Cmd
		m.pick, cmd = m.pick.update(k)
		return cmd
	}
	m.flash, m.flashLvl = "", lvInfo
	if m.copyBox != "" {
		m.copyBox = ""
		if k.String() == "esc" {
			return nil
		}
	}
	if m.mode != modeLesson {
		switch {
		case k.String() == "esc",
			m.mode == modeHelp && key.Matches(k, m.keys.Help),
			m.mode == modeDetail && key.Matches(k, m.keys.Details):
			m.setMode(modeLesson)
			return nil
		case m.scroll(&m.ov, k):
			return nil
		case !key.Matches(k, m.keys.Recheck, m.keys.Probe, m.keys.Details, m.keys.Help, m.keys.Quit):
			// Other keys act on the lesson, so it comes back into view
			// (re-check and the overlay keys stay useful over them).
			m.setMode(modeLesson)
		}
	}
	if len(m.all) == 0 {
		if key.Matches(k, m.keys.Quit) {
			return m.quit()
		}
		return nil
	}
	ks := m.keys
	switch {
	case key.Matches(k, ks.Quit):
		return m.quit()
	case key.Matches(k, ks.Next):
		return m.next()
	case key.Matches(k, ks.Prev):
		return m.prev()
	case key.Matches(k, ks.Skip):
		m.ask("skip", "Skip this step?", fmt.Sprintf("Step %d, %q, will be recorded as skipped, not done. You can come back to it any time.", m.si+1, m.step().Title))
	case key.Matches(k, ks.Reset):
		m.ask("reset", "Reset this step?", fmt.Sprintf("Step %d, %q, starts over: its hints, solution and answer are hidden again, its recorded status is forgotten, and its checks run afresh. Your cluster is not touched.", m.si+1, m.step().Title))
	case key.Matches(k, ks.Link):
		m.linkKey()
	case key.Matches(k, ks.Hint):
		m.hint()
	case key.Matches(k, ks.Solution):
		m.solutionKey()
	case key.Matches(k, ks.Copy):
		return m.copyCmd()
	case key.Matches(k, ks.Recheck):
		return m.recheck()
	case key.Matches(k, ks.Probe):
		m.probeKey()
	case key.Matches(k, ks.Details):
		m.setMode(modeDetail)
		m.ov.GotoTop()
	case key.Matches(k, ks.Answer):
		return m.answerKey(int(k.Code - '1'))
	case key.Matches(k, ks.Lessons):
		m.pick = newPicker(m.all, m.li, m.st.name != ThemeLight)
		m.setMode(modePicker)
		return m.pick.input.Focus()
	case key.Matches(k, ks.Sidebar):
		m.side.shown, m.side.explicit = !m.side.shown, true
		m.layout()
	case key.Matches(k, ks.Help):
		m.setMode(modeHelp)
		m.ov.GotoTop()
	default:
		m.scroll(&m.vp, k)
	}
	return nil
}

// scroll moves a viewport for the scroll keys and reports whether the key
// was one of them.
func (m *Model) scroll(vp *viewport.Model, k tea.KeyPressMsg) bool {
	ks := m.keys
	switch {
	case key.Matches(k, ks.Up):
		vp.ScrollUp(1)
	case key.Matches(k, ks.Down):
		vp.ScrollDown(1)
	case key.Matches(k, ks.PageUp):
		vp.PageUp()
	case key.Matches(k, ks.PageDn):
		vp.PageDown()
	case key.Matches(k, ks.Top):
		vp.GotoTop()
	case key.Matches(k, ks.Bottom):
		vp.GotoBottom()
	default:
		return false
	}
	return true
}

// Shutdown stops everything the model started and waits, at most
// timeout, for checks that act on the cluster to finish: a probe cut
// short still deletes its pod on the way out. It reports whether they
// all finished. The program calls it after Run returns, which also
// covers SIGTERM (Bubble Tea quits without an Update then).
func (m *Model) Shutdown(timeout time.Duration) bool {
	if m.stepCancel != nil {
		m.stepCancel()
	}
	m.cancel()
	return m.acting.Close(timeout)
}

func (m *Model) quit() tea.Cmd {
	if m.stepCancel != nil {
		m.stepCancel()
	}
	m.cancel()
	return tea.Quit
}

// say sets the message line. A warning or error is not replaced by a
// lesser message until the reader presses a key.
func (m *Model) say(lv level, s string) {
	if m.flash != "" && lv < m.flashLvl {
		return
	}
	m.flash, m.flashLvl, m.flashGate = s, lv, false
}

// setMode switches what the main area shows. The probe chart takes the
// whole width (the sidebar steps aside), so the layout follows the mode.
func (m *Model) setMode(md mode) {
	m.mode = md
	m.layout()
}

func (m *Model) ask(kind, title, body string) {
	m.dlg = &dialog{kind: kind, title: title, body: body}
}

// enterStep opens a step: binds its checks, starts watching them and
// records it as the reader's place.
func (m *Model) enterStep(li, si int) tea.Cmd {
	if m.stepCancel != nil {
		m.stepCancel()
	}
	m.gen++
	m.li, m.si = li, si
	m.stepCtx, m.stepCancel = context.WithCancel(m.ctx)
	m.rows = bindStep(m.lesson(), si)
	m.mode, m.probeRow, m.copyBox = modeLesson, -1, ""
	m.vpKey = ""
	m.layout()
	m.vp.GotoTop()
	m.prog.SetCurrent(m.lesson().ID, m.step().Anchor, m.opt.Now())
	return tea.Batch(m.watch(), m.save(), m.prefetch())
}

// watch starts the runner on the step's watchable checks. Updates come
// back one at a time through wait, tagged with the step's generation.
func (m *Model) watch() tea.Cmd {
	if m.conn != online || m.runner == nil {
		return nil
	}
	var set []checks.Bound
	for i := range m.rows {
		if m.rows[i].problem == "" && !m.rows[i].acts() {
			set = append(set, m.rows[i].b)
		}
	}
	if len(set) == 0 {
		return nil
	}
	ch := make(chan checks.Update, 16)
	ctx, r, gen := m.stepCtx, m.runner, m.gen
	return tea.Batch(
		func() tea.Msg { r.Watch(ctx, set, ch); return nil },
		wait(ctx, gen, ch, false),
	)
}

// wait delivers the next update from ch, or nothing once ctx ends.
func wait(ctx context.Context, gen int, ch <-chan checks.Update, probe bool) tea.Cmd {
	return func() tea.Msg {
		select {
		case u := <-ch:
			if probe {
				return probeMsg{gen, u, ch}
			}
			return updateMsg{gen, u, ch}
		case <-ctx.Done():
			return nil
		}
	}
}

func (m *Model) row(key string) *row {
	for i := range m.rows {
		if m.rows[i].b.Key == key {
			return &m.rows[i]
		}
	}
	return nil
}

func (m *Model) connected(msg connectedMsg) tea.Cmd {
	if msg.err != nil || msg.r == nil {
		m.conn = offline
		m.connErr = "no cluster"
		if msg.err != nil {
			m.connErr = msg.err.Error()
		}
		// What to do comes first: on a small screen the reason, which
		// can be long, is what gets cut.
		m.say(lvWarn, "Offline: checks are not run; x skips a step, r tries again. Why: "+m.connErr)
		return nil
	}
	m.conn, m.runner = online, msg.r
	m.say(lvInfo, "Connected to "+m.contextName()+".")
	for i := range m.rows {
		m.rows[i].res = nil
	}
	m.refreshOverlay()
	cmd := m.watch()
	if hr, ok := msg.r.(checks.HealthReporter); ok {
		ch, ctx := make(chan checks.Health, 1), m.ctx
		cmd = tea.Batch(cmd, func() tea.Msg { hr.Health(ctx, ch); return nil }, waitHealth(ctx, ch))
	}
	return cmd
}

// waitHealth delivers the runner's next word on whether the API server
// answers, for the status bar.
func waitHealth(ctx context.Context, ch <-chan checks.Health) tea.Cmd {
	return func() tea.Msg {
		select {
		case h := <-ch:
			return healthMsg{h, ch}
		case <-ctx.Done():
			return nil
		}
	}
}

func (m *Model) contextName() string {
	if m.runner != nil && m.runner.Context() != "" {
		return m.runner.Context()
	}
	return m.opt.Context
}

// apply records a watched check's new result; when the step's gate opens
// the step is recorded as done.
func (m *Model) apply(u checks.Update) tea.Cmd {
	r := m.row(u.Key)
	if r == nil {
		return nil
	}
	res := u.Result
	r.res = &res
	m.refreshOverlay()
	return m.markIfOpen()
}

func (m *Model) gateOpen() (bool, string) {
	open, why := gate(m.rows, m.step().Question, m.stepState().ans, m.conn == online)
	if !open && m.conn == connecting {
		// Not offline yet: the reader should wait a moment, not skip.
		why = strings.Replace(why, "not checked (offline); x skips", "not checked yet: still connecting to the cluster", 1)
	}
	return open, why
}

// markIfOpen records the step as done once everything passes, so progress
// is kept even if the reader quits without pressing next.
func (m *Model) markIfOpen() tea.Cmd {
	open, _ := m.gateOpen()
	if open && m.flashGate {
		m.flash, m.flashGate = "", false
	}
	if !open || len(m.rows) == 0 && m.step().Question == nil {
		return nil
	}
	if m.prog.StatusOf(m.lesson().ID, m.step().Anchor) == progress.Done {
		return nil
	}
	m.prog.Mark(m.lesson().ID, m.step().Anchor, progress.Done, m.opt.Now())
	return m.save()
}

func (m *Model) next() tea.Cmd {
	open, why := m.gateOpen()
	if !open {
		m.say(lvWarn, "Not yet: "+why)
		m.flashGate = true
		return nil
	}
	m.prog.Mark(m.lesson().ID, m.step().Anchor, progress.Done, m.opt.Now())
	return m.advance("")
}

// advance moves to the following step, or the next lesson after the last.
func (m *Model) advance(note string) tea.Cmd {
	if m.si+1 < len(m.lesson().Steps) {
		if note != "" {
			m.say(lvInfo, note)
		}
		return m.enterStep(m.li, m.si+1)
	}
	if m.li+1 < len(m.all) {
		done := m.lesson()
		cmd := m.enterStep(m.li+1, m.resumeStep(m.li+1))
		m.say(lvInfo, fmt.Sprintf("End of lesson %s. %s Now: lesson %s, %s.", strings.ToUpper(done.ID), note, strings.ToUpper(m.lesson().ID), m.lesson().Title))
		return cmd
	}
	m.say(lvInfo, "That was the last step of the last lesson. "+note+" Press / to revisit any lesson.")
	return m.save()
}

func (m *Model) prev() tea.Cmd {
	switch {
	case m.si > 0:
		return m.enterStep(m.li, m.si-1)
	case m.li > 0:
		return m.enterStep(m.li-1, len(m.all[m.li-1].Steps)-1)
	}
	m.say(lvInfo, "This is the first step.")
	return nil
}

func (m *Model) confirmed(kind string) tea.Cmd {
	switch kind {
	case "skip":
		l, s := m.lesson().ID, m.step().Anchor
		if m.prog.StatusOf(l, s) != progress.Done {
			m.prog.Mark(l, s, progress.Skipped, m.opt.Now())
		}
		return m.advance(fmt.Sprintf("Skipped step %d.", m.si+1))
	case "solution":
		ui := m.stepState()
		ui.solution = true
		m.layout()
		m.scrollToPart("solution")
	case "probe":
		return m.runProbe()
	case "reset":
		return m.reset()
	case "link":
		return m.followLink()
	}
	return nil
}

// reset starts the step over, rustlings-style: what the reader revealed
// and answered is forgotten, so is its recorded status, and re-entering
// the step drops stale results and watches its checks afresh (a passing
// step is marked done again as soon as its checks pass).
func (m *Model) reset() tea.Cmd {
	l, s := m.lesson().ID, m.step().Anchor
	delete(m.ui, l+"/"+s)
	m.prog.Forget(l, s, m.opt.Now())
	cmd := m.enterStep(m.li, m.si)
	note := ""
	switch {
	case len(m.rows) == 0:
	case m.conn == online:
		note = " Its checks run again."
	default:
		note = " Its checks run when you are connected."
	}
	m.say(lvInfo, fmt.Sprintf("Step %d reset.%s", m.si+1, note))
	return cmd
}

func (m *Model) hint() {
	ui, hints := m.stepState(), m.step().Hints
	switch {
	case len(hints) == 0:
		m.say(lvInfo, "This step has no hints."+m.solutionNote())
	case ui.hints >= len(hints):
		m.say(lvInfo, "No more hints."+m.solutionNote())
		m.scrollToPart(fmt.Sprintf("hint%d", ui.hints))
	default:
		ui.hints++
		m.layout()
		m.scrollToPart(fmt.Sprintf("hint%d", ui.hints))
		m.say(lvInfo, fmt.Sprintf("Hint %d of %d.", ui.hints, len(hints)))
	}
}

func (m *Model) solutionNote() string {
	if m.step().Solution != "" && !m.stepState().solution {
		return " Press s for the solution."
	}
	return ""
}

func (m *Model) solutionKey() {
	switch {
	case m.step().Solution == "":
		m.say(lvInfo, "This step has no solution to show.")
	case m.stepState().solution:
		m.scrollToPart("solution")
	default:
		m.ask("solution", "Show the solution?", "Trying first teaches more: h shows one hint at a time. The solution stays visible for this step.")
	}
}

func (m *Model) copyCmd() tea.Cmd {
	cmds := m.commands()
	if len(cmds) == 0 {
		m.say(lvInfo, "This step has no command to copy.")
		return nil
	}
	ui := m.stepState()
	i := ui.copyNext % len(cmds)
	ui.copyNext++
	m.copyBox = fmt.Sprintf("command %d of %d, sent to the clipboard (OSC 52); if it did not arrive, select it here:\n\n%s\n", i+1, len(cmds), cmds[i])
	m.say(lvInfo, fmt.Sprintf("Copied command %d of %d. c copies the next.", i+1, len(cmds)))
	return tea.SetClipboard(cmds[i])
}

// commands are the step's shell blocks, plus the solution's once shown.
func (m *Model) commands() []string {
	out := append([]string(nil), m.step().Commands...)
	if m.stepState().solution {
		out = append(out, shellBlocks(m.step().Solution)...)
	}
	return out
}

// shellBlocks finds sh/bash/shell/console fences in Markdown.
func shellBlocks(md string) []string {
	var out, cur []string
	fence := ""
	for _, line := range strings.Split(md, "\n") {
		t := strings.TrimSpace(line)
		if fence == "" {
			for _, f := range []string{"```", "~~~"} {
				if strings.HasPrefix(t, f) {
					info := strings.ToLower(strings.TrimSpace(strings.TrimLeft(t, f[:1])))
					switch strings.Fields(info + " x")[0] {
					case "sh", "bash", "shell", "console":
						fence, cur = t[:strings.LastIndex(t, f[:1])+1], nil
					}
				}
			}
			continue
		}
		if strings.HasPrefix(t, fence[:3]) && strings.Trim(t, fence[:1]) == "" {
			out = append(out, strings.TrimSpace(strings.Join(cur, "\n")))
			fence = ""
			continue
		}
		cur = append(cur, line)
	}
	return out
}

func (m *Model) recheck() tea.Cmd {
	switch m.conn {
	case connecting:
		m.say(lvInfo, "Still connecting to the cluster…")
	case offline:
		m.say(lvInfo, "Trying to reach the cluster again…")
		return m.connect()
	default:
		m.runner.Recheck()
		m.say(lvInfo, "Re-checking…")
	}
	return nil
}

func (m *Model) probeKey() {
	i := -1
	for n := range m.rows {
		if m.rows[n].acts() && m.rows[n].problem == "" {
			if i < 0 || m.rows[i].verdict() == checks.Pass && m.rows[n].verdict() != checks.Pass {
				i = n
			}
		}
	}
	switch {
	case i < 0:
		m.say(lvInfo, "This step has no traffic test to run.")
	case m.conn != online:
		m.say(lvWarn, "Traffic tests need a cluster; you are offline. x skips the step.")
	case m.rows[i].running:
		m.probeRow = i
		m.setMode(modeProbe)
	default:
		m.probeRow = i
		m.ask("probe", "Run "+m.rows[i].b.Title+"?", "This acts on your cluster: "+m.rows[i].b.Check.Acts+".")
	}
}

func (m *Model) runProbe() tea.Cmd {
	if m.probeRow < 0 || m.runner == nil {
		return nil
	}
	r := &m.rows[m.probeRow]
	r.running, r.res = true, nil
	m.setMode(modeProbe)
	ch := make(chan checks.Update, 64)
	ctx, runner, b, gen, acting := m.stepCtx, m.runner, r.b, m.gen, m.acting
	return tea.Batch(
		func() tea.Msg {
			// Admitted when it starts: the program may never run this
			// command if the reader quits first, and then nothing runs.
			if ctx.Err() != nil || !acting.Begin() {
				return nil
			}
			defer acting.End()
			return probeDoneMsg{gen, b.Key, runner.Run(ctx, b, ch)}
		},
		wait(ctx, gen, ch, true),
	)
}

func (m *Model) probeDone(msg probeDoneMsg) tea.Cmd {
	r := m.row(msg.key)
	if r == nil {
		return nil
	}
	r.running = false
	res := msg.res
	r.res = &res
	m.refreshOverlay()
	switch res.Verdict {
	case checks.Pass:
		m.say(lvInfo, r.b.Title+" passed.")
		return m.markIfOpen()
	case checks.Fail:
		m.say(lvWarn, r.b.Title+" failed: "+failing(&res))
		if m.prog.StatusOf(m.lesson().ID, m.step().Anchor) != progress.Done {
			m.prog.Mark(m.lesson().ID, m.step().Anchor, progress.Failed, m.opt.Now())
			return m.save()
		}
	default:
		m.say(lvWarn, r.b.Title+": "+res.Summary)
	}
	return nil
}

func (m *Model) answerKey(choice int) tea.Cmd {
	q := m.step().Question
	ui := m.stepState()
	switch {
	case q == nil:
		m.say(lvInfo, "This step has no question to answer.")
		return nil
	case choice < 0 || choice >= len(q.Choices):
		m.say(lvInfo, fmt.Sprintf("Choose 1 to %d.", len(q.Choices)))
		return nil
	case ui.ans.judging:
		m.say(lvInfo, "Still judging the last answer…")
		return nil
	case ui.ans.judged && ui.ans.right:
		m.say(lvInfo, "Already answered. n moves on.")
		return nil
	}
	ui.ans = answer{chosen: choice}
	if q.Check == nil {
		return m.judged(choice, checks.Result{Verdict: verdictOf(q.Choices[choice] == q.Answer)})
	}
	if m.conn != online {
		ui.ans.note = "this answer is judged on your cluster; you are offline (x skips)"
		m.say(lvWarn, "Offline: this question is judged on your cluster. x skips the step.")
		m.layout()
		return nil
	}
	b, err := q.Bind(choice)
	if err != nil {
		ui.ans.note = err.Error()
		m.layout()
		return nil
	}
	ui.ans.judging = true
	m.layout()
	ch := make(chan checks.Update, 64)
	ctx, runner, gen, acting := m.stepCtx, m.runner, m.gen, m.acting
	return func() tea.Msg {
		if ctx.Err() != nil || !acting.Begin() {
			return nil
		}
		defer acting.End()
		go func() { // intermediate results are not shown for questions
			for {
				select {
				case <-ch:
				case <-ctx.Done():
					return
				}
			}
		}()
		return judgedMsg{gen, choice, runner.Run(ctx, b, ch)}
	}
}

func verdictOf(ok bool) checks.Verdict {
	if ok {
		return checks.Pass
	}
	return checks.Fail
}

func (m *Model) judged(choice int, res checks.Result) tea.Cmd {
	q, ui := m.step().Question, m.stepState()
	ui.ans = answer{chosen: choice, judged: res.Verdict == checks.Pass || res.Verdict == checks.Fail, right: res.Verdict == checks.Pass}
	var cmd tea.Cmd
	switch {
	case ui.ans.right:
		ui.ans.note = "right"
		if q.Explain != "" {
			ui.ans.note = "right: " + q.Explain
		}
		m.say(lvInfo, "Right. n moves on.")
		cmd = m.markIfOpen()
	case ui.ans.judged:
		ui.ans.note = "not right; try another choice (h for a hint)"
		m.say(lvWarn, "Not quite. Try another answer, or h for a hint.")
		if m.prog.StatusOf(m.lesson().ID, m.step().Anchor) != progress.Done {
			m.prog.Mark(m.lesson().ID, m.step().Anchor, progress.Failed, m.opt.Now())
			cmd = m.save()
		}
	default:
		ui.ans.note = "could not judge: " + res.Summary
		m.say(lvWarn, "Could not judge the answer: "+res.Summary)
	}
	m.layout()
	return cmd
}

func (m *Model) save() tea.Cmd {
	if m.opt.Save == nil {
		return nil
	}
	snap, save := m.prog.Clone(), m.opt.Save
	return func() tea.Msg { return savedMsg{snap, save(snap)} }
}

// Progress returns the reader's progress, for a final save on exit.
func (m *Model) Progress() *progress.State { return m.prog }
