package catalogue

// The traffic checks prove what the mesh does rather than what was
// applied: http-probe sends a bounded burst through the ingress gateway,
// pod-probe runs curl once from a pod of the reader's choosing, and
// prometheus-query and envoy-stat read what the mesh itself counted. The
// first two act on the cluster (Acts is set), so the engine runs them
// only through Runner.Run, after the reader agrees; the last two only
// read and are polled like other unwatchable checks. The machinery lives
// in internal/traffic; this file and its siblings turn its reports into
// verdicts with a plain explanation and a fix.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/traffic"
)

// Codes of the traffic checks.
const (
	CodeProbeOK          = "MD0800" // pass
	CodeProbeFailed      = "MD0801" // responses did not match the expectations
	CodeNoIngress        = "MD0802" // no gateway leads to a Service
	CodeNoGatewayPod     = "MD0803" // the ingress Service has no ready pod
	CodeForwardRefused   = "MD0804" // the API server or pod refused the port-forward
	CodeProbeCancelled   = "MD0805" // the reader stopped the probe
	CodeProbeOffline     = "MD0806" // no cluster connection and no --ingress
	CodeIngressOverride  = "MD0807" // the --ingress address is not usable
	CodeProbeUnreachable = "MD0808" // no request got any answer
)

// The traffic checks' shared outcomes.
var (
	msgProbeCancelled = checks.Msg1[string](checks.Code{ID: CodeProbeCancelled, Verdict: checks.Error,
		Template: "probe stopped %s",
		Doc:      "the reader stopped the probe (the summary says when); run it again to judge"})
	msgProbeOffline = checks.Msg1[string](checks.Code{ID: CodeProbeOffline, Verdict: checks.Error,
		Template: "cannot %s: not connected to a cluster",
		Doc:      "no cluster connection (and, for http-probe, no --ingress): connect meshdojo to the cluster"})

	codeProbeCancelled = msgProbeCancelled.Code
	codeProbeOffline   = msgProbeOffline.Code
)

// setupTimeout bounds the API calls a traffic check makes before it
// sends anything (discovery, port-forward set-up, a query).
const setupTimeout = 30 * time.Second

var (
	gvrTrafficIstioGateways = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	gvrTrafficAPIGateways   = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	gvrTrafficServices      = schema.GroupVersionResource{Version: "v1", Resource: "services"}
)

// The messages of http-probe.
var (
	msgProbeOK = checks.Msg4[int, int, string, string](checks.Code{ID: CodeProbeOK, Verdict: checks.Pass,
		Template: "%d/%d answered; %s (via %s)",
		Doc:      "the responses matched every expectation: how many answered, the versions and statuses seen, the slowest answer, and the way in"})
	msgProbeFailed = checks.Msg3[string, string, string](checks.Code{ID: CodeProbeFailed, Verdict: checks.Fail,
		Template: "%s: %s; expected %s",
		Doc:      "the responses did not match an expectation: the first one that failed, what was seen and what was expected"})
	msgProbeUnreachable = checks.Msg2[string, string](checks.Code{ID: CodeProbeUnreachable, Verdict: checks.Fail,
		Template: "no request got an answer via %s: %s",
		Doc:      "no request got any answer"})
	msgNoIngress = checks.Msg0(checks.Code{ID: CodeNoIngress, Verdict: checks.Error,
		Template: "no ingress gateway found",
		Doc:      "no gateway leads to a Service"})
	msgNoGatewayPod = checks.Msg0(checks.Code{ID: CodeNoGatewayPod, Verdict: checks.Error,
		Template: "the ingress gateway has no ready pod",
		Doc:      "the ingress Service has no ready pod"})
	msgForwardRefused = checks.Msg1[forwardFault](checks.Code{ID: CodeForwardRefused, Verdict: checks.Error,
		Template: "no port-forward to the ingress gateway: %s",
		Doc:      "the API server or the pod refused the port-forward"})
	msgIngressOverride = checks.Msg1[string](checks.Code{ID: CodeIngressOverride, Verdict: checks.Error,
		Template: "the ingress address from %s is not usable",
		Doc:      "the --ingress address is not usable"})
)

// forwardFault is why no port-forward to the ingress gateway opened.
type forwardFault string

const (
	forwardRefused   forwardFault = "the API server or the gateway pod refused it"
	forwardForbidden forwardFault = "your credentials may not open one"
)

