package fakelab

// The simulator's request path, as Envoy walks it: the caller's proxy
// picks a VirtualService rule (matches), injects faults (delay, then
// abort), mirrors, picks a weighted destination, resolves the
// DestinationRule subset, and sends attempts under the route's timeout
// and retry policy; each attempt finds a healthy endpoint (outlier
// detection), a place in the connection pool, and a TLS handshake the
// server's PeerAuthentication accepts, then the application answers.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request is one HTTP request as a caller sends it.
type Request struct {
	Method string
	Host   string // service host (ratings, ratings.bookinfo, FQDN) or, at the ingress, the Host header
	Port   int    // 0: the Service's first port
	Path   string
	Header http.Header
	Body   string
}

// Response is what the caller gets. Status 0 means no HTTP answer; Err
// then says why: "reset" (the server cut the connection), "refused",
// "tls" (handshake failed), "dns" (no such host) or "timeout".
type Response struct {
	Status int
	Body   string
	Header http.Header
	// Flags are Envoy's response flags for the caller's proxy (FI, DI,
	// UO, UH, URX, UT, UC, UF, NR, NC), comma-separated, or "-".
	Flags string
	Err   string
}

// Source gives the current objects; New calls it for every request, so
// a change in the API server changes the next request's behaviour (NewSim).
type Source func() (*World, error)

// Static is a Source of fixed objects.
func Static(w *World) Source { return func() (*World, error) { return w, nil } }

// Options tune the simulation, not the mesh: what the mesh does comes
// from the objects.
type Options struct {
	Seed uint64
	// Scale multiplies every duration (injected delays, the application's
	// own delays, timeouts, ejection times) so tests can run the lab's 7 s
	// delays in 70 ms with Scale 0.01; 0 means 1.
	Scale float64
	// ConnectTime is how long a new upstream connection takes to set up;
	// requests wait for it as pending requests, which is what an
	// http1MaxPendingRequests limit counts. 0 means 2 ms. Not scaled.
	ConnectTime time.Duration
	// Now is the clock for certificates and ejections; nil is time.Now.
	Now func() time.Time
}

// Sim is the simulated lab. It is safe for concurrent use.
type Sim struct {
	src  Source
	opts Options

	mu      sync.Mutex
	rng     *rand.Rand
	hosts   map[string]*hostState // proxy|cluster|pod
	pools   map[string]*pool      // proxy|cluster
	metrics *metrics
	obs     observed
	roll    rollouts // restarts under way (rollout.go)
}

// NewSim returns a simulator reading its objects from src.
func NewSim(src Source, opts Options) *Sim {
	if opts.Scale <= 0 {
		opts.Scale = 1
	}
	if opts.ConnectTime <= 0 {
		opts.ConnectTime = 2 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sim{src: src, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		hosts: map[string]*hostState{}, pools: map[string]*pool{}, metrics: newMetrics(opts.Now)}
}

// caller is the proxy (or bare client) a request leaves from.
type caller struct {
	pod     *Pod // nil for a probe pod or an outside client
	ns      string
	labels  map[string]string
	sidecar bool
	gateway *Gateway // set when the caller is a gateway
	trace   *traceCtx
	// origin is set when the caller is a waypoint: the ambient pod whose
	// connection ztunnel brought to it.
	origin *Pod
	// tcp: the connection came through a TCP proxy (protocol.go), so no
	// HTTP telemetry is reported for it.
	tcp bool
}

func (c *caller) key() string {
	if c.pod != nil {
		return c.pod.Key()
	}
	return c.ns + "/(client)"
}

func (c *caller) workload() string {
	if c.pod != nil {
		return c.pod.Workload
	}
	return "unknown"
}

func (s *Sim) chance(pct float64) bool {
	if pct <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Float64()*100 < pct
}

func (s *Sim) intn(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(n)
}

func (s *Sim) scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * s.opts.Scale) }

