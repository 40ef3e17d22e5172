package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// The engine's tests use checks of their own, bound directly rather than
// registered, so the registry (and every test that walks it) holds only
// the real checks.

var cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// cmValue passes when ConfigMap name in namespace has data.v == value.
var cmValue = &checks.Check{
	Name:  "test-configmap-value",
	Watch: true,
	Params: []checks.ParamSpec{
		{Name: "namespace", Required: true}, {Name: "name", Default: "cm"}, {Name: "value", Required: true},
		{Name: "resource", Default: "configmaps"}, {Name: "group"},
	},
	Inputs: func(p checks.Params) []checks.Input {
		return []checks.Input{{GVR: schema.GroupVersionResource{Group: p["group"], Version: "v1", Resource: p["resource"]}, Namespace: p["namespace"]}}
	},
	Eval: func(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
		in := checks.Input{GVR: schema.GroupVersionResource{Group: p["group"], Version: "v1", Resource: p["resource"]}, Namespace: p["namespace"]}
		items, err := env.List(ctx, in)
		if err != nil {
			return checks.ErrorResult(err)
		}
		got := "(absent)"
		for _, u := range items {
			if u.GetName() == p["name"] {
				got, _, _ = unstructured.NestedString(u.Object, "data", "v")
			}
		}
		c := checks.Condition{Name: "data.v", OK: got == p["value"], Observed: got, Expected: p["value"], Fix: "set it"}
		if c.OK {
			return checks.Result{Verdict: checks.Pass, Code: "T1", Summary: "value is " + got, Conditions: []checks.Condition{c}}
		}
		return checks.Result{Verdict: checks.Fail, Code: "T1", Summary: "value is " + got, Conditions: []checks.Condition{c}}
	},
}

func bind(t testing.TB, c *checks.Check, key string, raw map[string]string) checks.Bound {
	t.Helper()
	p, err := c.Validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return checks.Bound{Key: key, Check: c, Params: p}
}

func newTestEngine(t testing.TB, cfg *rest.Config) *Engine {
	t.Helper()
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(&checks.Clients{Kube: kube, Dynamic: dyn, Config: cfg}, checks.ClusterInfo{Context: "testcluster", Server: cfg.Host})
	e.RetryNotServed = 200 * time.Millisecond
	return e
}

// feed is a Watch's updates as a test reads them: updates for other keys
// wait their turn rather than being dropped.
type feed struct {
	ch   chan checks.Update
	held []checks.Update
}

// watching runs Watch in the background and returns its updates, and a
// stop function that cancels it and waits until Watch has returned.
func watching(t testing.TB, e *Engine, set ...checks.Bound) (*feed, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &feed{ch: make(chan checks.Update, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Watch(ctx, set, f.ch)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return f, stop
}

// await reads updates until one for key satisfies ok. The deadline only
// keeps a broken engine from hanging the test run; it is not a speed goal.
func await(t testing.TB, f *feed, key string, what string, ok func(checks.Result) bool) checks.Result {
	t.Helper()
	var seen []string
	check := func(u checks.Update) bool {
		seen = append(seen, fmt.Sprintf("%s %s %q", u.Result.Verdict, u.Result.Code, u.Result.Summary))
		return ok(u.Result)
	}
	for i := 0; i < len(f.held); i++ {
		if u := f.held[i]; u.Key == key {
			f.held = append(f.held[:i], f.held[i+1:]...)
			i--
			if check(u) {
				return u.Result
			}
		}
	}
	deadline := time.After(60 * time.Second)
	for {
		select {
		case u := <-f.ch:
			if u.Key != key {
				f.held = append(f.held, u)
				continue
			}
			if check(u) {
				return u.Result
			}
		case <-deadline:
			t.Fatalf("no result for %s that is %s; saw:\n  %s", key, what, strings.Join(seen, "\n  "))
		}
	}
}

func verdict(v checks.Verdict) func(checks.Result) bool {
	return func(r checks.Result) bool { return r.Verdict == v }
}

func setCM(t testing.TB, c *testcluster.Cluster, ns, value string) {
	t.Helper()
	err := c.Apply(context.Background(), fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: %s}\ndata: {v: %q}\n", ns, value))
	if err != nil {
		t.Fatal(err)
	}
}

func TestEngineReevaluatesOnChange(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	setCM(t, c, ns, "a")
	e := newTestEngine(t, c.Config)
	b := bind(t, cmValue, "k", map[string]string{"namespace": ns, "value": "b"})
	out, _ := watching(t, e, b)

	r := await(t, out, "k", "fail", verdict(checks.Fail))
	if r.Check != cmValue.Name || r.Params["namespace"] != ns || r.At.IsZero() {
		t.Errorf("result not filled in: %+v", r)
	}
	setCM(t, c, ns, "b")
	await(t, out, "k", "pass after the change", verdict(checks.Pass))
	if err := c.Delete(context.Background(), fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: %s}\n", ns)); err != nil {
		t.Fatal(err)
	}
	r = await(t, out, "k", "fail after the delete", verdict(checks.Fail))
	if r.Conditions[0].Observed != "(absent)" {
		t.Errorf("observed %q after delete", r.Conditions[0].Observed)
	}
}

// informerGoroutines counts goroutines running client-go's informer
// machinery (reflectors, processors, watch decoders).
func informerGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "k8s.io/client-go/tools/cache.") || strings.Contains(g, "k8s.io/apimachinery/pkg/watch.(*StreamWatcher)") {
			n++
		}
	}
	return n
}

