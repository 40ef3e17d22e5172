package catalogue

// access-log reads what the proxies themselves recorded about the
// requests they handled: the access log each istio-proxy writes to its
// standard output when the mesh config turns access logging on. Envoy's
// response flags say why a proxy answered as it did (FI: an injected
// abort, DI: an injected delay, UO: a pool overflow, UH: no healthy
// upstream, UT: a route timeout), which no status code seen from outside
// can tell apart.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/traffic"
)

// Codes of access-log.
const (
	CodeLogOK         = "MD0850" // pass
	CodeLogNoMatch    = "MD0851" // not enough entries with the flag and status
	CodeLogNoEntries  = "MD0852" // the logs hold no access-log entries at all
	CodeLogUnreadable = "MD0853" // no pod's log could be read
)

// The messages of access-log.
var (
	msgLogOK = checks.Msg2[int, string](checks.Code{ID: CodeLogOK, Verdict: checks.Pass,
		Template: "%d entries with %s",
		Doc:      "enough entries carry the flag and status"})
	msgLogNoMatch = checks.Msg4[int, string, string, int](checks.Code{ID: CodeLogNoMatch, Verdict: checks.Fail,
		Template: "%d entries with %s in %s; expected at least %d",
		Doc:      "not enough entries carry the flag and status (yet)"})
	msgLogNoEntries = checks.Msg1[string](checks.Code{ID: CodeLogNoEntries, Verdict: checks.Fail,
		Template: "no access-log entries in %s",
		Doc:      "the logs hold no access-log entries: access logging is off, or no traffic yet"})
	msgLogUnreadable = checks.Msg0(checks.Code{ID: CodeLogUnreadable, Verdict: checks.Error,
		Template: "could not read the proxies' logs",
		Doc:      "no pod's log could be read"})
)

var accessLog = &checks.Check{
	Name: "access-log",
	Summary: "reads the access log of the selected pods' proxies (pods/log, Istio's text or JSON format) and counts the " +
		"requests with a response flag or status, e.g. FI for an injected abort",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace of the pods"},
		{Name: "selector", Type: checks.Selector, Required: true, Doc: "label selector of the pods whose proxy logs to read: the " +
			"caller's, e.g. app=productpage, since the caller's proxy applies faults, timeouts and circuit breakers"},
		{Name: "container", Type: checks.ObjectName, Default: "istio-proxy", Doc: "the proxy's container (a native sidecar is an init " +
			"container; its log is read the same way)"},
		{Name: "upstream", Type: checks.String, Doc: "only entries whose upstream cluster contains this text, e.g. |ratings. for calls to " +
			"ratings (outbound|9080|v3|ratings.bookinfo.svc.cluster.local)"},
		{Name: "flag", Type: checks.String, Rule: responseFlag, Doc: "Envoy response flag the entries must carry: FI (fault abort), DI " +
			"(fault delay), UT (route timeout), UO (pool overflow), UH (no healthy upstream), URX (retries exhausted)"},
		{Name: "status", Type: checks.Int, Min: "100", Max: "599", Doc: "response code the entries must have, e.g. 500"},
		{Name: "since", Type: checks.Duration, Default: "5m", Min: "1s", Max: "24h", Doc: "only entries logged this long ago or later; " +
			"keep it short enough that an earlier step's traffic does not count"},
		{Name: "tail", Type: checks.Int, Default: "2000", Min: "1", Max: "100000", Doc: "at most this many last lines of each pod's log"},
		{Name: "min", Type: checks.Int, Default: "1", Min: "1", Doc: "at least this many matching entries, over all pods"},
	},
	Rules: []checks.Rule{{Doc: "flag or status (or both)", Check: func(p checks.Params) *checks.ParamError {
		if p["flag"] == "" && p["status"] == "" {
			return &checks.ParamError{Param: "status", Problem: checks.Missing,
				Want: "a status such as 500 or a response flag such as FI: give flag, status or both"}
		}
		return nil
	}}},
	Inputs: func(p checks.Params) []checks.Input {
		return []checks.Input{{GVR: checks.GVRPods, Namespace: p.Str("namespace"), Selector: p.Str("selector")}}
	},
	Uses: []*checks.Capability{checks.PodLogs},
	Codes: []checks.Code{
		msgLogOK.Code,
		msgLogNoMatch.Code,
		msgLogNoEntries.Code,
		msgLogUnreadable.Code,
		codeProbeOffline,
	},
	Eval: evalAccessLog,
}

var responseFlagRe = regexp.MustCompile(`^[A-Z]{2,4}$`)

// responseFlag: one of Envoy's short response flags.
func responseFlag(v string) error {
	if !responseFlagRe.MatchString(v) {
		return errors.New("one Envoy response flag in capitals, such as FI, DI, UO, UH or UT")
	}
	return nil
}

