package tui

import (
	"image/color"

	"charm.land/glamour/v2/ansi"
	gstyles "charm.land/glamour/v2/styles"
	"charm.land/lipgloss/v2"
)

// Theme names. Auto starts as dark and switches when the terminal reports
// a light background; NoColor is forced by NO_COLOR.
const (
	ThemeAuto    = "auto"
	ThemeDark    = "dark"
	ThemeLight   = "light"
	themeNoColor = "nocolor"
)

// styles is every style the UI uses, built for one theme. Nothing else
// in the package creates colours, so a theme is a single value.
type styles struct {
	name     string           // the theme: dark, light or nocolor
	id       string           // the theme and the mode: what rendered Markdown is cached under
	present  bool             // presenter mode's high-contrast set
	markdown ansi.StyleConfig // always passed to glamour explicitly

	title, subtle, text, key, accent lipgloss.Style
	sepLine                          lipgloss.Style

	// sidebar
	sideLesson, sideCurLesson, sideStep, sideCurStep lipgloss.Style

	// check verdicts and step marks
	pass, fail, pending, offline, skipped lipgloss.Style

	// status bar
	bar, barKey, barCtx, barOffline lipgloss.Style

	// message line
	info, warn, errMsg lipgloss.Style

	// boxes: dialogs, help, copy fallback
	box, boxTitle lipgloss.Style
	copyBox       lipgloss.Style // full width, rules above and below only

	// question choices
	choice, choiceRight, choiceWrong lipgloss.Style

	// probe chart: big, high-contrast bars for a projector
	chartBar   []lipgloss.Style
	chartLabel lipgloss.Style
	chartTitle lipgloss.Style
}

// Marks for steps and checks. They differ in shape, not only colour, so
// they read without colour (NO_COLOR, projectors that wash colours out).
const (
	markDone    = "✓"
	markCurrent = "▶"
	markFailed  = "✗"
	markSkipped = "»"
	markNone    = "·"
	markPending = "…"
	markError   = "!"
)