func eventually(t testing.TB, what string, ok func() bool) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

func TestEngineStopsInformersWhenStepIsLeft(t *testing.T) {
	c := testcluster.Shared(t)
	ns1, ns2 := c.Namespace(t), c.Namespace(t)
	setCM(t, c, ns1, "x")
	e := newTestEngine(t, c.Config)
	before := informerGoroutines()

	a := bind(t, cmValue, "a", map[string]string{"namespace": ns1, "value": "x"})
	b := bind(t, cmValue, "b", map[string]string{"namespace": ns2, "value": "x"})
	out1, stop1 := watching(t, e, a, b)
	await(t, out1, "a", "pass", verdict(checks.Pass))
	await(t, out1, "b", "fail", verdict(checks.Fail))
	// A second Watch on an overlapping step shares the informer of ns1.
	out2, stop2 := watching(t, e, bind(t, cmValue, "a2", map[string]string{"namespace": ns1, "value": "x"}))
	await(t, out2, "a2", "pass", verdict(checks.Pass))
	if got := e.Informers(); len(got) != 2 {
		t.Fatalf("informers = %q, want one per namespace", got)
	}
	stop1()
	if got := e.Informers(); len(got) != 1 || !strings.Contains(got[0], ns1) {
		t.Fatalf("after leaving the first step, informers = %q, want only the shared one of %s", got, ns1)
	}
	stop2()
	if got := e.Informers(); len(got) != 0 {
		t.Fatalf("after leaving both steps, informers = %q", got)
	}
	eventually(t, "informer goroutines end", func() bool { return informerGoroutines() <= before })
}

func TestEngineRecheckResends(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	setCM(t, c, ns, "a")
	e := newTestEngine(t, c.Config)
	out, _ := watching(t, e, bind(t, cmValue, "k", map[string]string{"namespace": ns, "value": "a"}))
	first := await(t, out, "k", "pass", verdict(checks.Pass))
	e.Recheck()
	again := await(t, out, "k", "pass again", verdict(checks.Pass))
	if !again.At.After(first.At) {
		t.Errorf("recheck did not evaluate again: %v then %v", first.At, again.At)
	}
}

func TestEngineFlapProtection(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	setCM(t, c, ns, "a")
	e := newTestEngine(t, c.Config)
	e.PassInterval = 20 * time.Millisecond
	out, _ := watching(t, e, bind(t, cmValue, "k", map[string]string{"namespace": ns, "value": "a", "passes": "3"}))
	r := await(t, out, "k", "1/3 passes", verdict(checks.Pending))
	if r.Progress != "1/3 passes" || !strings.HasPrefix(r.Summary, "1/3 passes") {
		t.Errorf("first pass reported as %q / %q", r.Progress, r.Summary)
	}
	r = await(t, out, "k", "pending or pass", func(r checks.Result) bool { return r.Verdict != checks.Fail })
	if r.Progress != "2/3 passes" {
		t.Errorf("second evaluation: %s %q", r.Verdict, r.Progress)
	}
	await(t, out, "k", "pass after three passes", verdict(checks.Pass))

	// A failure resets the count.
	setCM(t, c, ns, "b")
	await(t, out, "k", "fail", verdict(checks.Fail))
	setCM(t, c, ns, "a")
	r = await(t, out, "k", "counting again", func(r checks.Result) bool { return r.Verdict != checks.Fail })
	if r.Verdict != checks.Pending || r.Progress != "1/3 passes" {
		t.Errorf("after a failure the count did not restart: %s %q", r.Verdict, r.Progress)
	}
}

