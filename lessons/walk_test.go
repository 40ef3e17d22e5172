package lessons_test

// The walk test drives each lesson through the tutorial's UI model, step
// by step, against a real API server whose contents stand in for the
// reader's cluster (see testdata/README.md for the fixture format).
//
// It starts from the lesson's entry state. For every step the cluster
// gates, it first looks at the state the reader arrives in, which is the
// previous step's passing state and nothing else, and confirms there, on
// the screen a reader sees, that every check of the step shows FAIL and
// that "next" is refused (unless the step only observes the cluster and
// is gated by a question about it). Then it applies the step's wrong
// states, each of which must fail too, then the passing state, waits for
// every watched check to show PASS, answers the step's question and runs
// the step's traffic checks the way a reader does (t, then y), and
// confirms that the step is recorded as done and "next" moves on.
//
// The traffic and metric checks (http-probe, pod-probe, envoy-stat,
// prometheus-query) run for real too, against a simulated lab whose
// behaviour follows from the objects in the API server
// (internal/traffic/fakelab; lessons/README.md, "The simulated lab"):
// http-probe reaches its ingress through the --ingress setting,
// envoy-stat and prometheus-query go through the API server's pod and
// service proxies to simulated pods in the test pod network, and a probe
// pod's curl runs through the simulator, which ends the pod with curl's
// exit code as a kubelet would. The acting ones are run the way a reader
// runs them: t, then y to consent.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
	"github.com/meshdojo/meshdojo/lessons"
	"github.com/meshdojo/meshdojo/tui"
)

func TestWalk(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Every lesson there is is walked: the list is the lessons
	// themselves, so a new lesson is covered without editing this test,
	// and one without fixtures fails, naming what to add (before any
	// cluster starts, so the message is the first thing said).
	var walk []*lessons.Lesson
	for _, l := range all {
		if fi, err := os.Stat(fixtureDir(l)); err != nil || !fi.IsDir() {
			t.Errorf("lesson %s (%s) has no fixtures: add the directory lessons/%s/ with entry.yaml and an NN.pass.yaml (or NN.observe.yaml) for every step the cluster gates (see testdata/README.md)", l.ID, l.File, fixtureDir(l))
			continue
		}
		walk = append(walk, l)
	}
	c := testcluster.Shared(t)
	kc, err := c.Kubeconfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kcPath, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	lab := startLab(t, c)
	// Lessons share namespace names (bookinfo, istio-system), so they run
	// one after another, each starting from and returning to an empty
	// cluster.
	for _, l := range walk {
		t.Run("lesson"+l.ID, func(t *testing.T) { walkLesson(t, c, kcPath, lab, all, l, fixtureDir(l)) })
	}
}

// readerPace is how long a reader is taken to spend on a step.
const readerPace = 10 * time.Minute

// simLab is the simulated lab behind the test API server: the traffic
// settings that lead to its ingress, and its node.
type simLab struct {
	traffic checks.TrafficSettings
	node    *fakelab.Node
	sim     *fakelab.Sim
}

// startLab runs the simulated lab until the test ends.
func startLab(t *testing.T, c *testcluster.Cluster) simLab {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	live, err := fakelab.Watch(ctx, c.Config)
	if err != nil {
		t.Fatal(err)
	}
	sim := fakelab.NewSim(live.Source(), fakelab.Options{Seed: 1})
	ingress := httptest.NewServer(sim.IngressHandler(9080))
	// The gateway's Keycloak port (chapter 7), where probes that sign a
	// user in ask for the token, as a reader's --keycloak would point.
	keycloak := httptest.NewServer(sim.IngressHandler(8080))
	// The simulated node gives pods IPs in the test pod network, serves
	// their Envoy stats and Prometheus there, writes EndpointSlices and
	// runs probe pods' curl.
	pn := testcluster.SharedPodNet(t)
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	// The node's kubelet serves pods/log from the simulation: the
	// proxies' access logs, probe pods' curl output.
	kubelet := c.Kubelet(t, pn, "fakelab-node")
	var mu sync.Mutex
	running := true
	node := &fakelab.Node{Kube: kube, Sim: sim, NewIP: pn.AddIP, ReleaseIP: pn.ReleaseIP, Listen: pn.ListenAt, NodeName: kubelet.Node,
		Errorf: func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if running {
				t.Errorf(format, args...)
			}
		}}
	kubelet.Source = testcluster.LogsFrom(node.Log)
	done := make(chan struct{})
	go func() { node.Run(ctx); close(done) }()
	// The simulator plays the Deployment controller for restarts (the
	// "# restart:" directive): it writes a restarted Deployment's status
	// as its rollout goes, and routes to the rollout's pods meanwhile.
	rolled := make(chan struct{})
	go func() { sim.RunRollouts(ctx, kube, node.Errorf); close(rolled) }()
	t.Cleanup(func() {
		mu.Lock()
		running = false
		mu.Unlock()
		stop()
		<-done
		<-rolled
		ingress.Close()
		keycloak.Close()
	})
	s, err := checks.ParseTraffic(checks.TrafficSettings{Ingress: ingress.URL, Keycloak: keycloak.URL})
	if err != nil {
		t.Fatal(err)
	}
	return simLab{traffic: s, node: node, sim: sim}
}

// fixtureDir is where a lesson's fixtures live (see testdata/README.md).
func fixtureDir(l *lessons.Lesson) string { return filepath.Join("testdata", l.ID) }

// gated reports whether a step has anything that holds the gate.
func gated(s *lessons.Step) bool { return len(s.Checks) > 0 || s.Question != nil }

