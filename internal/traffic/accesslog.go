package traffic

// Reading Envoy access logs: a proxy writes one line per request to its
// standard output when the mesh config turns access logging on, in
// Istio's default text format or, when a provider gives a JSON format
// (the lab's envoy-stdout provider does), as one JSON object per line.
// The proxy's own log lines are mixed in; they are neither and are
// skipped.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// LogEntry is one access-log line, reduced to what checks judge.
type LogEntry struct {
	Time     time.Time // zero when the line has no start time that parses
	Method   string
	Path     string
	Code     int      // response code; 0 when there was none (a reset, a TCP connection)
	Flags    []string // Envoy response flags, e.g. FI, DI, UO, UH, UT; none when "-"
	Upstream string   // upstream cluster, e.g. outbound|9080|v3|ratings.bookinfo.svc.cluster.local
	TraceID  string   // the lab's trace_id label (%TRACE_ID%); "" when absent or null
	Raw      string
}

// HasFlag reports whether the entry carries a response flag (compared
// case-sensitively, as Envoy writes them).
func (e LogEntry) HasFlag(f string) bool {
	for _, x := range e.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// ParseAccessLog parses one line. ok is false for lines that are not
// access-log entries.
func ParseAccessLog(line string) (LogEntry, bool) {
	line = strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(line, "{"):
		return parseJSONLog(line)
	case strings.HasPrefix(line, "["):
		return parseTextLog(line)
	}
	return LogEntry{}, false
}

// jsonKeys are the keys a JSON access log may use for each field: Istio's
// default JSON format first, then the names the lab's envoy-stdout
// provider gives its labels.
var jsonKeys = struct{ time, method, path, code, flags, upstream, trace []string }{
	time:     []string{"start_time", "timestamp"},
	method:   []string{"method"},
	path:     []string{"path"},
	code:     []string{"response_code"},
	flags:    []string{"response_flags"},
	upstream: []string{"upstream_cluster", "destination"},
	trace:    []string{"trace_id"},
}

func parseJSONLog(line string) (LogEntry, bool) {
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return LogEntry{}, false
	}
	pick := func(keys []string) (string, bool) {
		for _, k := range keys {
			switch v := m[k].(type) {
			case string:
				return v, true
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64), true
			}
		}
		return "", false
	}
	codeText, hasCode := pick(jsonKeys.code)
	flagText, hasFlags := pick(jsonKeys.flags)
	if !hasCode && !hasFlags {
		return LogEntry{}, false // some other JSON, such as the proxy's own log
	}
	e := LogEntry{Raw: line, Flags: splitFlags(flagText)}
	e.Code, _ = strconv.Atoi(codeText)
	e.Method, _ = pick(jsonKeys.method)
	e.Path, _ = pick(jsonKeys.path)
	e.Upstream, _ = pick(jsonKeys.upstream)
	e.TraceID, _ = pick(jsonKeys.trace)
	if t, ok := pick(jsonKeys.time); ok {
		e.Time = parseLogTime(t)
	}
	return e, true
}

// parseTextLog reads Istio's default text format (EnvoyTextLogFormat in
// pilot/pkg/model/telemetry_logging.go):
//
//	[START_TIME] "METHOD PATH PROTOCOL" CODE FLAGS DETAILS TERMINATION "FAILURE"
//	RECEIVED SENT DURATION UPSTREAM_TIME "XFF" "UA" "REQUEST_ID" "AUTHORITY"
//	"UPSTREAM_HOST" UPSTREAM_CLUSTER ...
func parseTextLog(line string) (LogEntry, bool) {
	end := strings.IndexByte(line, ']')
	if end < 0 {
		return LogEntry{}, false
	}
	e := LogEntry{Raw: line, Time: parseLogTime(line[1:end])}
	f := logFields(line[end+1:])
	// The request field, the code and the flags are the least a line
	// must have to be an access-log entry.
	if len(f) < 3 {
		return LogEntry{}, false
	}
	if req := strings.Fields(f[0]); len(req) >= 2 {
		e.Method, e.Path = req[0], req[1]
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return LogEntry{}, false
	}
	e.Code = code
	e.Flags = splitFlags(f[2])
	// The upstream cluster follows the quoted upstream host, the 15th
	// field after the start time.
	if len(f) > 15 {
		e.Upstream = f[15]
	}
	return e, true
}