var httpProbe = &checks.Check{
	Name: "http-probe",
	Summary: "sends a bounded burst of HTTP requests through the ingress gateway and judges the answers: " +
		"status codes, the split between versions (with a statistical tolerance), latency, headers and body",
	Acts: "sends a bounded burst of HTTP requests through your ingress gateway (opening a port-forward to a gateway pod " +
		"when it has no reachable address)",
	Params: httpProbeParams,
	Rules: []checks.Rule{
		onlyGivenWith("namespace", "service"),
		onlyGivenWith("slow-after", "slow-share"),
		onlyGivenWith("slow-share", "slow-after"),
		checks.WeightsRule("versions"),
		checks.WeightsRule("status-split"),
		notBelowDuration("max-latency", "min-latency"),
		onlyGivenWith("token-password", "token-user"),
		onlyGivenWith("token-user", "token-password"),
		onlyGivenWith("token-client-secret", "token-user"),
	},
	Inputs: func(p checks.Params) []checks.Input {
		if p.Str("ingress") != "" {
			return nil
		}
		if p.Str("service") != "" {
			return []checks.Input{{GVR: gvrTrafficServices, Namespace: p.Str("namespace")}}
		}
		return []checks.Input{{GVR: gvrTrafficIstioGateways}, {GVR: gvrTrafficAPIGateways}, {GVR: gvrTrafficServices}}
	},
	Uses: []*checks.Capability{checks.IngressForward, checks.KeycloakToken},
	Codes: []checks.Code{
		msgProbeOK.Code,
		msgNoToken.Code,
		msgProbeFailed.Code,
		msgProbeUnreachable.Code,
		msgNoIngress.Code,
		msgNoGatewayPod.Code,
		msgForwardRefused.Code,
		codeProbeCancelled,
		codeProbeOffline,
		msgIngressOverride.Code,
	},
	Eval: evalHTTPProbe,
}

// onlyGivenWith: param is only meaningful when other is given too.
func onlyGivenWith(param, other string) checks.Rule {
	return checks.Rule{Doc: param + " only with " + other, Check: func(p checks.Params) *checks.ParamError {
		if p[param] != "" && p[other] == "" {
			return &checks.ParamError{Param: param, Value: p[param], Want: "allowed without " + other + ": give " + other + " too, or leave " + param + " out"}
		}
		return nil
	}}
}

// notBelowDuration: hi, when given with lo, is not below it.
func notBelowDuration(hi, lo string) checks.Rule {
	return checks.Rule{Doc: hi + " is not below " + lo, Check: func(p checks.Params) *checks.ParamError {
		if p[hi] != "" && p[lo] != "" && p.Duration(hi) < p.Duration(lo) {
			return &checks.ParamError{Param: hi, Value: p[hi], Want: "at least " + lo + " (" + p[lo] + ")"}
		}
		return nil
	}}
}

// confidence: a probability strictly between 0.5 and 1.
func confidence(v string) error {
	if c, _ := strconv.ParseFloat(v, 64); c <= 0.5 || c >= 1 {
		return errors.New("a number between 0.5 and 1, such as 0.99")
	}
	return nil
}

// ingressOverride: an http:// or https:// address with no path.
func ingressOverride(v string) error {
	if _, err := traffic.ParseOverride(v); err != nil {
		return errors.New("an address such as http://localhost:9080 (" + err.Error() + ")")
	}
	return nil
}

