package catalogue

// request-rate sends requests through the ingress gateway and watches
// what Prometheus makes of them, live: while the requests go out and
// until the answer compares as the step wants, it asks a PromQL query
// (through the API server's service proxy) every few seconds and draws
// each series as a bar, e.g. requests per minute to each Bookinfo
// workload. Sending the traffic itself makes the gate independent of
// whatever the cluster counted before: only series this traffic can
// fill, such as ones carrying a label the step adds, decide.

import (
	"context"
	"errors"
	"fmt"
	"github.com/meshdojo/meshdojo/checks"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshdojo/meshdojo/internal/traffic"
)

var requestRate = &checks.Check{
	Name: "request-rate",
	Summary: "sends requests through the ingress gateway and charts, live, a PromQL query over them (e.g. the request " +
		"rate per workload); passes when every series compares true",
	Acts: "sends a bounded number of HTTP requests through your ingress gateway (opening a port-forward to a gateway pod " +
		"when it has no reachable address) and asks Prometheus while they go",
	Chart: true,
	Params: []checks.ParamSpec{
		{Name: "query", Type: checks.String, Required: true, Doc: "PromQL instant query, one series per bar, e.g. " +
			"sum by (destination_workload) (rate(istio_requests_total{reporter=\"destination\",destination_workload_namespace=\"bookinfo\"}[5m]))"},
		{Name: "chart-label", Type: checks.String, Doc: "label naming each bar, e.g. destination_workload; by default the series' first label"},
		{Name: "chart-title", Type: checks.String, Default: "requests per minute", Doc: "title of the chart"},
		{Name: "scale", Type: checks.Float, Default: "60", Doc: "each value is multiplied by this for the chart: 60 turns a per-second rate into per minute"},
		{Name: "op", Type: checks.Enum, Default: "gt", Enum: metricOps, Doc: metricOpDoc},
		{Name: "value", Type: checks.Float, Default: "0", Doc: "number every series is compared with"},
		{Name: "path", Type: checks.HTTPPath, Default: "/productpage", Doc: "path to request through the gateway"},
		{Name: "count", Type: checks.Int, Default: "60", Min: "1", Max: strconv.Itoa(traffic.MaxCount), Doc: "how many requests to send"},
		{Name: "concurrency", Type: checks.Int, Default: "2", Min: "1", Max: strconv.Itoa(traffic.MaxConcurrency), Doc: "requests in flight at once"},
		{Name: "within", Type: checks.Duration, Default: "3m", Min: "1s", Max: traffic.MaxDeadline.String(), Doc: "how long to keep asking " +
			"Prometheus after the requests: the lab's Prometheus scrapes every minute, and a rate needs two scrapes"},
		{Name: "settled-by", Type: checks.String, Doc: "PromQL query of a counter these requests raise whatever the step changed, e.g. " +
			"sum(istio_requests_total{reporter=\"destination\",destination_workload=\"productpage-v2\"}): once its total has grown by at " +
			"least half the requests sent, Prometheus has scraped them, and the answer is judged at once instead of waiting " +
			"for within to pass"},
		{Name: "namespace", Type: checks.Namespace, Default: "prometheus", Doc: "namespace of the Prometheus Service"},
		{Name: "service", Type: checks.ObjectName, Default: "prometheus-server", Doc: "Prometheus Service"},
		{Name: "prometheus-port", Type: checks.Int, Default: "9090", Min: "1", Max: "65535", Doc: "Prometheus Service port"},
		{Name: "gateway", Type: checks.Ref, Doc: "namespace/name of the gateway to go through, as for http-probe"},
		{Name: "port", Type: checks.Int, Min: "1", Max: "65535", Doc: "the gateway's port, e.g. 9080; by default its first HTTP port"},
		{Name: "ingress", Type: checks.String, Rule: ingressOverride, Doc: "base URL instead of finding the ingress; lessons leave it " +
			"empty (readers set --ingress)"},
	},
	Inputs: func(p checks.Params) []checks.Input {
		return []checks.Input{{GVR: gvrTrafficServices, Namespace: p.Str("namespace")}}
	},
	Uses: []*checks.Capability{checks.IngressForward, checks.ServiceProxy},
	Codes: append(slices.Clip(metricCodes), msgPromUnavailable.Code, msgPromMissing.Code,
		msgProbeUnreachable.Code, msgNoIngress.Code, msgNoGatewayPod.Code, msgForwardRefused.Code, codeProbeCancelled,
		msgIngressOverride.Code),
	Eval: evalRequestRate,
}