func evalAccessLog(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	c := env.Clients()
	if c == nil || c.Kube == nil {
		return msgProbeOffline.Result("read the proxies' logs")
	}
	q := traffic.LogQuery{Namespace: p.Str("namespace"), Selector: p.Str("selector"), Container: p.Str("container"),
		Since: p.Duration("since"), Tail: p.Int("tail")}
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	logs, problems, err := traffic.AccessLogs(ctx, c.Kube, q)
	where := fmt.Sprintf("%s logs of %s in %s", q.Container, q.Selector, q.Namespace)
	if err != nil {
		return msgLogUnreadable.Result(checks.Condition{
			Name: where, Observed: err.Error(), Expected: "readable logs",
			Fix: fmt.Sprintf("Check that the pods run with a proxy (kubectl get pods -n %s -l %s) and that your credentials "+
				"may get pods/log (kubectl auth can-i get pods/log -n %s).", q.Namespace, q.Selector, q.Namespace),
		})
	}
	want := logWant(p)
	upstream := p.Str("upstream")
	entries, lines, matched := 0, 0, 0
	seen := map[string]int{} // "503 UO" -> count, for the observation
	for _, pl := range logs {
		lines += pl.Lines
		for _, e := range pl.Entries {
			entries++
			if upstream != "" && !strings.Contains(e.Upstream, upstream) {
				continue
			}
			seen[entryText(e)]++
			if logMatches(e, p) {
				matched++
			}
		}
	}
	window := fmt.Sprintf("the last %s", p.Duration("since"))
	cond := checks.Condition{Name: "entries with " + want + upstreamNote(upstream), Expected: fmt.Sprintf("at least %d in %s", p.Int("min"), window)}
	var r checks.Result
	switch {
	case entries == 0:
		cond.Observed = fmt.Sprintf("%d log lines in %s, none of them an access-log entry", lines, window)
		cond.Fix = "Access logging may be off: the lab turns it on with the mesh config's defaultProviders.accessLogging " +
			"(envoy-stdout); check it with kubectl get configmap -n istio-system -l istio.io/rev -o yaml. Otherwise send the " +
			"step's traffic first (press t), then check again."
		r = msgLogNoEntries.Result(window, cond)
	case matched >= p.Int("min"):
		cond.OK = true
		cond.Observed = fmt.Sprintf("%d of %d entries%s: %s", matched, countAll(seen), upstreamNote(upstream), seenText(seen))
		r = msgLogOK.Result(matched, want, cond)
	default:
		cond.Observed = fmt.Sprintf("%d of %d entries%s: %s", matched, countAll(seen), upstreamNote(upstream), seenText(seen))
		cond.Fix = "Send the step's traffic first (press t), then check again. If entries arrive with other flags or codes, " +
			"the proxy is doing something else than the step wants: compare the route with the step's."
		r = msgLogNoMatch.Result(matched, want, window, p.Int("min"), cond)
	}
	if len(problems) > 0 {
		r.Conditions = append(r.Conditions, checks.Condition{Name: "pods read", OK: true, Observed: "some pods' logs could not be read: " +
			strings.Join(problems, "; "), Expected: "every pod"})
	}
	return r
}

func logMatches(e traffic.LogEntry, p checks.Params) bool {
	if f := p.Str("flag"); f != "" && !e.HasFlag(f) {
		return false
	}
	if s := p.Str("status"); s != "" && strconv.Itoa(e.Code) != s {
		return false
	}
	return true
}

func logWant(p checks.Params) string {
	var parts []string
	if s := p.Str("status"); s != "" {
		parts = append(parts, "status "+s)
	}
	if f := p.Str("flag"); f != "" {
		parts = append(parts, "flag "+f)
	}
	return strings.Join(parts, " and ")
}

func upstreamNote(u string) string {
	if u == "" {
		return ""
	}
	return " to upstreams containing " + u
}

// entryText is how an entry is counted in the observation: its status
// and flags, as Envoy writes them ("504 DI,FI", "200 -").
func entryText(e traffic.LogEntry) string {
	flags := "-"
	if len(e.Flags) > 0 {
		flags = strings.Join(e.Flags, ",")
	}
	code := "no status"
	if e.Code != 0 {
		code = strconv.Itoa(e.Code)
	}
	return code + " " + flags
}

func seenText(seen map[string]int) string {
	if len(seen) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return seen[keys[i]] > seen[keys[j]] || seen[keys[i]] == seen[keys[j]] && keys[i] < keys[j]
	})
	var parts []string
	for i, k := range keys {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more kinds", len(keys)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", k, seen[k]))
	}
	return strings.Join(parts, ", ")
}

func countAll(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
