package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/lessons"
)

func init() {
	commands["check"] = command{summary: "evaluate a lesson's checks, or one check, against the cluster (for CI and instructors)", run: runCheck}
}

// Exit codes of `meshdojo check`.
const (
	exitPass  = 0 // every check passed
	exitFail  = 1 // at least one check failed or was not run, none errored
	exitError = 2 // a check could not look (error verdict), or no check could run at all
)

// CheckReportSchema names the JSON document printed by
// `meshdojo check -o json`. The document is stable: fields may be added in
// later versions, never renamed or removed, and a breaking change would
// come with a new schema name.
//
//	{
//	  "schema":  "meshdojo.check/v1",
//	  "context": "minikube",                 // kube context used
//	  "server":  "https://192.168.49.2:8443",
//	  "lesson":  "6", "step": 2,             // what was asked for (omitted for --run)
//	  "error":   "…",                        // only when nothing could be checked: bad flags, no cluster
//	  "exit":    1,                          // the process's exit code
//	  "counts":  {"pass": 3, "fail": 1, "error": 0, "pending": 0},
//	  "checks": [{
//	    "lesson": "6", "step": 2, "stepTitle": "Turn on STRICT mTLS",
//	    "title":  "mTLS is STRICT in bookinfo",   // as the lesson names it
//	    "key":    "6/2/0",                        // lesson/step/index, or the check name for --run
//	    "check":  "mtls-mode",                    // registry name
//	    "params": {"namespace": "bookinfo", "mode": "STRICT"},  // validated, defaults filled in
//	    "verdict": "pass" | "fail" | "error" | "pending",
//	    "code":   "MD0201",                       // stable per outcome
//	    "summary": "one line",
//	    "conditions": [{"name": "…", "ok": false, "observed": "…", "expected": "…", "fix": "…"}],
//	    "progress": "…", "bars": [{"group": "version", "label": "v1", "value": 42}],  // probes only; "series": true marks a bar of a chart over time (uptime-probe)
//	    "at": "2025-11-25T20:00:00Z"
//	  }]
//	}
//
// A check that acts on the cluster and was not allowed to run has verdict
// "pending" and code MD0091, with the reason in its summary.
const CheckReportSchema = "meshdojo.check/v1"

type checkReport struct {
	Schema  string `json:"schema"`
	Context string `json:"context,omitempty"`
	Server  string `json:"server,omitempty"`
	// Participant names whose cluster this is, when one run checks a
	// room's kubeconfigs (one document per participant).
	Participant string       `json:"participant,omitempty"`
	Lesson      string       `json:"lesson,omitempty"`
	Step        int          `json:"step,omitempty"`
	Error       string       `json:"error,omitempty"`
	Exit        int          `json:"exit"`
	Counts      checkCounts  `json:"counts"`
	Checks      []checkEntry `json:"checks"`
}

type checkCounts struct {
	Pass    int `json:"pass"`
	Fail    int `json:"fail"`
	Error   int `json:"error"`
	Pending int `json:"pending"`
}

type checkEntry struct {
	Lesson    string `json:"lesson,omitempty"`
	Step      int    `json:"step,omitempty"`
	StepTitle string `json:"stepTitle,omitempty"`
	Title     string `json:"title"`
	Key       string `json:"key"`
	checks.Result
}

// job is one check to evaluate, with where it comes from.
type job struct {
	entry checkEntry
	bound checks.Bound
}

