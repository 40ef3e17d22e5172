package fakelab

// The chapter 8 signals on the lesson's own fixtures (lessons/testdata/
// common/chapter-08*.yaml): each behaviour shows in one state and not in
// another, the difference made by the objects alone.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// common is where the lessons' shared fixtures are.
var common = filepath.Join("..", "..", "..", "lessons", "testdata", "common")

// chapter8 is the lab of lesson fixtures from lessons/testdata/common,
// with their includes, followed by extra documents.
func chapter8(t *testing.T, files []string, extra ...string) *Sim {
	t.Helper()
	docs, err := Fixtures(common, files...)
	if err != nil {
		t.Fatal(err)
	}
	return simOf(t, 8, append([]string{docs}, extra...)...)
}

// telemetryFixed is lesson 8's fix of share-istio's Telemetry (quoted
// tag overrides), tracing with the sampling percentage given.
func telemetryFixed(t *testing.T, sampling int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(common, "chapter-08-telemetry-fixed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const full = "randomSamplingPercentage: 100"
	if !strings.Contains(string(b), full) {
		t.Fatalf("chapter-08-telemetry-fixed.yaml no longer says %q", full)
	}
	return strings.Replace(string(b), full, fmt.Sprintf("randomSamplingPercentage: %d", sampling), 1)
}

var (
	lab8      = []string{"chapter-08.yaml"}
	lab8Logs  = []string{"chapter-08.yaml", "chapter-08-loki.yaml", "chapter-08-alloy.yaml"}
	lab8Trace = []string{"chapter-08.yaml", "chapter-08-tempo.yaml", "chapter-08-otel.yaml"}
	hex32     = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// inboundLine finds productpage's inbound access-log line for path.
func inboundLine(t *testing.T, s *Sim, path string) map[string]any {
	t.Helper()
	for _, l := range s.AccessLog(podOf(s, "productpage")) {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["direction"] == "inbound" && m["path"] == path {
			return m
		}
	}
	t.Fatalf("no inbound line for %s in productpage's log: %q", path, s.AccessLog(podOf(s, "productpage")))
	return nil
}

func TestAccessLogFollowsTelemetry(t *testing.T) {
	s := chapter8(t, lab8Trace)
	send(s, "/productpage?n=1", 1, nil)
	m := inboundLine(t, s, "/productpage?n=1")
	if id, _ := m["trace_id"].(string); !hex32.MatchString(id) {
		t.Errorf("inbound line without a trace ID: %v", m)
	}
	if m["response_code"] != float64(200) || m["message"] != "Inbound communication received successfully" {
		t.Errorf("inbound line not in envoy-inbound-stdout's format: %v", m)
	}
	// The calls productpage makes are logged with the outbound provider.
	out := 0
	for _, l := range s.AccessLog(podOf(s, "productpage")) {
		if strings.Contains(l, `"direction":"outbound"`) && strings.Contains(l, "outbound|9080|") {
			out++
		}
	}
	if out != 2 {
		t.Errorf("productpage's outbound lines: %d, want 2 (details and reviews)", out)
	}

	// Without the Telemetry the mesh's default provider envoy-stdout
	// logs both directions, with no direction field; without tracing
	// (enableTracing off, no tracing provider) the trace ID is null.
	w := mustWorld(t, chapter8(t, lab8))
	w.Mesh.EnableTracing, w.Mesh.DefaultProviders.Tracing, w.Telemetries = false, nil, nil
	s = NewSim(Static(w), Options{Seed: 8, Scale: 0.01})
	send(s, "/productpage?n=2", 1, nil)
	lines := s.AccessLog(podOf(s, "productpage"))
	if len(lines) == 0 || strings.Contains(strings.Join(lines, "\n"), "direction") || !strings.Contains(lines[0], `"trace_id":null`) {
		t.Errorf("default provider, no tracing: %q", lines)
	}

	// A Telemetry that disables access logging for the namespace.
	s = chapter8(t, lab8, `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: bookinfo, namespace: bookinfo}
spec:
  accessLogging: [{disabled: true}]
`)
	send(s, "/productpage", 1, nil)
	if l := s.AccessLog(podOf(s, "productpage")); len(l) != 0 {
		t.Errorf("logging disabled, yet: %q", l)
	}
}

// TestTracerNeedsItsProvider: istiod gives the proxies a tracer only
// when it finds the tracing provider's service in its registry, so in
// the chapter 8 lab no line carries a trace ID until the collector's
// Service exists (README step 19), and none does when the provider the
// mesh config names for tracing is not defined.
func TestTracerNeedsItsProvider(t *testing.T) {
	traceID := func(s *Sim, path string) any {
		send(s, path, 1, nil)
		return inboundLine(t, s, path)["trace_id"]
	}
	if id, _ := traceID(chapter8(t, []string{"chapter-08.yaml", "chapter-08-otel.yaml"}), "/productpage?t=1").(string); !hex32.MatchString(id) {
		t.Errorf("collector installed: trace_id %q, want 32 hex digits", id)
	}
	for name, files := range map[string][]string{
		"lab up to Kiali":     lab8,
		"Loki and Alloy only": lab8Logs,
		"Tempo only":          {"chapter-08.yaml", "chapter-08-tempo.yaml"},
	} {
		if id := traceID(chapter8(t, files), "/productpage?t=2"); id != nil {
			t.Errorf("%s (no collector Service): trace_id %v, want null", name, id)
		}
	}
	// The collector's Service in a namespace istiod does not watch.
	w := mustWorld(t, chapter8(t, []string{"chapter-08.yaml", "chapter-08-otel.yaml"}))
	delete(w.Namespaces["opentelemetry-collector"], "istio.io/rev")
	if id := traceID(NewSim(Static(w), Options{Seed: 8, Scale: 0.01}), "/productpage?t=3"); id != nil {
		t.Errorf("collector outside the discovery selectors: trace_id %v, want null", id)
	}
	// The default tracing provider names no extensionProvider.
	w = mustWorld(t, chapter8(t, []string{"chapter-08.yaml", "chapter-08-otel.yaml"}))
	w.Mesh.DefaultProviders.Tracing = []string{"zipkin-typo"}
	for _, tel := range w.Telemetries {
		tel.Spec.Tracing = nil
	}
	if id := traceID(NewSim(Static(w), Options{Seed: 8, Scale: 0.01}), "/productpage?t=4"); id != nil {
		t.Errorf("undefined provider: trace_id %v, want null", id)
	}
}

func TestTagOverridesAreCEL(t *testing.T) {
	query := `sum(istio_requests_total{reporter="destination",destination_workload="productpage-v2",system_name="istio-demo",system_environment="dev"})`
	s := chapter8(t, lab8)
	send(s, "/productpage", 3, nil)
	if got, _ := s.Query(query); len(got) != 0 {
		t.Errorf("the lab's bare values gave a literal label: %v", got)
	}
	if got, _ := s.Query(`sum(istio_requests_total{reporter="destination",destination_workload="productpage-v2",system_name="unknown"})`); len(got) != 1 || got[0].Value != 3 {
		t.Errorf("the lab's bare values should report unknown: %v", got)
	}
	s = chapter8(t, lab8, telemetryFixed(t, 100))
	send(s, "/productpage", 3, nil)
	if got, _ := s.Query(query); len(got) != 1 || got[0].Value != 3 {
		t.Errorf("quoted CEL strings: %v", got)
	}
	// The collector's Telemetry turns its metrics off.
	if on, _, _ := mustWorld(t, chapter8(t, lab8Trace)).metricsFor(&Pod{Namespace: "opentelemetry-collector"}, "SERVER"); on {
		t.Error("the collector's proxy reports metrics despite its Telemetry")
	}
}

func mustWorld(t *testing.T, s *Sim) *World {
	t.Helper()
	w, err := s.world()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestTracesReachTempo(t *testing.T) {
	traceOf := func(s *Sim, path string) string {
		id, _ := inboundLine(t, s, path)["trace_id"].(string)
		return id
	}
	// The full pipeline: productpage's trace is in Tempo, with the spans
	// of productpage, details and reviews (the gateway reports none).
	s := chapter8(t, lab8Trace)
	send(s, "/productpage?n=1", 1, nil)
	id := traceOf(s, "/productpage?n=1")
	spans := s.Trace(id)
	services := map[string]bool{}
	for _, sp := range spans {
		services[sp.Service] = true
	}
	if !services["productpage.bookinfo"] || !services["reviews.bookinfo"] || services["istio-ingressgateway.istio-ingress"] {
		t.Errorf("trace %s in Tempo: %v", id, services)
	}
	// Tempo's API serves it.
	srv := httptest.NewServer(s.TempoHandler())
	defer srv.Close()
	if r, err := http.Get(srv.URL + "/api/traces/" + id); err != nil || r.StatusCode != 200 {
		t.Errorf("Tempo API: %v %v", r, err)
	}
	if r, err := http.Get(srv.URL + "/api/traces/0123456789abcdef0123456789abcdef"); err != nil || r.StatusCode != 404 {
		t.Errorf("Tempo API, unknown trace: %v %v", r, err)
	}

	cases := []struct {
		name  string
		files []string
		extra []string
	}{
		{"no collector", []string{"chapter-08.yaml", "chapter-08-tempo.yaml"}, nil},
		{"no Tempo", []string{"chapter-08.yaml", "chapter-08-otel.yaml"}, nil},
		{"sampling 0", lab8Trace, []string{telemetryFixed(t, 0)}},
		{"egress gateway down", lab8Trace, []string{`apiVersion: v1
kind: Pod
metadata: {name: istio-egressgateway-5d7f8b9c6d-m4x7q, namespace: istio-egress, labels: {app: istio-egressgateway, istio: egressgateway}}
spec: {containers: [{name: istio-proxy, image: proxyv2}]}
status: {phase: Pending}`}},
		{"collector exports elsewhere", lab8Trace, []string{`apiVersion: v1
kind: ConfigMap
metadata: {name: opentelemetry-collector, namespace: opentelemetry-collector}
data:
  relay: |
    exporters: {debug: {}}
    receivers: {otlp: {protocols: {grpc: {}}}}
    service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}`}},
	}
	for _, c := range cases {
		s := chapter8(t, c.files, c.extra...)
		send(s, "/productpage?n=2", 1, nil)
		if id := traceOf(s, "/productpage?n=2"); len(s.Trace(id)) != 0 {
			t.Errorf("%s: Tempo holds trace %s", c.name, id)
		}
	}
}

func TestLogsReachLoki(t *testing.T) {
	q := `{namespace="bookinfo", container="istio-proxy", cluster="istio-demo"} |= "n=7"`
	s := chapter8(t, lab8Logs)
	send(s, "/productpage?n=7", 1, nil)
	got, err := s.LokiQuery(q, time.Now().Add(-time.Minute), time.Now().Add(time.Minute), 100)
	if err != nil || len(got) == 0 {
		t.Fatalf("Loki: %v %v", got, err)
	}
	if got[0].labels["app"] == "" || got[0].labels["pod"] == "" {
		t.Errorf("labels: %v", got[0].labels)
	}
	srv := httptest.NewServer(s.LokiHandler())
	defer srv.Close()
	r, err := http.Get(srv.URL + "/loki/api/v1/query_range?since=5m&query=" + strings.NewReplacer(" ", "%20", `"`, "%22", "{", "%7B", "}", "%7D", "|", "%7C", "=", "%3D").Replace(q))
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("Loki API: %v %v", r, err)
	}
	if r, _ := http.Get(srv.URL + "/loki/api/v1/query_range?query=sum(rate(x))"); r.StatusCode != 400 {
		t.Errorf("unsupported LogQL answered %d", r.StatusCode)
	}
	for name, files := range map[string][]string{
		"no Alloy": {"chapter-08.yaml", "chapter-08-loki.yaml"},
		"no Loki":  {"chapter-08.yaml", "chapter-08-alloy.yaml"},
	} {
		s := chapter8(t, files)
		send(s, "/productpage?n=7", 1, nil)
		if got, _ := s.LokiQuery(q, time.Now().Add(-time.Minute), time.Now().Add(time.Minute), 100); len(got) != 0 {
			t.Errorf("%s: Loki holds %d lines", name, len(got))
		}
	}
}

// TestFollowRates measures what lesson 8's follow-request gates see, one
// request at a time, 200 requests in each state: how often a request's
// trace reaches Tempo and its line reaches Loki. The figures are in
// lessons/testdata/8/README.md; with sampling at 100% nothing in the
// simulated lab is random, and with 10% about one trace in ten is kept.
func TestFollowRates(t *testing.T) {
	const n = 200
	rate := func(s *Sim, tempo bool) float64 {
		hit := 0
		for i := 0; i < n; i++ {
			path := "/productpage?rate=" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Now().Format("150405.000000000")
			send(s, path, 1, nil)
			if tempo {
				id, _ := inboundLine(t, s, path)["trace_id"].(string)
				if len(s.Trace(id)) > 0 {
					hit++
				}
				continue
			}
			got, _ := s.LokiQuery(`{namespace="bookinfo", container="istio-proxy"} |= "`+path+`"`, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 1)
			if len(got) > 0 {
				hit++
			}
		}
		return float64(hit) / n
	}
	ten := telemetryFixed(t, 10)
	cases := []struct {
		name     string
		s        *Sim
		tempo    bool
		min, max float64
	}{
		{"step 4 right: Loki and Alloy", chapter8(t, lab8Logs), false, 1, 1},
		{"step 4 wrong: no Alloy", chapter8(t, []string{"chapter-08.yaml", "chapter-08-loki.yaml"}), false, 0, 0},
		{"step 5 right: Tempo and the collector, sampling 100", chapter8(t, lab8Trace), true, 1, 1},
		{"step 5 wrong: no collector", chapter8(t, []string{"chapter-08.yaml", "chapter-08-tempo.yaml"}), true, 0, 0},
		{"step 5 wrong: sampling 0", chapter8(t, lab8Trace, telemetryFixed(t, 0)), true, 0, 0},
		{"sampling 10 (not a lesson state)", chapter8(t, lab8Trace, ten), true, 0.04, 0.18},
	}
	for _, c := range cases {
		got := rate(c.s, c.tempo)
		t.Logf("%s: %.1f%% of %d requests found", c.name, 100*got, n)
		if got < c.min || got > c.max {
			t.Errorf("%s: %.3f of requests found, want %.2f to %.2f", c.name, got, c.min, c.max)
		}
	}
}