// rateEvery is how often Prometheus is asked while the check runs.
var rateEvery = 2 * time.Second

func evalRequestRate(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	c := env.Clients()
	if c == nil || c.Kube == nil {
		return msgProbeOffline.Result("send traffic and ask Prometheus")
	}
	t := traffic.PromTarget{Namespace: p.Str("namespace"), Service: p.Str("service"), Port: p.Int("prometheus-port")}
	query := p.Str("query")
	ask := func() ([]traffic.Series, error) {
		qctx, cancel := context.WithTimeout(ctx, setupTimeout)
		defer cancel()
		return traffic.Query(qctx, c.Kube, t, query)
	}
	promCond := checks.Condition{Name: "Prometheus " + t.Namespace + "/" + t.Service, Expected: "an answer"}
	// Ask once before sending, so that a missing Prometheus or a bad
	// query is said at once, not after the traffic.
	if _, err := ask(); err != nil {
		return promProblem(err, t, promCond)
	}
	// The settling counter's total before the requests.
	marker := p.Str("settled-by")
	total := func() (float64, error) {
		qctx, cancel := context.WithTimeout(ctx, setupTimeout)
		defer cancel()
		ss, err := traffic.Query(qctx, c.Kube, t, marker)
		sum := 0.0
		for _, x := range ss {
			sum += x.Value
		}
		return sum, err
	}
	var base float64
	if marker != "" {
		var err error
		if base, err = total(); err != nil {
			return promProblem(err, t, promCond)
		}
	}
	reached, ingressCond, bad := reachIngress(ctx, env, checks.Params{"gateway": p.Str("gateway"), "port": p.Str("port"), "ingress": p.Str("ingress")})
	if bad != nil {
		return *bad
	}
	defer reached.Close()

	var (
		mu     sync.Mutex
		tally  traffic.Tally
		series []traffic.Series
		asked  int
	)
	emit := func() {
		mu.Lock()
		r := checks.Result{Verdict: checks.Pending, Summary: "sending " + p.Str("path") + " and asking Prometheus", At: time.Now(),
			Progress: fmt.Sprintf("%d/%d requests · Prometheus asked %d×", tally.Done, p.Int("count"), asked),
			Bars:     rateBars(p, series)}
		mu.Unlock()
		env.Emit(r)
	}
	refresh := func() error {
		s, err := ask()
		mu.Lock()
		asked++
		if err == nil {
			series = s
		}
		mu.Unlock()
		emit()
		return err
	}
	plan := traffic.Plan{Method: "GET", URL: reached.URL + p.Str("path"), Count: p.Int("count"), Concurrency: p.Int("concurrency"),
		Timeout: 10 * time.Second, Deadline: traffic.MaxDeadline}
	plan.OnProgress = func(tl traffic.Tally) {
		mu.Lock()
		tally = tl
		mu.Unlock()
	}
	done := make(chan struct{})
	var rep *traffic.Report
	var runErr error
	go func() {
		defer close(done)
		rep, runErr = traffic.Run(ctx, nil, plan)
	}()
	tick := time.NewTicker(rateEvery)
	defer tick.Stop()
sending:
	for {
		select {
		case <-done:
			break sending
		case <-tick.C:
			refresh()
		}
	}
	if runErr != nil {
		return errResult(fmt.Errorf("the requests could not be sent: %w", runErr))
	}
	tl := rep.Tally()
	sent := checks.Condition{Name: "requests through the gateway", OK: tl.Done > 0, Expected: "answers",
		Observed: fmt.Sprintf("%d sent to %s via %s", tl.Done, p.Str("path"), reached.Via)}
	answered := 0
	for _, s := range rep.Samples {
		if s.Status != 0 {
			answered++
		}
	}
	if ctx.Err() != nil {
		return msgProbeCancelled.Result("before Prometheus was asked", ingressCond, sent)
	}
	if answered == 0 {
		sent.OK = false
		sent.Fix = unreachableFix(reached)
		return msgProbeUnreachable.Result(reached.Via, fmt.Sprintf("%d sent to %s", tl.Done, p.Str("path")), ingressCond, sent)
	}
	sent.Observed = fmt.Sprintf("%d of %d answered, via %s", answered, tl.Done, reached.Via)

	// Prometheus scrapes on its own schedule: keep asking until the
	// answer compares as wanted, or within has passed.
	var r checks.Result
	settled := false
	deadline := time.Now().Add(p.Duration("within"))
	for {
		err := refresh()
		if err != nil {
			return promProblem(err, t, promCond)
		}
		mu.Lock()
		s := append([]traffic.Series(nil), series...)
		mu.Unlock()
		r = judgeSeries(p, "query "+query, s, "each",
			"Prometheus has no such series yet: it scrapes the proxies every minute in the lab, so wait a little; if the "+
				"series never come, compare the query's labels with what the proxies report (query istio_requests_total in "+
				"Prometheus's web UI).")
		if r.Verdict == checks.Pass || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if marker != "" {
			// Once Prometheus has scraped these requests, the answer is
			// the one it will keep: ask once more and stop.
			if now, err := total(); err == nil && now-base >= float64(answered)/2 {
				if settled {
					r.Conditions = append(r.Conditions, checks.Condition{Name: "Prometheus scraped the requests", OK: true,
						Observed: fmt.Sprintf("%s grew by %s", marker, metricNum(now-base)), Expected: "the answer is final"})
					break
				}
				settled = true
			}
		}
		w := time.NewTimer(rateEvery)
		select {
		case <-w.C:
		case <-ctx.Done():
			w.Stop()
		}
	}
	r.Conditions = append([]checks.Condition{ingressCond, sent}, r.Conditions...)
	mu.Lock()
	r.Bars = rateBars(p, series)
	r.Progress = fmt.Sprintf("%d/%d requests · Prometheus asked %d×", tl.Done, p.Int("count"), asked)
	mu.Unlock()
	return r
}

