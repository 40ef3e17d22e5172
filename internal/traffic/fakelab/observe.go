package fakelab

// The three signals of the chapter 8 lab, produced by the same simulated
// requests and shaped by the objects, never by a switch in the
// simulator:
//
//   - access logs: each proxy writes one line per request with every
//     access-log provider the Telemetry API and the mesh config give it
//     for the direction (telemetry.go), in the provider's format: the
//     JSON labels of envoyFileAccessLog, with Envoy's command operators
//     filled in (%TRACE_ID% only where the proxy traces);
//   - traces: a proxy whose tracing is on takes part in the request's
//     trace; the first one decides, by its sampling percentage, whether
//     the trace is sampled; sampled spans go to the proxy's tracing
//     provider. After each request the spans are exported as the lab
//     does: to the OpenTelemetry collector the provider names, if it
//     runs, which sends them on with the exporters of its traces pipeline
//     (its ConfigMap's relay key) as a request through the mesh (the
//     lab's VirtualService takes it through the egress gateway) to Tempo,
//     which keeps what reaches it;
//   - Loki: a line a container writes reaches Loki when Alloy runs and
//     its configuration (config.alloy) writes to a Loki Service with a
//     running pod, labelled as the lab's Alloy labels it.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"
)

// traceCtx is one request's trace as it travels through the proxies.
type traceCtx struct {
	id      string // 32 hex digits
	decided bool   // a tracing proxy has made the sampling decision
	sampled bool
}

// span is one proxy's record of its part in a request.
type span struct {
	TraceID  string            `json:"traceId"`
	SpanID   string            `json:"spanId"`
	Name     string            `json:"name"`
	Kind     string            `json:"kind"` // SERVER or CLIENT
	Service  string            `json:"service"`
	Start    time.Time         `json:"start"`
	Attrs    map[string]string `json:"attributes,omitempty"`
	provider string            // host:port of the tracing provider
}

// lokiEntry is a line in Loki with its stream's labels.
type lokiEntry struct {
	labels map[string]string
	at     time.Time
	line   string
}

// observed holds the spans waiting to be exported, what Tempo keeps and
// what Loki keeps.
type observed struct {
	mu      sync.Mutex
	pending []span
	tempo   map[string][]span // trace ID -> spans
	loki    []lokiEntry
}

func (o *observed) init() {
	if o.tempo == nil {
		o.tempo = map[string][]span{}
	}
}

// hop is a proxy's part in a request's trace: it returns the trace ID the
// proxy logs ("" when it does not trace) and, for a sampled trace, queues
// its span for its provider.
func (s *Sim) hop(w *World, p *Pod, mode string, tc *traceCtx, name string, req Request) string {
	if tc == nil || p == nil {
		return ""
	}
	tr := w.tracingFor(p, mode)
	if !tr.on {
		return ""
	}
	if !tc.decided {
		tc.decided, tc.sampled = true, s.chance(tr.sampling)
	}
	if tc.sampled && tr.provider != nil {
		kind := "SERVER"
		if mode == "CLIENT" {
			kind = "CLIENT"
		}
		s.obs.mu.Lock()
		if len(s.obs.pending) < 10000 {
			s.obs.pending = append(s.obs.pending, span{TraceID: tc.id, SpanID: s.spanID(), Name: name, Kind: kind,
				Service: canonicalName(p), Start: s.opts.Now(), provider: fmt.Sprintf("%s:%d", tr.provider.Opentelemetry.Service, tr.provider.Opentelemetry.Port),
				Attrs: map[string]string{"component": "proxy", "http.method": method(req), "http.url.path": pathOnly(req.Path)}})
		}
		s.obs.mu.Unlock()
	}
	return tc.id
}

func (s *Sim) spanID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%016x", s.rng.Uint64())
}

// canonicalName is the service name a proxy gives its spans with the
// lab's tracingServiceName CANONICAL_NAME_AND_NAMESPACE.
func canonicalName(p *Pod) string {
	n := p.Labels["service.istio.io/canonical-name"]
	if n == "" {
		n = p.Labels["app"]
	}
	if n == "" {
		n = p.Workload
	}
	return n + "." + p.Namespace
}

