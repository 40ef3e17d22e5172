package catalogue

// uptime-probe proves "no downtime": it sends requests through the
// ingress gateway at a steady rate while something happens to the mesh
// (a rollout restart onto new proxies), and passes only when every
// answer was 2xx. Unlike http-probe it does not judge shares of a burst:
// one failed answer fails it, and it names every failure by when it was
// sent, its status and Envoy's flags. Given a namespace to watch, it also
// insists that the Deployments there were restarted while it ran and
// finished rolling out before it stopped, so a probe that ran beside the
// restart rather than through it proves nothing and says so.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/traffic"
)

// Codes of uptime-probe.
const (
	CodeUptimeOK         = "MD0890" // every answer 2xx through the restart
	CodeUptimeFailed     = "MD0891" // some answers were not 2xx
	CodeUptimeNoRestart  = "MD0892" // no restart happened while the probe ran
	CodeUptimeUnfinished = "MD0893" // the rollout had not finished when the probe stopped
)

// The messages of uptime-probe's own codes.
var (
	msgUptimeOK = checks.Msg3[int, string, string](checks.Code{ID: CodeUptimeOK, Verdict: checks.Pass,
		Template: "%d answers in %s, every one 2xx%s",
		Doc:      "every answer was 2xx (through the restart of the Deployments named, when a namespace is watched)"})
	msgUptimeFailed = checks.Msg3[int, int, string](checks.Code{ID: CodeUptimeFailed, Verdict: checks.Fail,
		Template: "%d of %d answers not 2xx: %s",
		Doc:      "some answers were not 2xx or got no answer; each is listed with when it was sent, its status and Envoy's flags"})
	msgUptimeNoRestart = checks.Msg1[string](checks.Code{ID: CodeUptimeNoRestart, Verdict: checks.Fail,
		Template: "not restarted while the probe ran: %s",
		Doc:      "a watched Deployment was not restarted while the probe ran (or there is none to watch): start the probe, then restart"})
	msgUptimeUnfinished = checks.Msg1[string](checks.Code{ID: CodeUptimeUnfinished, Verdict: checks.Fail,
		Template: "still rolling out when the probe stopped: %s",
		Doc:      "a restarted Deployment had not finished rolling out when the probe stopped (max-duration)"})
)

// uptimeSettle is how long the probe goes on sending once every rollout
// it watches has finished: the old pods' endpoints leave the proxies a
// moment after the Deployment says it is done.
const uptimeSettle = 2 * time.Second

var uptimeProbe = &checks.Check{
	Name: "uptime-probe",
	Summary: "sends requests through the ingress gateway at a steady rate while Deployments restart and passes only when " +
		"every answer was 2xx, listing each failure with the time it was sent, its status and Envoy's flags",
	Acts: "sends a steady stream of HTTP requests (rate per second, for up to max-duration) through your ingress gateway " +
		"(opening a port-forward to a gateway pod when it has no reachable address)",
	Params: []checks.ParamSpec{
		{Name: "path", Type: checks.HTTPPath, Default: "/productpage", Doc: "path and query to request"},
		{Name: "host", Type: checks.String, Doc: "Host header, for gateways and VirtualServices that match a host name other than *"},
		{Name: "rate", Type: checks.Int, Default: "10", Min: "1", Max: strconv.Itoa(traffic.MaxRate), Doc: fmt.Sprintf("requests "+
			"per second (at most %d); at 10 a gap of a tenth of a second without a ready endpoint is seen", traffic.MaxRate)},
		{Name: "duration", Type: checks.Duration, Default: "60s", Min: "5s", Max: traffic.MaxDeadline.String(), Doc: "without " +
			"restart-namespace: how long to send. With it: how long the reader has to start the restart after starting the probe; " +
			"the probe stops with a failure when nothing was restarted by then"},
		{Name: "restart-namespace", Type: checks.Namespace, Doc: "the namespace whose Deployments the reader restarts (kubectl " +
			"rollout restart deployment -n NAMESPACE) while the probe runs: it passes only if every one of them (or those " +
			"selector picks) was restarted after the probe started and finished rolling out before it stopped, and it keeps " +
			"sending until they have (at most max-duration)"},
		{Name: "selector", Type: checks.Selector, Doc: "with restart-namespace: the Deployments to watch, e.g. app=productpage; " +
			"by default all of the namespace's"},
		{Name: "max-duration", Type: checks.Duration, Min: "5s", Max: traffic.MaxDeadline.String(), Doc: "with " +
			"restart-namespace: the longest the probe runs waiting for the rollouts to finish (at most and by default 5m)"},
		{Name: "timeout", Type: checks.Duration, Default: "5s", Min: "10ms", Max: "30s", Doc: "per-request limit; an answer slower " +
			"than this counts as a failure (timeout)"},
		{Name: "gateway", Type: checks.Ref, Doc: "namespace/name of the gateway to go through, as for http-probe"},
		{Name: "port", Type: checks.Int, Min: "1", Max: "65535", Doc: "the gateway's port, e.g. 9080; by default its first HTTP port"},
		{Name: "ingress", Type: checks.String, Rule: ingressOverride, Doc: "base URL instead of finding the ingress; lessons leave it " +
			"empty (readers set --ingress)"},
	},
	Rules: []checks.Rule{
		onlyGivenWith("selector", "restart-namespace"),
		onlyGivenWith("max-duration", "restart-namespace"),
		notBelowDuration("max-duration", "duration"),
		notBelowDuration("duration", "timeout"),
	},
	Inputs: func(p checks.Params) []checks.Input {
		var in []checks.Input
		if ns := p.Str("restart-namespace"); ns != "" {
			in = append(in, checks.Input{GVR: checks.GVRDeployments, Namespace: ns, Selector: p.Str("selector")})
		}
		if p.Str("ingress") == "" {
			in = append(in, checks.Input{GVR: gvrTrafficIstioGateways}, checks.Input{GVR: gvrTrafficAPIGateways}, checks.Input{GVR: gvrTrafficServices})
		}
		return in
	},
	Chart: true,
	Uses:  []*checks.Capability{checks.IngressForward},
	Codes: []checks.Code{
		msgUptimeOK.Code, msgUptimeFailed.Code, msgUptimeNoRestart.Code, msgUptimeUnfinished.Code,
		msgProbeUnreachable.Code, msgNoIngress.Code, msgNoGatewayPod.Code, msgForwardRefused.Code,
		codeProbeCancelled,
		codeProbeOffline,
		msgIngressOverride.Code,
	},
	Eval: evalUptimeProbe,
}

