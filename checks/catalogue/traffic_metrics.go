package catalogue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/traffic"
)

// Codes of prometheus-query and envoy-stat.
const (
	CodeMetricOK        = "MD0840" // pass
	CodeMetricFailed    = "MD0841" // the value does not compare as expected
	CodeMetricNoData    = "MD0842" // no series (yet)
	CodePromUnavailable = "MD0843" // Prometheus cannot be reached or rejected the query
	CodeStatsUnreadable = "MD0844" // no pod's Envoy stats could be read
	CodePromMissing     = "MD0845" // Prometheus is not installed (no Service)
)

var metricOps = []string{"equals", "not-equals", "gt", "gte", "lt", "lte", "exists", "absent"}

const metricOpDoc = "how to compare with value: equals, not-equals, gt, gte, lt, lte; exists: at least one series, whatever its value; " +
	"absent: no series at all"

// The messages of prometheus-query, envoy-stat and request-rate.
var (
	msgMetricOK = checks.Msg2[string, string](checks.Code{ID: CodeMetricOK, Verdict: checks.Pass,
		Template: "%s: %s",
		Doc:      "the value compares as expected (what was asked, and what it gave)"})
	msgMetricFailed = checks.Msg3[string, string, string](checks.Code{ID: CodeMetricFailed, Verdict: checks.Fail,
		Template: "%s: %s; expected %s",
		Doc:      "the value does not compare as expected"})
	msgMetricNoData = checks.Msg1[string](checks.Code{ID: CodeMetricNoData, Verdict: checks.Fail,
		Template: "%s: no data yet",
		Doc:      "no series (yet): send traffic, and wait for the next scrape"})
	msgPromUnavailable = checks.Msg0(checks.Code{ID: CodePromUnavailable, Verdict: checks.Error,
		Template: "Prometheus did not answer the query",
		Doc:      "Prometheus cannot be reached or rejected the query"})
	msgPromMissing = checks.Msg0(checks.Code{ID: CodePromMissing, Verdict: checks.Fail,
		Template: "Prometheus is not installed",
		Doc:      "Prometheus is not installed (its Service does not exist)"})
	msgStatsUnreadable = checks.Msg0(checks.Code{ID: CodeStatsUnreadable, Verdict: checks.Error,
		Template: "could not read the proxies' stats",
		Doc:      "no pod's Envoy stats could be read"})
)

var metricCodes = []checks.Code{msgMetricOK.Code, msgMetricFailed.Code, msgMetricNoData.Code, codeProbeOffline}

var prometheusQuery = &checks.Check{
	Name: "prometheus-query",
	Summary: "asks Prometheus (through the API server's service proxy, no port-forward) and compares the answer, " +
		"e.g. requests reported by a waypoint or over mutual TLS",
	Params: []checks.ParamSpec{
		{Name: "query", Type: checks.String, Required: true, Doc: "PromQL instant query, e.g. sum(istio_requests_total{reporter=\"waypoint\"," +
			"destination_service_name=\"reviews\"}) for traffic through the waypoint (ch. 11). Every series it returns must compare true"},
		{Name: "op", Type: checks.Enum, Default: "gt", Enum: metricOps, Doc: metricOpDoc},
		{Name: "value", Type: checks.Float, Default: "0", Doc: "number to compare with"},
		{Name: "namespace", Type: checks.Namespace, Default: "prometheus", Doc: "namespace of the Prometheus Service"},
		{Name: "service", Type: checks.ObjectName, Default: "prometheus-server", Doc: "Prometheus Service (the lab's chart names it prometheus-server)"},
		{Name: "port", Type: checks.Int, Default: "9090", Min: "1", Max: "65535", Doc: "Prometheus Service port"},
	},
	Inputs: func(p checks.Params) []checks.Input {
		return []checks.Input{{GVR: gvrTrafficServices, Namespace: p.Str("namespace")}}
	},
	Uses:  []*checks.Capability{checks.ServiceProxy},
	Codes: append(slices.Clip(metricCodes), msgPromUnavailable.Code, msgPromMissing.Code),
	Eval:  evalPromQuery,
}

