package cli

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/internal/room"
)

// stringList is a flag that may be given more than once.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	if s == "" {
		return fmt.Errorf("empty path")
	}
	*l = append(*l, s)
	return nil
}

// one is the only value, or "" when there is none (kubectl's default).
func (l stringList) one() string {
	if len(l) == 1 {
		return l[0]
	}
	return ""
}

// roomOf says whether `check` is to go over a room of participants: the
// kubeconfigs given are several, or a directory. JUnit output always
// does (one testsuite per participant, so one kubeconfig is a room of
// one, named after its context). It returns nil for the plain single
// cluster run.
func roomOf(kcs stringList, context string, junit bool) ([]room.Participant, error) {
	many := len(kcs) > 1
	for _, p := range kcs {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			many = true
		}
	}
	if many {
		return room.Participants(kcs, context)
	}
	if !junit {
		return nil, nil
	}
	opts := cluster.Options{Kubeconfig: kcs.one(), Context: context}
	name := context
	if t, err := cluster.Load(opts); err == nil && t.Context != "" {
		name = t.Context
	}
	if name == "" {
		name = "default"
	}
	return []room.Participant{{Name: name, Opts: opts}}, nil
}

// roomParallel bounds how many participants are checked at once: enough
// that a room of 30 takes a few request round trips, few enough that a
// laptop's file descriptors and the checks' list requests stay modest.
const roomParallel = 8

// checkRoom evaluates jobs on every participant's cluster, each with its
// own connection and time-out, so one cluster that does not answer
// costs its own time-out and delays nobody else's. Checks that act run
// only with --yes: a room is never asked one participant at a time.
// The exit status is the worst participant's.
func checkRoom(io IO, ps []room.Participant, jobs []job, base *checkReport, out string, yes bool, timeout time.Duration, settings checks.TrafficSettings) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reps := make([]*checkReport, len(ps))
	sem := make(chan struct{}, roomParallel)
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			reps[i] = checkParticipant(ctx, p, jobs, base, yes, timeout, settings)
		})
	}
	wg.Wait()

	worst := exitPass
	for _, r := range reps {
		worst = max(worst, r.Exit)
	}
	switch out {
	case "json":
		// One document per participant, one after the other, so each is
		// the same meshdojo.check/v1 document a single cluster gives
		// (jq reads such a stream as it is).
		for _, r := range reps {
			writeJSON(io.Out, r)
		}
	case "junit":
		writeJUnit(io.Out, reps, jobs)
	default:
		writeRoomTable(io.Out, reps, len(jobs))
	}
	return worst
}

// checkParticipant connects to one participant's cluster and evaluates
// every job there. What goes wrong is in the report, never returned.
func checkParticipant(ctx context.Context, p room.Participant, jobs []job, base *checkReport, yes bool, timeout time.Duration, settings checks.TrafficSettings) *checkReport {
	rep := &checkReport{Schema: CheckReportSchema, Participant: p.Name, Lesson: base.Lesson, Step: base.Step, Checks: []checkEntry{}}
	defer rep.settle()
	if len(jobs) == 0 {
		return rep
	}
	opts := p.Opts
	opts.Timeout = timeout
	conn, err := cluster.Connect(ctx, opts)
	if err != nil {
		rep.Context = p.Opts.Context
		rep.Error = err.Error()
		return rep
	}
	rep.Context, rep.Server = conn.Info.Context, conn.Info.Server
	eng := conn.Engine()
	eng.Traffic = settings
	ask := func(checks.Bound) (bool, string) {
		if yes {
			return true, ""
		}
		return false, "pass --yes to let it run"
	}
	bounds := make([]checks.Bound, len(jobs))
	for i, j := range jobs {
		bounds[i] = j.bound
	}
	// A fix that says to check again names the command for this
	// participant alone.
	who := "--kubeconfig " + shellJoin([]string{p.Opts.Kubeconfig})
	if p.Opts.Context != "" {
		who += " --context " + shellJoin([]string{p.Opts.Context})
	}
	for i, r := range eng.Once(ctx, bounds, ask) {
		e := jobs[i].entry
		rerun := fmt.Sprintf("meshdojo check %s --lesson %s --step %d", who, e.Lesson, e.Step)
		if e.Lesson == "" {
			rerun = "meshdojo check " + who + " --run " + r.Check
			for _, k := range slices.Sorted(maps.Keys(r.Params)) {
				rerun += " " + shellJoin([]string{k + "=" + r.Params[k]})
			}
		}
		e.Result = sayRerun(r, rerun)
		rep.add(e)
	}
	return rep
}