func runCheck(args []string, io IO) int {
	fs := flag.NewFlagSet("meshdojo check", flag.ContinueOnError)
	lessonF := fs.String("lesson", "", "evaluate every check of this lesson: a chapter number such as 6, or an appendix such as a2")
	stepF := fs.Int("step", 0, "with --lesson: only this step's checks, from 1")
	runF := fs.String("run", "", "evaluate one check by its registry name, with parameters given as key=value arguments")
	listF := fs.Bool("list", false, "print every check with its parameters (names after it narrow the list)")
	var out string
	fs.StringVar(&out, "o", "text", "output: text, json or junit")
	fs.StringVar(&out, "output", "text", "output: text, json or junit (same as -o)")
	yesF := fs.Bool("yes", false, "let checks that act on the cluster (send requests, start a probe pod) run without asking")
	timeoutF := fs.Duration("timeout", cluster.DefaultTimeout, "give up on each request to the API server after this long")
	ctxF := fs.String("context", "", "kube context to use (default: the kubeconfig's current context; with several kubeconfigs, this context in each)")
	var kcs stringList
	fs.Var(&kcs, "kubeconfig", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config); give it once per participant, or a directory of them, to check a room")
	trafficF := trafficFlags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage:")
		fmt.Fprintln(w, "  meshdojo check --lesson N [--step M] [-o text|json|junit] [--yes]")
		fmt.Fprintln(w, "  meshdojo check --run NAME [key=value ...] [-o text|json|junit] [--yes]")
		fmt.Fprintln(w, "  meshdojo check --list [NAME ...] [-o text|json]")
		fmt.Fprintln(w, "  meshdojo check --lesson N --kubeconfig DIR|FILE [--kubeconfig FILE ...] [-o text|json|junit]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "With a directory of kubeconfigs or several --kubeconfig, every participant's cluster is checked")
		fmt.Fprintln(w, "(named after the file, or the context when a file has several): a table, one JSON document")
		fmt.Fprintln(w, "per participant, or one JUnit testsuite per participant.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Exit status: 0 when every check passes, 1 when one fails (or was not allowed to run), 2 on error;")
		fmt.Fprintln(w, "over several participants, the worst of them.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Flags:")
		fs.PrintDefaults()
	}
	pos, code, ok := parse(fs, args, io, true)
	if !ok {
		return code
	}
	if out != "text" && out != "json" && out != "junit" {
		fmt.Fprintf(io.Err, "meshdojo check: -o %q is not text, json or junit\n", out)
		return exitError
	}
	settings, err := trafficF()
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo check:", err)
		return exitError
	}
	asJSON := out == "json"
	fail := func(rep *checkReport, format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		if asJSON {
			rep.Error, rep.Exit = msg, exitError
			writeJSON(io.Out, rep)
		} else {
			fmt.Fprintln(io.Err, "meshdojo check: "+msg)
		}
		return exitError
	}
	rep := &checkReport{Schema: CheckReportSchema, Lesson: *lessonF, Step: *stepF, Checks: []checkEntry{}}

	modes := 0
	for _, on := range []bool{*lessonF != "", *runF != "", *listF} {
		if on {
			modes++
		}
	}
	switch {
	case given(fs, "step") && *lessonF == "":
		return fail(rep, "--step needs --lesson, for example: meshdojo check --lesson 6 --step 2")
	case modes == 0:
		return fail(rep, "say what to check: --lesson N [--step M], --run NAME [key=value ...], or --list (see meshdojo check --help)")
	case modes > 1:
		return fail(rep, "--lesson, --run and --list do not go together; pick one")
	case *listF:
		if out == "junit" {
			return fail(rep, "--list prints text or json, not junit")
		}
		return listChecks(io, pos, asJSON)
	case *lessonF != "" && len(pos) > 0:
		return fail(rep, "unexpected argument %q: --lesson takes no key=value parameters (use --run for one check)", pos[0])
	case *timeoutF <= 0:
		// cluster.Options treats zero as "the default"; a negative value
		// would silently mean 10s too, which is not what was asked for.
		return fail(rep, "--timeout %s is not a positive duration; use e.g. --timeout 30s", *timeoutF)
	}

	var jobs []job
	if *runF != "" {
		c, ok := catalogue.Lookup(*runF)
		if !ok {
			return fail(rep, "there is no check %q; see meshdojo check --list", *runF)
		}
		raw := map[string]string{}
		for _, kv := range pos {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fail(rep, "argument %q is not key=value, e.g. namespace=bookinfo", kv)
			}
			if prev, dup := raw[k]; dup && prev != v {
				return fail(rep, "parameter %q is given twice (%s and %s); give it once", k, prev, v)
			}
			raw[k] = v
		}
		p, err := c.Validate(raw)
		if err != nil {
			return fail(rep, "%v; see meshdojo check --list %s", err, c.Name)
		}
		jobs = append(jobs, job{
			entry: checkEntry{Title: c.Name, Key: c.Name},
			bound: checks.Bound{Key: c.Name, Title: c.Name, Check: c, Params: p},
		})
	} else {
		all, err := lessons.Load()
		if err != nil {
			return fail(rep, "the lessons built into this binary do not load: %v", err)
		}
		l, err := findLesson(all, *lessonF)
		if err == nil && given(fs, "step") {
			err = checkStep(l, *stepF)
		}
		if err != nil {
			return fail(rep, "%v", err)
		}
		rep.Lesson = l.ID
		if jobs, err = lessonJobs(l, *stepF); err != nil {
			return fail(rep, "%v", err)
		}
	}
	room, err := roomOf(kcs, *ctxF, out == "junit")
	if err != nil {
		return fail(rep, "%v", err)
	}
	if room != nil {
		return checkRoom(io, room, jobs, rep, out, *yesF, *timeoutF, settings)
	}
	if len(jobs) == 0 {
		if asJSON {
			writeJSON(io.Out, rep)
		} else {
			fmt.Fprintln(io.Out, "Nothing to check: this step has no checks.")
		}
		return exitPass
	}

	// SIGTERM too (CI time limits, timeout(1)): a probe pod must still be
	// deleted when the run is stopped from outside.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	conn, err := cluster.Connect(ctx, cluster.Options{Kubeconfig: kcs.one(), Context: *ctxF, Timeout: *timeoutF})
	if err != nil {
		return fail(rep, "%v", err)
	}
	rep.Context, rep.Server = conn.Info.Context, conn.Info.Server
	if !asJSON {
		fmt.Fprintf(io.Out, "Checking context %s (%s)\n", orDash(rep.Context), rep.Server)
	}

	ask := func(b checks.Bound) (bool, string) {
		switch {
		case *yesF:
			return true, ""
		case io.IsTTY:
			if confirm(io.In, io.Err, fmt.Sprintf("%q %s. Run it?", b.Title, b.Check.Acts)) {
				return true, ""
			}
			return false, "you said no"
		}
		return false, "pass --yes to let it run"
	}
	eng := conn.Engine()
	eng.Traffic = settings
	bounds := make([]checks.Bound, len(jobs))
	for i, j := range jobs {
		bounds[i] = j.bound
	}
	// One check at a time, so text output streams as results come.
	lastStep := -1
	for i, j := range jobs {
		r := eng.Once(ctx, bounds[i:i+1], ask)[0]
		e := j.entry
		rerun := "meshdojo check " + shellJoin(args)
		if e.Lesson != "" {
			rerun = fmt.Sprintf("meshdojo check --lesson %s --step %d", e.Lesson, e.Step)
		}
		e.Result = sayRerun(r, rerun)
		rep.add(e)
		if !asJSON {
			if e.Step != lastStep && e.Step != 0 {
				fmt.Fprintf(io.Out, "\nStep %d: %s\n", e.Step, e.StepTitle)
				lastStep = e.Step
			} else if i == 0 {
				fmt.Fprintln(io.Out)
			}
			printResult(io.Out, e)
		}
	}
	rep.settle()
	if asJSON {
		writeJSON(io.Out, rep)
	} else {
		c := rep.Counts
		fmt.Fprintf(io.Out, "\n%d passed, %d failed, %d errors, %d not run\n", c.Pass, c.Fail, c.Error, c.Pending)
	}
	return rep.Exit
}