// rollState is one watched Deployment as the probe saw it.
type rollState struct {
	startTmpl string // its pod template when the probe started
	restarted bool   // its pod template changed while the probe ran
	done      bool   // its rollout had finished at the last look
	summary   string
}

// podTemplate is a Deployment's pod template, to tell a restart (a new
// template, so new pods: kubectl rollout restart writes restartedAt into
// it) from other changes that raise metadata.generation without
// replacing a pod (kubectl scale, revisionHistoryLimit, paused).
func podTemplate(d *unstructured.Unstructured) string {
	t, _, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "template")
	b, _ := json.Marshal(t)
	return string(b)
}

// deployRollout reads a Deployment's generation and whether its rollout
// has finished, as kubectl rollout status judges it: the controller saw
// the latest spec, every replica runs it and is available, and no old
// replica is left.
func deployRollout(d *unstructured.Unstructured) (gen int64, done bool, summary string) {
	gen = d.GetGeneration()
	want, ok, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	if !ok {
		want = 1
	}
	obs, _, _ := unstructured.NestedInt64(d.Object, "status", "observedGeneration")
	upd, _, _ := unstructured.NestedInt64(d.Object, "status", "updatedReplicas")
	avail, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas")
	total, _, _ := unstructured.NestedInt64(d.Object, "status", "replicas")
	done = obs >= gen && upd == want && avail == want && total == want
	summary = fmt.Sprintf("%d/%d updated, %d available", upd, want, avail)
	if total > want {
		summary += fmt.Sprintf(", %d old left", total-upd)
	}
	// status.replicas leaves out the pods being deleted, which are still
	// in their preStop and may yet fail an answer when their application
	// exits; where the API server reports them (terminatingReplicas,
	// KEP-3973), the rollout has finished only once they are gone.
	if term, ok, _ := unstructured.NestedInt64(d.Object, "status", "terminatingReplicas"); ok && term > 0 {
		done = false
		summary += fmt.Sprintf(", %d terminating", term)
	}
	return gen, done, summary
}