// newStyles builds the styles of a theme; present gives presenter
// mode's: every colour at high contrast (see presentPalette).
func newStyles(theme string, present bool) *styles {
	if theme == themeNoColor {
		s := noColorStyles()
		if present {
			s.id, s.present = themeNoColor+"/present", true
		}
		return s
	}
	dark := theme != ThemeLight
	ld := lipgloss.LightDark(dark)
	c := func(light, darkc string) color.Color { return ld(lipgloss.Color(light), lipgloss.Color(darkc)) }

	fg := c("#1a1a1a", "#e8e8e8")
	faint := c("#5c5c5c", "#9a9a9a")
	accent := c("#0b57a4", "#6cb6ff")
	green := c("#0a6b2d", "#5fd787")
	red := c("#b3001b", "#ff6b6b")
	yellow := c("#8a5a00", "#ffd75f")
	barBg := c("#dfe6ee", "#26303b")
	if present {
		p := presentPalette(dark)
		fg, faint, accent = lipgloss.Color(p.fg), lipgloss.Color(p.faint), lipgloss.Color(p.accent)
		green, red, yellow = lipgloss.Color(p.green), lipgloss.Color(p.red), lipgloss.Color(p.yellow)
	}

	s := &styles{name: theme, id: theme, present: present}
	if dark {
		s.markdown = gstyles.DarkStyleConfig
	} else {
		s.markdown = gstyles.LightStyleConfig
	}
	if present {
		s.id += "/present"
		s.markdown = presentMarkdown(presentPalette(dark))
	}
	s.title = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.subtle = lipgloss.NewStyle().Foreground(faint)
	s.text = lipgloss.NewStyle().Foreground(fg)
	s.key = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.accent = lipgloss.NewStyle().Foreground(accent)
	s.sepLine = lipgloss.NewStyle().Foreground(faint)

	s.sideLesson = lipgloss.NewStyle().Foreground(faint)
	s.sideCurLesson = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.sideStep = lipgloss.NewStyle().Foreground(fg)
	s.sideCurStep = lipgloss.NewStyle().Bold(true).Reverse(true)

	s.pass = lipgloss.NewStyle().Bold(true).Foreground(green)
	s.fail = lipgloss.NewStyle().Bold(true).Foreground(red)
	s.pending = lipgloss.NewStyle().Foreground(yellow)
	s.offline = lipgloss.NewStyle().Foreground(faint)
	s.skipped = lipgloss.NewStyle().Foreground(yellow)

	s.bar = lipgloss.NewStyle().Background(barBg).Foreground(fg)
	s.barKey = s.bar.Bold(true).Foreground(accent)
	s.barCtx = s.bar.Bold(true).Foreground(green)
	s.barOffline = s.bar.Bold(true).Foreground(yellow)

	s.info = lipgloss.NewStyle().Foreground(accent)
	s.warn = lipgloss.NewStyle().Bold(true).Foreground(yellow)
	s.errMsg = lipgloss.NewStyle().Bold(true).Foreground(red)

	s.box = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1)
	s.boxTitle = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.copyBox = lipgloss.NewStyle().Border(lipgloss.NormalBorder(), true, false).BorderForeground(accent)

	s.choice = lipgloss.NewStyle().Foreground(fg)
	s.choiceRight = lipgloss.NewStyle().Bold(true).Foreground(green)
	s.choiceWrong = lipgloss.NewStyle().Bold(true).Foreground(red)

	// Saturated, distinct hues that survive a washed-out projector.
	for _, h := range [][2]string{
		{"#0b57a4", "#4aa3ff"}, {"#0a6b2d", "#3ddc84"}, {"#b3001b", "#ff5f5f"},
		{"#7a3ea1", "#c792ea"}, {"#8a5a00", "#ffcb3d"}, {"#00646e", "#2fd3e0"},
	} {
		s.chartBar = append(s.chartBar, lipgloss.NewStyle().Foreground(c(h[0], h[1])))
	}
	s.chartLabel = lipgloss.NewStyle().Bold(true).Foreground(fg)
	s.chartTitle = lipgloss.NewStyle().Bold(true).Foreground(accent)
	if present {
		// A projector washes out tinted backgrounds: the bar is reverse
		// video, the most contrast any terminal palette gives.
		s.bar = lipgloss.NewStyle().Reverse(true)
		s.barKey, s.barCtx, s.barOffline = s.bar.Bold(true), s.bar.Bold(true), s.bar.Bold(true)
		s.subtle = lipgloss.NewStyle().Foreground(faint)
		s.chartBar = nil
		for _, h := range presentPalette(dark).chart {
			s.chartBar = append(s.chartBar, lipgloss.NewStyle().Foreground(lipgloss.Color(h)))
		}
	}
	return s
}

// noColorStyles honours NO_COLOR: emphasis by weight, reverse video and
// mark shapes only. Glamour gets its no-colour style as well.
func noColorStyles() *styles {
	p := lipgloss.NewStyle()
	b := p.Bold(true)
	s := &styles{name: themeNoColor, id: themeNoColor, markdown: gstyles.NoTTYStyleConfig}
	s.title, s.subtle, s.text, s.key, s.accent, s.sepLine = b, p.Faint(true), p, b, p, p
	s.sideLesson, s.sideCurLesson, s.sideStep, s.sideCurStep = p, b, p, b.Reverse(true)
	s.pass, s.fail, s.pending, s.offline, s.skipped = b, b, p, p, p
	s.bar, s.barKey, s.barCtx, s.barOffline = p.Reverse(true), b.Reverse(true), b.Reverse(true), b.Reverse(true)
	s.info, s.warn, s.errMsg = p, b, b
	s.box = p.Border(lipgloss.NormalBorder()).Padding(0, 1)
	s.boxTitle = b
	s.copyBox = p.Border(lipgloss.NormalBorder(), true, false)
	s.choice, s.choiceRight, s.choiceWrong = p, b, b
	s.chartBar = []lipgloss.Style{p}
	s.chartLabel, s.chartTitle = b, b
	return s
}