// accessEvent is what a proxy knows about a request when it logs it.
type accessEvent struct {
	req      Request
	status   int
	flags    string
	cluster  string
	duration time.Duration
	trace    string // "" when the proxy does not trace
	// tcp: the proxy handled a TCP connection, not an HTTP request: no
	// request headers, protocol, response code or trace.
	tcp bool
}

// logAccess writes the request into the proxy's access log with each
// provider that applies to it in mode.
func (s *Sim) logAccess(w *World, p *Pod, key, mode string, ev accessEvent) {
	for _, pr := range w.accessLogs(p, mode) {
		s.writeLog(w, p, key, "istio-proxy", formatAccess(pr, ev, s.opts.Now()))
	}
}

// writeLog appends a line to a container's log and ships it to Loki when
// the lab's log pipeline runs.
func (s *Sim) writeLog(w *World, p *Pod, key, container, line string) {
	now := s.opts.Now()
	s.metrics.accessLog(key, line)
	if p == nil || !w.shipsLogs() {
		return
	}
	labels := map[string]string{"namespace": p.Namespace, "pod": p.Name, "container": container, "job": p.Namespace + "/" + container}
	if a := p.Labels["app"]; a != "" {
		labels["app"] = a
	}
	for k, v := range w.alloyStaticLabels() {
		labels[k] = v
	}
	s.obs.mu.Lock()
	defer s.obs.mu.Unlock()
	s.obs.loki = append(s.obs.loki, lokiEntry{labels: labels, at: now, line: line})
	if len(s.obs.loki) > 20000 {
		s.obs.loki = s.obs.loki[len(s.obs.loki)-20000:]
	}
}

var operator = regexp.MustCompile(`%[A-Z_]+(\([^)]*\))?(:[0-9]+)?%`)

// formatAccess renders one access-log line with a provider's format:
// its JSON labels (values typed as Envoy types them), or Istio's default
// text format when it gives none.
func formatAccess(pr *ExtensionProvider, ev accessEvent, now time.Time) string {
	lf := pr.EnvoyFileAccessLog.LogFormat
	if lf != nil && len(lf.Labels) > 0 {
		out := map[string]any{}
		for k, v := range lf.Labels {
			out[k] = accessValue(v, ev, now)
		}
		b, _ := json.Marshal(out)
		return string(b)
	}
	text := defaultTextFormat
	if lf != nil && lf.Text != "" {
		text = lf.Text
	}
	return strings.TrimRight(operator.ReplaceAllStringFunc(text, func(op string) string {
		v := accessValue(op, ev, now)
		if v == nil {
			return "-"
		}
		return fmt.Sprint(v)
	}), "\n")
}

// defaultTextFormat is Istio's EnvoyTextLogFormat, up to the fields the
// simulator knows.
const defaultTextFormat = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ` +
	`%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% ` +
	`%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ` +
	`"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% ` +
	`%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%`

// accessValue fills in one label's value: a literal, or one of Envoy's
// command operators. nil stands for a value Envoy does not have (logged
// as - in text, null in JSON).
func accessValue(v string, ev accessEvent, now time.Time) any {
	if !strings.Contains(v, "%") {
		return v
	}
	if ev.tcp {
		switch {
		case v == "%RESPONSE_CODE%":
			return 0
		case v == "%RESPONSE_FLAGS%", v == "%UPSTREAM_CLUSTER%", v == "%DURATION%", strings.HasPrefix(v, "%START_TIME"):
		default:
			return nil
		}
	}
	switch {
	case v == "%RESPONSE_CODE%":
		return ev.status
	case v == "%RESPONSE_FLAGS%":
		return orDash(ev.flags)
	case v == "%DURATION%":
		return ev.duration.Milliseconds()
	case v == "%UPSTREAM_CLUSTER%":
		return orDash(ev.cluster)
	case v == "%PROTOCOL%":
		return "HTTP/1.1"
	case v == "%TRACE_ID%":
		if ev.trace == "" {
			return nil
		}
		return ev.trace
	case v == "%REQ(:METHOD)%":
		return method(ev.req)
	case v == "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", v == "%REQ(:PATH)%":
		return ev.req.Path
	case v == "%REQ(:AUTHORITY)%":
		return ev.req.Host
	case v == "%REQ(TRACEPARENT)%":
		if ev.trace == "" {
			return nil
		}
		return "00-" + ev.trace + "-0000000000000001-01"
	case strings.HasPrefix(v, "%START_TIME"):
		return now.UTC().Format(time.RFC3339Nano)
	case strings.HasPrefix(v, "%REQ(") && strings.HasSuffix(v, ")%"):
		h := ev.req.Header.Get(strings.TrimSuffix(strings.TrimPrefix(v, "%REQ("), ")%"))
		if h == "" {
			return nil
		}
		return h
	}
	return nil
}