func evalUptimeProbe(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	watchNS := p.Str("restart-namespace")
	depIn := checks.Input{GVR: checks.GVRDeployments, Namespace: watchNS, Selector: p.Str("selector")}
	var (
		mu    sync.Mutex
		rolls = map[string]*rollState{}
		names []string
	)
	if watchNS != "" {
		sctx, cancel := context.WithTimeout(ctx, setupTimeout)
		objs, err := env.List(sctx, depIn)
		cancel()
		if err != nil {
			return errResult(err)
		}
		for _, d := range objs {
			_, done, sum := deployRollout(d)
			rolls[d.GetName()] = &rollState{startTmpl: podTemplate(d), done: done, summary: sum}
			names = append(names, d.GetName())
		}
		sort.Strings(names)
		if len(names) == 0 {
			what := "no Deployment in " + watchNS
			if s := p.Str("selector"); s != "" {
				what += " matching " + s
			}
			return msgUptimeNoRestart.Result(what+" (nothing to watch)",
				checks.Condition{Name: "Deployments in " + watchNS, Observed: what, Expected: "the Deployments the step restarts",
					Fix: "Check the namespace (kubectl get deploy -n " + watchNS + ") and the lab's set-up."})
		}
	}
	reached, ingressCond, bad := reachIngress(ctx, env, checks.Params{"gateway": p.Str("gateway"), "port": p.Str("port"), "ingress": p.Str("ingress")})
	if bad != nil {
		return *bad
	}
	defer reached.Close()
	conds := []checks.Condition{ingressCond}

	// look reads the watched Deployments again; it says whether every
	// one was restarted and has finished, and whether any was restarted.
	look := func(ctx context.Context) (all, any bool) {
		objs, err := env.List(ctx, depIn)
		if err != nil {
			return false, false
		}
		mu.Lock()
		defer mu.Unlock()
		seen := map[string]bool{}
		for _, d := range objs {
			r := rolls[d.GetName()]
			if r == nil {
				continue // created after the start: not one the reader restarts
			}
			seen[d.GetName()] = true
			_, done, sum := deployRollout(d)
			r.restarted = r.restarted || podTemplate(d) != r.startTmpl
			r.done, r.summary = done, sum
		}
		all = true
		for _, n := range names {
			r := rolls[n]
			if !seen[n] {
				r.done, r.summary = false, "deleted while the probe ran"
			}
			any = any || r.restarted
			all = all && r.restarted && r.done
		}
		return all, any
	}
	rate := p.Int("rate")
	plan := traffic.PacedPlan{Method: "GET", URL: reached.URL + p.Str("path"), Host: p.Str("host"), Rate: rate,
		Max: p.Duration("duration"), Timeout: p.Duration("timeout")}
	if watchNS != "" {
		plan.Max = traffic.MaxDeadline
		if p.Str("max-duration") != "" {
			plan.Max = p.Duration("max-duration")
		}
		window := p.Duration("duration")
		var finished time.Duration // when every rollout was first seen finished
		plan.Done = func(ctx context.Context, elapsed time.Duration) bool {
			all, any := look(ctx)
			switch {
			case !any && elapsed >= window:
				return true // nothing restarted in time: no point going on
			case !all:
				finished = 0
				return false
			case finished == 0:
				finished = elapsed
			}
			return elapsed-finished >= uptimeSettle
		}
	}
	var last time.Time
	plan.OnProgress = func(t traffic.PacedTally) {
		if time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		r := checks.Result{Verdict: checks.Pending, Summary: "probing " + plan.URL, At: last,
			Progress: uptimeProgress(t), Bars: uptimeBars(t)}
		if watchNS != "" {
			mu.Lock()
			n := 0
			for _, name := range names {
				if rolls[name].restarted {
					n++
				}
			}
			mu.Unlock()
			r.Progress += fmt.Sprintf(" · %d/%d restarted", n, len(names))
		}
		env.Emit(r)
	}
	rep, err := traffic.RunPaced(ctx, nil, plan)
	if err != nil {
		return errResult(fmt.Errorf("the probe could not start: %w", err))
	}
	t := rep.PacedTally
	if rep.Stopped == "cancelled" {
		r := msgProbeCancelled.Result("after "+uptimeProgress(t), conds...)
		r.Progress, r.Bars = uptimeProgress(t), uptimeBars(t)
		return r
	}
	if watchNS != "" {
		// One last look, so the verdict is about the end of the probe.
		lctx, cancel := context.WithTimeout(ctx, setupTimeout)
		look(lctx)
		cancel()
	}
	answers := checks.Condition{Name: "every answer 2xx", OK: t.Bad == 0,
		Observed: fmt.Sprintf("%d answers in %s, %d 2xx", t.Answered, t.Elapsed.Round(time.Second), t.OK),
		Expected: "every answer 2xx"}
	if t.Bad > 0 {
		answers.Observed = fmt.Sprintf("%d of %d answers not 2xx: %s", t.Bad, t.Answered, failureList(t))
		answers.Fix = "Each failure says when it was sent (seconds from the start of the probe), its status and Envoy's flags: " +
			"UF (the pod refused the connection: it was not listening yet, or had already stopped), UH (no ready endpoint at all), " +
			"UC (the connection was cut). Give the Deployment a readinessProbe, so a new pod gets traffic only once it answers; keep " +
			"maxUnavailable below the replicas, so a ready pod is always left; and a preStop sleep, so a stopping pod answers " +
			"until the proxies have stopped sending to it. Then run the probe again and restart once more."
	}
	if t.Skipped > 0 {
		answers.Observed += fmt.Sprintf("; %d requests not sent because %d were still waiting for an answer", t.Skipped, min(traffic.MaxConcurrency, rate*5))
	}
	conds = append(conds, answers)
	took := t.Elapsed.Round(time.Second).String()
	var notRestarted, unfinished, restarted []string
	if watchNS != "" {
		for _, n := range names {
			r := rolls[n]
			switch {
			case !r.restarted:
				notRestarted = append(notRestarted, n)
			case !r.done:
				unfinished = append(unfinished, n+" ("+r.summary+")")
			default:
				restarted = append(restarted, n)
			}
		}
		rc := checks.Condition{Name: "Deployments in " + watchNS + " restarted while the probe ran", OK: len(notRestarted) == 0,
			Observed: "restarted: " + noneIfEmpty(restarted, unfinished), Expected: "every one restarted after the probe started"}
		if len(notRestarted) > 0 {
			rc.Observed += "; not restarted: " + strings.Join(notRestarted, ", ")
			rc.Fix = fmt.Sprintf("Start the probe first, then within %s run kubectl rollout restart deployment -n %s; a restart "+
				"before the probe started is not seen by it.", p.Str("duration"), watchNS)
		}
		fc := checks.Condition{Name: "their rollouts finished", OK: len(unfinished) == 0 && len(notRestarted) == 0,
			Observed: "unfinished: " + noneIfEmpty(unfinished), Expected: "every restarted Deployment rolled out before the probe stopped"}
		if len(unfinished) > 0 {
			fc.Fix = fmt.Sprintf("kubectl rollout status deployment -n %s says what it waits for; the probe waits at most %s.", watchNS, plan.Max)
		}
		conds = append(conds, rc, fc)
	}
	// Failed answers come first: they are what the probe is for.
	var r checks.Result
	switch {
	case t.Answered > 0 && t.OK == 0 && allTransport(t):
		why := t.Runs[0].Detail
		if pr := reached.Problem(); pr != "" {
			why = pr
		}
		conds = append(conds, checks.Condition{Name: "any answer", Observed: why, Expected: "HTTP responses", Fix: unreachableFix(reached)})
		r = msgProbeUnreachable.Result(reached.Via, why, conds...)
	case t.Bad > 0:
		r = msgUptimeFailed.Result(t.Bad, t.Answered, failureList(t), conds...)
	case len(notRestarted) > 0:
		r = msgUptimeNoRestart.Result(strings.Join(notRestarted, ", "), conds...)
	case len(unfinished) > 0:
		r = msgUptimeUnfinished.Result(strings.Join(unfinished, ", "), conds...)
	case watchNS != "":
		r = msgUptimeOK.Result(t.Answered, took, " through the restart of "+strings.Join(restarted, ", "), conds...)
	default:
		r = msgUptimeOK.Result(t.Answered, took, "", conds...)
	}
	r.Progress, r.Bars = uptimeProgress(t), uptimeBars(t)
	return r
}

