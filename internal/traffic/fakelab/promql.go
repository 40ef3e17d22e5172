package fakelab

// A Prometheus that has scraped every sidecar: the simulator's
// istio_requests_total and Envoy counters, answered through the HTTP API
// prometheus-query uses (/api/v1/query). The query language is the subset
// lessons use: a selector with =, !=, =~ and !~ matchers, an optional
// range [5m] under rate() or increase(), sum, count, min, max (each with
// an optional by (...)) and absent around them, and, or, unless (with
// on (...) or ignoring (...)) between them, and comparisons with a
// number (> 0). Anything else is refused with Prometheus's bad_data error
// naming what is simulated.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Sample is one series of a query result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// scraped returns every series Prometheus would hold, with its points.
func (s *Sim) scraped() []*series {
	s.metrics.mu.Lock()
	defer s.metrics.mu.Unlock()
	var out []*series
	for _, sr := range s.metrics.requests {
		ns, pod, _ := strings.Cut(sr.proxy, "/")
		l := clone(sr.labels)
		l["__name__"] = "istio_requests_total"
		l["namespace"], l["pod"] = ns, pod
		out = append(out, &series{proxy: sr.proxy, labels: l, points: sr.points})
	}
	now := s.opts.Now()
	for proxy, cs := range s.metrics.counters {
		ns, pod, _ := strings.Cut(proxy, "/")
		for k, v := range cs {
			stat, cluster, _ := strings.Cut(k, "|")
			out = append(out, &series{proxy: proxy, labels: map[string]string{"__name__": stat, "cluster_name": cluster, "namespace": ns, "pod": pod},
				points: []point{{now, v}}})
		}
	}
	return out
}

type matcher struct {
	name, op, value string
	re              *regexp.Regexp
}

// newMatcher is a label matcher as PromQL and LogQL both write them; a
// regular expression must match the whole value.
func newMatcher(name, op, value string) (matcher, error) {
	m := matcher{name: name, op: op, value: value}
	if op == "=~" || op == "!~" {
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return m, fmt.Errorf("bad regular expression: %v", err)
		}
		m.re = re
	}
	return m, nil
}

func (m matcher) ok(l map[string]string) bool {
	v := l[m.name]
	switch m.op {
	case "=":
		return v == m.value
	case "!=":
		return v != m.value
	case "=~":
		return m.re.MatchString(v)
	case "!~":
		return !m.re.MatchString(v)
	}
	return false
}

type pq struct {
	src string
	pos int
}

func (p *pq) skip() {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
}

func (p *pq) ident() string {
	p.skip()
	start := p.pos
	for p.pos < len(p.src) {
		c := rune(p.src[p.pos])
		if c == '_' || c == ':' || unicode.IsLetter(c) || unicode.IsDigit(c) {
			p.pos++
			continue
		}
		break
	}
	return p.src[start:p.pos]
}