// onCluster reports whether the cluster decides a step's gate: it has
// checks, or a question judged by a check. A step gated only by a
// question with a fixed answer has no fixtures.
func onCluster(s *lessons.Step) bool {
	return len(s.Checks) > 0 || (s.Question != nil && s.Question.Check != nil)
}

func walkLesson(t *testing.T, c *testcluster.Cluster, kcPath string, lab simLab, all []*lessons.Lesson, l *lessons.Lesson, dir string) {
	w := newWalker(t, c, dir)
	w.lab = lab
	defer w.reset()
	files := w.checkFiles(l)

	first := -1
	for i := range l.Steps {
		if gated(&l.Steps[i]) {
			first = i
			break
		}
	}
	if first < 0 {
		t.Fatalf("lesson %s has no step with a check or a question", l.ID)
	}
	// The entry state is there before the tutorial starts, as when a
	// reader opens the lesson on the cluster the introduction asks for.
	w.applyFile(filepath.Join(dir, entryFile))

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	conn, err := cluster.Connect(ctx, cluster.Options{Kubeconfig: kcPath})
	if err != nil {
		t.Fatal(err)
	}
	// The engine the tutorial gets, pointed at the simulated lab's
	// ingress as a reader's --ingress would point it.
	eng := conn.Engine()
	eng.Traffic = lab.traffic
	run := settled{eng, lab.node, &restartDirective{}}
	sv := &saves{}
	m := tui.New(tui.Options{
		Lessons: []*lessons.Lesson{l}, Lesson: l.ID, Step: first + 1,
		NoColor: true, Context: "testcluster", Progress: progress.New("testcluster"),
		Save:    sv.save,
		Connect: func(context.Context) (checks.Runner, error) { return run, nil },
	})
	s := startScreen(t, m, 220, 80)
	s.waitText("Connected")

	seen := coverage{}
	for i := first; i < len(l.Steps); i++ {
		step := &l.Steps[i]
		name := fmt.Sprintf("step %d (%s)", i+1, step.Title)
		if !gated(step) {
			continue // a closing summary: nothing holds the gate
		}
		sf := files[i]
		// A reader spends minutes on a step; the walk, a second. What the
		// mesh counted during earlier steps is aged accordingly, so a
		// windowed query sees this step's traffic only.
		lab.sim.Age(readerPace)
		rows := bind(t, l, i)

		// The before-state: the cluster exactly as the previous step's
		// passing state (or the entry state) left it, which is where the
		// reader arrives. Unless the step only observes the cluster, the
		// gate must be shut here by every check of the step: a check
		// that already passes proves nothing about what the reader did.
		run.restart.set("") // the reader has not acted yet
		before := evaluate(ctx, t, run, l, i, rows, seen)
		if !sf.observe {
			for n, b := range rows {
				v := before.checks[n]
				switch {
				case v.Verdict == checks.Fail:
				case v.Verdict == checks.Pass && sf.guards[n+1] != "":
				default:
					t.Errorf("%s, before-state (the state the reader arrives in): check %d %q is %s, want fail: %s%s", name, n+1, b.Title, v.Verdict, v.Summary, conds(v))
				}
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		// ... and as the reader sees it: the failing rows say so and the
		// gate stays shut, traffic tests included.
		for n, b := range rows {
			if b.Check.Acts == "" && before.checks[n].Verdict == checks.Fail {
				s.waitRow(b.Title, "FAIL")
			}
		}
		// One traffic test is enough to see a failed probe hold the gate
		// (t keeps offering the first one that has not passed).
		for n, b := range rows {
			if b.Check.Acts != "" && before.checks[n].Verdict == checks.Fail {
				s.probe(b.Title, "FAIL")
				break
			}
		}
		s.press("n")
		s.waitText("Not yet")
		if sv.current(l.ID) != step.Anchor {
			t.Fatalf("%s, before-state: next moved the reader to %q", name, sv.current(l.ID))
		}

		// The wrong states: what a reader who acted wrongly has (a wrong
		// value, a typo'd name, a known trap). The gate must stay shut in
		// each: some check fails (or, for a step gated by a question
		// alone, its right answer is wrong), and each guard fails in one.
		var wrong []stepState
		guardFailed := map[int]bool{}
		for _, f := range sf.wrong {
			sp := w.applyFile(f)
			run.restart.set(sp.restart)
			// Getting a step wrong takes a reader minutes too: what the
			// mesh counted in the state before (the arrival state, or an
			// earlier wrong one) is out of a windowed query's reach;
			// unless the file says the reader checks at once (a break
			// the reader puts in and tests straight away).
			if sp.atOnce == "" {
				lab.sim.Age(readerPace)
			}
			st := evaluate(ctx, t, run, l, i, rows, seen)
			st.file = f
			shut := len(rows) == 0
			for n, b := range rows {
				switch v := st.checks[n]; v.Verdict {
				case checks.Fail:
					shut = true
					guardFailed[n+1] = true
				case checks.Pass:
				default:
					t.Errorf("%s, wrong state %s: check %d %q is %s, want fail or pass: %s%s", name, filepath.Base(f), n+1, b.Title, v.Verdict, v.Summary, conds(v))
				}
			}
			if !shut {
				t.Errorf("%s, wrong state %s: every check passes; a wrong state must keep the gate shut", name, filepath.Base(f))
			}
			wrong = append(wrong, st)
		}
		for n, why := range sf.guards {
			if n < 1 || n > len(rows) {
				t.Errorf("%s: %s names guard %d, but the step has %d checks", name, sf.pass, n, len(rows))
				continue
			}
			if !guardFailed[n] {
				t.Errorf("%s: check %d %q is a guard (%s) that fails in none of the step's wrong states; add one where it fails (NN.fail.yaml), or remove the check", name, n, rows[n-1].Title, why)
			}
		}
		if t.Failed() {
			t.FailNow()
		}

		// The passing state.
		run.restart.set("")
		if sf.pass != "" {
			run.restart.set(w.applyFile(sf.pass).restart)
		}
		after := evaluate(ctx, t, run, l, i, rows, seen)
		for n, b := range rows {
			if v := after.checks[n]; v.Verdict != checks.Pass {
				t.Errorf("%s, passing state: check %d %q is %s, want pass: %s%s", name, n+1, b.Title, v.Verdict, v.Summary, conds(v))
			}
		}
		right := judge(t, step, after, name)
		if q := step.Question; q != nil && q.Check != nil && right >= 0 {
			// A question judged on the cluster holds the gate only if its
			// right answer is wrong before the reader acts (an observation
			// step asks about what is already there), and, when it is the
			// step's only gate, in every wrong state.
			if !sf.observe && before.choices[right].Verdict == checks.Pass {
				t.Errorf("%s: the question's answer %q is already right in the before-state; the step changes nothing it asks about (name it NN.observe.yaml if it only observes)", name, q.Choices[right])
			}
			for _, st := range wrong {
				if len(rows) == 0 && st.choices[right].Verdict == checks.Pass {
					t.Errorf("%s, wrong state %s: the question alone holds the gate, and its answer %q is right here too", name, filepath.Base(st.file), q.Choices[right])
				}
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		// A check that cannot be watched (a proxy's log or stats) is
		// looked at on a back-off that reaches 30 s by the time the
		// reader has fixed the cluster; the reader re-checks (r) rather
		// than wait for its next look, and so does the walk.
		for _, b := range rows {
			if b.Check.Acts == "" && !b.Check.Watch {
				s.press("r")
				break
			}
		}
		for _, b := range rows {
			if b.Check.Acts == "" {
				s.waitRow(b.Title, "PASS")
			}
		}
		for _, b := range rows {
			if b.Check.Acts != "" {
				s.probe(b.Title, "PASS")
			}
		}
		if right >= 0 {
			s.press(strconv.Itoa(right + 1))
			s.waitText("Right.")
		}
		s.waitStatus(sv, l.ID, step.Anchor, progress.Done)
		s.press("n")
		if i+1 < len(l.Steps) {
			s.waitCurrent(sv, l.ID, l.Steps[i+1].Anchor)
		}
	}
	for key, v := range seen {
		if !v[checks.Pass] || !v[checks.Fail] {
			t.Errorf("check %s: seen %v; every check needs a state where it passes and one where it fails", key, v)
		}
	}
}

// stepState is what the engine says about a step in one cluster state:
// each check's result and, for a question judged on the cluster, each
// choice's.
type stepState struct {
	file    string
	checks  []checks.Result
	choices []checks.Result
}

// evaluate runs every check of step i, and every choice of its question
// if the cluster judges it, through the engine.
func evaluate(ctx context.Context, t *testing.T, r checks.Runner, l *lessons.Lesson, i int, rows []checks.Bound, seen coverage) stepState {
	t.Helper()
	var st stepState
	for _, b := range rows {
		start := time.Now()
		res := r.Run(ctx, b, nil)
		slow(t, start, "step %d: %s %q", i+1, b.Check.Name, b.Title)
		seen.note(b, res.Verdict)
		st.checks = append(st.checks, res)
	}
	q := l.Steps[i].Question
	if q == nil || q.Check == nil {
		return st
	}
	for n := range q.Choices {
		b, err := q.Bind(n)
		if err != nil {
			t.Fatalf("step %d: question: %v", i+1, err)
		}
		start := time.Now()
		st.choices = append(st.choices, r.Run(ctx, b, nil))
		slow(t, start, "step %d: question choice %d (%s)", i+1, n+1, b.Check.Name)
	}
	return st
}

// slow logs what took more than a second, so a slow walk says where its
// time went (go test -v). Nothing is asserted about it.
func slow(t *testing.T, start time.Time, format string, args ...any) {
	t.Helper()
	if d := time.Since(start); d > time.Second {
		t.Logf("%s: %s", fmt.Sprintf(format, args...), d.Round(100*time.Millisecond))
	}
}

// judge finds the right answer to a step's question: the lesson's own,
// or, for a question judged on the cluster, the one choice whose check
// passes in the passing state (and every other choice must fail).
func judge(t *testing.T, step *lessons.Step, st stepState, name string) int {
	t.Helper()
	q := step.Question
	if q == nil {
		return -1
	}
	if q.Check == nil {
		for n, ch := range q.Choices {
			if ch == q.Answer {
				return n
			}
		}
		t.Errorf("%s: answer %q is not a choice", name, q.Answer)
		return -1
	}
	right := -1
	for n, res := range st.choices {
		switch res.Verdict {
		case checks.Pass:
			if right >= 0 {
				t.Errorf("%s: choices %q and %q both pass; a question needs one right answer", name, q.Choices[right], q.Choices[n])
			}
			right = n
		case checks.Fail:
		default:
			t.Errorf("%s: choice %q: %s: %s%s", name, q.Choices[n], res.Verdict, res.Summary, conds(res))
		}
	}
	if right < 0 {
		t.Errorf("%s: no choice of the question passes in the passing state", name)
	}
	return right
}

func bind(t *testing.T, l *lessons.Lesson, i int) []checks.Bound {
	t.Helper()
	var out []checks.Bound
	titles := map[string]bool{}
	for _, ref := range l.Steps[i].Checks {
		b, err := ref.Bind()
		if err != nil {
			t.Fatalf("lesson %s step %d: %v", l.ID, i+1, err)
		}
		if titles[ref.Title] {
			t.Fatalf("lesson %s step %d: two checks titled %q; the walk finds rows by title", l.ID, i+1, ref.Title)
		}
		titles[ref.Title] = true
		out = append(out, b)
	}
	return out
}

func conds(r checks.Result) string {
	var b strings.Builder
	for _, c := range r.Conditions {
		if !c.OK {
			fmt.Fprintf(&b, "\n\t%s: observed %s; expected %s", c.Name, c.Observed, c.Expected)
		}
	}
	return b.String()
}

// coverage records the verdicts each distinct check (name and
// parameters) reached during a lesson's walk.
type coverage map[string]map[checks.Verdict]bool

func (c coverage) note(b checks.Bound, v checks.Verdict) {
	var keys []string
	for k, val := range b.Params {
		keys = append(keys, k+"="+val)
	}
	sort.Strings(keys)
	key := b.Check.Name + "{" + strings.Join(keys, ",") + "}"
	if c[key] == nil {
		c[key] = map[checks.Verdict]bool{}
	}
	c[key][v] = true
}

// settled is the engine, with each check that needs a live mesh
// (Check.NeedsMesh: traffic, Envoy's stats, Prometheus, proxy logs) run
// once the simulated node has caught up with the objects just applied
// (pod IPs, EndpointSlices), as a reader's cluster has by the time they
// check. A check that reads only objects needs no node.
type settled struct {
	checks.Runner
	node    *fakelab.Node
	restart *restartDirective
}

// restartDirective is the "# restart: NAMESPACE" of the state the walk is
// in: the reader's kubectl rollout restart deployment -n NAMESPACE, done
// while a probe that watches that namespace (uptime-probe's
// restart-namespace) runs, as the step asks the reader to: start the
// probe, then restart.
type restartDirective struct {
	mu sync.Mutex
	ns string
}

func (d *restartDirective) set(ns string) {
	d.mu.Lock()
	d.ns = ns
	d.mu.Unlock()
}

func (d *restartDirective) get() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ns
}

// restartDeployments is kubectl rollout restart deployment -n ns: the
// pod template's restartedAt annotation set to now on every Deployment
// (with nanoseconds, so two restarts in one second are two).
func restartDeployments(ctx context.Context, kube kubernetes.Interface, ns string) error {
	list, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, fakelab.RestartedAt, time.Now().Format(time.RFC3339Nano))
	for _, d := range list.Items {
		if _, err := kube.AppsV1().Deployments(ns).Patch(ctx, d.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func (r settled) Run(ctx context.Context, b checks.Bound, out chan<- checks.Update) checks.Result {
	if b.Check == nil || !b.Check.NeedsMesh() {
		return r.Runner.Run(ctx, b, out)
	}
	if err := r.node.Settle(ctx); err != nil {
		return checks.Result{Check: b.Check.Name, Params: b.Params, Verdict: checks.Error, Summary: "the simulated lab did not settle: " + err.Error(), At: time.Now()}
	}
	b = shortWaits(b)
	ns := r.restart.get()
	if ns == "" || b.Params["restart-namespace"] != ns {
		return r.Runner.Run(ctx, b, out)
	}
	// Once the probe's first answers are in, the reader restarts.
	mid := make(chan checks.Update, 16)
	fwd := make(chan struct{})
	go func() {
		defer close(fwd)
		restarted := false
		for u := range mid {
			if !restarted {
				restarted = true
				if err := restartDeployments(ctx, r.node.Kube, ns); err != nil {
					r.node.Errorf("# restart: %s: %v", ns, err)
				}
			}
			if out != nil {
				select {
				case out <- u:
				case <-ctx.Done():
				}
			}
		}
	}()
	res := r.Runner.Run(ctx, b, mid)
	close(mid)
	<-fwd
	return res
}

// simWithin is how long the walk lets a check wait for something that,
// in a reader's lab, takes a while to happen, and in the simulated lab
// happens at once or never:
//   - follow-request's within, how long it looks for the request's line
//     in Loki and its trace in Tempo: Alloy and the collector take
//     seconds to ship, while the simulated Loki and Tempo store what the
//     proxies report the moment they report it;
//   - uptime-probe's duration when it watches a restart, the time the
//     reader has to start the restart: the walk restarts as soon as the
//     probe's first answers are in (# restart:), or never.
//
// So a wrong state's failure no longer costs the lesson's full wait (30 s
// a run, five runs in lesson 8, two in lesson a1), and the verdicts stay
// the same: a passing state is still found by the check's own polling.
const simWithin = 6 * time.Second

// shortWaits is b with the waits above cut to simWithin. Only limits on
// waiting change: what the check judges, and any time it measures (an
// uptime-probe without a restart sends for its duration), stay the
// lesson's.
func shortWaits(b checks.Bound) checks.Bound {
	var wait string
	switch b.Check.Name {
	case "follow-request":
		wait = "within"
	case "uptime-probe":
		if b.Params.Str("restart-namespace") != "" && b.Params.Duration("timeout") <= simWithin {
			wait = "duration"
		}
	}
	if wait == "" || b.Params.Str(wait) == "" || b.Params.Duration(wait) <= simWithin {
		return b
	}
	p := maps.Clone(b.Params)
	p[wait] = simWithin.String()
	b.Params = p
	return b
}

// saves keeps the last progress snapshot the UI saved.
type saves struct {
	mu   sync.Mutex
	last *progress.State
}

func (s *saves) save(p *progress.State) error {
	s.mu.Lock()
	s.last = p
	s.mu.Unlock()
	return nil
}

func (s *saves) current(lesson string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil || s.last.Lessons[lesson] == nil {
		return ""
	}
	return s.last.Lessons[lesson].Current
}

func (s *saves) status(lesson, step string) progress.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return ""
	}
	return s.last.StatusOf(lesson, step)
}

// The deadlines below are only reached by a failing test; nothing is
// asserted about how long anything takes.
const patience = 45 * time.Second

// waitStatus and waitCurrent keep the UI running while they wait: the
// progress is saved by commands whose messages the screen delivers.
func (sc *screen) waitStatus(sv *saves, lesson, step string, want progress.Status) {
	sc.t.Helper()
	sc.until(fmt.Sprintf("step %q to be recorded as %s", step, want), func() (bool, string) {
		got := sv.status(lesson, step)
		return got == want, string(got)
	})
}

func (sc *screen) waitCurrent(sv *saves, lesson, step string) {
	sc.t.Helper()
	sc.until(fmt.Sprintf("the reader to be on step %q", step), func() (bool, string) {
		got := sv.current(lesson)
		return got == step, got
	})
}

// until pumps the UI's messages until ok holds.
func (s *screen) until(what string, ok func() (bool, string)) {
	s.t.Helper()
	end := time.Now().Add(patience)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		done, got := ok()
		if done {
			return
		}
		if time.Now().After(end) {
			s.t.Fatalf("gave up waiting for %s (last seen: %q); screen:\n%s", what, got, s.text())
		}
		select {
		case msg := <-s.msgs:
			s.send(msg)
		case <-tick.C:
		}
	}
}

func poll(t *testing.T, what string, ok func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(patience)
	for {
		done, got := ok()
		if done {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s (last seen: %q)", what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// screen drives the UI model the way a tea.Program would, without a
// terminal: messages are handed to Update one at a time on the test's
// goroutine, commands run in their own goroutines and send back what
// they return, and what the reader sees is the model's View, rendered
// without colour. Waiting for the screen to show something is how the
// test knows the model has taken in the engine's results.
type screen struct {
	t    *testing.T
	m    tea.Model
	msgs chan tea.Msg
	ctx  context.Context
	last string
}

func startScreen(t *testing.T, m tea.Model, w, h int) *screen {
	ctx, cancel := context.WithCancel(context.Background())
	s := &screen{t: t, m: m, msgs: make(chan tea.Msg, 256), ctx: ctx}
	t.Cleanup(func() {
		// Quitting stops the step's watches (and the engine's informers);
		// cancel releases the commands still waiting to deliver.
		s.send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
		cancel()
	})
	s.exec(m.Init())
	s.send(tea.WindowSizeMsg{Width: w, Height: h})
	return s
}

func (s *screen) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		s.deliver(cmd())
	}()
}

func (s *screen) deliver(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			s.exec(c)
		}
		return
	}
	// tea.Sequence's message is unexported: a list of commands to run in
	// order.
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		for i := 0; i < v.Len(); i++ {
			if c, _ := v.Index(i).Interface().(tea.Cmd); c != nil {
				s.deliver(c())
			}
		}
		return
	}
	select {
	case s.msgs <- msg:
	case <-s.ctx.Done():
	}
}