// sleep waits d (scaled) or until ctx ends; false if ctx ended first.
func (s *Sim) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(s.scaled(d))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Sim) world() (*World, error) { return s.src() }

// Ingress answers a request arriving at the lab's ingress: the Istio
// ingress gateway when an Istio Gateway selects a running pod, else a
// Gateway API route's backend reached without a mesh (the chapter 1
// lab's NGINX).
func (s *Sim) Ingress(ctx context.Context, req Request) Response {
	w, err := s.world()
	if err != nil {
		return Response{Status: 500, Body: err.Error(), Flags: "-"}
	}
	trace := s.newTrace()
	defer s.flush(context.WithoutCancel(ctx), w)
	for _, g := range w.Gateways {
		if !serves(g, req.Port) {
			continue
		}
		for _, p := range w.Pods {
			if p.Running && len(g.Spec.Selector) > 0 && labelsMatch(g.Spec.Selector, p.Labels) {
				from := &caller{pod: p, ns: p.Namespace, labels: p.Labels, sidecar: true, gateway: g, trace: trace}
				return s.send(ctx, w, from, req)
			}
		}
	}
	if w.ingressBackend != nil {
		b := *w.ingressBackend
		from := &caller{ns: b.Namespace, sidecar: b.Mesh, trace: trace}
		r := req
		r.Host, r.Port = b.Host, b.Port
		return s.send(ctx, w, from, r)
	}
	return Response{Err: "refused", Flags: "-"}
}

func serves(g *Gateway, port int) bool {
	for _, sv := range g.Spec.Servers {
		if p := strings.ToUpper(sv.Port.Protocol); (p == "HTTP" || p == "HTTP2") && (port == 0 || sv.Port.Number == port) {
			return true
		}
	}
	return false
}

// FromPod answers a request made by a client pod in namespace ns, inside
// the mesh (with a sidecar) or outside it, as pod-probe's curl does.
func (s *Sim) FromPod(ctx context.Context, ns string, sidecar bool, req Request) Response {
	w, err := s.world()
	if err != nil {
		return Response{Status: 500, Body: err.Error(), Flags: "-"}
	}
	defer s.flush(context.WithoutCancel(ctx), w)
	return s.send(ctx, w, &caller{ns: ns, labels: map[string]string{}, sidecar: sidecar, trace: s.newTrace()}, req)
}

// newTrace starts a request's trace: an ID that every proxy on its way
// that traces will log, and no sampling decision yet.
func (s *Sim) newTrace() *traceCtx {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &traceCtx{id: fmt.Sprintf("%016x%016x", s.rng.Uint64(), s.rng.Uint64())}
}

// send is one request leaving a caller.
func (s *Sim) send(ctx context.Context, w *World, from *caller, req Request) Response {
	start := time.Now()
	svc := w.Service(req.Host, from.ns)
	if req.Port == 0 && svc != nil && len(svc.Ports) > 0 {
		req.Port = svc.Ports[0]
	}
	if r, ok := s.ambientSend(ctx, w, from, svc, req); ok {
		return r
	}
	if !from.sidecar {
		// No proxy: kube-proxy sends the connection to any endpoint.
		if svc == nil && !w.internalHost(req.Host) && public(req.Host) {
			return internet(req)
		}
		if svc == nil {
			return Response{Err: "dns", Flags: "-"}
		}
		eps := w.Endpoints(svc, nil)
		if len(eps) == 0 {
			return Response{Err: "refused", Flags: "-"}
		}
		ep := eps[s.intn(len(eps))]
		if s.handshake(w, ep, req.Port, "plain") != "" {
			// The server's sidecar refuses plain text: the client sees
			// its connection reset.
			return Response{Err: "reset", Flags: "-"}
		}
		return s.inbound(ctx, w, from, ep, svc, req, "plain")
	}
	// The caller's proxy joins the request's trace as a client, naming
	// its span after the host and port it calls, as Envoy does.
	traceID := s.hop(w, from.pod, "CLIENT", from.trace, fmt.Sprintf("%s:%d/*", hostOf(req.Host, svc), req.Port), req)
	var r Response
	cluster := "-"
	tcp := false
	if er, c, ok := s.egress(ctx, w, from, svc, req); ok {
		r, cluster = er, c
	} else if tr, c, ok := s.tcpSend(ctx, w, from, svc, req); ok {
		r, cluster, tcp = tr, c, true
	} else if rule, vs, resp := s.pickRule(w, from, svc, req); resp != nil {
		r = *resp
	} else {
		r, cluster = s.forward(ctx, w, from, rule, vs, svc, req)
	}
	if from.sidecar && !tcp {
		// The caller's proxy (or gateway) logs the call as a client.
		s.logAccess(w, from.pod, from.key(), "CLIENT", accessEvent{req: req, status: r.Status, flags: r.Flags, cluster: cluster,
			duration: time.Since(start), trace: traceID})
	}
	return r
}

