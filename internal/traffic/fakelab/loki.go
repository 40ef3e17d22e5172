package fakelab

// Loki's query API over what the lab's Alloy shipped (observe.go), with
// the part of LogQL a log check needs: a stream selector with =, !=, =~
// and !~ matchers, followed by line filters |= "text", != "text", |~ and
// !~. Anything else is refused with an error saying so, as Loki refuses
// what it cannot parse.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

type lineFilter struct {
	op, text string
	re       *regexp.Regexp
}

var (
	selectorRe = regexp.MustCompile(`^\{\s*(.*?)\s*\}\s*(.*)$`)
	matcherRe  = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$`)
	filterRe   = regexp.MustCompile(`^\s*(\|=|!=|\|~|!~)\s*"((?:[^"\\]|\\.)*)"`)
)

// parseLogQL reads a stream selector and line filters.
func parseLogQL(q string) ([]matcher, []lineFilter, error) {
	m := selectorRe.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil {
		return nil, nil, fmt.Errorf("parse error: the simulated Loki understands a stream selector {label=\"value\"} followed by line filters")
	}
	var ms []matcher
	for _, part := range splitMatchers(m[1]) {
		mm := matcherRe.FindStringSubmatch(part)
		if mm == nil {
			return nil, nil, fmt.Errorf("parse error: bad matcher %q", part)
		}
		v, _ := strconv.Unquote(`"` + mm[3] + `"`)
		lm, err := newMatcher(mm[1], mm[2], v)
		if err != nil {
			return nil, nil, fmt.Errorf("parse error: %v", err)
		}
		ms = append(ms, lm)
	}
	if len(ms) == 0 {
		return nil, nil, fmt.Errorf("parse error: queries require at least one label matcher")
	}
	rest := strings.TrimSpace(m[2])
	var fs []lineFilter
	for rest != "" {
		fm := filterRe.FindStringSubmatch(rest)
		if fm == nil {
			return nil, nil, fmt.Errorf("parse error: the simulated Loki does not understand %q (only line filters |= != |~ !~)", rest)
		}
		t, _ := strconv.Unquote(`"` + fm[2] + `"`)
		f := lineFilter{op: fm[1], text: t}
		if strings.Contains(f.op, "~") {
			re, err := regexp.Compile(t)
			if err != nil {
				return nil, nil, fmt.Errorf("parse error: %v", err)
			}
			f.re = re
		}
		fs = append(fs, f)
		rest = strings.TrimSpace(rest[len(fm[0]):])
	}
	return ms, fs, nil
}

// splitMatchers splits on commas outside quotes.
func splitMatchers(s string) []string {
	var out []string
	var b strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && quoted && i+1 < len(s):
			b.WriteByte(c)
			i++
			b.WriteByte(s[i])
			continue
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			if strings.TrimSpace(b.String()) != "" {
				out = append(out, b.String())
			}
			b.Reset()
			continue
		}
		b.WriteByte(c)
	}
	if strings.TrimSpace(b.String()) != "" {
		out = append(out, b.String())
	}
	return out
}

func (f lineFilter) ok(line string) bool {
	switch f.op {
	case "|=":
		return strings.Contains(line, f.text)
	case "!=":
		return !strings.Contains(line, f.text)
	case "|~":
		return f.re.MatchString(line)
	}
	return !f.re.MatchString(line)
}

// LokiQuery returns the entries Loki holds that the query selects
// between start and end, newest first, at most limit.
func (s *Sim) LokiQuery(q string, start, end time.Time, limit int) ([]lokiEntry, error) {
	ms, fs, err := parseLogQL(q)
	if err != nil {
		return nil, err
	}
	s.obs.mu.Lock()
	defer s.obs.mu.Unlock()
	var out []lokiEntry
	for i := len(s.obs.loki) - 1; i >= 0 && len(out) < limit; i-- {
		e := s.obs.loki[i]
		if e.at.Before(start) || e.at.After(end) {
			continue
		}
		keep := all(ms, e.labels)
		for _, f := range fs {
			keep = keep && f.ok(e.line)
		}
		if keep {
			out = append(out, e)
		}
	}
	return out, nil
}

// LokiHandler serves Loki's HTTP API on :3100: /ready, and
// /loki/api/v1/query_range (start, end in nanoseconds or RFC 3339, or
// since; limit) answering streams.
func (s *Sim) LokiHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready":
			fmt.Fprintln(w, "ready")
			return
		case "/loki/api/v1/query_range", "/loki/api/v1/query":
		default:
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		now := s.opts.Now()
		end := now
		if t, ok := lokiTime(q.Get("end")); ok {
			end = t
		}
		start := end.Add(-time.Hour)
		if d, err := time.ParseDuration(q.Get("since")); err == nil {
			start = end.Add(-d)
		}
		if t, ok := lokiTime(q.Get("start")); ok {
			start = t
		}
		limit := 100
		if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
			limit = n
		}
		entries, err := s.LokiQuery(q.Get("query"), start, end, limit)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		type stream struct {
			Stream map[string]string `json:"stream"`
			Values [][2]string       `json:"values"`
		}
		byKey := map[string]*stream{}
		var keys []string
		for _, e := range entries {
			k := labelText(e.labels)
			st := byKey[k]
			if st == nil {
				st = &stream{Stream: e.labels}
				byKey[k] = st
				keys = append(keys, k)
			}
			st.Values = append(st.Values, [2]string{strconv.FormatInt(e.at.UnixNano(), 10), e.line})
		}
		sort.Strings(keys)
		result := []*stream{}
		for _, k := range keys {
			result = append(result, byKey[k])
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "streams", "result": result}})
	})
}

func lokiTime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(0, n), true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}