var httpProbeParams = []checks.ParamSpec{
	// Where to send.
	{Name: "path", Type: checks.HTTPPath, Default: "/productpage", Doc: "path and query to request. The lab's productpage passes its backends' status " +
		"codes and JSON straight through on /api/v1/products/0 (details), /api/v1/products/0/reviews (reviews, names the answering " +
		"pod in podname) and /api/v1/products/0/ratings (ratings), so those are the paths to probe for routing, faults and resilience"},
	{Name: "gateway", Type: checks.Ref, Doc: "namespace/name (or name) of the Istio Gateway or Gateway API Gateway to go through, when the " +
		"cluster has several; by default the first one with an HTTP port that leads to a Service"},
	{Name: "namespace", Type: checks.Namespace, Doc: "with service: the namespace of the ingress Service"},
	{Name: "service", Type: checks.ObjectName, Doc: "send to this Service instead of looking for a gateway, e.g. nginx-gateway-nginx for the " +
		"chapter 1 lab that has no Istio"},
	{Name: "port", Type: checks.Int, Min: "1", Max: "65535", Doc: "the gateway's (or Service's) port, e.g. 9080; by default the first HTTP port"},
	{Name: "ingress", Type: checks.String, Rule: ingressOverride, Doc: "base URL to use instead of finding the ingress, e.g. http://localhost:9080. Lessons leave it " +
		"empty: readers set it for every probe with meshdojo --ingress"},
	// What to send.
	{Name: "method", Type: checks.Enum, Default: "GET", Enum: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, Doc: "HTTP method"},
	{Name: "host", Type: checks.String, Doc: "Host header, for gateways and VirtualServices that match on a host name other than *"},
	{Name: "header", Type: checks.Headers, Doc: "extra request headers as Name: value, several separated by ; (e.g. x-user: jason; x-debug: 1)"},
	{Name: "cookie", Type: checks.String, Doc: "Cookie header value, e.g. access_token=...; $NAME reads it from the environment variable NAME"},
	{Name: "bearer", Type: checks.String, Doc: "token sent as Authorization: Bearer <token>; $NAME reads it from the environment variable NAME " +
		"(for the chapter 7 Keycloak token)"},
	{Name: "body", Type: checks.String, Doc: "request body, for POST and PUT"},
	{Name: "token-user", Type: checks.String, Doc: "sign in as this Keycloak user first (the password grant of the realm token-issuer names, " +
		"through the ingress gateway's Keycloak port or --keycloak) and send the token with every request, e.g. izzy (ch. 7). " +
		"The token is kept in memory for the probe only and never shown"},
	{Name: "token-password", Type: checks.String, Doc: "with token-user: the user's password (the lab's izzy has izzy)"},
	{Name: "token-issuer", Type: checks.URL, Default: "http://localhost:8080/realms/bookinfo", Doc: "with token-user: the realm's issuer URL; " +
		"the token request carries its host as Host, because Keycloak writes that into the token's iss, which the " +
		"RequestAuthentications compare"},
	{Name: "token-client", Type: checks.String, Default: "productpage", Doc: "with token-user: the OAuth client the realm lets use the password grant"},
	{Name: "token-client-secret", Type: checks.String, Doc: "with token-user: that client's secret, for a confidential client (the lab's productpage " +
		"client's is in its realm file); $NAME reads it from the environment variable NAME"},
	{Name: "token-as", Type: checks.String, Default: "cookie:access_token", Rule: tokenAs, Doc: "with token-user: how to send the token, " +
		"cookie:NAME (the lab's RequestAuthentications read only the access_token cookie) or bearer (Authorization: Bearer)"},
	// How much.
	{Name: "count", Type: checks.Int, Default: "10", Min: "1", Max: strconv.Itoa(traffic.MaxCount), Doc: fmt.Sprintf("how many requests to send (at most %d). For a split between versions "+
		"use 60 to 100; for 'at least one' assertions on a behaviour that is random (outlier ejection), more", traffic.MaxCount)},
	{Name: "concurrency", Type: checks.Int, Default: "1", Min: "1", Max: strconv.Itoa(traffic.MaxConcurrency), Doc: fmt.Sprintf("requests in flight at once (at most %d). The connection-pool "+
		"exercise needs a burst: 20 or more", traffic.MaxConcurrency)},
	{Name: "timeout", Type: checks.Duration, Default: "10s", Min: "1ms", Doc: "per-request limit; keep it above the delays the lesson injects (the lab's are 7s), " +
		"so the mesh's own timeouts are what is measured"},
	{Name: "deadline", Type: checks.Duration, Default: "60s", Min: "1ms", Max: traffic.MaxDeadline.String(), Doc: "limit for the whole probe (at most 5m); a probe cut short by it fails, " +
		"saying so"},
	{Name: "version-field", Type: checks.String, Default: "podname", Doc: "JSON key naming the pod that answered, from which the version is read " +
		"(reviews-v4-6d8c9b7f5-x2klp is v4); header:NAME reads a response header instead"},
	// What to expect.
	{Name: "expect-status", Type: checks.List, Doc: "every response must have one of these: codes (200), classes (5xx) or transport errors " +
		"(timeout, reset, refused). When no status expectation is given at all, every response must be 2xx. " +
		"Fault abort (ch. 9): expect-status: 500"},
	{Name: "status-split", Type: checks.Weights, Doc: "expected share of each status as relative weights, judged like versions, e.g. 200=50,503=50 " +
		"for the lab's half-failing ratings without retries"},
	{Name: "min-status", Type: checks.Weights, Doc: "at least this many responses with each status, e.g. 504=1 (route timeout, ch. 10) or 503=1 " +
		"(outlier ejection and connection-pool overflow)"},
	{Name: "max-status-share", Type: checks.Weights, Doc: "at most this percentage of responses with each status, e.g. 5xx=20 (retries on 5xx " +
		"bring the lab's 50% failures down to about 6%)"},
	{Name: "versions", Type: checks.Weights, Doc: "expected split between versions as relative weights, as in the VirtualService: v1=0,v2=0,v4=100 " +
		"or v1=80,v2=20 (ch. 5), v4=100 through a waypoint (ch. 11). Judged with a Wilson score interval per version: it passes when " +
		"each expected share lies inside the interval around what was seen, so chance alone fails a correct split about 1% of the " +
		"time while a wrong one (50/50 for 80/20 on 100 requests) fails almost always"},
	{Name: "confidence", Type: checks.Float, Default: "0.99", Rule: confidence, Doc: "confidence of the version and status splits as a whole"},
	{Name: "max-latency", Type: checks.Duration, Min: "0s", Doc: "no response may take longer, e.g. 5.5s when a 5s route timeout cuts the 7s delay (ch. 10)"},
	{Name: "min-latency", Type: checks.Duration, Min: "0s", Doc: "no response may be faster, e.g. 6.5s for the injected 7s delay (ch. 9)"},
	{Name: "slow-after", Type: checks.Duration, Min: "1ms", Doc: "with slow-share: the latency from which a response counts as slow, " +
		"e.g. 6.5s for the lab's 7s delays (ch. 10 baseline)"},
	{Name: "slow-share", Type: checks.Int, Min: "0", Max: "100", Doc: "with slow-after: the percentage of responses expected to be that " +
		"slow, judged like a split (a Wilson interval at the probe's confidence), e.g. 50 for ratings-v-delayed-50percent-delayof7s"},
	{Name: "header-present", Type: checks.List, Doc: "response headers that must appear on at least one response: a name or name=value, e.g. " +
		"x-envoy-overloaded=true when the overflowing pool is the one the ingress calls. The lab's productpage passes its backends' " +
		"status and JSON through but not their headers, so for the ch. 10 pool on ratings pair min-status: 503=1 with envoy-stat " +
		"envoy_cluster_upstream_rq_pending_overflow on app=productpage instead"},
	{Name: "body-field", Type: checks.List, Doc: "JSON fields every JSON response must hold: path=value or path alone, with dots and list " +
		"indexes, e.g. reviews.0.rating.color=red"},
	{Name: "body-lacks", Type: checks.String, Doc: "text that must appear in no response body, e.g. Please sign in to view " +
		"product details when a token must let details answer (ch. 7), which holds whether or not details-v3 reaches Google"},
	{Name: "body-contains", Type: checks.String, Doc: "text that must appear in at least one response body, e.g. Reviewer1 (ratings read " +
		"from MySQL) or PublisherA (details-v1). Envoy's own texts such as no healthy upstream only reach the probe when the proxy " +
		"that answers is the ingress's; behind productpage, prove an ejection with envoy-stat " +
		"envoy_cluster_outlier_detection_ejections_active"},
}

