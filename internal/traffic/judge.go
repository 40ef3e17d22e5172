package traffic

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Expect lists what a probe's responses should show. Zero values mean
// "no expectation".
type Expect struct {
	// Status lists the outcomes every response must have: codes (200),
	// classes (2xx) or transport errors (timeout, reset, refused).
	Status []string
	// StatusSplit is the expected share of each outcome pattern, as
	// relative weights (200=50,503=50), judged like Versions.
	StatusSplit map[string]int
	// MinStatus is the least number of responses matching each pattern
	// (504=1: at least one 504).
	MinStatus map[string]int
	// MaxStatusShare is the largest percentage of responses allowed to
	// match each pattern (5xx=20: at most a fifth fail).
	MaxStatusShare map[string]int
	// Versions is the expected split between the versions that answered,
	// as relative weights (v1=0,v2=0,v4=100 or v1=80,v2=20).
	Versions   map[string]int
	Confidence float64 // for the Wilson intervals, default 0.99
	MaxLatency time.Duration
	MinLatency time.Duration
	// SlowAfter and SlowShare expect SlowShare percent of the responses
	// to take SlowAfter or longer, judged like a split (a Wilson interval
	// at Confidence): half of the lab's delayed ratings calls take 7 s,
	// so SlowAfter 6.5s with SlowShare 50. Zero SlowAfter means no
	// expectation.
	SlowAfter time.Duration
	SlowShare int
	// Headers must each appear on at least one response: a name, or
	// name=value (compared case-insensitively).
	Headers []string
	// Fields must hold on every JSON response: path=value, or path alone
	// for "present".
	Fields []string
	// BodyContains must appear in at least one response body.
	BodyContains string
	// BodyLacks must appear in no response body.
	BodyLacks string
}

// Finding is one judged expectation.
type Finding struct {
	Name     string
	OK       bool
	Observed string
	Expected string
	Fix      string
}

// MatchOutcome reports whether an outcome ("503", "timeout") matches a
// pattern: the same text, or a class such as 5xx.
func MatchOutcome(pattern, outcome string) bool {
	pattern = strings.ToLower(strings.TrimSpace(pattern))
	if pattern == outcome {
		return true
	}
	if len(pattern) == 3 && strings.HasSuffix(pattern, "xx") && len(outcome) == 3 {
		return pattern[0] == outcome[0] && outcome[0] >= '1' && outcome[0] <= '5'
	}
	return false
}