func method(r Request) string {
	if r.Method == "" {
		return http.MethodGet
	}
	return r.Method
}

// pickRule finds the VirtualService rule for a request. A nil rule with
// a nil response is the default route to the Service itself.
func (s *Sim) pickRule(w *World, from *caller, svc *Service, req Request) (*HTTPRoute, *VirtualService, *Response) {
	var cands []*VirtualService
	var scope proxyScope
	if from.gateway == nil {
		scope = w.callerScope(from)
	}
	for _, v := range w.VirtualServices {
		if from.gateway != nil {
			if bound(v, from.gateway) && hostMatch(v, req.Host, "") {
				cands = append(cands, v)
			}
			continue
		}
		if svc == nil || !exported(v.Spec.ExportTo, v.Namespace, from.ns) || !meshBound(v.Spec.Gateways) || !scope.importsVS(v) {
			continue
		}
		if hostMatch(v, "", svc.FQDN()) {
			cands = append(cands, v)
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		return cands[i].Namespace+"/"+cands[i].Name < cands[j].Namespace+"/"+cands[j].Name
	})
	if len(cands) == 0 {
		if from.gateway != nil || svc == nil {
			// A gateway without a route, or a host the mesh does not know.
			if svc == nil && from.gateway == nil {
				return nil, nil, &Response{Err: "dns", Flags: "-"}
			}
			return nil, nil, &Response{Status: 404, Flags: "NR", Header: http.Header{}}
		}
		return nil, nil, nil
	}
	for _, v := range cands {
		for i := range v.Spec.HTTP {
			if s.matches(&v.Spec.HTTP[i], from, req) {
				return &v.Spec.HTTP[i], v, nil
			}
		}
	}
	return nil, nil, &Response{Status: 404, Flags: "NR", Header: http.Header{}}
}

func bound(v *VirtualService, g *Gateway) bool {
	for _, gw := range v.Spec.Gateways {
		if gw == g.Namespace+"/"+g.Name || (gw == g.Name && v.Namespace == g.Namespace) {
			return true
		}
	}
	return false
}

func meshBound(gws []string) bool {
	if len(gws) == 0 {
		return true
	}
	for _, g := range gws {
		if g == "mesh" {
			return true
		}
	}
	return false
}

// hostMatch: at a gateway, hosts against the Host header (* matches
// all); in the mesh, the hosts' FQDNs against the service's.
func hostMatch(v *VirtualService, header, svcFQDN string) bool {
	for _, h := range v.Spec.Hosts {
		if svcFQDN == "" {
			hh, _, _ := strings.Cut(strings.ToLower(header), ":")
			if h == "*" || strings.EqualFold(h, hh) || (strings.HasPrefix(h, "*.") && strings.HasSuffix(hh, h[1:])) {
				return true
			}
			continue
		}
		if fqdn(h, v.Namespace) == svcFQDN {
			return true
		}
	}
	return false
}