// shipsLogs says whether the lab's log pipeline runs: an Alloy pod, and
// a Loki Service with a running pod that Alloy's loki.write names.
func (w *World) shipsLogs() bool {
	for _, p := range w.Pods {
		if !p.Running || p.Labels["app.kubernetes.io/name"] != "alloy" {
			continue
		}
		for key, data := range w.ConfigMaps {
			if !strings.HasPrefix(key, p.Namespace+"/") {
				continue
			}
			for _, m := range lokiWrite.FindAllStringSubmatch(data["config.alloy"], -1) {
				if svc := w.Service(m[1], p.Namespace); svc != nil && len(w.Endpoints(svc, nil)) > 0 && isLoki(w.Endpoints(svc, nil)[0]) {
					return true
				}
			}
		}
	}
	return false
}

var (
	lokiWrite    = regexp.MustCompile(`url\s*=\s*"https?://([^/:"]+)(?::\d+)?/loki/api/v1/push"`)
	staticLabels = regexp.MustCompile(`(?s)stage\.static_labels\s*\{\s*values\s*=\s*\{(.*?)\}`)
	labelPair    = regexp.MustCompile(`(\w+)\s*=\s*"([^"]*)"`)
)

func (w *World) alloyStaticLabels() map[string]string {
	out := map[string]string{}
	for _, data := range w.ConfigMaps {
		for _, m := range staticLabels.FindAllStringSubmatch(data["config.alloy"], -1) {
			for _, kv := range labelPair.FindAllStringSubmatch(m[1], -1) {
				out[kv[1]] = kv[2]
			}
		}
	}
	return out
}

func isLoki(p *Pod) bool  { return p.Labels["app.kubernetes.io/name"] == "loki" }
func isTempo(p *Pod) bool { return p.Labels["app.kubernetes.io/name"] == "tempo" }