var envoyStat = &checks.Check{
	Name: "envoy-stat",
	Summary: "reads one Envoy statistic from the proxies of the selected pods (port 15090, through the API server's " +
		"pod proxy) and compares it, e.g. retries made or hosts ejected",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace of the pods"},
		{Name: "selector", Type: checks.Selector, Required: true, Doc: "label selector of the pods whose proxies to read, e.g. app=productpage " +
			"(the caller's proxy is the one that retries and ejects)"},
		{Name: "stat", Type: checks.String, Required: true, Rule: metricName, Doc: "metric name as Envoy exports it for Prometheus, e.g. " +
			"envoy_cluster_upstream_rq_retry (ch. 10 retries), envoy_cluster_outlier_detection_ejections_active (ejection), " +
			"envoy_cluster_upstream_rq_pending_overflow (pool overflow), envoy_server_days_until_first_cert_expiring (ch. 6)"},
		{Name: "match", Type: checks.String, Doc: "only series whose labels contain this text, e.g. v-faulty to pick the cluster " +
			"outbound|9080|v-faulty-50percent-503|ratings.bookinfo.svc.cluster.local"},
		{Name: "aggregate", Type: checks.Enum, Default: "sum", Enum: []string{"sum", "max", "min", "each"}, Doc: "how the matching " +
			"series of all pods are combined before comparing; each: every series must compare true"},
		{Name: "op", Type: checks.Enum, Default: "gt", Enum: metricOps, Doc: metricOpDoc},
		{Name: "value", Type: checks.Float, Default: "0", Doc: "number to compare with"},
		{Name: "port", Type: checks.Int, Default: "15090", Min: "1", Max: "65535", Doc: "the proxy's Prometheus port"},
	},
	Inputs: func(p checks.Params) []checks.Input {
		return []checks.Input{{GVR: checks.GVRPods, Namespace: p.Str("namespace"), Selector: p.Str("selector")}}
	},
	Uses:  []*checks.Capability{checks.PodProxy},
	Codes: append(slices.Clip(metricCodes), msgStatsUnreadable.Code),
	Eval:  evalEnvoyStat,
}

var metricNameRe = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// metricName: a Prometheus metric name.
func metricName(v string) error {
	if !metricNameRe.MatchString(v) {
		return errors.New("a Prometheus metric name such as envoy_cluster_upstream_rq_retry")
	}
	return nil
}

func evalPromQuery(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	c := env.Clients()
	if c == nil || c.Kube == nil {
		return msgProbeOffline.Result("ask Prometheus")
	}
	t := traffic.PromTarget{Namespace: p.Str("namespace"), Service: p.Str("service"), Port: p.Int("port")}
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	series, err := traffic.Query(ctx, c.Kube, t, p.Str("query"))
	if errors.Is(err, traffic.ErrNoPrometheus) {
		// Not installed yet is a state the lesson changes, not a failure
		// to look: the gate is shut, and the fix says what to do.
		return msgPromMissing.Result(checks.Condition{
			Name: "Prometheus " + t.Namespace + "/" + t.Service, Observed: err.Error(), Expected: "Prometheus running",
			Fix: fmt.Sprintf("Install Prometheus as the lab does (the prometheus release of its helmfile), then check that "+
				"kubectl get svc -n %s %s shows it.", t.Namespace, t.Service),
		})
	}
	if err != nil {
		return msgPromUnavailable.Result(checks.Condition{
			Name: "Prometheus " + t.Namespace + "/" + t.Service, Observed: err.Error(), Expected: "an answer",
			Fix: fmt.Sprintf("Check that Prometheus runs (kubectl get pods -n %s) and that the query works in its web UI "+
				"(kubectl port-forward -n %s svc/%s %d:%d).", t.Namespace, t.Namespace, t.Service, t.Port, t.Port),
		})
	}
	return judgeSeries(p, "query "+p.Str("query"), series, "each",
		"Send some traffic first (Prometheus scrapes every 15 to 60 s), then check again.")
}