func (s *Sim) matches(r *HTTPRoute, from *caller, req Request) bool {
	if len(r.Match) == 0 {
		return true
	}
	for _, m := range r.Match {
		ok := true
		if m.URI != nil && !m.URI.match(pathOnly(req.Path)) {
			ok = false
		}
		for name, sm := range m.Headers {
			v := req.Header.Get(name)
			if v == "" || !sm.match(v) {
				ok = false
			}
		}
		if len(m.SourceLabels) > 0 && (from.gateway != nil || !labelsMatch(m.SourceLabels, from.labels)) {
			ok = false
		}
		if m.Port != 0 && req.Port != 0 && m.Port != req.Port {
			ok = false
		}
		if len(m.Gateways) > 0 {
			in := false
			for _, g := range m.Gateways {
				if from.gateway == nil && g == "mesh" || from.gateway != nil && (g == from.gateway.Namespace+"/"+from.gateway.Name || g == from.gateway.Name) {
					in = true
				}
			}
			ok = ok && in
		}
		if ok {
			return true
		}
	}
	return false
}

func pathOnly(p string) string {
	p, _, _ = strings.Cut(p, "?")
	return p
}

func (m StringMatch) match(v string) bool {
	switch {
	case m.Exact != "":
		return v == m.Exact
	case m.Prefix != "":
		return strings.HasPrefix(v, m.Prefix)
	case m.Regex != "":
		re, err := regexp.Compile("^(?:" + m.Regex + ")$")
		return err == nil && re.MatchString(v)
	}
	return true
}

// upstream is where a route sends: a Service, an optional subset, and
// the DestinationRule policy that applies to it.
type upstream struct {
	svc     *Service
	subset  map[string]string
	policy  TrafficPolicy
	cluster string
}

// resolve finds the cluster for a destination, or the response Envoy
// gives when there is none.
func (s *Sim) resolve(w *World, from *caller, d Destination, ns string, port int) (*upstream, *Response) {
	svc := w.Service(d.Host, ns)
	if svc == nil {
		return nil, &Response{Status: 503, Flags: "NC", Header: http.Header{}}
	}
	if d.Port.Number != 0 {
		port = d.Port.Number
	}
	if port == 0 && len(svc.Ports) > 0 {
		port = svc.Ports[0]
	}
	u := &upstream{svc: svc, cluster: fmt.Sprintf("outbound|%d|%s|%s", port, d.Subset, svc.FQDN())}
	var dr *DestinationRule
	for _, r := range w.DestinationRules {
		if fqdn(r.Spec.Host, r.Namespace) == svc.FQDN() && exported(r.Spec.ExportTo, r.Namespace, from.ns) {
			// istiod prefers the caller's own namespace, then the service's.
			if dr == nil || r.Namespace == from.ns {
				dr = r
			}
		}
	}
	if dr != nil && dr.Spec.TrafficPolicy != nil {
		u.policy = *dr.Spec.TrafficPolicy
	}
	if d.Subset == "" {
		return u, nil
	}
	if dr != nil {
		for _, ss := range dr.Spec.Subsets {
			if ss.Name != d.Subset {
				continue
			}
			u.subset = ss.Labels
			if p := ss.TrafficPolicy; p != nil {
				// A subset's policy replaces the top-level one field by field.
				if p.ConnectionPool != nil {
					u.policy.ConnectionPool = p.ConnectionPool
				}
				if p.OutlierDetection != nil {
					u.policy.OutlierDetection = p.OutlierDetection
				}
				if p.TLS != nil {
					u.policy.TLS = p.TLS
				}
			}
			return u, nil
		}
	}
	// A subset no DestinationRule defines has no cluster.
	return nil, &Response{Status: 503, Flags: "NC", Header: http.Header{}}
}

// retryPolicy is Envoy's retry policy as Istio writes it for a route.
type retryPolicy struct {
	retries int
	on      map[string]bool
	codes   map[int]bool
	perTry  time.Duration
}

// defaultRetryOn is Istio 1.29's default (pilot/pkg/networking/core/
// route/retry): 2 retries, and no retriable status codes listed, so a
// 503 from the application is not retried by default.
const defaultRetryOn = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"

func policyFor(r *HTTPRoute) retryPolicy {
	p := retryPolicy{retries: 2, on: map[string]bool{}, codes: map[int]bool{}}
	on := defaultRetryOn
	if r != nil && r.Retries != nil {
		if r.Retries.Attempts <= 0 {
			return retryPolicy{}
		}
		p.retries = r.Retries.Attempts
		if r.Retries.RetryOn != "" {
			on = r.Retries.RetryOn
		}
		p.perTry = dur(r.Retries.PerTryTimeout)
	}
	for _, part := range strings.Split(on, ",") {
		part = strings.TrimSpace(part)
		if n, err := strconv.Atoi(part); err == nil && http.StatusText(n) != "" {
			p.codes[n] = true
			p.on["retriable-status-codes"] = true
		} else if part != "" {
			p.on[part] = true
		}
	}
	return p
}

// retriable says whether Envoy retries an attempt's outcome.
func (p retryPolicy) retriable(r Response) bool {
	local := strings.Contains(r.Flags, "UH") || strings.Contains(r.Flags, "UO") || strings.Contains(r.Flags, "NC")
	if local {
		return false // Envoy's own answers before any upstream attempt
	}
	reset := r.Err == "reset" || strings.Contains(r.Flags, "UC")
	connect := r.Err == "tls" || r.Err == "refused" || strings.Contains(r.Flags, "UF")
	timeout := strings.Contains(r.Flags, "UT")
	switch {
	case p.on["5xx"] && (r.Status >= 500 || reset || connect || timeout):
		return true
	case p.on["gateway-error"] && (r.Status == 502 || r.Status == 503 || r.Status == 504 || timeout):
		return true
	case p.on["reset"] && (reset || connect || timeout):
		return true
	case p.on["connect-failure"] && connect:
		return true
	case p.on["retriable-4xx"] && r.Status == 409:
		return true
	case p.on["retriable-status-codes"] && p.codes[r.Status]:
		return true
	}
	return false
}