// logFields splits on spaces, keeping "quoted fields" whole (without the
// quotes).
func logFields(s string) []string {
	var out []string
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return out
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return append(out, s[1:])
			}
			out = append(out, s[1:end+1])
			s = s[end+2:]
			continue
		}
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			return append(out, s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

func splitFlags(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || s == "-" {
		return nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseLogTime reads Envoy's START_TIME (RFC 3339 with milliseconds) or
// the lab's %Y-%m-%dT%H:%M:%S.%fZ, whose fraction has nine digits.
func parseLogTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}
	}
	return t
}

// LogQuery says whose access log to read and how much of it.
type LogQuery struct {
	Namespace string
	Selector  string        // label selector of the pods
	Container string        // the proxy's container, istio-proxy by default
	Since     time.Duration // only lines from this long ago; 0: no limit
	Tail      int           // at most this many last lines per pod; 0: no limit
}

// PodLog is the access-log entries one pod's proxy wrote, oldest first,
// and how many lines were read in all (access log or not).
type PodLog struct {
	Pod     string
	Entries []LogEntry
	Lines   int
}

// AccessLogs reads the proxy log of every running pod the query selects
// through the API server (pods/log, which the API server fetches from the
// pod's kubelet) and keeps the access-log entries. A pod whose log cannot
// be read is reported in problems; err is set only when no pod could be
// read at all.
func AccessLogs(ctx context.Context, kube kubernetes.Interface, q LogQuery) (logs []PodLog, problems []string, err error) {
	if q.Container == "" {
		q.Container = "istio-proxy"
	}
	pods, err := kube.CoreV1().Pods(q.Namespace).List(ctx, metav1.ListOptions{LabelSelector: q.Selector})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, nil, fmt.Errorf("your credentials may not list pods in %s: %v", q.Namespace, apiMessage(err))
		}
		return nil, nil, fmt.Errorf("listing pods %s in %s: %v", q.Selector, q.Namespace, apiMessage(err))
	}
	opts := &corev1.PodLogOptions{Container: q.Container}
	if q.Since > 0 {
		s := int64((q.Since + time.Second - 1) / time.Second)
		opts.SinceSeconds = &s
	}
	if q.Tail > 0 {
		n := int64(q.Tail)
		opts.TailLines = &n
	}
	asked := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		asked++
		pl, err := podLog(ctx, kube, p.Namespace, p.Name, opts)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		logs = append(logs, pl)
	}
	if asked == 0 {
		return nil, nil, fmt.Errorf("no running pod in %s matches %q", q.Namespace, q.Selector)
	}
	if len(logs) == 0 {
		return nil, problems, fmt.Errorf("could not read the %s log of any pod: %s", q.Container, strings.Join(problems, "; "))
	}
	return logs, problems, nil
}

func podLog(ctx context.Context, kube kubernetes.Interface, ns, pod string, opts *corev1.PodLogOptions) (PodLog, error) {
	pl := PodLog{Pod: pod}
	rc, err := kube.CoreV1().Pods(ns).GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		if apierrors.IsForbidden(err) {
			return pl, fmt.Errorf("your credentials may not read pods/log in %s: %v", ns, apiMessage(err))
		}
		return pl, fmt.Errorf("%v", apiMessage(err))
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		pl.Lines++
		if e, ok := ParseAccessLog(sc.Text()); ok {
			pl.Entries = append(pl.Entries, e)
		}
	}
	if err := sc.Err(); err != nil {
		return pl, fmt.Errorf("reading the log: %v", err)
	}
	return pl, nil
}