var panicky = &checks.Check{
	Name:   "test-panics",
	Watch:  true,
	Params: []checks.ParamSpec{{Name: "namespace", Required: true}, {Name: "in", Type: checks.Bool, Default: "false"}},
	Inputs: func(p checks.Params) []checks.Input {
		if p.Bool("in") {
			var m map[string]int
			m["x"]++ // a nil-map write: a runtime panic, as a real bug would be
		}
		return []checks.Input{{GVR: cmGVR, Namespace: p["namespace"]}}
	},
	Eval: func(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
		if _, err := env.List(ctx, checks.Input{GVR: cmGVR, Namespace: p["namespace"]}); err != nil {
			return checks.ErrorResult(err)
		}
		var items []int
		_ = items[len(p["namespace"])] // index out of range
		return checks.Result{Verdict: checks.Pass}
	},
}

func TestEnginePanicIsThatChecksError(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	setCM(t, c, ns, "a")
	e := newTestEngine(t, c.Config)
	out, _ := watching(t, e,
		bind(t, panicky, "eval", map[string]string{"namespace": ns}),
		bind(t, panicky, "inputs", map[string]string{"namespace": ns, "in": "true"}),
		bind(t, cmValue, "fine", map[string]string{"namespace": ns, "value": "a"}),
	)
	for _, key := range []string{"eval", "inputs"} {
		r := await(t, out, key, "error", verdict(checks.Error))
		if r.Code != checks.CodePanic || len(r.Conditions) != 1 || !strings.Contains(r.Conditions[0].Observed, "engine_test.go:") {
			t.Errorf("%s: panic reported as %+v", key, r)
		}
	}
	await(t, out, "fine", "pass despite its neighbours", verdict(checks.Pass))
}

func TestEngineNotServedThenInstalled(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	group := strings.ReplaceAll(ns, "-", "") + ".example.com"
	e := newTestEngine(t, c.Config)
	out, _ := watching(t, e, bind(t, cmValue, "k", map[string]string{"namespace": ns, "value": "b", "resource": "widgets", "group": group}))
	r := await(t, out, "k", "error", verdict(checks.Error))
	if r.Code != checks.CodeNotServed || !strings.Contains(r.Summary, "widgets."+group+" is not served") {
		t.Errorf("not served reported as %s %q", r.Code, r.Summary)
	}
	crd := fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%[1]s}
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`, group)
	if err := c.Apply(context.Background(), crd); err != nil {
		t.Fatal(err)
	}
	// The CRD is picked up without a Recheck: the check now looks and
	// finds no widget.
	await(t, out, "k", "fail once the CRD is served", verdict(checks.Fail))
	if err := c.Apply(context.Background(), fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: cm, namespace: %s}\ndata: {v: b}\n", group, ns)); err != nil {
		t.Fatal(err)
	}
	await(t, out, "k", "pass", verdict(checks.Pass))
}

func TestEngineForbidden(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	e := newTestEngine(t, c.Impersonate("nobody"))
	out, _ := watching(t, e, bind(t, cmValue, "k", map[string]string{"namespace": ns, "value": "b"}))
	r := await(t, out, "k", "error", verdict(checks.Error))
	for _, want := range []string{"list", "configmaps", "namespace " + ns, `apiGroups: [""]`, `resources: ["configmaps"]`} {
		if !strings.Contains(r.Summary+r.Conditions[0].Fix, want) {
			t.Errorf("forbidden message lacks %q: %q / %q", want, r.Summary, r.Conditions[0].Fix)
		}
	}
	if r.Code != checks.CodeForbidden {
		t.Errorf("code %s", r.Code)
	}
	// Granting the permission and pressing r recovers.
	rbac := fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read-cm, namespace: %[1]s}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: nobody-reads-cm, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-cm}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: nobody}]
`, ns)
	if err := c.Apply(context.Background(), rbac); err != nil {
		t.Fatal(err)
	}
	e.Recheck()
	await(t, out, "k", "fail once allowed", verdict(checks.Fail))
}

func TestEngineRunOnce(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	setCM(t, c, ns, "a")
	e := newTestEngine(t, c.Config)
	acting := &checks.Check{Name: "test-acts", Acts: "sends one request", Eval: func(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
		env.Emit(checks.Result{Verdict: checks.Pending, Progress: "1/2"})
		return checks.Result{Verdict: checks.Pass, Summary: "done"}
	}}
	out := make(chan checks.Update, 4)
	r := e.Run(context.Background(), checks.Bound{Key: "x", Check: acting}, out)
	if r.Verdict != checks.Pass || r.Check != "test-acts" {
		t.Errorf("Run = %+v", r)
	}
	if u := <-out; u.Key != "x" || u.Result.Progress != "1/2" || u.Result.Check != "test-acts" {
		t.Errorf("emitted %+v", u)
	}
	rs := e.Once(context.Background(), []checks.Bound{
		bind(t, cmValue, "a", map[string]string{"namespace": ns, "value": "a"}),
		{Key: "b", Check: acting},
	}, func(checks.Bound) (bool, string) { return false, "pass --yes to allow it" })
	if rs[0].Verdict != checks.Pass || rs[1].Verdict != checks.Pending || rs[1].Code != checks.CodeNotRun || !strings.Contains(rs[1].Summary, "sends one request") {
		t.Errorf("Once = %+v", rs)
	}
}