// add counts a result into the report.
func (rep *checkReport) add(e checkEntry) {
	rep.Checks = append(rep.Checks, e)
	switch e.Verdict {
	case checks.Pass:
		rep.Counts.Pass++
	case checks.Fail:
		rep.Counts.Fail++
	case checks.Error:
		rep.Counts.Error++
	default:
		rep.Counts.Pending++
	}
}

// settle sets the report's exit code from its counts.
func (rep *checkReport) settle() {
	rep.Exit = exitPass
	switch {
	case rep.Error != "" || rep.Counts.Error > 0:
		rep.Exit = exitError
	case rep.Counts.Fail > 0 || rep.Counts.Pending > 0:
		rep.Exit = exitFail
	}
}

// lessonJobs binds the checks of a lesson (or of one step, from 1).
// Questions judged by a check are left out: they need the reader's answer.
func lessonJobs(l *lessons.Lesson, step int) ([]job, error) {
	var jobs []job
	for si, s := range l.Steps {
		if step != 0 && si+1 != step {
			continue
		}
		for _, ref := range s.Checks {
			b, err := ref.Bind()
			if err != nil {
				return nil, fmt.Errorf("lesson %s step %d: %v", l.ID, si+1, err)
			}
			jobs = append(jobs, job{
				entry: checkEntry{Lesson: l.ID, Step: si + 1, StepTitle: s.Title, Title: b.Title, Key: b.Key},
				bound: b,
			})
		}
	}
	return jobs, nil
}

