package catalogue

// follow-request and request-rate on a real API server with the
// simulated chapter 8 lab behind it (internal/traffic/fakelab): the
// lesson's own fixtures (lessons/testdata/common/chapter-08*.yaml),
// pods/log through the simulated node's kubelet, Loki, Tempo and
// Prometheus through the API server's service proxy, the ingress through
// --ingress. Each state of the lab changes only objects; the checks must
// fail, saying why, until the part they prove is there.

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
)

// simLab starts a private API server (the lab uses fixed namespaces and
// a mesh config every other test would see) with the simulated lab
// behind it, and returns an checks.Env whose --ingress leads to the lab's
// ingress gateway.
func simLab(t *testing.T) (*testcluster.Cluster, *emitEnv) {
	t.Helper()
	c, err := testcluster.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	ctx, cancel := context.WithCancel(context.Background())
	live, err := fakelab.Watch(ctx, c.Config)
	if err != nil {
		t.Fatal(err)
	}
	sim := fakelab.NewSim(live.Source(), fakelab.Options{Seed: 3})
	ing := httptest.NewServer(sim.IngressHandler(9080))
	pn := testcluster.SharedPodNet(t)
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	// The node's kubelet serves pods/log from the simulation.
	kubelet := c.Kubelet(t, pn, "observe-node")
	node := &fakelab.Node{Kube: kube, Sim: sim, NewIP: pn.AddIP, ReleaseIP: pn.ReleaseIP, Listen: pn.ListenAt, NodeName: kubelet.Node}
	kubelet.Source = testcluster.LogsFrom(node.Log)
	done := make(chan struct{})
	go func() { node.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; ing.Close() })
	env := newEmitEnv(trafficClients(t, c.Config))
	env.Settings = checks.TrafficSettings{Ingress: ing.URL}
	settle = func() {
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		if err := node.Settle(sctx); err != nil {
			t.Fatal(err)
		}
	}
	return c, env
}

var settle func()

func applyLab(t *testing.T, c *testcluster.Cluster, files ...string) {
	t.Helper()
	var docs, names []string
	for _, f := range files {
		if strings.Contains(f, "\n") {
			docs = append(docs, f) // a document of the test's own
			continue
		}
		names = append(names, f)
	}
	// The lesson's fixtures, from lessons/testdata/common with their
	// includes, before the test's own documents.
	lab, err := fakelab.Fixtures(filepath.Join("..", "..", "lessons", "testdata", "common"), names...)
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyT(t, strings.Join(append([]string{lab}, docs...), "\n---\n"))
	settle()
}

func TestFollowRequestOnCluster(t *testing.T) {
	c, env := simLab(t)
	followPoll = 50 * time.Millisecond
	defer func() { followPoll = time.Second }()
	run := func(in string) checks.Result {
		return runTraffic(t, env, "follow-request", map[string]string{"in": in, "within": "2s"})
	}
	// Where the proxies cannot trace yet, as lesson 8's step 4 asks.
	untraced := func(in string) checks.Result {
		return runTraffic(t, env, "follow-request", map[string]string{"in": in, "within": "2s", "trace-id": "false"})
	}
	want := func(r checks.Result, v checks.Verdict, code string, cond string) {
		t.Helper()
		if r.Verdict != v || r.Code != code || !strings.Contains(explain(r), cond) {
			t.Errorf("want %s %s mentioning %q:\n%s", v, code, cond, explain(r))
		}
	}
	// The lab up to Kiali: the line is in productpage's log, but
	// without a trace ID: istiod gives the proxies no tracer while the
	// collector's Service does not exist. No Loki and no Tempo yet.
	applyLab(t, c, "chapter-08.yaml")
	want(run("log"), checks.Fail, CodeFollowNoTraceID, "collector")
	want(untraced("log"), checks.Pass, CodeFollowOK, "trace_id none")
	want(untraced("log,loki"), checks.Fail, CodeFollowNoLoki, "grafana-loki")
	want(run("log,tempo"), checks.Fail, CodeFollowNoTraceID, "trace_id none")

	// Loki without Alloy: nothing ships the logs.
	applyLab(t, c, "chapter-08-loki.yaml")
	want(untraced("log,loki"), checks.Fail, CodeFollowNotInLoki, "Alloy")
	applyLab(t, c, "chapter-08-alloy.yaml")
	want(untraced("log,loki"), checks.Pass, CodeFollowOK, "cluster=istio-demo")

	// Tempo without the collector: still no tracer, so no trace ID.
	applyLab(t, c, "chapter-08-tempo.yaml")
	want(run("log,tempo"), checks.Fail, CodeFollowNoTraceID, "collector")
	applyLab(t, c, "chapter-08-otel.yaml")
	want(run("log"), checks.Pass, CodeFollowOK, "trace_id")
	want(run("log,loki,tempo"), checks.Pass, CodeFollowOK, "productpage.bookinfo")

	// Sampling nothing: the trace ID is still logged, Tempo has no trace.
	applyLab(t, c, zeroSampling)
	want(run("log,tempo"), checks.Fail, CodeFollowNotInTempo, "randomSamplingPercentage")

	// A Telemetry that turns access logging off for bookinfo.
	applyLab(t, c, `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: bookinfo, namespace: bookinfo}
spec:
  accessLogging: [{disabled: true}]
`)
	want(run("log"), checks.Fail, CodeFollowNoLine, "access-log")

	// Offline.
	off := newEmitEnv(nil)
	if r := runTraffic(t, off, "follow-request", map[string]string{}); r.Verdict != checks.Error || r.Code != CodeProbeOffline {
		t.Errorf("offline: %s", explain(r))
	}
}

