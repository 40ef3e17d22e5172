package catalogue

// follow-request sends one marked request through the ingress gateway and
// follows it through the lab's telemetry: the access-log line the
// selected pods' proxy wrote for it (read through pods/log) with the
// trace ID the proxy gave it, then, as the step asks, the same line in
// Loki and the trace with that ID in Tempo (both through the API
// server's service proxy). One request followed end to end proves the
// pipeline a reader built, where a count of lines or traces would pass on
// anything left from before.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/meshdojo/meshdojo/checks"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/meshdojo/meshdojo/internal/traffic"
)

// Codes of follow-request.
const (
	CodeFollowOK         = "MD0880" // pass
	CodeFollowNoAnswer   = "MD0881" // the marked request got no HTTP answer
	CodeFollowNoLine     = "MD0882" // the proxy logged no line for it
	CodeFollowNoTraceID  = "MD0883" // the line has no trace ID
	CodeFollowNotInLoki  = "MD0884" // Loki does not have the line
	CodeFollowNoLoki     = "MD0885" // Loki is not installed
	CodeFollowNotInTempo = "MD0886" // Tempo does not have the trace
	CodeFollowNoTempo    = "MD0887" // Tempo is not installed
	CodeFollowStore      = "MD0888" // Loki or Tempo could not be asked
)

var followPlaces = []string{"log", "loki", "tempo"}

// The messages of follow-request.
var (
	msgFollowOK = checks.Msg2[string, string](checks.Code{ID: CodeFollowOK, Verdict: checks.Pass,
		Template: "trace %s found in %s",
		Doc:      "the request was found in every place asked"})
	msgFollowNoAnswer = checks.Msg1[string](checks.Code{ID: CodeFollowNoAnswer, Verdict: checks.Fail,
		Template: "the marked request got no answer via %s",
		Doc:      "the marked request got no HTTP answer"})
	msgFollowNoLine = checks.Msg0(checks.Code{ID: CodeFollowNoLine, Verdict: checks.Fail,
		Template: "the proxy logged no line for the marked request",
		Doc:      "the proxy logged no access-log line for the request"})
	msgFollowNoTraceID = checks.Msg0(checks.Code{ID: CodeFollowNoTraceID, Verdict: checks.Fail,
		Template: "the request's line carries no trace ID",
		Doc:      "the request's line carries no trace ID"})
	msgFollowNotInLoki = checks.Msg0(checks.Code{ID: CodeFollowNotInLoki, Verdict: checks.Fail,
		Template: "Loki does not have the request's line",
		Doc:      "Loki does not have the request's line"})
	msgFollowNoLoki = checks.Msg0(checks.Code{ID: CodeFollowNoLoki, Verdict: checks.Fail,
		Template: "Loki is not installed",
		Doc:      "Loki is not installed (its Service does not exist)"})
	msgFollowNotInTempo = checks.Msg0(checks.Code{ID: CodeFollowNotInTempo, Verdict: checks.Fail,
		Template: "Tempo does not have the request's trace",
		Doc:      "Tempo does not have the request's trace"})
	msgFollowNoTempo = checks.Msg0(checks.Code{ID: CodeFollowNoTempo, Verdict: checks.Fail,
		Template: "Tempo is not installed",
		Doc:      "Tempo is not installed (its Service does not exist)"})
	msgFollowStore = checks.Msg1[string](checks.Code{ID: CodeFollowStore, Verdict: checks.Error,
		Template: "%s could not be asked",
		Doc:      "Loki or Tempo could not be asked"})
)