func promProblem(err error, t traffic.PromTarget, cond checks.Condition) checks.Result {
	cond.Observed = err.Error()
	if errors.Is(err, traffic.ErrNoPrometheus) {
		cond.Expected = "Prometheus running"
		cond.Fix = fmt.Sprintf("Install Prometheus as the lab does, then check that kubectl get svc -n %s %s shows it.", t.Namespace, t.Service)
		return msgPromMissing.Result(cond)
	}
	cond.Fix = fmt.Sprintf("Check that Prometheus runs (kubectl get pods -n %s) and that the query works in its web UI "+
		"(kubectl port-forward -n %s svc/%s %d:%d).", t.Namespace, t.Namespace, t.Service, t.Port, t.Port)
	return msgPromUnavailable.Result(cond)
}

// rateBars draws each series as a bar named by its chart label, its
// value scaled and rounded.
func rateBars(p checks.Params, series []traffic.Series) []checks.Bar {
	var bars []checks.Bar
	for _, s := range series {
		bars = append(bars, checks.Bar{Group: p.Str("chart-title"), Label: seriesLabel(s.Labels, p.Str("chart-label")),
			Value: int(math.Round(s.Value * p.Float("scale")))})
	}
	slices.SortFunc(bars, func(a, b checks.Bar) int { return strings.Compare(a.Label, b.Label) })
	return bars
}

// seriesLabel picks one label's value from a rendered {a="b",...}; with
// no name, the first label's; with none, "value".
func seriesLabel(rendered, name string) string {
	body := strings.TrimSuffix(strings.TrimPrefix(rendered, "{"), "}")
	for _, kv := range splitLabels(body) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if name == "" || k == name {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return v
		}
	}
	return "value"
}

// splitLabels splits a=b pairs on commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