const zeroSampling = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: bookinfo, namespace: bookinfo}
spec:
  accessLogging:
  - {match: {mode: SERVER}, providers: [{name: envoy-inbound-stdout}]}
  - {match: {mode: CLIENT}, providers: [{name: envoy-outbound-stdout}]}
  tracing:
  - providers: [{name: opentelemetry-grpc}]
    randomSamplingPercentage: 0
`

func TestRequestRateOnCluster(t *testing.T) {
	c, env := simLab(t)
	rateEvery = 50 * time.Millisecond
	defer func() { rateEvery = 2 * time.Second }()
	query := `sum by (destination_workload) (rate(istio_requests_total{reporter="destination",destination_workload_namespace="bookinfo",system_name="istio-demo"}[5m]))`
	run := func() checks.Result {
		return runTraffic(t, env, "request-rate", map[string]string{"query": query, "chart-label": "destination_workload",
			"count": "20", "within": "30s",
			"settled-by": `sum(istio_requests_total{reporter="destination",destination_workload="productpage-v2"})`})
	}
	// Without Prometheus: said before any traffic is sent.
	applyLab(t, c, "chapter-08.yaml", `apiVersion: v1
kind: Service
metadata: {name: prometheus-server, namespace: prometheus}
spec: {selector: {app.kubernetes.io/name: nothing}, ports: [{name: http, port: 9090}]}`)
	if r := run(); r.Verdict != checks.Error || r.Code != CodePromUnavailable {
		t.Errorf("Prometheus with no pod: %s", explain(r))
	}
	// The lab as it comes: the bare tag values report unknown, so no
	// series carries system_name="istio-demo".
	applyLab(t, c, "prometheus.yaml")
	r := run()
	if r.Verdict != checks.Fail || r.Code != CodeMetricNoData || len(r.Bars) != 0 || !strings.Contains(explain(r), "Prometheus scraped the requests") {
		t.Errorf("the lab's tag overrides (judged once Prometheus had scraped the requests): %s %v", explain(r), r.Bars)
	}
	// Quoted, they are CEL strings: one bar per workload that received
	// the requests, live while they go.
	applyLab(t, c, "chapter-08-telemetry-fixed.yaml")
	env.mu.Lock()
	env.emitted = nil
	env.mu.Unlock()
	r = run()
	if r.Verdict != checks.Pass || r.Code != CodeMetricOK {
		t.Fatalf("quoted tag overrides: %s", explain(r))
	}
	labels := map[string]int{}
	for _, b := range r.Bars {
		labels[b.Label] = b.Value
	}
	if labels["productpage-v2"] <= 0 || labels["reviews-v4"] <= 0 || labels["details-v3"] <= 0 {
		t.Errorf("bars: %v", r.Bars)
	}
	env.mu.Lock()
	live := 0
	for _, e := range env.emitted {
		if len(e.Bars) > 0 && strings.Contains(e.Progress, "requests") {
			live++
		}
	}
	env.mu.Unlock()
	if live == 0 {
		t.Error("no chart was emitted while the check ran")
	}
}
