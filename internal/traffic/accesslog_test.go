package traffic

import (
	"reflect"
	"testing"
	"time"
)

func TestParseAccessLog(t *testing.T) {
	for _, c := range []struct {
		name string
		line string
		ok   bool
		want LogEntry
	}{
		{
			name: "Istio's default text format, an injected abort",
			line: `[2026-11-29T21:04:05.123Z] "GET /ratings/0 HTTP/1.1" 500 FI fault_filter_abort - "-" 0 18 0 - "-" "python-requests/2.32.3" "7f1c" "ratings:9080" "-" outbound|9080|v3|ratings.bookinfo.svc.cluster.local - 10.96.12.7:9080 10.244.1.5:45678 - -`,
			ok:   true,
			want: LogEntry{Time: time.Date(2026, 11, 29, 21, 4, 5, 123e6, time.UTC), Method: "GET", Path: "/ratings/0", Code: 500,
				Flags: []string{"FI"}, Upstream: "outbound|9080|v3|ratings.bookinfo.svc.cluster.local"},
		},
		{
			name: "text format, no flags",
			line: `[2026-11-29T21:04:05.123Z] "GET /productpage HTTP/1.1" 200 - via_upstream - "-" 0 5293 41 40 "10.244.0.1" "curl/8.11.1" "9a2b" "localhost:9080" "10.244.1.5:9080" outbound|9080|v2|productpage.bookinfo.svc.cluster.local 10.244.2.3:50210 10.244.2.3:9080 10.244.0.1:40312 - -`,
			ok:   true,
			want: LogEntry{Time: time.Date(2026, 11, 29, 21, 4, 5, 123e6, time.UTC), Method: "GET", Path: "/productpage", Code: 200,
				Upstream: "outbound|9080|v2|productpage.bookinfo.svc.cluster.local"},
		},
		{
			name: "the lab's JSON labels, delay then abort",
			line: `{"access_log_type":"-","bytes_received":0,"bytes_sent":18,"destination":"outbound|9080|v3|ratings.bookinfo.svc.cluster.local","duration":7001,"level":"info","message":"Communication received successfully","method":"GET","path":"/ratings/0","protocol":"HTTP/1.1","response_code":504,"response_flags":"DI,FI","timestamp":"2026-11-29T21:04:05.123456789Z"}`,
			ok:   true,
			want: LogEntry{Time: time.Date(2026, 11, 29, 21, 4, 5, 123456789, time.UTC), Method: "GET", Path: "/ratings/0", Code: 504,
				Flags: []string{"DI", "FI"}, Upstream: "outbound|9080|v3|ratings.bookinfo.svc.cluster.local"},
		},
		{
			name: "Istio's default JSON, code as text",
			line: `{"start_time":"2026-11-29T21:04:05.123Z","method":"GET","path":"/ratings/0","response_code":"503","response_flags":"UO","upstream_cluster":"outbound|9080|v-delayed-50percent-delayof7s|ratings.bookinfo.svc.cluster.local"}`,
			ok:   true,
			want: LogEntry{Time: time.Date(2026, 11, 29, 21, 4, 5, 123e6, time.UTC), Method: "GET", Path: "/ratings/0", Code: 503,
				Flags: []string{"UO"}, Upstream: "outbound|9080|v-delayed-50percent-delayof7s|ratings.bookinfo.svc.cluster.local"},
		},
		{name: "the proxy's own text log", line: `2026-11-29T21:04:05.123456Z	info	xdsproxy	connected to upstream XDS server`},
		{name: "the proxy's own JSON log", line: `{"level":"info","time":"2026-11-29T21:04:05Z","scope":"envoy","msg":"starting"}`},
		{name: "a bracketed line that is not an entry", line: `[warning] something`},
		{name: "empty", line: ""},
	} {
		got, ok := ParseAccessLog(c.line)
		if ok != c.ok {
			t.Errorf("%s: ok = %v, want %v", c.name, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		got.Raw = ""
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	e, _ := ParseAccessLog(`{"response_code":504,"response_flags":"DI,FI"}`)
	if !e.HasFlag("DI") || !e.HasFlag("FI") || e.HasFlag("UO") {
		t.Errorf("HasFlag on %v", e.Flags)
	}
}