func (s *screen) send(msg tea.Msg) {
	m, cmd := s.m.Update(msg)
	s.m = m
	s.exec(cmd)
}

func (s *screen) text() string {
	s.last = ansi.Strip(s.m.View().Content)
	return s.last
}

func (s *screen) waitFor(what string, ok func(string) bool) string {
	s.t.Helper()
	var txt string
	s.until(what, func() (bool, string) {
		txt = s.text()
		return ok(txt), ""
	})
	return txt
}

func (s *screen) waitText(sub string) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("%q on screen", sub), func(txt string) bool { return strings.Contains(txt, sub) })
}

// waitRow waits until the check panel shows the row titled title with
// the given word (PASS, FAIL).
func (s *screen) waitRow(title, word string) {
	s.t.Helper()
	defer slow(s.t, time.Now(), "screen: check %q to show %s", title, word)
	s.waitFor(fmt.Sprintf("check %q to show %s", title, word), func(txt string) bool {
		for _, line := range strings.Split(txt, "\n") {
			i, j := strings.Index(line, word), strings.Index(line, title)
			if i >= 0 && j > i {
				return true
			}
		}
		return false
	})
}

// probe runs a traffic check the way a reader does: t, a confirmation,
// then back to the lesson once the result is in, where the panel must
// show it (word is PASS or FAIL).
func (s *screen) probe(title, word string) {
	s.t.Helper()
	defer slow(s.t, time.Now(), "screen: traffic test %q to %s", title, word)
	s.press("t")
	s.waitText("This acts on your cluster")
	s.press("y")
	s.waitFor("the traffic test's result", func(txt string) bool {
		return strings.Contains(txt, " passed.") || strings.Contains(txt, " failed")
	})
	s.press("esc")
	s.waitRow(title, word)
}