func evalEnvoyStat(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	c := env.Clients()
	if c == nil || c.Kube == nil {
		return msgProbeOffline.Result("read Envoy stats")
	}
	q := traffic.StatQuery{Namespace: p.Str("namespace"), Selector: p.Str("selector"), Metric: p.Str("stat"), Match: p.Str("match"), Port: p.Int("port")}
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	series, problems, err := traffic.EnvoyStats(ctx, c.Kube, q)
	if err != nil {
		return msgStatsUnreadable.Result(checks.Condition{
			Name: "Envoy stats of " + q.Selector + " in " + q.Namespace, Observed: err.Error(), Expected: "readable stats",
			Fix: "Check that the pods run with a proxy (kubectl get pods -n " + q.Namespace + " -l " + q.Selector + ") and that " +
				"your credentials may use pods/proxy.",
		})
	}
	r := judgeSeries(p, q.Metric+metricMatchNote(q.Match), series, p.Str("aggregate"),
		"Envoy only reports a statistic once it has counted something, and only those the mesh config's proxyStatsMatcher keeps; "+
			"send the traffic the step asks for, then check again.")
	if len(problems) > 0 {
		r.Conditions = append(r.Conditions, checks.Condition{Name: "pods read", OK: true, Observed: "some pods could not be read: " +
			strings.Join(problems, "; "), Expected: "every pod"})
	}
	return r
}

func metricMatchNote(m string) string {
	if m == "" {
		return ""
	}
	return " (labels containing " + m + ")"
}

// judgeSeries compares series with op and value after aggregating them.
func judgeSeries(p checks.Params, what string, series []traffic.Series, agg string, noData string) checks.Result {
	op, want := p.Str("op"), p.Float("value")
	cond := checks.Condition{Name: what}
	switch op {
	case "exists":
		cond.Expected = "at least one series"
		cond.OK = len(series) > 0
	case "absent":
		cond.Expected = "no series"
		cond.OK = len(series) == 0
	default:
		cond.Expected = metricOpText(op) + " " + metricNum(want)
	}
	if len(series) == 0 {
		cond.Observed = "no series"
		if cond.OK {
			return msgMetricOK.Result(what, "no series, as expected", cond)
		}
		cond.Fix = noData
		return msgMetricNoData.Result(what, cond)
	}
	if op == "exists" || op == "absent" {
		cond.Observed = metricSeriesText(series)
		if cond.OK {
			return msgMetricOK.Result(what, cond.Observed, cond)
		}
		return msgMetricFailed.Result(what, cond.Observed, "none", cond)
	}
	var got float64
	switch agg {
	case "each":
		cond.OK = true
		for _, s := range series {
			cond.OK = cond.OK && traffic.Compare(op, s.Value, want)
		}
		cond.Observed = metricSeriesText(series)
	default:
		got = metricAggregate(agg, series)
		cond.OK = traffic.Compare(op, got, want)
		cond.Observed = fmt.Sprintf("%s %s over %s", agg, metricNum(got), plural(len(series), "series", "series"))
		if len(series) > 1 && len(series) <= 4 {
			cond.Observed += ": " + metricSeriesText(series)
		}
	}
	if cond.OK {
		return msgMetricOK.Result(what, cond.Observed, cond)
	}
	return msgMetricFailed.Result(what, cond.Observed, cond.Expected, cond)
}

func metricAggregate(agg string, series []traffic.Series) float64 {
	out := series[0].Value
	for _, s := range series[1:] {
		switch agg {
		case "max":
			out = math.Max(out, s.Value)
		case "min":
			out = math.Min(out, s.Value)
		default:
			out += s.Value
		}
	}
	return out
}

func metricSeriesText(series []traffic.Series) string {
	var parts []string
	for i, s := range series {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("and %d more", len(series)-4))
			break
		}
		l := s.Labels
		if s.Pod != "" {
			l = s.Pod + " " + l
		}
		parts = append(parts, strings.TrimSpace(l+" "+metricNum(s.Value)))
	}
	return strings.Join(parts, ", ")
}

func metricOpText(op string) string {
	return map[string]string{"equals": "=", "not-equals": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}[op]
}

func metricNum(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }
