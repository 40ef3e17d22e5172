// Package tui is meshdojo's terminal UI: a lesson step rendered from
// Markdown, a sidebar of lessons and steps, a panel of live checks, and a
// status bar, in one Bubble Tea program.
//
// The root Model routes and composes, as glow and soft-serve do: each
// region is a small model with its own update and view and the keys it
// owns (the lesson viewport in lesson.go, the check panel in panel.go,
// the sidebar, the dialogs, the overlays for help, details and the
// traffic chart, the lesson picker, the message line and status bar);
// the root hands a key to the region that has the focus, and what a
// region asks of the rest comes back to the root as a message. The
// rules of the tutorial (gating, skipping, resetting, judging answers,
// the life cycle of a check that acts on the cluster, recording
// progress) live in internal/session, which knows nothing of terminals.
// View draws from the state and changes nothing.
//
// Nothing here touches the network directly: the cluster is reached
// through a Connect function run as a command, and checks through the
// checks.Runner it returns, so the first frame never waits and the UI
// works the same offline and in tests.
package tui

import (
	"context"
	"errors"
	"sync"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/internal/presence"
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
	// Breaks writes and restores lessons' breaks (B and u); nil without
	// a cluster.
	Breaks  Breaks
	Warning string // shown on the first frame (e.g. a corrupt progress file)
	Now     func() time.Time
	// Present starts in presenter mode (P toggles it): for a projector.
	Present bool
	// Presenter publishes the presenter's place for `meshdojo notes`,
	// from the first time presenter mode is on until the program ends.
	// Nil: not published.
	Presenter *presence.Publisher
}

// mode is which region has the keys and the main area.
type mode int

const (
	modeLesson mode = iota
	modeDetail
	modeProbe
	modePicker
	modeHelp
)

// Model is the root of the UI.
type Model struct {
	opt   Options
	ses   *session.Session
	keys  keyMap
	st    *styles
	theme string // dark, light or nocolor
	auto  bool   // theme follows the terminal's background

	present bool      // presenter mode: for a projector (present.go)
	pub     publisher // publishes the place for meshdojo notes once presenting

	w, h int

	connErr string
	runner  checks.Runner
	away    error // online, but the API server does not answer now (checks.Health)

	ctx        context.Context // the program's lifetime
	cancel     context.CancelFunc
	stepCtx    context.Context // the current step's watches and probes
	stepCancel context.CancelFunc
	gen        int // bumped on every step change; stale messages are dropped

	mode    mode
	lesson  lessonView
	panel   checkPanel
	side    sidebar
	over    overlay
	pick    picker
	dlg     *dialog
	msg     messageLine
	saves   *saveOrder
	copyBox string // a command offered for selecting by hand

	plan *breaks.Plan // a break's dry run, while its dialog asks

	links  []link // the step's links while one is offered
	linkAt int
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
		opt: opt, ses: session.New(opt.Lessons, opt.Progress, opt.Now), keys: newKeyMap(),
		lesson: newLessonView(), over: newOverlay(), present: opt.Present,
		pub: publisher{p: opt.Presenter}, saves: &saveOrder{},
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
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
	if opt.Connect == nil {
		m.ses.SetConn(session.Offline)
		m.connErr = "no cluster configured"
	}
	if opt.Warning != "" {
		// A notice that waits for a key, so it cannot scroll by unread.
		m.dlg = &dialog{kind: dlgNotice, title: "Warning", body: opt.Warning}
	}
	if len(opt.Lessons) > 0 {
		m.ses.Start(opt.Lesson, opt.Step)
		m.entered()
	}
	return m
}

func (m *Model) setTheme(name string) {
	m.theme = name
	m.st = newStyles(name, m.present)
	m.over.help.Styles = help.DefaultStyles(name != ThemeLight)
	m.lesson.invalidate() // re-compose from the cache for the new theme
}

func (m *Model) hasLessons() bool { return len(m.ses.Lessons()) > 0 }

// Init starts the cluster connection and asks the terminal for its
// background colour; both answer later as messages.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.connect()}
	if m.auto {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	if m.hasLessons() {
		cmds = append(cmds, m.save(), m.publish())
	}
	return tea.Batch(cmds...)
}

// Messages from commands.
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
)

func (m *Model) connect() tea.Cmd {
	if m.opt.Connect == nil {
		return nil
	}
	m.ses.SetConn(session.Connecting)
	m.connErr = ""
	ctx, f := m.ctx, m.opt.Connect
	return func() tea.Msg {
		r, err := f(ctx)
		return connectedMsg{r, err}
	}
}

// Update handles one message: the root's own, results of commands, and
// what the regions ask for; keys go to the region that has them.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.layout()
		return m, m.prefetch()
	case renderedMsg:
		m.lesson.md.store(msg)
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
		var cmd tea.Cmd
		if m.ses.Apply(msg.u) {
			cmd = m.save()
		}
		m.gateChanged()
		m.refreshOverlay()
		return m, tea.Batch(cmd, wait(m.stepCtx, msg.gen, msg.ch, false))
	case probeMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if m.ses.ProbeProgress(msg.u) {
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
	case publishedMsg:
		m.published(msg)
		return m, nil
	case judgedMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		return m, m.judged(msg.choice, msg.res)
	case savedMsg:
		var corrupt *progress.CorruptError
		switch {
		case errors.As(msg.err, &corrupt):
			m.msg.say(lvWarn, corrupt.Error())
			m.ses.Progress().Adopt(msg.snap)
		case msg.err != nil:
			m.msg.say(lvErr, "Progress not saved: "+msg.err.Error())
		default:
			// What other instances saved (or a progress --reset) shows here too.
			m.ses.Progress().Adopt(msg.snap)
		}
		return m, nil
	case tea.MouseWheelMsg:
		var cmd tea.Cmd
		switch m.mode {
		case modeLesson:
			cmd = m.lesson.wheel(msg)
		case modePicker:
		default:
			cmd = m.over.wheel(msg)
		}
		return m, cmd
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	if cmd, ok := m.intent(msg); ok {
		return m, cmd
	}
	if m.mode == modePicker {
		var cmd tea.Cmd
		m.pick, cmd = m.pick.update(msg)
		return m, cmd
	}
	return m, nil
}

// key routes a key press: a dialog takes every key while it is open,
// then the picker or an overlay when one has the main area, then the
// lesson. What a region asks for comes back as an intent message.
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		return m.quit()
	}
	if m.dlg != nil {
		var ask tea.Msg
		m.dlg, ask = m.dlg.update(k)
		cmd, _ := m.intent(ask)
		return cmd
	}
	if m.mode == modePicker {
		var cmd tea.Cmd
		m.pick, cmd = m.pick.update(k)
		return cmd
	}
	m.msg.clear()
	if m.copyBox != "" {
		m.copyBox = ""
		if k.String() == "esc" {
			return nil
		}
	}
	if m.mode != modeLesson {
		switch m.over.update(k, m.keys, m.mode) {
		case overClosed:
			m.setMode(modeLesson)
			return nil
		case overScrolled:
			return nil
		case overLeave:
			// Other keys act on the lesson, so it comes back into view.
			m.setMode(modeLesson)
		}
	}
	if !m.hasLessons() {
		if keyIs(k, m.keys.Quit) {
			return m.quit()
		}
		return nil
	}
	switch {
	case keyIs(k, m.keys.Quit):
		return m.quit()
	case keyIs(k, m.keys.Lessons):
		m.pick = newPicker(m.ses.Lessons(), m.place().li, m.st.name != ThemeLight)
		m.setMode(modePicker)
		return m.pick.input.Focus()
	case keyIs(k, m.keys.Help):
		m.setMode(modeHelp)
		m.over.top()
		return nil
	case keyIs(k, m.keys.Present):
		return m.togglePresent()
	}
	if m.side.update(k, m.keys, m.w) {
		m.layout()
		return nil
	}
	if ask := m.panel.update(k, m.keys); ask != nil {
		cmd, _ := m.intent(ask)
		return cmd
	}
	if ask := m.lesson.update(k, m.keys); ask != nil {
		cmd, _ := m.intent(ask)
		return cmd
	}
	return nil
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
	return m.ses.Acting().Close(timeout)
}

