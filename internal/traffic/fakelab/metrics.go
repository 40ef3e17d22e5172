package fakelab

// What the proxies count: Envoy's cluster statistics per proxy, Istio's
// istio_requests_total as reported by the source and destination
// proxies, and access-log lines. All of it comes from the simulated
// requests themselves.

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type point struct {
	t time.Time
	v float64
}

type series struct {
	proxy  string // the pod whose proxy reported it
	labels map[string]string
	points []point // cumulative
}

type metrics struct {
	mu       sync.Mutex
	counters map[string]map[string]float64 // proxy -> stat|cluster -> value
	requests map[string]*series            // label key -> series
	logs     map[string][]LogLine          // proxy -> its access log, oldest first
	now      func() time.Time
}

func newMetrics(now func() time.Time) *metrics {
	return &metrics{counters: map[string]map[string]float64{}, requests: map[string]*series{}, logs: map[string][]LogLine{}, now: now}
}

func (m *metrics) add(proxy, stat, cluster string, n float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addLocked(proxy, stat, cluster, n)
}

// addLocked is add for callers holding the simulator's lock (not m.mu).
func (m *metrics) addLocked(proxy, stat, cluster string, n float64) {
	if m.counters[proxy] == nil {
		m.counters[proxy] = map[string]float64{}
	}
	m.counters[proxy][stat+"|"+cluster] += n
}

func (m *metrics) accessLog(proxy, line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := append(m.logs[proxy], LogLine{At: m.now(), Text: line})
	if len(l) > 1000 {
		l = l[len(l)-1000:]
	}
	m.logs[proxy] = l
}

func workloadLabels(prefix string, p *Pod, ns string) map[string]string {
	l := map[string]string{prefix + "_workload": "unknown", prefix + "_workload_namespace": "unknown", prefix + "_app": "unknown",
		prefix + "_version": "unknown", prefix + "_principal": "unknown", prefix + "_canonical_service": "unknown"}
	if p != nil {
		l[prefix+"_workload"] = p.Workload
		l[prefix+"_workload_namespace"] = p.Namespace
		l[prefix+"_app"] = orUnknown(p.Labels["app"])
		l[prefix+"_version"] = orUnknown(p.Labels["version"])
		l[prefix+"_canonical_service"] = orUnknown(p.Labels["app"])
		sa := p.ServiceAccount
		if sa == "" {
			sa = "default"
		}
		l[prefix+"_principal"] = "spiffe://cluster.local/ns/" + p.Namespace + "/sa/" + sa
	}
	return l
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// request counts one request in istio_requests_total: reported by the
// caller's proxy (reporter="source") when it has one, and by the
// destination's (reporter="destination") when the request reached a pod
// with a sidecar, with the security the connection had.
func (s *Sim) recordRequest(from *caller, ep *Pod, svc *Service, r Response, security string, dest bool) {
	if from.tcp {
		return // a TCP proxy counts connections, not requests (protocol.go)
	}
	base := map[string]string{"request_protocol": "http", "response_code": strconv.Itoa(r.Status), "response_flags": orDash(r.Flags),
		"destination_service": "unknown", "destination_service_name": "unknown", "destination_service_namespace": "unknown"}
	if svc != nil {
		base["destination_service"] = svc.FQDN()
		base["destination_service_name"] = svc.Name
		base["destination_service_namespace"] = svc.Namespace
	}
	var src *Pod
	switch {
	case from.origin != nil:
		// A waypoint knows its client from the HBONE tunnel's identity.
		src = from.origin
	case from.sidecar:
		src = from.pod
	}
	for k, v := range workloadLabels("source", src, from.ns) {
		base[k] = v
	}
	for k, v := range workloadLabels("destination", ep, "") {
		base[k] = v
	}
	w, _ := s.world()
	if from.sidecar && from.pod != nil {
		l := clone(base)
		l["reporter"] = "source"
		l["connection_security_policy"] = "unknown"
		if from.origin != nil {
			l["reporter"] = "waypoint"
			l["connection_security_policy"] = "mutual_tls"
		}
		if withTelemetry(w, from.pod, "CLIENT", l) {
			s.metrics.count(from.pod.Key(), l)
		}
	}
	if dest && ep != nil && ep.Sidecar {
		l := clone(base)
		l["reporter"] = "destination"
		l["connection_security_policy"] = security
		if security != "mutual_tls" {
			// Without mTLS the destination cannot know who called.
			l["source_principal"] = "unknown"
		}
		if withTelemetry(w, ep, "SERVER", l) {
			s.metrics.count(ep.Key(), l)
		}
	}
}

// withTelemetry applies what the Telemetry API says of a proxy's metrics
// in mode to one report's labels: false when the proxy reports none
// (metrics disabled, or no Prometheus provider); otherwise the tag
// overrides are applied to l. A world without a mesh config (a bare
// test) reports, as the lab's default providers do.
func withTelemetry(w *World, p *Pod, mode string, l map[string]string) bool {
	if w == nil || !w.Mesh.Found {
		return true
	}
	on, tags, removed := w.metricsFor(p, mode)
	for _, k := range removed {
		delete(l, k)
	}
	for k, v := range tags {
		l[k] = v
	}
	return on
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (m *metrics) count(proxy string, labels map[string]string) {
	key := proxy + "{" + labelText(labels) + "}"
	m.mu.Lock()
	defer m.mu.Unlock()
	sr := m.requests[key]
	if sr == nil {
		sr = &series{proxy: proxy, labels: labels}
		m.requests[key] = sr
	}
	v := 1.0
	if n := len(sr.points); n > 0 {
		v = sr.points[n-1].v + 1
	}
	sr.points = append(sr.points, point{m.now(), v})
}

func labelText(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, l[k])
	}
	return b.String()
}