// Judge checks a report against expectations. The first finding is
// always the request budget: a probe cut short by its deadline is not a
// fair sample.
func Judge(r *Report, e Expect) []Finding {
	t := r.Tally()
	n := len(r.Samples)
	conf := e.Confidence
	if conf <= 0 || conf >= 1 {
		conf = 0.99
	}
	var out []Finding
	budget := Finding{
		Name:     "requests answered",
		OK:       n == r.Plan.Count,
		Observed: fmt.Sprintf("%d/%d in %s", n, r.Plan.Count, r.Elapsed.Round(time.Millisecond)),
		Expected: fmt.Sprintf("%d", r.Plan.Count),
	}
	if r.Stopped == "deadline" {
		budget.Fix = fmt.Sprintf("the probe hit its %s deadline; raise the check's deadline or lower count", r.Plan.Deadline)
	}
	out = append(out, budget)
	outcomes := outcomeText(t.Outcomes)

	if len(e.Status) > 0 {
		bad := 0
		for _, s := range r.Samples {
			if !matchAny(e.Status, s.Outcome()) {
				bad++
			}
		}
		out = append(out, Finding{
			Name: "status of every response", OK: n > 0 && bad == 0,
			Observed: outcomes, Expected: "all " + strings.Join(e.Status, " or "),
			Fix: fixFor(r, e.Status),
		})
	}
	if len(e.StatusSplit) > 0 {
		seen := map[string]int{}
		for _, s := range r.Samples {
			seen[bucketFor(sortedKeys(e.StatusSplit), s.Outcome())]++
		}
		ok, shares := JudgeSplit(seen, e.StatusSplit, conf)
		out = append(out, Finding{
			Name: "share of each status", OK: ok,
			Observed: sharesText(shares), Expected: weightsText(e.StatusSplit, conf),
		})
	}
	for _, pat := range sortedKeys(e.MinStatus) {
		want := e.MinStatus[pat]
		got := countMatching(r, pat)
		out = append(out, Finding{
			Name: "responses with " + pat, OK: got >= want,
			Observed: fmt.Sprintf("%d (%s)", got, outcomes), Expected: fmt.Sprintf("at least %d", want),
		})
	}
	for _, pat := range sortedKeys(e.MaxStatusShare) {
		limit := e.MaxStatusShare[pat]
		got := countMatching(r, pat)
		pct := 0.0
		if n > 0 {
			pct = 100 * float64(got) / float64(n)
		}
		out = append(out, Finding{
			Name: "share of " + pat, OK: n > 0 && pct <= float64(limit),
			Observed: fmt.Sprintf("%.0f%% (%d of %d)", pct, got, n), Expected: fmt.Sprintf("at most %d%%", limit),
		})
	}
	if len(e.Versions) > 0 {
		out = append(out, judgeVersions(r, t, e, conf))
	}
	if e.MaxLatency > 0 {
		over := 0
		for _, s := range r.Samples {
			if s.Latency > e.MaxLatency {
				over++
			}
		}
		out = append(out, Finding{
			Name: "slowest response", OK: n > 0 && over == 0,
			Observed: fmt.Sprintf("%s (%d over the limit)", t.Max.Round(time.Millisecond), over),
			Expected: "at most " + e.MaxLatency.String(),
		})
	}
	if e.MinLatency > 0 {
		under := 0
		for _, s := range r.Samples {
			if s.Latency < e.MinLatency {
				under++
			}
		}
		out = append(out, Finding{
			Name: "fastest response", OK: n > 0 && under == 0,
			Observed: fmt.Sprintf("%s (%d under the limit)", t.Min.Round(time.Millisecond), under),
			Expected: "at least " + e.MinLatency.String(),
		})
	}
	if e.SlowAfter > 0 {
		out = append(out, judgeSlow(r, e, conf))
	}
	for _, h := range e.Headers {
		name, val, hasVal := strings.Cut(h, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		got := 0
		for _, s := range r.Samples {
			for _, v := range s.Header.Values(name) {
				if !hasVal || strings.EqualFold(strings.TrimSpace(v), val) {
					got++
					break
				}
			}
		}
		out = append(out, Finding{
			Name: "header " + name, OK: got > 0,
			Observed: fmt.Sprintf("on %d of %d responses", got, n), Expected: "on at least one response" + valueNote(hasVal, val),
		})
	}
	for _, f := range e.Fields {
		out = append(out, judgeField(r, f))
	}
	if e.BodyContains != "" {
		got := 0
		for _, s := range r.Samples {
			if strings.Contains(s.Body, e.BodyContains) {
				got++
			}
		}
		out = append(out, Finding{
			Name: "body text", OK: got > 0,
			Observed: fmt.Sprintf("in %d of %d responses", got, n), Expected: fmt.Sprintf("%q in at least one", e.BodyContains),
		})
	}
	if e.BodyLacks != "" {
		got := 0
		for _, s := range r.Samples {
			if strings.Contains(s.Body, e.BodyLacks) {
				got++
			}
		}
		out = append(out, Finding{
			Name: "text absent", OK: got == 0 && n > 0,
			Observed: fmt.Sprintf("in %d of %d responses", got, n), Expected: fmt.Sprintf("%q in none", e.BodyLacks),
		})
	}
	return out
}

func judgeVersions(r *Report, t Tally, e Expect, conf float64) Finding {
	seen := map[string]int{}
	unnamed := 0
	for v, k := range t.Versions {
		if v == "" {
			unnamed += k
			continue
		}
		seen[v] = k
	}
	f := Finding{Name: "share of each version", Expected: weightsText(e.Versions, conf)}
	if len(seen) == 0 {
		f.Observed = "no response named the pod that answered"
		key := r.Plan.VersionKey
		f.Fix = fmt.Sprintf("probe a path whose JSON names the answering pod in %q, such as /api/v1/products/0/reviews", key)
		return f
	}
	ok, shares := JudgeSplit(seen, e.Versions, conf)
	f.OK = ok
	f.Observed = sharesText(shares)
	if unnamed > 0 {
		f.Observed += fmt.Sprintf("; %d responses named no pod and are left out", unnamed)
	}
	if !ok {
		f.Fix = "compare the route's weights with the expected split; a share outside its interval is very unlikely to be chance"
	}
	return f
}

// judgeSlow judges the share of responses that took SlowAfter or more.
func judgeSlow(r *Report, e Expect, conf float64) Finding {
	slow, fast := "at least "+e.SlowAfter.String(), "faster"
	seen := map[string]int{}
	for _, s := range r.Samples {
		if s.Latency >= e.SlowAfter {
			seen[slow]++
		} else {
			seen[fast]++
		}
	}
	want := map[string]int{slow: e.SlowShare, fast: 100 - e.SlowShare}
	ok, shares := JudgeSplit(seen, want, conf)
	f := Finding{Name: "share of slow responses", OK: ok && len(r.Samples) > 0, Expected: weightsText(want, conf)}
	if len(r.Samples) == 0 {
		f.Observed = "no responses"
		return f
	}
	f.Observed = sharesText(shares)
	if !ok {
		f.Fix = fmt.Sprintf("compare the latency chart with the %d%% of responses expected to take %s or more", e.SlowShare, e.SlowAfter)
	}
	return f
}

func judgeField(r *Report, spec string) Finding {
	path, want, hasVal := strings.Cut(spec, "=")
	path, want = strings.TrimSpace(path), strings.TrimSpace(want)
	checked, bad := 0, 0
	var seenVals []string
	for _, s := range r.Samples {
		if !isJSON(s.Body) {
			continue
		}
		checked++
		v, ok := s.Fields[path]
		if ok {
			seenVals = appendUnique(seenVals, v)
		} else {
			seenVals = appendUnique(seenVals, "(absent)")
		}
		if !ok || (hasVal && v != want) {
			bad++
		}
	}
	exp := path + " present"
	if hasVal {
		exp = path + " = " + want
	}
	return Finding{
		Name: "field " + path, OK: checked > 0 && bad == 0,
		Observed: fmt.Sprintf("%s; %d of %d JSON responses differ", strings.Join(seenVals, ", "), bad, checked),
		Expected: exp + " in every JSON response",
	}
}

func isJSON(body string) bool {
	b := strings.TrimSpace(body)
	return b != "" && (b[0] == '{' || b[0] == '[')
}

func appendUnique(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	if len(xs) == 5 {
		if xs[4] != "…" {
			xs = append(xs[:4], "…")
		}
		return xs
	}
	return append(xs, x)
}

func valueNote(has bool, v string) string {
	if !has {
		return ""
	}
	return ", with value " + v
}

// fixFor suggests what to do when responses were transport errors.
func fixFor(r *Report, want []string) string {
	for _, s := range r.Samples {
		if s.Status == 0 && !matchAny(want, s.Outcome()) {
			switch s.Err {
			case "refused":
				return "nothing accepted the connection: is the ingress port right and the gateway running?"
			case "timeout":
				return fmt.Sprintf("a request took longer than the check's %s timeout", r.Plan.Timeout)
			case "dns":
				return "the ingress host name did not resolve"
			}
			return "a request failed before any response: " + s.Detail
		}
	}
	return ""
}

func countMatching(r *Report, pat string) int {
	n := 0
	for _, s := range r.Samples {
		if MatchOutcome(pat, s.Outcome()) {
			n++
		}
	}
	return n
}

func matchAny(pats []string, outcome string) bool {
	for _, p := range pats {
		if MatchOutcome(p, outcome) {
			return true
		}
	}
	return false
}

// bucketFor puts an outcome under the first pattern it matches, or
// "other".
func bucketFor(pats []string, outcome string) string {
	for _, p := range pats {
		if MatchOutcome(p, outcome) {
			return p
		}
	}
	return "other"
}

func sortedKeys(m map[string]int) []string { return Keys(m) }

func outcomeText(m map[string]int) string {
	if len(m) == 0 {
		return "no responses"
	}
	var parts []string
	for _, k := range Keys(m) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sharesText(shares []Share) string {
	var parts []string
	for _, s := range shares {
		mark := ""
		if !s.OK {
			mark = " ✗"
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d (%s)%s", s.Name, s.Seen, s.Total, s.Interval, mark))
	}
	return strings.Join(parts, ", ")
}

func weightsText(w map[string]int, conf float64) string {
	sum := 0
	for _, v := range w {
		if v > 0 {
			sum += v
		}
	}
	var parts []string
	for _, k := range Keys(w) {
		pct := 0.0
		if sum > 0 && w[k] > 0 {
			pct = 100 * float64(w[k]) / float64(sum)
		}
		parts = append(parts, k+" "+strconv.FormatFloat(pct, 'f', 0, 64)+"%")
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" inside each %g%% interval", 100*conf)
}