func (p *pq) eat(tok string) bool {
	p.skip()
	if strings.HasPrefix(p.src[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *pq) fail(format string, a ...any) error {
	return fmt.Errorf("fakelab's Prometheus: %s at position %d of %q (it simulates selectors, rate, increase, sum, count, min, max with by, absent, and, or, unless with on or ignoring, and comparisons with a number)",
		fmt.Sprintf(format, a...), p.pos, p.src)
}

// eval parses and evaluates an expression: operands joined by or,
// and/unless (with on or ignoring) and comparisons.
func (s *Sim) eval(p *pq) ([]Sample, error) {
	left, err := s.andExpr(p)
	if err != nil {
		return nil, err
	}
	for p.word("or") {
		right, err := s.andExpr(p)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, l := range left {
			seen[labelText(l.Labels)] = true
		}
		for _, r := range right {
			if !seen[labelText(r.Labels)] {
				left = append(left, r)
			}
		}
	}
	return left, nil
}

func (s *Sim) andExpr(p *pq) ([]Sample, error) {
	left, err := s.cmpExpr(p)
	if err != nil {
		return nil, err
	}
	for {
		op := ""
		switch {
		case p.word("and"):
			op = "and"
		case p.word("unless"):
			op = "unless"
		default:
			return left, nil
		}
		var on []string
		onSet, ignoring := false, false
		if p.word("on") || func() bool { ignoring = p.word("ignoring"); return ignoring }() {
			onSet = true
			if !p.eat("(") {
				return nil, p.fail("expected ( after on")
			}
			for !p.eat(")") {
				l := p.ident()
				if l == "" {
					return nil, p.fail("expected a label name")
				}
				on = append(on, l)
				p.eat(",")
			}
		}
		right, err := s.cmpExpr(p)
		if err != nil {
			return nil, err
		}
		key := func(l map[string]string) string {
			if !onSet {
				return labelText(l)
			}
			k := map[string]string{}
			if ignoring {
				k = clone(l)
				for _, n := range on {
					delete(k, n)
				}
			} else {
				for _, n := range on {
					if v, ok := l[n]; ok {
						k[n] = v
					}
				}
			}
			return labelText(k)
		}
		in := map[string]bool{}
		for _, r := range right {
			in[key(r.Labels)] = true
		}
		var out []Sample
		for _, l := range left {
			if in[key(l.Labels)] == (op == "and") {
				out = append(out, l)
			}
		}
		left = out
	}
}

// cmpExpr is an operand, optionally compared with a number: the series
// for which the comparison holds.
func (s *Sim) cmpExpr(p *pq) ([]Sample, error) {
	left, err := s.primary(p)
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"==", "!=", ">=", "<=", ">", "<"} {
		if !p.eat(op) {
			continue
		}
		p.skip()
		start := p.pos
		for p.pos < len(p.src) && strings.ContainsRune("0123456789.eE+-", rune(p.src[p.pos])) {
			p.pos++
		}
		n, err := strconv.ParseFloat(p.src[start:p.pos], 64)
		if err != nil {
			return nil, p.fail("comparisons are simulated with a number on the right")
		}
		var out []Sample
		for _, smp := range left {
			v := smp.Value
			if op == "==" && v == n || op == "!=" && v != n || op == ">=" && v >= n || op == "<=" && v <= n || op == ">" && v > n || op == "<" && v < n {
				out = append(out, smp)
			}
		}
		return out, nil
	}
	return left, nil
}

// word eats a keyword that is not the start of a longer name.
func (p *pq) word(w string) bool {
	p.skip()
	if !strings.HasPrefix(p.src[p.pos:], w) {
		return false
	}
	end := p.pos + len(w)
	if end < len(p.src) {
		c := rune(p.src[end])
		if c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c) {
			return false
		}
	}
	p.pos = end
	return true
}

// primary is one operand: a parenthesised expression, an aggregation, a
// function or a selector.
func (s *Sim) primary(p *pq) ([]Sample, error) {
	if p.eat("(") {
		out, err := s.eval(p)
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, p.fail("expected )")
		}
		return out, nil
	}
	name := p.ident()
	if name == "" {
		return nil, p.fail("expected a metric name or function")
	}
	switch name {
	case "sum", "count", "min", "max":
		var by []string
		if p.word("by") {
			if !p.eat("(") {
				return nil, p.fail("expected ( after by")
			}
			for !p.eat(")") {
				l := p.ident()
				if l == "" {
					return nil, p.fail("expected a label name")
				}
				by = append(by, l)
				p.eat(",")
			}
		}
		if !p.eat("(") {
			return nil, p.fail("expected ( after %s", name)
		}
		in, err := s.eval(p)
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, p.fail("expected )")
		}
		if by == nil && p.word("by") {
			if !p.eat("(") {
				return nil, p.fail("expected ( after by")
			}
			for !p.eat(")") {
				by = append(by, p.ident())
				p.eat(",")
			}
		}
		return aggregate(name, by, in), nil
	case "absent":
		if !p.eat("(") {
			return nil, p.fail("expected ( after absent")
		}
		in, err := s.eval(p)
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, p.fail("expected )")
		}
		if len(in) > 0 {
			return nil, nil
		}
		return []Sample{{Labels: map[string]string{}, Value: 1}}, nil
	case "rate", "increase":
		if !p.eat("(") {
			return nil, p.fail("expected ( after %s", name)
		}
		ms, metric, err := p.selector("")
		if err != nil {
			return nil, err
		}
		if !p.eat("[") {
			return nil, p.fail("%s needs a range such as [5m]", name)
		}
		end := strings.IndexByte(p.src[p.pos:], ']')
		if end < 0 {
			return nil, p.fail("expected ]")
		}
		window, err := parsePromDuration(p.src[p.pos : p.pos+end])
		if err != nil {
			return nil, p.fail("bad range: %v", err)
		}
		p.pos += end + 1
		if !p.eat(")") {
			return nil, p.fail("expected )")
		}
		return s.ranged(metric, ms, window, name == "rate"), nil
	}
	ms, metric, err := p.selector(name)
	if err != nil {
		return nil, err
	}
	var out []Sample
	for _, sr := range s.scraped() {
		if sr.labels["__name__"] == metric && all(ms, sr.labels) {
			out = append(out, Sample{Labels: withoutName(sr.labels), Value: sr.points[len(sr.points)-1].v})
		}
	}
	return out, nil
}