func verdictLabel(r checks.Result) string {
	switch r.Verdict {
	case checks.Pass:
		return "PASS"
	case checks.Fail:
		return "FAIL"
	case checks.Error:
		return "ERROR"
	}
	if r.Code == checks.CodeNotRun {
		return "NOT RUN"
	}
	return "PENDING"
}

// sayRerun makes the fix texts that say to check again (checks.Again)
// name the command that does it here.
func sayRerun(r checks.Result, cmd string) checks.Result {
	conds := make([]checks.Condition, len(r.Conditions))
	for i, c := range r.Conditions {
		c.Fix = strings.ReplaceAll(c.Fix, checks.Again, "run "+cmd+" again")
		conds[i] = c
	}
	if r.Conditions != nil {
		r.Conditions = conds
	}
	return r
}

// shellJoin quotes the arguments that a shell would split or expand.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

func printResult(w io.Writer, e checkEntry) {
	r := e.Result
	name := e.Title
	if e.Title != r.Check {
		name += " (" + r.Check + ")"
	}
	fmt.Fprintf(w, "  %-7s %s\n", verdictLabel(r), name)
	if r.Summary != "" {
		fmt.Fprintf(w, "          %s\n", r.Summary)
	}
	if r.Verdict == checks.Pass {
		return
	}
	for _, c := range r.Conditions {
		if c.OK {
			continue
		}
		fmt.Fprintf(w, "          - %s\n", c.Name)
		fmt.Fprintf(w, "              observed: %s\n", c.Observed)
		fmt.Fprintf(w, "              expected: %s\n", c.Expected)
		if c.Fix != "" {
			fmt.Fprintf(w, "              fix:      %s\n", c.Fix)
		}
	}
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// checkInfo is one check in `meshdojo check --list -o json`.
type checkInfo struct {
	Name    string      `json:"name"`
	Summary string      `json:"summary"`
	Watch   bool        `json:"watch"`          // re-evaluated live on every change
	Acts    string      `json:"acts,omitempty"` // what it does to the cluster, when it acts
	Params  []paramInfo `json:"params"`
	Rules   []string    `json:"rules,omitempty"` // rules between parameters, in words
	Codes   []codeInfo  `json:"codes,omitempty"` // the outcomes it reports, besides the shared MD00xx
}

type paramInfo struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Required bool     `json:"required,omitempty"`
	Default  string   `json:"default,omitempty"`
	Enum     []string `json:"enum,omitempty"`
	Range    string   `json:"range,omitempty"` // e.g. "1 to 1000"
	Doc      string   `json:"doc,omitempty"`
}

type codeInfo struct {
	Code     string `json:"code"`
	Verdict  string `json:"verdict"`
	Template string `json:"template"` // the summary, a fmt verb for each value it names
	Doc      string `json:"doc"`
}