func (s *screen) press(keys ...string) {
	for _, k := range keys {
		switch k {
		case "esc":
			s.send(tea.KeyPressMsg{Code: tea.KeyEscape})
		case "tab":
			s.send(tea.KeyPressMsg{Code: tea.KeyTab})
		default:
			s.send(tea.KeyPressMsg{Code: []rune(k)[0], Text: k})
		}
	}
}

// walker applies a lesson's fixtures and removes everything it created
// when the lesson is done.
type walker struct {
	t       *testing.T
	c       *testcluster.Cluster
	dir     string
	dyn     dynamic.Interface
	mapper  meta.RESTMapper
	created []ref             // in order, for reset
	saved   map[string]string // objects removed by "# delete:", for "# restore:"
	lab     simLab            // where "# send:" sends the reader's requests
}

type ref struct {
	apiVersion, kind, ns, name string
}

func (r ref) String() string {
	if r.ns != "" {
		return r.kind + " " + r.ns + "/" + r.name
	}
	return r.kind + " " + r.name
}

func (r ref) yaml() string {
	s := fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", r.apiVersion, r.kind, r.name)
	if r.ns != "" {
		s += "  namespace: " + r.ns + "\n"
	}
	return s
}

func newWalker(t *testing.T, c *testcluster.Cluster, dir string) *walker {
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &walker{t: t, c: c, dir: dir, dyn: dyn, saved: map[string]string{},
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// spec is what a fixture file says besides its objects.
type spec struct {
	objects  string
	deletes  []ref
	restores []ref
	guards   map[int]string // check number -> why it may pass before the step
	sends    []send         // requests the reader sends through the ingress
	restart  string         // "# restart: NS": the namespace the reader restarts while the step's probe runs
	atOnce   string         // "# at once: WHY": a wrong state checked with no time passed
}

// send is a "# send: N PATH" directive: the reader sends N GET requests
// for PATH through the ingress, as a step's text asks (a curl loop), once
// the file's objects are applied.
type send struct {
	n    int
	path string
}

var (
	includeRe = regexp.MustCompile(`(?m)^# include: (\S+)\s*$`)
	deleteRe  = regexp.MustCompile(`(?m)^# (delete|restore): (\S+) (\S+) (\S+)\s*$`)
	guardRe   = regexp.MustCompile(`(?m)^# guard: ([0-9]+) (.*\S)\s*$`)
	sendRe    = regexp.MustCompile(`(?m)^# send: ([0-9]+) (/\S*)\s*$`)
	restartRe = regexp.MustCompile(`(?m)^# restart: (\S+)\s*$`)
	atOnceRe  = regexp.MustCompile(`(?m)^# at once: (.*\S)\s*$`)
	// The fixture names: entry.yaml, NN.pass.yaml or NN.observe.yaml,
	// and any number of NN.fail.yaml / NN.fail-WORD.yaml.
	stepFileRe = regexp.MustCompile(`^([0-9]{2})\.(pass|observe|fail|fail-[a-z0-9-]+)\.yaml$`)
)

// entryFile is the state a reader opens the lesson with.
const entryFile = "entry.yaml"

// stepFiles are a step's fixtures.
type stepFiles struct {
	pass    string // NN.pass.yaml; empty for an observation step
	observe bool   // NN.observe.yaml: the step only reads the cluster
	wrong   []string
	guards  map[int]string
}

// checkFiles insists on an entry state, on a passing state or an
// observation note for every step the cluster gates, and on no stray
// files.
func (w *walker) checkFiles(l *lessons.Lesson) map[int]stepFiles {
	out := map[int]stepFiles{}
	if _, err := os.Stat(filepath.Join(w.dir, entryFile)); err != nil {
		w.t.Errorf("%s: missing: the cluster the reader opens lesson %s with (see testdata/README.md)", filepath.Join(w.dir, entryFile), l.ID)
	}
	ents, _ := os.ReadDir(w.dir)
	for _, e := range ents {
		// A lesson's README.md holds its fixture notes (the probe
		// statistics of lessons 9 and 10), not a state.
		if e.Name() == entryFile || e.Name() == "README.md" {
			continue
		}
		m := stepFileRe.FindStringSubmatch(e.Name())
		if m == nil {
			w.t.Errorf("%s: not a fixture name (entry.yaml, NN.pass.yaml, NN.observe.yaml, NN.fail.yaml, NN.fail-WORD.yaml)", filepath.Join(w.dir, e.Name()))
			continue
		}
		n, _ := strconv.Atoi(m[1])
		i := n - 1
		path := filepath.Join(w.dir, e.Name())
		if i < 0 || i >= len(l.Steps) || !onCluster(&l.Steps[i]) {
			w.t.Errorf("%s: no step %d of lesson %s is gated by the cluster (steps are numbered from 1; a step without checks or a question judged on the cluster has no fixtures)", path, n, l.ID)
			continue
		}
		sf := out[i]
		switch m[2] {
		case "pass":
			sf.pass = path
			sf.guards = w.load(path).guards
		case "observe":
			sf.observe = true
			sp := w.load(path)
			if obs, _ := testcluster.Decode(sp.objects); len(obs) > 0 || len(sp.deletes)+len(sp.restores)+len(sp.guards) > 0 {
				w.t.Errorf("%s: an observation step changes nothing: comments only", path)
			}
			q := l.Steps[i].Question
			if q == nil || q.Check == nil {
				w.t.Errorf("%s: step %d (%s) is no observation step: only a step whose gate is a question judged on the cluster may observe; make its checks fail before the reader acts", path, n, l.Steps[i].Title)
			}
		default:
			sf.wrong = append(sf.wrong, path) // ReadDir sorts by name
		}
		out[i] = sf
	}
	for i := range l.Steps {
		if !onCluster(&l.Steps[i]) {
			continue
		}
		sf := out[i]
		switch {
		case sf.pass == "" && !sf.observe:
			w.t.Errorf("step %d (%s) needs %s (or %s if it only observes the cluster)", i+1, l.Steps[i].Title,
				filepath.Join(w.dir, fmt.Sprintf("%02d.pass.yaml", i+1)), filepath.Join(w.dir, fmt.Sprintf("%02d.observe.yaml", i+1)))
		case sf.pass != "" && sf.observe:
			w.t.Errorf("step %d (%s) has both a passing state and an observation note; keep one", i+1, l.Steps[i].Title)
		}
	}
	if w.t.Failed() {
		w.t.FailNow()
	}
	return out
}

func (w *walker) load(path string) spec {
	raw, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatal(err)
	}
	if strings.Contains(string(raw), "# may-pass:") {
		w.t.Fatalf("%s: may-pass is gone: every check fails before the step; a guard that legitimately passes there is named in the step's pass file with # guard: N why (see testdata/README.md)", path)
	}
	text := w.expand(string(raw), 0)
	sp := spec{objects: text, guards: map[int]string{}}
	for _, m := range deleteRe.FindAllStringSubmatch(text, -1) {
		r := ref{apiVersion: m[2], kind: m[3], name: m[4]}
		if ns, name, ok := strings.Cut(m[4], "/"); ok {
			r.ns, r.name = ns, name
		}
		if m[1] == "delete" {
			sp.deletes = append(sp.deletes, r)
		} else {
			sp.restores = append(sp.restores, r)
		}
	}
	for _, m := range sendRe.FindAllStringSubmatch(string(raw), -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 || n > 1000 {
			w.t.Fatalf("%s: send: %q is not a count from 1 to 1000", path, m[1])
		}
		sp.sends = append(sp.sends, send{n, m[2]})
	}
	if m := restartRe.FindAllStringSubmatch(string(raw), -1); len(m) > 0 {
		if len(m) > 1 {
			w.t.Fatalf("%s: one # restart: a file", path)
		}
		sp.restart = m[0][1]
	}
	if m := atOnceRe.FindStringSubmatch(string(raw)); m != nil {
		sp.atOnce = m[1]
	}
	for _, m := range guardRe.FindAllStringSubmatch(string(raw), -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			w.t.Fatalf("%s: guard: %v", path, err)
		}
		sp.guards[n] = m[2]
	}
	return sp
}