func (m *Model) quit() tea.Cmd {
	if m.stepCancel != nil {
		m.stepCancel()
	}
	m.cancel()
	return tea.Quit
}

// setMode switches what the main area shows. The probe chart takes the
// whole width (the sidebar steps aside), so the layout follows the mode.
func (m *Model) setMode(md mode) {
	m.mode = md
	m.layout()
}

// enterStep opens a step: the session binds its checks and records it
// as the reader's place; the UI starts watching them.
func (m *Model) enterStep(li, si int) tea.Cmd {
	m.ses.Open(li, si)
	return m.entered()
}

// entered starts the UI's side of the step the session just opened: a
// new generation (older results are dropped), its watches, its text.
func (m *Model) entered() tea.Cmd {
	if m.stepCancel != nil {
		m.stepCancel()
	}
	m.gen++
	m.stepCtx, m.stepCancel = context.WithCancel(m.ctx)
	m.mode, m.over.probeRow, m.copyBox = modeLesson, -1, ""
	m.lesson.invalidate()
	m.layout()
	m.lesson.top()
	return tea.Batch(m.watch(), m.save(), m.prefetch(), m.publish())
}

// watch starts the runner on the step's watchable checks. Updates come
// back one at a time through wait, tagged with the step's generation.
func (m *Model) watch() tea.Cmd {
	if !m.ses.Online() || m.runner == nil {
		return nil
	}
	set := m.ses.Watchable()
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

func (m *Model) connected(msg connectedMsg) tea.Cmd {
	if msg.err != nil || msg.r == nil {
		m.ses.SetConn(session.Offline)
		m.connErr = "no cluster"
		if msg.err != nil {
			m.connErr = msg.err.Error()
		}
		// What to do comes first: on a small screen the reason, which
		// can be long, is what gets cut.
		m.msg.say(lvWarn, "Offline: checks are not run; x skips a step, r tries again. Why: "+m.connErr)
		return nil
	}
	m.runner = msg.r
	m.ses.SetConn(session.Online)
	m.msg.say(lvInfo, "Connected to "+m.contextName()+".")
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

// gateChanged drops a gate refusal from the message line once the gate
// opens.
func (m *Model) gateChanged() {
	if open, _ := m.ses.Gate(); open {
		m.msg.gateOpened()
	}
}

func (m *Model) save() tea.Cmd {
	if m.opt.Save == nil {
		return nil
	}
	snap, save, q := m.ses.Progress().Clone(), m.opt.Save, m.saves
	q.mu.Lock()
	q.taken++
	seq := q.taken
	q.mu.Unlock()
	return func() tea.Msg {
		// Commands run on goroutines of their own, so two saves can
		// finish in either order: one at a time, and a snapshot older
		// than one already written is dropped, or it would put back a
		// state the reader has left (an answer recorded as failed,
		// then overwritten by the move that came before it).
		q.mu.Lock()
		defer q.mu.Unlock()
		if seq < q.written {
			return nil
		}
		q.written = seq
		return savedMsg{snap, save(snap)}
	}
}

// saveOrder keeps the model's saves in the order they were taken.
type saveOrder struct {
	mu             sync.Mutex
	taken, written uint64
}

// Progress returns the reader's progress, for a final save on exit.
func (m *Model) Progress() *progress.State { return m.ses.Progress() }