var followRequest = &checks.Check{
	Name: "follow-request",
	Summary: "sends one marked request through the ingress gateway and follows it: its access-log line in the selected " +
		"pods' proxy (with a trace ID unless trace-id is false), then that line in Loki and that trace in Tempo",
	Acts: "sends one HTTP request through your ingress gateway (opening a port-forward to a gateway pod when it has no " +
		"reachable address), then reads proxy logs and asks Loki and Tempo",
	Params: []checks.ParamSpec{
		{Name: "path", Type: checks.HTTPPath, Default: "/productpage", Doc: "path to request; a query parameter meshdojo=<random> is " +
			"added to find this request's line. The lab's productpage admits /productpage* from the ingress gateway"},
		{Name: "namespace", Type: checks.Namespace, Default: "bookinfo", Doc: "namespace of the pods whose proxy logs the request"},
		{Name: "selector", Type: checks.Selector, Default: "app=productpage", Doc: "label selector of those pods: the first workload " +
			"behind the gateway, whose inbound line carries the trace ID"},
		{Name: "container", Type: checks.ObjectName, Default: "istio-proxy", Doc: "the proxy's container"},
		{Name: "in", Type: checks.List, Default: "log", Rule: followIn, Doc: "where the request must be found, in order: log (the " +
			"proxy's access log, always), loki (the same line in Loki), tempo (its trace in Tempo), e.g. log,tempo"},
		{Name: "trace-id", Type: checks.Bool, Default: "true", Doc: "whether the line must carry a trace ID; false where the proxies " +
			"cannot trace yet (istiod gives them a tracer only once it finds the tracing provider's Service). A trace in Tempo " +
			"always needs one"},
		{Name: "within", Type: checks.Duration, Default: "60s", Min: "1s", Max: "5m", Doc: "how long to keep looking in each place: " +
			"the proxy's log is read within a second or two, Alloy ships a line to Loki within seconds, and the collector " +
			"batches spans before Tempo has them"},
		{Name: "loki-namespace", Type: checks.Namespace, Default: "grafana-loki", Doc: "namespace of the Loki Service"},
		{Name: "loki-service", Type: checks.ObjectName, Default: "grafana-loki", Doc: "Loki Service (the lab's chart names it grafana-loki)"},
		{Name: "loki-port", Type: checks.Int, Default: "3100", Min: "1", Max: "65535", Doc: "Loki's HTTP port"},
		{Name: "tempo-namespace", Type: checks.Namespace, Default: "grafana-tempo", Doc: "namespace of the Tempo Service"},
		{Name: "tempo-service", Type: checks.ObjectName, Default: "grafana-tempo", Doc: "Tempo Service (the lab's chart names it grafana-tempo)"},
		{Name: "tempo-port", Type: checks.Int, Default: "3200", Min: "1", Max: "65535", Doc: "Tempo's HTTP port"},
		{Name: "gateway", Type: checks.Ref, Doc: "namespace/name of the gateway to go through, as for http-probe"},
		{Name: "port", Type: checks.Int, Min: "1", Max: "65535", Doc: "the gateway's port, e.g. 9080; by default its first HTTP port"},
		{Name: "ingress", Type: checks.String, Rule: ingressOverride, Doc: "base URL instead of finding the ingress; lessons leave it " +
			"empty (readers set --ingress)"},
	},
	Rules: []checks.Rule{{Doc: "in with tempo needs trace-id", Check: func(p checks.Params) *checks.ParamError {
		if p.Str("trace-id") != "" && !p.Bool("trace-id") && slices.Contains(p.List("in"), "tempo") {
			return &checks.ParamError{Param: "trace-id", Value: p.Str("trace-id"), Want: "true (or left out): a trace is found in Tempo by the trace ID in the line"}
		}
		return nil
	}}},
	Inputs: func(p checks.Params) []checks.Input {
		return []checks.Input{{GVR: checks.GVRPods, Namespace: p.Str("namespace"), Selector: p.Str("selector")}}
	},
	Uses: []*checks.Capability{checks.IngressForward, checks.PodLogs, checks.LokiProxy, checks.TempoProxy},
	Codes: []checks.Code{
		msgFollowOK.Code,
		msgFollowNoAnswer.Code,
		msgFollowNoLine.Code,
		msgFollowNoTraceID.Code,
		msgFollowNotInLoki.Code,
		msgFollowNoLoki.Code,
		msgFollowNotInTempo.Code,
		msgFollowNoTempo.Code,
		msgFollowStore.Code,
		msgLogUnreadable.Code,
		msgNoIngress.Code,
		msgNoGatewayPod.Code,
		msgForwardRefused.Code,
		codeProbeCancelled,
		codeProbeOffline,
		msgIngressOverride.Code,
	},
	Eval: evalFollowRequest,
}

// followIn: places among log, loki and tempo.
func followIn(v string) error {
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		found := false
		for _, f := range followPlaces {
			found = found || s == f
		}
		if !found {
			return errors.New("a list of log, loki and tempo, such as log,tempo")
		}
	}
	return nil
}

var traceIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

// followPoll is how often each place is asked again while the request
// is not found there.
var followPoll = time.Second