func (w *walker) expand(text string, depth int) string {
	if depth > 5 {
		w.t.Fatal("fixtures: includes nested too deep")
	}
	return includeRe.ReplaceAllStringFunc(text, func(line string) string {
		name := includeRe.FindStringSubmatch(line)[1]
		b, err := os.ReadFile(filepath.Join("testdata", "common", name))
		if err != nil {
			w.t.Fatalf("fixtures: %v", err)
		}
		return "\n---\n" + w.expand(string(b), depth+1) + "\n---\n"
	})
}

// applyFile brings the cluster to the state a fixture describes: the
// file's deletions, then its restorations, then its objects.
func (w *walker) applyFile(path string) spec {
	w.t.Helper()
	defer slow(w.t, time.Now(), "apply %s", filepath.Base(path))
	sp := w.load(path)
	ctx, cancel := context.WithTimeout(w.t.Context(), 2*time.Minute)
	defer cancel()
	for _, r := range sp.deletes {
		w.save(ctx, r)
		if err := w.c.Delete(ctx, r.yaml()); err != nil {
			w.t.Fatalf("%s: delete %s: %v", path, r, err)
		}
	}
	for _, r := range sp.restores {
		y, ok := w.saved[r.String()]
		if !ok {
			w.t.Fatalf("%s: restore %s: it was never deleted by a fixture", path, r)
		}
		if err := w.c.Apply(ctx, y); err != nil {
			w.t.Fatalf("%s: restore %s: %v", path, r, err)
		}
		delete(w.saved, r.String())
		if r.kind == "CustomResourceDefinition" {
			w.waitServed(ctx, path, y)
		}
	}
	objs, err := testcluster.Decode(sp.objects)
	if err != nil {
		w.t.Fatalf("%s: %v", path, err)
	}
	if len(objs) > 0 {
		if err := w.c.Apply(ctx, sp.objects); err != nil {
			w.t.Fatalf("%s: %v", path, err)
		}
	}
	for _, o := range objs {
		w.created = append(w.created, ref{o.GetAPIVersion(), o.GetKind(), o.GetNamespace(), o.GetName()})
	}
	if len(sp.sends) > 0 {
		if err := w.lab.node.Settle(ctx); err != nil {
			w.t.Fatalf("%s: the simulated lab did not settle: %v", path, err)
		}
	}
	for _, sd := range sp.sends {
		// What the reader's curl loop does: the answers are not judged
		// here (the step's checks judge what the traffic left behind),
		// but a request that gets no answer at all is a broken fixture.
		for range sd.n {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.lab.traffic.Ingress+sd.path, nil)
			if err != nil {
				w.t.Fatalf("%s: send %s: %v", path, sd.path, err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				w.t.Fatalf("%s: send %s: %v", path, sd.path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	return sp
}

// save remembers an object before a fixture deletes it, so that a later
// fixture (or the reset) can put it back. Only objects the fixtures did
// not create themselves need this, such as the CRDs the harness installs.
func (w *walker) save(ctx context.Context, r ref) {
	for _, c := range w.created {
		if c == r {
			return // the fixtures made it; including their file again brings it back
		}
	}
	gv, err := schema.ParseGroupVersion(r.apiVersion)
	if err != nil {
		w.t.Fatalf("delete %s: %v", r, err)
	}
	m, err := w.mapper.RESTMapping(gv.WithKind(r.kind).GroupKind(), gv.Version)
	if err != nil {
		w.t.Fatalf("delete %s: %v", r, err)
	}
	var ri dynamic.ResourceInterface = w.dyn.Resource(m.Resource)
	if r.ns != "" {
		ri = w.dyn.Resource(m.Resource).Namespace(r.ns)
	}
	u, err := ri.Get(ctx, r.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		w.t.Fatalf("delete %s: %v", r, err)
	}
	clean(u)
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, dup := w.saved[r.String()]; !dup {
		w.saved[r.String()] = string(b)
	}
}

// waitServed waits until a restored CRD's resource answers a list: the
// API server serves a re-created CRD a moment after it is Established.
func (w *walker) waitServed(ctx context.Context, path, crdYAML string) {
	var crd struct {
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Plural string `json:"plural"`
			} `json:"names"`
			Versions []struct {
				Name    string `json:"name"`
				Storage bool   `json:"storage"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(crdYAML), &crd); err != nil {
		w.t.Fatalf("%s: %v", path, err)
	}
	for _, v := range crd.Spec.Versions {
		if !v.Storage {
			continue
		}
		gvr := schema.GroupVersionResource{Group: crd.Spec.Group, Version: v.Name, Resource: crd.Spec.Names.Plural}
		poll(w.t, gvr.String()+" to be served again", func() (bool, string) {
			_, err := w.dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
			if err != nil {
				return false, err.Error()
			}
			return true, ""
		})
	}
}

func clean(u *unstructured.Unstructured) {
	for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(u.Object, "status")
}

// reset deletes what the lesson's fixtures created and restores what
// they deleted, so the next lesson starts from the harness's cluster.
func (w *walker) reset() {
	defer slow(w.t, time.Now(), "reset")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seen := map[string]bool{}
	var nss, others []string
	for i := len(w.created) - 1; i >= 0; i-- {
		r := w.created[i]
		if r.ns != "" && !harnessNamespace(r.ns) {
			// Apply creates a missing namespace, so every namespace an
			// object went to is the fixtures' to remove. Objects in the
			// cluster's own namespaces (istio-cni's DaemonSet lives in
			// kube-system) are removed one by one instead.
			r = ref{apiVersion: "v1", kind: "Namespace", name: r.ns}
		}
		if seen[r.String()] {
			continue
		}
		seen[r.String()] = true
		switch {
		case r.kind == "Namespace" && harnessNamespace(r.name):
			w.t.Errorf("reset: fixtures must not put objects in namespace %s, which the walk cannot remove", r.name)
		case r.kind == "Namespace":
			nss = append(nss, r.yaml())
		default:
			others = append(others, r.yaml())
		}
	}
	// Namespaced objects go with their namespaces.
	if err := w.c.Delete(ctx, strings.Join(append(others, nss...), "\n---\n")); err != nil {
		w.t.Errorf("reset: %v", err)
	}
	for key, y := range w.saved {
		if err := w.c.Apply(ctx, y); err != nil {
			w.t.Errorf("reset: restore %s: %v", key, err)
		}
	}
}

// harnessNamespace reports whether a namespace belongs to the cluster
// itself, so the walk may not delete it.
func harnessNamespace(ns string) bool { return ns == "default" || strings.HasPrefix(ns, "kube-") }

// TestOfflineTrafficSteps: a reader without a cluster can read every
// step that sends traffic and move past it with an explicit skip, which
// is recorded as skipped, not done; next alone does not let them through.
func TestOfflineTrafficSteps(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range all {
		for i := range l.Steps {
			step := &l.Steps[i]
			acts := false
			for _, c := range step.Checks {
				if b, _ := c.Bind(); b.Check != nil && b.Check.Acts != "" {
					acts = true
				}
			}
			if !acts {
				continue
			}
			n++
			sv := &saves{}
			m := tui.New(tui.Options{
				Lessons: []*lessons.Lesson{l}, Lesson: l.ID, Step: i + 1,
				NoColor: true, Context: "none", Progress: progress.New("none"), Save: sv.save,
				Connect: func(context.Context) (checks.Runner, error) { return nil, errors.New("no cluster in this test") },
			})
			s := startScreen(t, m, 120, 40)
			s.waitText("Offline")
			// A long title is cut short in the sidebar, and the first step's
			// page opens on the lesson's introduction, so the status line is
			// where the step is named in full.
			s.waitText(fmt.Sprintf("Lesson %s · step %d/%d", strings.ToUpper(l.ID), i+1, len(l.Steps)))
			s.press("n")
			s.waitText("not checked (offline)")
			if got := sv.current(l.ID); got != step.Anchor {
				t.Fatalf("lesson %s step %d: next moved an offline reader to %q", l.ID, i+1, got)
			}
			s.press("x")
			s.waitText("Skip this step?")
			s.press("y")
			s.waitStatus(sv, l.ID, step.Anchor, progress.Skipped)
		}
	}
	if n == 0 {
		t.Fatal("no step of any lesson sends traffic; this test would prove nothing")
	}
}