// Age moves every request counted and every access-log line written so
// far d into the past, as if d had passed since: windowed queries (increase(...[2m])) then see only what
// was counted afterwards. The lesson walk, which does in a second what a
// reader does in minutes, ages the counts between steps.
func (s *Sim) Age(d time.Duration) {
	s.metrics.mu.Lock()
	defer s.metrics.mu.Unlock()
	for _, sr := range s.metrics.requests {
		for i := range sr.points {
			sr.points[i].t = sr.points[i].t.Add(-d)
		}
	}
	for _, l := range s.metrics.logs {
		for i := range l {
			l[i].At = l[i].At.Add(-d)
		}
	}
}

// EnvoyStats is the text a pod's proxy serves on :15090/stats/prometheus:
// its cluster counters, the ejections active now, istio_requests_total as
// it reported it, and the days until its workload certificate expires.
// ok is false for a pod without a sidecar (nothing listens on 15090).
func (s *Sim) EnvoyStats(p *Pod) (text string, ok bool) {
	if p == nil || !p.Sidecar {
		return "", false
	}
	var b strings.Builder
	key := p.Key()
	s.metrics.mu.Lock()
	byStat := map[string][]string{}
	for k, v := range s.metrics.counters[key] {
		stat, cluster, _ := strings.Cut(k, "|")
		byStat[stat] = append(byStat[stat], fmt.Sprintf("%s{cluster_name=%q} %s", stat, cluster, num(v)))
	}
	var reqs []string
	for _, sr := range s.metrics.requests {
		if sr.proxy == key {
			reqs = append(reqs, fmt.Sprintf("istio_requests_total{%s} %s", labelText(sr.labels), num(sr.points[len(sr.points)-1].v)))
		}
	}
	// Envoy keeps a set of stats for every cluster it holds, used or not:
	// upstream_cx_total is one (the lab's proxyStatsMatcher keeps
	// .*upstream_cx.*); the simulator opens a connection per request.
	active := -1
	if w, err := s.world(); err == nil {
		cl := w.Clusters(p)
		active = len(cl)
		for _, c := range cl {
			byStat["envoy_cluster_upstream_cx_total"] = append(byStat["envoy_cluster_upstream_cx_total"],
				fmt.Sprintf("envoy_cluster_upstream_cx_total{cluster_name=%q} %s", c, num(s.metrics.counters[key]["envoy_cluster_upstream_rq_total|"+c])))
		}
	}
	s.metrics.mu.Unlock()
	for cluster, n := range s.ejectedNow(key) {
		byStat["envoy_cluster_outlier_detection_ejections_active"] = append(byStat["envoy_cluster_outlier_detection_ejections_active"],
			fmt.Sprintf("envoy_cluster_outlier_detection_ejections_active{cluster_name=%q} %d", cluster, n))
	}
	stats := make([]string, 0, len(byStat))
	for k := range byStat {
		stats = append(stats, k)
	}
	sort.Strings(stats)
	for _, st := range stats {
		kind := "counter"
		if strings.HasSuffix(st, "_active") {
			kind = "gauge"
		}
		fmt.Fprintf(&b, "# TYPE %s %s\n", st, kind)
		lines := byStat[st]
		sort.Strings(lines)
		b.WriteString(strings.Join(lines, "\n") + "\n")
	}
	if len(reqs) > 0 {
		sort.Strings(reqs)
		b.WriteString("# TYPE istio_requests_total counter\n" + strings.Join(reqs, "\n") + "\n")
	}
	if active >= 0 {
		// cluster_manager.* is in istio-agent's required stats prefixes
		// (pkg/bootstrap/config.go), whatever the mesh config keeps.
		fmt.Fprintf(&b, "# TYPE envoy_cluster_manager_active_clusters gauge\nenvoy_cluster_manager_active_clusters{} %d\n", active)
	}
	fmt.Fprintf(&b, "# TYPE envoy_server_days_until_first_cert_expiring gauge\nenvoy_server_days_until_first_cert_expiring{} %d\n", s.certDays(p))
	return b.String(), true
}