func listChecks(io IO, names []string, asJSON bool) int {
	var list []*checks.Check
	if len(names) == 0 {
		list = catalogue.All()
	}
	for _, n := range names {
		c, ok := catalogue.Lookup(n)
		if !ok {
			var all []string
			for _, c := range catalogue.All() {
				all = append(all, c.Name)
			}
			fmt.Fprintf(io.Err, "meshdojo check: there is no check %q; the checks are %s\n", n, strings.Join(all, ", "))
			return exitError
		}
		list = append(list, c)
	}
	infos := make([]checkInfo, 0, len(list))
	for _, c := range list {
		ci := checkInfo{Name: c.Name, Summary: c.Summary, Watch: c.Watch, Acts: c.Acts, Params: []paramInfo{}}
		for _, s := range c.AllParams() {
			ci.Params = append(ci.Params, paramInfo{Name: s.Name, Type: string(s.Type), Required: s.Required, Default: s.Default,
				Enum: s.Enum, Range: s.Bounds(), Doc: s.Doc})
		}
		for _, r := range c.Rules {
			ci.Rules = append(ci.Rules, r.Doc)
		}
		for _, code := range c.Codes {
			ci.Codes = append(ci.Codes, codeInfo{Code: code.ID, Verdict: string(code.Verdict), Template: code.Template, Doc: code.Doc})
		}
		infos = append(infos, ci)
	}
	if asJSON {
		writeJSON(io.Out, infos)
		return exitPass
	}
	w := io.Out
	for i, c := range infos {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, c.Name)
		wrap(w, "    ", c.Summary)
		switch {
		case c.Acts != "":
			wrap(w, "    ", "Acts: "+c.Acts+". Runs only when asked (a key in the tutorial, --yes here).")
		case c.Watch:
			fmt.Fprintln(w, "    Re-evaluated live whenever what it reads changes.")
		default:
			fmt.Fprintln(w, "    Re-evaluated on a back-off (it cannot be watched).")
		}
		fmt.Fprintln(w, "    Parameters:")
		for _, p := range c.Params {
			fmt.Fprintf(w, "      %s (%s)\n", p.Name, paramShape(p))
			if p.Doc != "" {
				wrap(w, "          ", p.Doc)
			}
		}
		for _, r := range c.Rules {
			wrap(w, "    ", "Rule: "+r+".")
		}
		if len(c.Codes) > 0 {
			fmt.Fprintln(w, "    Codes:")
			for _, code := range c.Codes {
				wrap(w, "      ", code.Code+" "+code.Verdict+": \""+code.Template+"\"")
				wrap(w, "          ", code.Doc)
			}
		}
		fmt.Fprintf(w, "    Example: meshdojo check --run %s%s\n", c.Name, exampleArgs(c))
	}
	return exitPass
}

func paramShape(p paramInfo) string {
	var parts []string
	if len(p.Enum) > 0 {
		parts = append(parts, "one of "+strings.Join(p.Enum, ", "))
	} else {
		parts = append(parts, p.Type)
	}
	if p.Range != "" {
		parts = append(parts, p.Range)
	}
	switch {
	case p.Required:
		parts = append(parts, "required")
	case p.Default != "":
		parts = append(parts, "default "+p.Default)
	default:
		parts = append(parts, "optional")
	}
	return strings.Join(parts, "; ")
}

func exampleArgs(c checkInfo) string {
	var b strings.Builder
	for _, p := range c.Params {
		if !p.Required {
			continue
		}
		v := "…"
		switch {
		case len(p.Enum) > 0:
			v = p.Enum[0]
		case p.Name == "namespace":
			v = "bookinfo"
		}
		fmt.Fprintf(&b, " %s=%s", p.Name, v)
	}
	return b.String()
}

// wrap writes text word-wrapped to 80 columns, each line indented.
func wrap(w io.Writer, indent, text string) {
	const width = 80
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			fmt.Fprintln(w, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	if len(line) > len(indent) {
		fmt.Fprintln(w, line)
	}
}