// exportPath is the OTLP gRPC method a collector's otlp exporter calls.
const exportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// flush exports the spans waiting: to each provider's collector, then
// on with the collector's traces pipeline. Spans whose collector does
// not run, or that nothing exports, are lost, as Envoy's are.
func (s *Sim) flush(ctx context.Context, w *World) {
	s.obs.mu.Lock()
	pending := s.obs.pending
	s.obs.pending = nil
	s.obs.mu.Unlock()
	byProvider := map[string][]span{}
	for _, sp := range pending {
		byProvider[sp.provider] = append(byProvider[sp.provider], sp)
	}
	keys := make([]string, 0, len(byProvider))
	for k := range byProvider {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, prov := range keys {
		host, _, _ := strings.Cut(prov, ":")
		svc := w.Service(host, "")
		if svc == nil {
			continue
		}
		eps := w.Endpoints(svc, nil)
		if len(eps) == 0 {
			continue
		}
		col := eps[s.intn(len(eps))]
		body, _ := json.Marshal(byProvider[prov])
		for _, ex := range w.collectorExports(col) {
			req := Request{Method: http.MethodPost, Host: ex.host, Port: ex.port, Path: exportPath,
				Header: http.Header{"Content-Type": {"application/grpc"}}, Body: string(body)}
			from := &caller{pod: col, ns: col.Namespace, labels: col.Labels, sidecar: col.Sidecar, trace: s.newTrace()}
			s.send(ctx, w, from, req)
		}
	}
}

type export struct {
	host string
	port int
}

// collectorExports reads the collector's configuration (the chart's
// ConfigMap, key relay, in the collector's namespace): the endpoints of
// the exporters its traces pipeline uses, if the pipeline receives OTLP.
func (w *World) collectorExports(col *Pod) []export {
	var out []export
	for key, data := range w.ConfigMaps {
		if !strings.HasPrefix(key, col.Namespace+"/") || data["relay"] == "" {
			continue
		}
		var cfg struct {
			Exporters map[string]struct {
				Endpoint string `json:"endpoint"`
			} `json:"exporters"`
			Service struct {
				Pipelines map[string]*struct {
					Receivers []string `json:"receivers"`
					Exporters []string `json:"exporters"`
				} `json:"pipelines"`
			} `json:"service"`
		}
		if yaml.Unmarshal([]byte(data["relay"]), &cfg) != nil {
			continue
		}
		tp := cfg.Service.Pipelines["traces"]
		if tp == nil || !contains(tp.Receivers, "otlp") {
			continue
		}
		for _, name := range tp.Exporters {
			ep := cfg.Exporters[name].Endpoint
			ep = strings.TrimPrefix(strings.TrimPrefix(ep, "http://"), "https://")
			h, p, ok := strings.Cut(strings.TrimSuffix(ep, "/"), ":")
			port, err := strconv.Atoi(p)
			if !ok || err != nil || h == "" {
				continue
			}
			out = append(out, export{host: h, port: port})
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// tempoReceive is Tempo's OTLP receiver: it keeps the spans it is sent.
func (s *Sim) tempoReceive(req Request) Response {
	var spans []span
	if err := json.Unmarshal([]byte(req.Body), &spans); err != nil {
		return Response{Status: 400, Body: err.Error(), Header: textHeader()}
	}
	s.obs.mu.Lock()
	defer s.obs.mu.Unlock()
	s.obs.init()
	for _, sp := range spans {
		s.obs.tempo[sp.TraceID] = append(s.obs.tempo[sp.TraceID], sp)
	}
	return Response{Status: 200, Body: "", Header: http.Header{"Content-Type": {"application/grpc"}}}
}

// Trace returns the spans Tempo holds for a trace ID.
func (s *Sim) Trace(id string) []span {
	s.obs.mu.Lock()
	defer s.obs.mu.Unlock()
	return append([]span(nil), s.obs.tempo[strings.ToLower(id)]...)
}

// TempoHandler serves Tempo's HTTP API on :3200: /ready, and
// /api/traces/<id> (and /api/v2/traces/<id>) as OTLP JSON, 404 for a
// trace it does not hold.
func (s *Sim) TempoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch {
		case path == "/ready":
			fmt.Fprintln(w, "ready")
			return
		case strings.HasPrefix(path, "/api/traces/"), strings.HasPrefix(path, "/api/v2/traces/"):
		default:
			http.NotFound(w, r)
			return
		}
		id := path[strings.LastIndex(path, "/")+1:]
		spans := s.Trace(id)
		if len(spans) == 0 {
			http.Error(w, "trace not found", http.StatusNotFound)
			return
		}
		type kv struct {
			Key   string            `json:"key"`
			Value map[string]string `json:"value"`
		}
		byService := map[string][]map[string]any{}
		for _, sp := range spans {
			var attrs []kv
			for k, v := range sp.Attrs {
				attrs = append(attrs, kv{k, map[string]string{"stringValue": v}})
			}
			sort.Slice(attrs, func(i, j int) bool { return attrs[i].Key < attrs[j].Key })
			byService[sp.Service] = append(byService[sp.Service], map[string]any{"traceId": sp.TraceID, "spanId": sp.SpanID,
				"name": sp.Name, "kind": "SPAN_KIND_" + sp.Kind, "startTimeUnixNano": strconv.FormatInt(sp.Start.UnixNano(), 10), "attributes": attrs})
		}
		names := make([]string, 0, len(byService))
		for n := range byService {
			names = append(names, n)
		}
		sort.Strings(names)
		var batches []map[string]any
		for _, n := range names {
			batches = append(batches, map[string]any{
				"resource":   map[string]any{"attributes": []kv{{"service.name", map[string]string{"stringValue": n}}}},
				"scopeSpans": []map[string]any{{"spans": byService[n]}},
			})
		}
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(path, "/api/v2/") {
			json.NewEncoder(w).Encode(map[string]any{"trace": map[string]any{"resourceSpans": batches}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"batches": batches})
	})
}