// MergedStats is what istio-agent serves on :15020/stats/prometheus: the
// proxy's stats merged with its own, among them
// istio_agent_cert_expiry_seconds, the seconds the workload certificate
// has left (security/pkg/nodeagent/cache/monitoring.go, exported with
// the agent's istio_agent_ prefix, labelled resource_name="default").
func (s *Sim) MergedStats(p *Pod) (string, bool) {
	text, ok := s.EnvoyStats(p)
	if !ok {
		return "", false
	}
	left := s.CertExpiry(p).Sub(s.opts.Now()).Seconds()
	return text + fmt.Sprintf("# TYPE istio_agent_cert_expiry_seconds gauge\nistio_agent_cert_expiry_seconds{resource_name=\"default\"} %s\n", num(math.Floor(left))), true
}

// Workload certificates live 24 hours and istio-agent renews them at
// half their life, so a pod's current certificate was issued at its
// start plus a multiple of 12 hours.
const (
	certTTL   = 24 * time.Hour
	certRenew = 12 * time.Hour
)

// CertExpiry is when the pod's current workload certificate expires.
func (s *Sim) CertExpiry(p *Pod) time.Time {
	now := s.opts.Now()
	issued := p.Start
	if age := now.Sub(p.Start); age > 0 {
		issued = p.Start.Add(age / certRenew * certRenew)
	}
	return issued.Add(certTTL)
}

func (s *Sim) certDays(p *Pod) int {
	return int(math.Floor(s.CertExpiry(p).Sub(s.opts.Now()).Hours() / 24))
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// AccessLog returns the access-log lines a pod's proxy wrote, oldest
// first, in the format of each access-log provider that applies to it
// (observe.go).
func (s *Sim) AccessLog(p *Pod) []string {
	var out []string
	for _, l := range s.ProxyLog(p.Namespace, p.Name) {
		out = append(out, l.Text)
	}
	return out
}

// LogLine is one line a container wrote, and when.
type LogLine struct {
	At   time.Time
	Text string
}

// ProxyLog is what the istio-proxy container of pod namespace/name has
// written: its access log, with the time of each line (Age moves them
// into the past with the counters), oldest first.
func (s *Sim) ProxyLog(namespace, name string) []LogLine {
	s.metrics.mu.Lock()
	defer s.metrics.mu.Unlock()
	return append([]LogLine(nil), s.metrics.logs[namespace+"/"+name]...)
}