func evalFollowRequest(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	c := env.Clients()
	if c == nil || c.Kube == nil {
		return msgProbeOffline.Result("follow a request")
	}
	in := map[string]bool{}
	for _, s := range p.List("in") {
		in[s] = true
	}
	// The default is true; only an explicit false lets a line without a
	// trace ID pass.
	needID := p.Str("trace-id") == "" || p.Bool("trace-id") || in["tempo"]
	// The ingress is found as http-probe finds it, with this check's
	// gateway parameters only.
	reached, ingressCond, bad := reachIngress(ctx, env, checks.Params{"gateway": p.Str("gateway"), "port": p.Str("port"), "ingress": p.Str("ingress")})
	if bad != nil {
		return *bad
	}
	defer reached.Close()

	mark := make([]byte, 6)
	rand.Read(mark)
	nonce := hex.EncodeToString(mark)
	path := p.Str("path")
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	path += sep + "meshdojo=" + nonce
	conds := []checks.Condition{ingressCond}
	progress := func(s string) {
		env.Emit(checks.Result{Verdict: checks.Pending, Summary: "following " + path, Progress: s, At: time.Now()})
	}
	progress("sending the request")

	rep, err := traffic.Run(ctx, nil, traffic.Plan{Method: "GET", URL: reached.URL + path, Count: 1, Concurrency: 1, Timeout: 15 * time.Second})
	if err != nil {
		return errResult(fmt.Errorf("the request could not be sent: %w", err))
	}
	send := checks.Condition{Name: "the marked request", Expected: "an HTTP answer", Observed: "GET " + path}
	if len(rep.Samples) == 0 || rep.Samples[0].Status == 0 {
		why := "no answer"
		if len(rep.Samples) > 0 {
			why = rep.Samples[0].Detail
		}
		send.Observed += ": " + why
		send.Fix = unreachableFix(reached)
		return msgFollowNoAnswer.Result(reached.Via, append(conds, send)...)
	}
	send.OK = true
	send.Observed += fmt.Sprintf(": %d via %s", rep.Samples[0].Status, reached.Via)
	conds = append(conds, send)
	within := p.Duration("within")

	// The proxy's access log.
	progress("reading the proxy's access log")
	q := traffic.LogQuery{Namespace: p.Str("namespace"), Selector: p.Str("selector"), Container: p.Str("container"), Since: 10 * time.Minute, Tail: 5000}
	who := fmt.Sprintf("%s log of %s in %s", q.Container, q.Selector, q.Namespace)
	var line *traffic.LogEntry
	var lastErr error
	seen := 0
	poll(ctx, within, func() bool {
		logs, _, err := traffic.AccessLogs(ctx, c.Kube, q)
		lastErr = err
		if err != nil {
			return false
		}
		seen = 0
		for _, pl := range logs {
			for i := range pl.Entries {
				e := pl.Entries[i]
				seen++
				if strings.Contains(e.Path, nonce) && (line == nil || line.TraceID == "" && e.TraceID != "") {
					line = &e
				}
			}
		}
		return line != nil && (line.TraceID != "" || !needID)
	})
	logCond := checks.Condition{Name: "its line in the " + who, Expected: "an access-log line with a trace ID"}
	if !needID {
		logCond.Expected = "an access-log line"
	}
	if line == nil {
		if lastErr != nil && seen == 0 {
			logCond.Observed = lastErr.Error()
			logCond.Fix = fmt.Sprintf("Check that the pods run with a proxy (kubectl get pods -n %s -l %s) and that your credentials may "+
				"get pods/log.", q.Namespace, q.Selector)
			return msgLogUnreadable.Result(append(conds, logCond)...)
		}
		logCond.Observed = fmt.Sprintf("no line for meshdojo=%s among %d access-log entries (last 10 minutes)", nonce, seen)
		logCond.Fix = "Access logging may be off for these pods: the lab turns it on with the mesh config's defaultProviders and " +
			"the Telemetry bookinfo/bookinfo (kubectl get telemetry -A). Or the pods the selector picks did not receive the request."
		return msgFollowNoLine.Result(append(conds, logCond)...)
	}
	logCond.Observed = fmt.Sprintf("%s %s %d, trace_id %s", line.Method, line.Path, line.Code, orNone(line.TraceID))
	if needID && !traceIDRe.MatchString(line.TraceID) {
		logCond.Fix = "The line has no trace ID: the access-log provider's format needs trace_id: '%TRACE_ID%', and the proxy " +
			"must trace: a tracing provider in the mesh config or a Telemetry, no disableSpanReporting for these pods, and the " +
			"provider's Service must exist (istiod gives the proxies no tracer until it finds it: install the collector)."
		return msgFollowNoTraceID.Result(append(conds, logCond)...)
	}
	logCond.OK = true
	conds = append(conds, logCond)
	id := line.TraceID

	if in["loki"] {
		progress("asking Loki for the line")
		t := traffic.StoreTarget{Namespace: p.Str("loki-namespace"), Service: p.Str("loki-service"), Port: p.Int("loki-port")}
		query := fmt.Sprintf(`{namespace=%q, container=%q} |= %q`, q.Namespace, q.Container, "meshdojo="+nonce)
		cond := checks.Condition{Name: "the line in Loki (" + t.String() + ")", Expected: "Loki returns it for " + query}
		var found []traffic.LokiLine
		var err error
		poll(ctx, within, func() bool {
			found, err = traffic.LokiQuery(ctx, c.Kube, t, query, 15*time.Minute, 10)
			return err == nil && len(found) > 0 || errors.Is(err, traffic.ErrStoreMissing)
		})
		switch {
		case errors.Is(err, traffic.ErrStoreMissing):
			cond.Observed = err.Error()
			cond.Fix = "Install Loki as the lab does (README steps 15 and 16: MinIO, then grafana-loki), then Alloy (step 17)."
			return msgFollowNoLoki.Result(append(conds, cond)...)
		case err != nil:
			cond.Observed = err.Error()
			cond.Fix = fmt.Sprintf("Check that Loki runs (kubectl get pods -n %s) and answers on port %d.", t.Namespace, t.Port)
			return msgFollowStore.Result("Loki", append(conds, cond)...)
		case len(found) == 0:
			cond.Observed = fmt.Sprintf("nothing after %s", within)
			cond.Fix = "Loki runs but holds no such line: something must ship the pods' logs to it. The lab's Alloy (README step " +
				"17) tails every pod and pushes to grafana-loki:3100; check it runs (kubectl get pods -n grafana-alloy)."
			return msgFollowNotInLoki.Result(append(conds, cond)...)
		}
		cond.OK = true
		cond.Observed = fmt.Sprintf("%d line(s), stream %s", len(found), lokiLabels(found[0].Labels))
		conds = append(conds, cond)
	}

	if in["tempo"] {
		progress("asking Tempo for trace " + id)
		t := traffic.StoreTarget{Namespace: p.Str("tempo-namespace"), Service: p.Str("tempo-service"), Port: p.Int("tempo-port")}
		cond := checks.Condition{Name: "trace " + id + " in Tempo (" + t.String() + ")", Expected: "Tempo returns the trace"}
		var tr traffic.Trace
		var found bool
		var err error
		poll(ctx, within, func() bool {
			tr, found, err = traffic.TempoTrace(ctx, c.Kube, t, id)
			return found || errors.Is(err, traffic.ErrStoreMissing)
		})
		switch {
		case errors.Is(err, traffic.ErrStoreMissing):
			cond.Observed = err.Error()
			cond.Fix = "Install Tempo as the lab does (README step 18: grafana-tempo and grafana-tempo-istio), then the collector (step 19)."
			return msgFollowNoTempo.Result(append(conds, cond)...)
		case err != nil:
			cond.Observed = err.Error()
			cond.Fix = fmt.Sprintf("Check that Tempo runs (kubectl get pods -n %s) and answers on port %d.", t.Namespace, t.Port)
			return msgFollowStore.Result("Tempo", append(conds, cond)...)
		case !found:
			cond.Observed = fmt.Sprintf("trace not found after %s", within)
			cond.Fix = "The proxies send spans to the mesh config's opentelemetry-grpc provider, the collector in " +
				"opentelemetry-collector, which sends them on to Tempo through the egress gateway. Check the collector runs " +
				"(kubectl get pods -n opentelemetry-collector), that its traces pipeline exports to Tempo, and that the " +
				"Telemetry samples the request (randomSamplingPercentage)."
			return msgFollowNotInTempo.Result(append(conds, cond)...)
		}
		cond.OK = true
		cond.Observed = fmt.Sprintf("%d spans from %s", tr.Spans, strings.Join(tr.Services, ", "))
		conds = append(conds, cond)
	}
	places := []string{"the proxy's log"}
	if in["loki"] {
		places = append(places, "Loki")
	}
	if in["tempo"] {
		places = append(places, "Tempo")
	}
	r := msgFollowOK.Result(id, strings.Join(places, ", "), conds...)
	r.Progress = "followed"
	return r
}

// poll calls ok until it returns true, ctx ends or within has passed.
func poll(ctx context.Context, within time.Duration, ok func() bool) {
	deadline := time.Now().Add(within)
	for {
		if ok() || ctx.Err() != nil || time.Now().After(deadline) {
			return
		}
		t := time.NewTimer(followPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func lokiLabels(l map[string]string) string {
	var parts []string
	for _, k := range []string{"namespace", "pod", "container", "app", "cluster"} {
		if v, ok := l[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