// TestEngineReconnects stops the API server under a running Watch: the
// check reports that it is reconnecting, and recovers by itself once the
// server is back. It must not run beside other tests (it takes the shared
// server away), so it is not parallel.
func TestEngineReconnects(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	setCM(t, c, ns, "a")
	e := newTestEngine(t, c.Config)
	out, _ := watching(t, e, bind(t, cmValue, "k", map[string]string{"namespace": ns, "value": "b"}))
	await(t, out, "k", "fail", verdict(checks.Fail))

	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = c.StartAPIServer()
		}
	}()
	r := await(t, out, "k", "reconnecting", verdict(checks.Error))
	if !strings.HasPrefix(r.Summary, "reconnecting…") || r.Code != checks.CodeUnreachable {
		t.Errorf("while the server is down: %s %q", r.Code, r.Summary)
	}
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	await(t, out, "k", "fail again once back", verdict(checks.Fail))
	// Changes made after the restart are seen: the watch is live again.
	setCM(t, c, ns, "b")
	await(t, out, "k", "pass", verdict(checks.Pass))
}

// TestEngineWithoutClients: an engine with no connection reports every
// check as unable to look, rather than crashing.
func TestEngineWithoutClients(t *testing.T) {
	e := NewEngine(nil, checks.ClusterInfo{})
	f, stop := watching(t, e, bind(t, cmValue, "k", map[string]string{"namespace": "x", "value": "a"}))
	r := await(t, f, "k", "error", verdict(checks.Error))
	if r.Code != checks.CodeUnreachable || !strings.Contains(r.Summary, "not connected") {
		t.Errorf("%s %q", r.Code, r.Summary)
	}
	stop()
	if got := e.Informers(); len(got) != 0 {
		t.Errorf("informers left: %q", got)
	}
	if r := e.Run(context.Background(), bind(t, cmValue, "k", map[string]string{"namespace": "x", "value": "a"}), nil); r.Verdict != checks.Error {
		t.Errorf("Run offline: %+v", r)
	}
}

// sneaky declares the ConfigMaps of its namespace but reads its Secrets
// too, as a check that reaches beyond its declaration would.
var sneaky = &checks.Check{
	Name:   "test-reads-undeclared",
	Watch:  true,
	Params: []checks.ParamSpec{{Name: "namespace", Required: true}},
	Inputs: func(p checks.Params) []checks.Input {
		return []checks.Input{{GVR: cmGVR, Namespace: p["namespace"]}}
	},
	Eval: func(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
		if _, err := env.List(ctx, checks.Input{GVR: cmGVR, Namespace: p["namespace"]}); err != nil {
			return checks.ErrorResult(err)
		}
		secrets := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
		_, err := env.List(ctx, checks.Input{GVR: secrets, Namespace: p["namespace"]})
		if !errors.Is(err, checks.ErrUndeclared) {
			return checks.Result{Verdict: checks.Pass, Code: "T2", Summary: fmt.Sprintf("read an undeclared input (err %v)", err)}
		}
		return checks.ErrorResult(err)
	},
}

// TestUndeclaredInputIsRefused: Env.List refuses an input the check does
// not declare, with an error that says which, both when the check is
// evaluated once and when the engine watches it.
func TestUndeclaredInputIsRefused(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	setCM(t, c, ns, "a")
	b := bind(t, sneaky, "sneaky", map[string]string{"namespace": ns})
	refused := func(how string, r checks.Result) {
		t.Helper()
		if r.Verdict != checks.Error || r.Code != checks.CodeUndeclared || len(r.Conditions) != 1 ||
			!strings.Contains(r.Conditions[0].Observed, "secrets in "+ns) || !strings.Contains(r.Summary, "test-reads-undeclared") {
			t.Errorf("%s: an undeclared read gave %+v", how, r)
		}
	}
	refused("once", Evaluate(context.Background(), NewDirectEnv(clientsFor(t, c.Config), checks.ClusterInfo{}), b))

	e := newTestEngine(t, c.Config)
	out, _ := watching(t, e, b, bind(t, cmValue, "fine", map[string]string{"namespace": ns, "value": "a"}))
	refused("watched", await(t, out, "sneaky", "error", verdict(checks.Error)))
	await(t, out, "fine", "a declared read passes", verdict(checks.Pass))
}