func evalHTTPProbe(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	plan, expect, err := httpPlan(p)
	if err != nil {
		return errResult(err)
	}
	var tokenCond *checks.Condition
	if p.Str("token-user") != "" {
		tok, cond, bad := probeToken(ctx, env, p)
		if bad != nil {
			return *bad
		}
		tokenCond = &cond
		if name, ok := strings.CutPrefix(p.Str("token-as"), "cookie:"); ok {
			c := name + "=" + tok
			if prev := plan.Header.Get("Cookie"); prev != "" {
				c = prev + "; " + c
			}
			plan.Header.Set("Cookie", c)
		} else {
			plan.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	reached, ingressCond, bad := reachIngress(ctx, env, p)
	if bad != nil {
		return *bad
	}
	defer reached.Close()
	plan.URL = reached.URL + plan.URL
	conds := []checks.Condition{ingressCond}
	if tokenCond != nil {
		conds = append(conds, *tokenCond)
	}

	var (
		last time.Time
		base = checks.Result{Verdict: checks.Pending, Summary: "probing " + plan.URL}
	)
	plan.OnProgress = func(t traffic.Tally) {
		if t.Done != t.Planned && t.Done != 1 && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		r := base
		r.Progress = fmt.Sprintf("%d/%d requests", t.Done, t.Planned)
		r.Bars = trafficBars(t, expect)
		r.At = last
		env.Emit(r)
	}
	rep, err := traffic.Run(ctx, nil, plan)
	if err != nil {
		return errResult(fmt.Errorf("the probe could not start: %w", err))
	}
	t := rep.Tally()
	progress := fmt.Sprintf("%d/%d requests", t.Done, t.Planned)
	if rep.Stopped == "cancelled" {
		r := msgProbeCancelled.Result("after "+progress, conds...)
		r.Progress, r.Bars = progress, trafficBars(t, expect)
		return r
	}
	findings := traffic.Judge(rep, expect)
	ok := true
	var firstBad *traffic.Finding
	for i, f := range findings {
		conds = append(conds, checks.Condition{Name: f.Name, OK: f.OK, Observed: f.Observed, Expected: f.Expected, Fix: f.Fix})
		if !f.OK && firstBad == nil {
			firstBad = &findings[i]
		}
		ok = ok && f.OK
	}
	answered := 0
	for _, s := range rep.Samples {
		if s.Status != 0 {
			answered++
		}
	}
	var r checks.Result
	switch {
	case ok:
		r = msgProbeOK.Result(t.Done, t.Planned, passSummary(t, expect), reached.Via, conds...)
	case answered == 0 && len(rep.Samples) > 0:
		// Nothing answered at all: say why, in the ingress's terms.
		why := rep.Samples[0].Detail
		if pr := reached.Problem(); pr != "" {
			why = pr
		}
		conds = append(conds, checks.Condition{Name: "any answer", Observed: why, Expected: "HTTP responses",
			Fix: unreachableFix(reached)})
		r = msgProbeUnreachable.Result(reached.Via, why, conds...)
	default:
		r = msgProbeFailed.Result(firstBad.Name, firstBad.Observed, firstBad.Expected, conds...)
	}
	r.Progress, r.Bars = progress, trafficBars(t, expect)
	return r
}

func unreachableFix(r *traffic.Reached) string {
	switch r.Via {
	case traffic.ViaOverride:
		return "Nothing answered at the --ingress address: is your kubectl port-forward still running? Start it again, " +
			"e.g. kubectl port-forward -n istio-ingress svc/istio-ingressgateway 9080:9080"
	case traffic.ViaPortForward:
		return "The gateway pod did not accept the connection on that port: check the gateway's port (param port) and that the pod is ready"
	}
	return "The load-balancer address did not answer; start meshdojo with --ingress and your own kubectl port-forward instead"
}

// passSummary is what a passing probe saw besides how many answered:
// the versions' shares, the outcomes, the slowest answer.
func passSummary(t traffic.Tally, e traffic.Expect) string {
	var parts []string
	if len(e.Versions) > 0 {
		total := 0
		for v, n := range t.Versions {
			if v != "" {
				total += n
			}
		}
		var vs []string
		for _, v := range traffic.Keys(t.Versions) {
			if v != "" && total > 0 {
				vs = append(vs, fmt.Sprintf("%s %.0f%%", v, 100*float64(t.Versions[v])/float64(total)))
			}
		}
		parts = append(parts, strings.Join(vs, ", "))
	}
	var outs []string
	for _, o := range traffic.Keys(t.Outcomes) {
		outs = append(outs, fmt.Sprintf("%s×%d", o, t.Outcomes[o]))
	}
	parts = append(parts, strings.Join(outs, ", "))
	if t.Max > 0 {
		parts = append(parts, "slowest "+t.Max.Round(time.Millisecond).String())
	}
	return strings.Join(parts, "; ")
}

// trafficBars turns a tally into the live chart: one group per version,
// status and latency bucket. Versions the lesson expects appear even at
// zero, so the chart shows what is missing.
func trafficBars(t traffic.Tally, e traffic.Expect) []checks.Bar {
	var bars []checks.Bar
	versions := map[string]int{}
	for v, n := range t.Versions {
		versions[v] = n
	}
	for v := range e.Versions {
		versions[v] += 0
	}
	for _, v := range traffic.Keys(versions) {
		label := v
		if v == "" {
			if versions[v] == 0 {
				continue
			}
			label = "unnamed"
		}
		bars = append(bars, checks.Bar{Group: "version", Label: label, Value: versions[v]})
	}
	for _, o := range traffic.Keys(t.Outcomes) {
		bars = append(bars, checks.Bar{Group: "status", Label: o, Value: t.Outcomes[o]})
	}
	for i, l := range traffic.LatencyLabels() {
		bars = append(bars, checks.Bar{Group: "latency", Label: l, Value: t.Latency[i]})
	}
	return bars
}

// httpPlan turns the parameters into a probe plan (URL holds only the
// path until the ingress is known) and its expectations.
func httpPlan(p checks.Params) (traffic.Plan, traffic.Expect, error) {
	var plan traffic.Plan
	var e traffic.Expect
	path := p.Str("path")
	if path == "" {
		path = "/"
	}
	count, conc := p.Int("count"), p.Int("concurrency")
	hdr := http.Header{}
	pairs, err := checks.ParseHeaders(p.Str("header"))
	if err != nil {
		return plan, e, &checks.ParamError{Param: "header", Value: p.Str("header"), Want: err.Error()}
	}
	for _, kv := range pairs {
		hdr.Add(kv[0], kv[1])
	}
	for _, k := range []string{"cookie", "bearer"} {
		v, err := paramFromEnv(k, p.Str(k))
		if err != nil {
			return plan, e, err
		}
		switch {
		case v == "":
		case k == "cookie":
			hdr.Set("Cookie", v)
		default:
			hdr.Set("Authorization", "Bearer "+v)
		}
	}
	plan = traffic.Plan{
		Method: p.Str("method"), URL: path, Host: p.Str("host"), Header: hdr, Body: p.Str("body"),
		Count: count, Concurrency: conc, Timeout: p.Duration("timeout"), Deadline: p.Duration("deadline"),
		VersionKey: p.Str("version-field"),
	}
	e = traffic.Expect{
		Status: p.List("expect-status"), StatusSplit: paramWeights(p, "status-split"), MinStatus: paramWeights(p, "min-status"),
		MaxStatusShare: paramWeights(p, "max-status-share"), Versions: paramWeights(p, "versions"), Confidence: p.Float("confidence"),
		MaxLatency: p.Duration("max-latency"), MinLatency: p.Duration("min-latency"), SlowAfter: p.Duration("slow-after"),
		SlowShare: p.Int("slow-share"), Headers: p.List("header-present"),
		Fields: p.List("body-field"), BodyContains: p.Str("body-contains"), BodyLacks: p.Str("body-lacks"),
	}
	if len(e.Status) == 0 && len(e.StatusSplit) == 0 && len(e.MinStatus) == 0 && len(e.MaxStatusShare) == 0 {
		e.Status = []string{"2xx"}
	}
	for _, f := range e.Fields {
		path, _, _ := strings.Cut(f, "=")
		plan.Fields = append(plan.Fields, strings.TrimSpace(path))
	}
	return plan, e, nil
}

func paramWeights(p checks.Params, k string) map[string]int {
	if p.Str(k) == "" {
		return nil
	}
	return p.Weights(k)
}

// fromEnv resolves a $NAME parameter value from the environment.
func paramFromEnv(param, v string) (string, error) {
	name, ok := strings.CutPrefix(strings.TrimSpace(v), "$")
	if !ok {
		return v, nil
	}
	if val := os.Getenv(name); val != "" {
		return val, nil
	}
	return "", &checks.ParamError{Param: param, Value: v, Want: fmt.Sprintf("the environment variable %s to be set (export %s=... before starting meshdojo)", name, name)}
}

// reachIngress finds the ingress and opens a way to it. On failure it
// returns the Error result to give instead.
func reachIngress(ctx context.Context, env checks.Env, p checks.Params) (*traffic.Reached, checks.Condition, *checks.Result) {
	cond := checks.Condition{Name: "ingress", Expected: "a way to reach the ingress gateway"}
	override := p.Str("ingress")
	from := "the check's ingress parameter"
	if override == "" {
		override, from = env.Traffic().Ingress, "--ingress"
	}
	if override != "" {
		u, err := traffic.ParseOverride(override)
		if err != nil {
			cond.Observed, cond.Fix = err.Error(), "Give an address such as http://localhost:9080."
			r := msgIngressOverride.Result(from, cond)
			return nil, cond, &r
		}
		cond.OK, cond.Observed = true, u+" from "+from+" (no discovery)"
		return &traffic.Reached{URL: u, Via: traffic.ViaOverride, Detail: cond.Observed}, cond, nil
	}
	c := env.Clients()
	if c == nil || c.Kube == nil || c.Dynamic == nil || c.Config == nil {
		cond.Observed = "not connected to a cluster"
		cond.Fix = "Connect meshdojo to your cluster (--context), or start it with --ingress http://localhost:9080 while " +
			"kubectl port-forward -n istio-ingress svc/istio-ingressgateway 9080:9080 runs."
		r := msgProbeOffline.Result("send traffic", cond)
		return nil, cond, &r
	}
	// Finding and opening the way in must not hang on a silent API
	// server; the forward itself then lives as long as ctx.
	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	want := traffic.Want{Gateway: p.Str("gateway"), Namespace: p.Str("namespace"), Service: p.Str("service"), Port: p.Int("port")}
	in, err := traffic.FindIngress(sctx, c.Kube, c.Dynamic, want)
	if err != nil {
		cond.Observed = strings.TrimPrefix(err.Error(), traffic.ErrNoIngress.Error()+": ")
		if apierrors.IsForbidden(err) {
			cond.Fix = "Your credentials may not read Services or Gateways in all namespaces, which finding the ingress needs. " +
				"An admin can grant it with " + checks.GrantRBAC + "; or start meshdojo with --ingress http://localhost:9080 " +
				"while your own kubectl port-forward runs."
			r := checks.MsgForbidden.Result(errors.New("not allowed to look for the ingress gateway"), cond)
			return nil, cond, &r
		}
		cond.Fix = "Install the ingress gateway as the lesson's set-up step does, and check it with kubectl get gateway -A " +
			"and kubectl get svc -A. If you reach it another way, start meshdojo with --ingress http://localhost:9080."
		r := msgNoIngress.Result(cond)
		return nil, cond, &r
	}
	reached, err := traffic.Reach(ctx, sctx, c.Config, c.Kube, in)
	if err != nil {
		cond.Observed = err.Error()
		fail := func(c checks.Condition) checks.Result { return msgForwardRefused.Result(forwardRefused, c) }
		switch {
		case apierrors.IsForbidden(err):
			// Before "no ready pod": a refused pod list says nothing
			// about the pods.
			fail = func(c checks.Condition) checks.Result { return msgForwardRefused.Result(forwardForbidden, c) }
			cond.Fix = fmt.Sprintf("Your credentials may not create pods/portforward (or list pods) in %s. An admin can "+
				"grant it (the meshdojo-prober role) with %s; or run kubectl port-forward -n %s svc/%s %d:%d yourself and "+
				"start meshdojo with --ingress http://localhost:%d.",
				in.Namespace, checks.GrantRBAC, in.Namespace, in.Service, in.Port, in.Port, in.Port)
		case errors.Is(err, traffic.ErrNoGatewayPod):
			fail = func(c checks.Condition) checks.Result { return msgNoGatewayPod.Result(c) }
			cond.Fix = fmt.Sprintf("See why with kubectl get pods -n %s and kubectl describe pod; gateway pods need the "+
				"ingress node in the lab (label node.kubernetes.io/nodegroup=ingress).", in.Namespace)
		default:
			cond.Fix = fmt.Sprintf("Try kubectl port-forward -n %s svc/%s %d:%d yourself; if that works, start meshdojo with "+
				"--ingress http://localhost:%d.", in.Namespace, in.Service, in.Port, in.Port, in.Port)
		}
		if errors.Is(err, context.Canceled) {
			fail = func(c checks.Condition) checks.Result { return msgProbeCancelled.Result("before it started", c) }
		}
		r := fail(cond)
		return nil, cond, &r
	}
	cond.OK, cond.Observed = true, reached.Detail
	if len(in.Others) > 0 {
		cond.Observed += "; also found: " + strings.Join(in.Others, "; ") + " (choose with param gateway)"
	}
	return reached, cond, nil
}

// ProbePlan turns http-probe's validated parameters into the plan and
// the expectations the check itself would use. Tests judge simulated
// traffic with it, so that a lesson's probe sizes are measured against
// the check's own rules (see lessons/probes_test.go).
func ProbePlan(p checks.Params) (traffic.Plan, traffic.Expect, error) { return httpPlan(p) }