// ranged is increase (or rate) over window: the growth of each series
// within the window, without Prometheus's extrapolation.
func (s *Sim) ranged(metric string, ms []matcher, window time.Duration, rate bool) []Sample {
	from := s.opts.Now().Add(-window)
	var out []Sample
	for _, sr := range s.scraped() {
		if sr.labels["__name__"] != metric || !all(ms, sr.labels) {
			continue
		}
		before := 0.0
		for _, pt := range sr.points {
			if pt.t.Before(from) {
				before = pt.v
			}
		}
		v := sr.points[len(sr.points)-1].v - before
		if rate {
			v /= window.Seconds()
		}
		out = append(out, Sample{Labels: withoutName(sr.labels), Value: v})
	}
	return out
}

func (p *pq) selector(name string) ([]matcher, string, error) {
	if name == "" {
		name = p.ident()
	}
	var ms []matcher
	if !p.eat("{") {
		return nil, name, nil
	}
	for !p.eat("}") {
		l := p.ident()
		if l == "" {
			return nil, "", p.fail("expected a label name")
		}
		var op string
		for _, o := range []string{"=~", "!~", "!=", "="} {
			if p.eat(o) {
				op = o
				break
			}
		}
		if op == "" {
			return nil, "", p.fail("expected =, !=, =~ or !~")
		}
		p.skip()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return nil, "", p.fail("expected a quoted value")
		}
		end := p.pos + 1
		for end < len(p.src) && (p.src[end] != '"' || p.src[end-1] == '\\') {
			end++
		}
		if end >= len(p.src) {
			return nil, "", p.fail("unterminated string")
		}
		v, err := strconv.Unquote(p.src[p.pos : end+1])
		if err != nil {
			return nil, "", p.fail("bad string: %v", err)
		}
		p.pos = end + 1
		m, err := newMatcher(l, op, v)
		if err != nil {
			return nil, "", p.fail("%v", err)
		}
		ms = append(ms, m)
		p.eat(",")
	}
	if name == "" {
		for _, m := range ms {
			if m.name == "__name__" && m.op == "=" {
				name = m.value
			}
		}
	}
	return ms, name, nil
}

func all(ms []matcher, l map[string]string) bool {
	for _, m := range ms {
		if !m.ok(l) {
			return false
		}
	}
	return true
}

func withoutName(l map[string]string) map[string]string {
	out := clone(l)
	delete(out, "__name__")
	return out
}

func aggregate(op string, by []string, in []Sample) []Sample {
	groups := map[string]*Sample{}
	var order []string
	for _, s := range in {
		l := map[string]string{}
		for _, b := range by {
			if v, ok := s.Labels[b]; ok {
				l[b] = v
			}
		}
		k := labelText(l)
		g := groups[k]
		if g == nil {
			g = &Sample{Labels: l, Value: s.Value}
			if op == "count" {
				g.Value = 1
			}
			groups[k] = g
			order = append(order, k)
			continue
		}
		switch op {
		case "sum":
			g.Value += s.Value
		case "count":
			g.Value++
		case "min":
			g.Value = min(g.Value, s.Value)
		case "max":
			g.Value = max(g.Value, s.Value)
		}
	}
	sort.Strings(order)
	out := make([]Sample, 0, len(order))
	for _, k := range order {
		out = append(out, *groups[k])
	}
	return out
}

func parsePromDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// Query evaluates a PromQL expression of the simulated subset.
func (s *Sim) Query(q string) ([]Sample, error) {
	p := &pq{src: q}
	out, err := s.eval(p)
	if err != nil {
		return nil, err
	}
	if p.skip(); p.pos != len(p.src) {
		return nil, p.fail("unexpected text")
	}
	return out, nil
}

// PrometheusHandler serves /api/v1/query as Prometheus does.
func (s *Sim) PrometheusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/api/v1/query" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"status":"error","errorType":"not_found","error":"fakelab's Prometheus serves /api/v1/query only"}`)
			return
		}
		_ = r.ParseForm()
		res, err := s.Query(r.Form.Get("query"))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			b, _ := json.Marshal(map[string]string{"status": "error", "errorType": "bad_data", "error": err.Error()})
			w.Write(b)
			return
		}
		type item struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		items := []item{}
		ts := float64(s.opts.Now().UnixMilli()) / 1000
		for _, smp := range res {
			items = append(items, item{Metric: smp.Labels, Value: [2]any{ts, num(smp.Value)}})
		}
		b, _ := json.Marshal(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": items}})
		w.Write(b)
	})
}