func dur(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

func pct(p *Percent, deflt float64) float64 {
	if p == nil {
		return deflt
	}
	return p.Value
}

// forward applies a rule (nil: the default route) and returns the
// caller's answer and the cluster it went to.
func (s *Sim) forward(ctx context.Context, w *World, from *caller, rule *HTTPRoute, vs *VirtualService, svc *Service, req Request) (Response, string) {
	var flags []string
	ns := from.ns
	if vs != nil {
		ns = vs.Namespace
	}
	// Envoy resolves the route, and with it the cluster (a weighted
	// route picks its cluster then), before any filter runs: an
	// injected fault is logged against the cluster the request would
	// have gone to. The router, after the fault filter, mirrors and
	// finds the endpoints.
	dest := Destination{Host: req.Host}
	if svc != nil {
		dest.Host = svc.FQDN()
	}
	if rule != nil {
		if len(rule.Route) == 0 {
			return Response{Status: 404, Flags: "NR", Header: http.Header{}}, "-"
		}
		dest = s.pickDestination(rule)
	}
	up, bad := s.resolve(w, from, dest, ns, req.Port)
	cluster := "-"
	if up != nil {
		cluster = up.cluster
	}
	if rule != nil && rule.Fault != nil {
		// Envoy's fault filter delays first, then aborts; a percentage
		// that is not given injects nothing.
		if d := rule.Fault.Delay; d != nil {
			p := pct(d.Percentage, 0)
			if d.Percentage == nil && d.Percent != nil {
				p = float64(*d.Percent)
			}
			if s.chance(p) {
				if !s.sleep(ctx, dur(d.FixedDelay)) {
					return Response{Err: "timeout", Flags: "DI"}, cluster
				}
				flags = append(flags, "DI")
			}
		}
		if a := rule.Fault.Abort; a != nil && a.HTTPStatus != 0 && s.chance(pct(a.Percentage, 0)) {
			flags = append(flags, "FI")
			r := Response{Status: a.HTTPStatus, Body: "fault filter abort", Header: textHeader(), Flags: strings.Join(flags, ",")}
			s.recordRequest(from, nil, svc, r, "unknown", false)
			return r, cluster
		}
	}
	if rule != nil {
		for _, m := range mirrors(rule) {
			if s.chance(m.pct) {
				s.mirror(w, from, m.d, ns, req)
			}
		}
	}
	if bad != nil {
		bad.Flags = joinFlags(flags, bad.Flags)
		s.recordRequest(from, nil, nil, *bad, "unknown", false)
		return *bad, "-"
	}
	pol := policyFor(rule)
	rctx := ctx
	if rule != nil {
		if t := dur(rule.Timeout); t > 0 {
			var cancel context.CancelFunc
			rctx, cancel = context.WithTimeout(ctx, s.scaled(t))
			defer cancel()
		}
	}
	tried := map[string]bool{}
	for try := 0; ; try++ {
		r := s.attempt(rctx, w, from, up, pol, req, tried)
		if rctx.Err() != nil && ctx.Err() == nil {
			// The route timeout covers every attempt.
			s.metrics.add(from.key(), "envoy_cluster_upstream_rq_timeout", up.cluster, 1)
			r = Response{Status: 504, Body: "upstream request timeout", Header: textHeader(), Flags: "UT"}
			r.Flags = joinFlags(flags, r.Flags)
			return r, up.cluster
		}
		if try < pol.retries && pol.retriable(r) {
			s.metrics.add(from.key(), "envoy_cluster_upstream_rq_retry", up.cluster, 1)
			continue
		}
		if try > 0 && try >= pol.retries && pol.retriable(r) {
			s.metrics.add(from.key(), "envoy_cluster_upstream_rq_retry_limit_exceeded", up.cluster, 1)
			r.Flags = joinFlags([]string{r.Flags}, "URX")
		}
		r.Flags = joinFlags(flags, r.Flags)
		return r, up.cluster
	}
}

func joinFlags(fs []string, more string) string {
	var out []string
	for _, f := range append(fs, strings.Split(more, ",")...) {
		if f != "" && f != "-" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

func textHeader() http.Header { return http.Header{"Content-Type": {"text/plain"}} }

func (s *Sim) pickDestination(r *HTTPRoute) Destination {
	if len(r.Route) == 1 {
		return r.Route[0].Destination
	}
	total := 0
	for _, d := range r.Route {
		if d.Weight != nil {
			total += *d.Weight
		}
	}
	if total <= 0 {
		return r.Route[0].Destination
	}
	x := s.intn(total)
	for _, d := range r.Route {
		if d.Weight == nil {
			continue
		}
		if x < *d.Weight {
			return d.Destination
		}
		x -= *d.Weight
	}
	return r.Route[len(r.Route)-1].Destination
}

type mirrorTo struct {
	d   Destination
	pct float64
}

func mirrors(r *HTTPRoute) []mirrorTo {
	var out []mirrorTo
	if r.Mirror != nil {
		out = append(out, mirrorTo{*r.Mirror, pct(r.MirrorPercentage, 100)})
	}
	for _, m := range r.Mirrors {
		out = append(out, mirrorTo{m.Destination, pct(m.Percentage, 100)})
	}
	return out
}

// mirror sends a copy and discards the answer. Envoy sends it without
// waiting; the simulator does it at once so the copy is counted before
// the caller's answer, which does not change what a reader can see.
func (s *Sim) mirror(w *World, from *caller, d Destination, ns string, req Request) {
	up, bad := s.resolve(w, from, d, ns, req.Port)
	if bad != nil {
		return
	}
	eps := w.Endpoints(up.svc, up.subset)
	if len(eps) == 0 {
		return
	}
	ep := eps[s.intn(len(eps))]
	mode := s.clientTLS(up, ep)
	if s.handshake(w, ep, req.Port, mode) != "" {
		return
	}
	s.inbound(context.Background(), w, from, ep, up.svc, req, mode)
}

// attempt is one try at an upstream cluster.
func (s *Sim) attempt(ctx context.Context, w *World, from *caller, up *upstream, pol retryPolicy, req Request, tried map[string]bool) Response {
	actx := ctx
	if pol.perTry > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, s.scaled(pol.perTry))
		defer cancel()
	}
	s.metrics.add(from.key(), "envoy_cluster_upstream_rq_total", up.cluster, 1)
	if r, ok := s.gatewayViaWaypoint(actx, w, from, up.svc, req); ok {
		return r
	}
	ep := s.pickHost(w, from, up, tried)
	if ep == nil {
		r := Response{Status: 503, Body: "no healthy upstream", Header: textHeader(), Flags: "UH"}
		s.recordRequest(from, nil, up.svc, r, "unknown", false)
		return r
	}
	tried[ep.Key()] = true
	release, ok := s.acquire(ctx, from, up)
	if !ok && ctx.Err() != nil {
		return Response{Status: 504, Body: "upstream request timeout", Header: textHeader(), Flags: "UT"}
	}
	if !ok {
		s.metrics.add(from.key(), "envoy_cluster_upstream_rq_pending_overflow", up.cluster, 1)
		h := textHeader()
		h.Set("x-envoy-overloaded", "true")
		r := Response{Status: 503, Body: "upstream connect error or disconnect/reset before headers. reset reason: overflow", Header: h, Flags: "UO"}
		s.recordRequest(from, nil, up.svc, r, "unknown", false)
		return r
	}
	defer release()
	mode := s.clientTLS(up, ep)
	var r Response
	down, isDown := s.rolloutFault(ep)
	switch {
	case isDown:
		// The pod's sidecar reports the request it could not pass on,
		// with its own flag (UF); the caller sees only its answer.
		r = down
		if ctx.Err() == nil {
			sec := "none"
			if mode == "mtls" {
				sec = "mutual_tls"
			}
			logged := r
			logged.Flags = "UF"
			s.recordRequest(from, ep, up.svc, logged, sec, true)
		}
	default:
		r = s.attemptTo(actx, ctx, w, from, up, ep, req, mode)
	}
	if ctx.Err() == nil {
		s.outcome(w, from, up, ep, r)
	}
	if r.Flags == "UC" || r.Flags == "UF" {
		s.recordRequest(from, ep, up.svc, r, "unknown", false)
	}
	return r
}

// attemptTo is an attempt's connection to ep and what comes back.
func (s *Sim) attemptTo(actx, ctx context.Context, w *World, from *caller, up *upstream, ep *Pod, req Request, mode string) Response {
	var r Response
	switch s.handshake(w, ep, req.Port, mode) {
	case "reset":
		r = Response{Status: 503, Body: "upstream connect error or disconnect/reset before headers. reset reason: connection termination", Header: textHeader(), Flags: "UC"}
	case "tls":
		r = Response{Status: 503, Body: "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS_error", Header: textHeader(), Flags: "UF"}
	default:
		r = s.inbound(actx, w, from, ep, up.svc, req, mode)
		if actx.Err() != nil && ctx.Err() == nil {
			// The per-try timeout.
			s.metrics.add(from.key(), "envoy_cluster_upstream_rq_per_try_timeout", up.cluster, 1)
			r = Response{Status: 504, Body: "upstream request timeout", Header: textHeader(), Flags: "UT"}
		}
	}
	return r
}

// clientTLS is what the caller's proxy speaks to an endpoint: the
// DestinationRule's tls mode, or, without one, automatic mutual TLS to
// endpoints that have a sidecar.
func (s *Sim) clientTLS(up *upstream, ep *Pod) string {
	mode := ""
	if up.policy.TLS != nil {
		mode = strings.ToUpper(up.policy.TLS.Mode)
	}
	switch mode {
	case "ISTIO_MUTUAL":
		return "mtls"
	case "DISABLE":
		return "plain"
	case "SIMPLE", "MUTUAL":
		return "tls"
	}
	if ep.Sidecar || ep.Ambient() || ep.Labels["security.istio.io/tlsMode"] == "istio" {
		// An ambient endpoint is reached over HBONE, which is mutual TLS.
		return "mtls"
	}
	return "plain"
}

// handshake says how the server side takes a connection in mode: ""
// accepted, "reset" (a plain-text connection under STRICT), "tls" (a
// failed handshake).
func (s *Sim) handshake(w *World, ep *Pod, port int, mode string) string {
	if ep.Ambient() {
		return ztunnelHandshake(w, ep, port, mode)
	}
	if !ep.Sidecar {
		if mode == "plain" {
			return ""
		}
		return "tls"
	}
	switch PeerMode(w, ep, port) {
	case "STRICT":
		switch mode {
		case "mtls":
			return ""
		case "plain":
			return "reset"
		}
		return "tls"
	case "DISABLE":
		if mode == "plain" {
			return ""
		}
		return "tls"
	default: // PERMISSIVE
		if mode == "tls" {
			return "reset" // a TLS stream without Istio's ALPN goes to the plain-text chain
		}
		return ""
	}
}

// PeerMode is the effective mTLS mode of a workload's port: a
// workload-selector policy (its port-level setting first), then the
// namespace's, then the root namespace's, then PERMISSIVE; UNSET
// inherits. The oldest policy wins a tie, as istiod does. Policies
// istiod does not see (outside discoverySelectors) were already dropped.
func PeerMode(w *World, p *Pod, port int) string {
	var wl, nsw, root []*PeerAuthentication
	for _, pa := range w.PeerAuths {
		switch {
		case pa.Namespace == p.Namespace && pa.Spec.Selector != nil && len(pa.Spec.Selector.MatchLabels) > 0:
			if labelsMatch(pa.Spec.Selector.MatchLabels, p.Labels) {
				wl = append(wl, pa)
			}
		case pa.Namespace == p.Namespace && p.Namespace != w.Mesh.RootNamespace:
			nsw = append(nsw, pa)
		case pa.Namespace == w.Mesh.RootNamespace && (pa.Spec.Selector == nil || len(pa.Spec.Selector.MatchLabels) == 0):
			root = append(root, pa)
		}
	}
	oldest := func(l []*PeerAuthentication) *PeerAuthentication {
		sort.SliceStable(l, func(i, j int) bool {
			if !l[i].Created.Equal(l[j].Created) {
				return l[i].Created.Before(l[j].Created)
			}
			return l[i].Name < l[j].Name
		})
		if len(l) == 0 {
			return nil
		}
		return l[0]
	}
	if pa := oldest(wl); pa != nil {
		if m, ok := pa.Spec.PortLevelMTLS[strconv.Itoa(port)]; ok && m.Mode != "" && m.Mode != "UNSET" {
			return m.Mode
		}
		if pa.Spec.MTLS != nil && pa.Spec.MTLS.Mode != "" && pa.Spec.MTLS.Mode != "UNSET" {
			return pa.Spec.MTLS.Mode
		}
	}
	for _, l := range [][]*PeerAuthentication{nsw, root} {
		if pa := oldest(l); pa != nil && pa.Spec.MTLS != nil && pa.Spec.MTLS.Mode != "" && pa.Spec.MTLS.Mode != "UNSET" {
			return pa.Spec.MTLS.Mode
		}
	}
	return "PERMISSIVE"
}