func noneIfEmpty(lists ...[]string) string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return "none"
	}
	return strings.Join(all, ", ")
}

// allTransport: no failure was an HTTP answer.
func allTransport(t traffic.PacedTally) bool {
	for _, r := range t.Runs {
		if _, err := strconv.Atoi(r.Outcome); err == nil {
			return false
		}
	}
	return len(t.Runs) > 0
}

// failureList names every failing answer, as runs.
func failureList(t traffic.PacedTally) string {
	var parts []string
	for _, r := range t.Runs {
		parts = append(parts, r.String())
	}
	s := strings.Join(parts, "; ")
	if t.MoreBad > 0 {
		s += fmt.Sprintf("; and %d more in %d later runs", t.MoreBad, t.MoreRuns)
	}
	return s
}

func uptimeProgress(t traffic.PacedTally) string {
	return fmt.Sprintf("%ds · %d answers · %d not 2xx", int(t.Elapsed.Seconds()), t.Answered, t.Bad)
}

// Groups of uptime-probe's chart over time.
const (
	UptimeGroupOK  = "2xx"
	UptimeGroupBad = "not 2xx"
)

// uptimeBars is the chart over time: for every second since the start,
// the answers that were 2xx and the others, as two series.
func uptimeBars(t traffic.PacedTally) []checks.Bar {
	bars := make([]checks.Bar, 0, 2*len(t.Seconds))
	for i, s := range t.Seconds {
		bars = append(bars, checks.Bar{Group: UptimeGroupOK, Label: fmt.Sprintf("%ds", i), Value: s.OK, Series: true})
	}
	for i, s := range t.Seconds {
		bars = append(bars, checks.Bar{Group: UptimeGroupBad, Label: fmt.Sprintf("%ds", i), Value: s.Bad, Series: true})
	}
	return bars
}