// writeRoomTable prints one row per participant: the counts and the
// first problem, so the instructor sees who needs help before class.
func writeRoomTable(w io.Writer, reps []*checkReport, n int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTICIPANT\tCONTEXT\tPASS\tFAIL\tERROR\tNOT RUN\tFIRST PROBLEM")
	ready := 0
	for _, r := range reps {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t%s\n", r.Participant, orDash(r.Context), oneLine(r.Error))
			continue
		}
		c := r.Counts
		if r.Exit == exitPass {
			ready++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Participant, orDash(r.Context), c.Pass, c.Fail, c.Error, c.Pending, firstProblem(r))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d of %d participants pass all %d checks\n", ready, len(reps), n)
}

// firstProblem names the first check of r that is not a pass and why.
func firstProblem(r *checkReport) string {
	for _, e := range r.Checks {
		if e.Verdict == checks.Pass {
			continue
		}
		where := strconv.Quote(e.Title)
		if e.Step != 0 {
			where = fmt.Sprintf("step %d %s", e.Step, where)
		}
		return where + ": " + oneLine(room.Problem(e.Result))
	}
	return "-"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// JUnit XML, as Jenkins, GitLab and GitHub's test reporters read it: one
// testsuite per participant, one testcase per check, a failure or error
// carrying the first failing condition as its message.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func writeJUnit(w io.Writer, reps []*checkReport, jobs []job) {
	all := junitSuites{Name: "meshdojo check"}
	for _, r := range reps {
		s := junitSuite{Name: r.Participant}
		for _, p := range [][2]string{{"context", r.Context}, {"server", r.Server}, {"lesson", r.Lesson}} {
			if p[1] != "" {
				s.Properties = append(s.Properties, junitProperty{Name: p[0], Value: p[1]})
			}
		}
		if r.Error != "" {
			// Nothing could be checked: every check is an error that
			// says why, so the suite counts what was not checked.
			for _, j := range jobs {
				s.Cases = append(s.Cases, junitCase{Name: caseName(j.entry), Classname: className(r, j.entry),
					Error: &junitProblem{Message: oneLine(r.Error), Type: "connect"}})
			}
		}
		for _, e := range r.Checks {
			c := junitCase{Name: caseName(e), Classname: className(r, e)}
			p := &junitProblem{Message: oneLine(room.Problem(e.Result)), Type: e.Code, Text: details(e.Result)}
			switch e.Verdict {
			case checks.Pass:
			case checks.Fail:
				c.Failure = p
			case checks.Error:
				c.Error = p
			default:
				c.Skipped = p
			}
			if s.Timestamp == "" && !e.At.IsZero() {
				s.Timestamp = e.At.UTC().Format("2006-01-02T15:04:05")
			}
			s.Cases = append(s.Cases, c)
		}
		for _, c := range s.Cases {
			s.Tests++
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Error != nil:
				s.Errors++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Skipped += s.Skipped
		all.Suites = append(all.Suites, s)
	}
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	_ = enc.Encode(all)
	io.WriteString(w, "\n")
}

func caseName(e checkEntry) string {
	if e.Step != 0 {
		return fmt.Sprintf("step %d: %s", e.Step, e.Title)
	}
	return e.Title
}

func className(r *checkReport, e checkEntry) string {
	if e.Lesson != "" {
		return fmt.Sprintf("%s.lesson%s", r.Participant, e.Lesson)
	}
	return r.Participant
}

// details is the body of a failure: the summary, then every condition
// that does not hold with what was seen, what was wanted and the fix.
func details(r checks.Result) string {
	var b strings.Builder
	b.WriteString(r.Summary)
	for _, c := range r.Conditions {
		if c.OK {
			continue
		}
		fmt.Fprintf(&b, "\n- %s\n  observed: %s\n  expected: %s", c.Name, c.Observed, c.Expected)
		if c.Fix != "" {
			fmt.Fprintf(&b, "\n  fix: %s", c.Fix)
		}
	}
	return b.String()
}
