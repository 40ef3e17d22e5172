package traffic

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/internal/testcluster"
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

// TestAccessLogsThroughAPIServer reads proxies' access logs the way the
// checks do, through pods/log, served by the test cluster's fake kubelet:
// only running pods the selector picks, only the proxy container, only the
// lines of the time window, and a pod whose log cannot be read reported
// without hiding the others.
func TestAccessLogsThroughAPIServer(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	k := c.Kubelet(t, testcluster.SharedPodNet(t), "accesslog-node")
	pod := func(name, phase string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
  labels:
    app: productpage
spec:
  nodeName: %s
  initContainers:
  - name: istio-proxy
    image: istio/proxyv2:1.29.0
    restartPolicy: Always
  containers:
  - name: productpage
    image: productpage
status:
  phase: %s
`, name, ns, k.Node, phase)
	}
	c.ApplyT(t, pod("productpage-a", "Running")+"---\n"+pod("productpage-b", "Running")+"---\n"+pod("productpage-old", "Succeeded"))
	now := time.Now()
	abort := `{"response_code":500,"response_flags":"FI","destination":"outbound|9080|v3|ratings.bookinfo.svc.cluster.local"}`
	ok := `{"response_code":200,"response_flags":"-","destination":"outbound|9080|v3|ratings.bookinfo.svc.cluster.local"}`
	k.SetLog(ns, "productpage-a", "istio-proxy",
		testcluster.LogLine{At: now.Add(-time.Hour), Text: abort},
		testcluster.LogLine{At: now.Add(-3 * time.Second), Text: "2026-11-29T21:04:05.123456Z\tinfo\tEnvoy proxy is ready"},
		testcluster.LogLine{At: now.Add(-2 * time.Second), Text: ok},
		testcluster.LogLine{At: now.Add(-1 * time.Second), Text: abort})
	k.SetLog(ns, "productpage-a", "productpage", testcluster.LogLine{At: now, Text: abort})
	// productpage-b's log is unknown to the kubelet: a read that fails.
	kube, _ := clients(t, c.Config)

	logs, problems, err := AccessLogs(t.Context(), kube, LogQuery{Namespace: ns, Selector: "app=productpage", Since: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 1 || logs[0].Pod != "productpage-a" {
		t.Fatalf("read %+v, want productpage-a only", logs)
	}
	if got := logs[0]; got.Lines != 3 || len(got.Entries) != 2 || got.Entries[0].Code != 200 || !got.Entries[1].HasFlag("FI") {
		t.Errorf("productpage-a: %d lines, entries %+v; want 3 lines, a 200 then a 500 FI", got.Lines, got.Entries)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "productpage-b") {
		t.Errorf("problems %q, want one naming productpage-b", problems)
	}
	logs, _, err = AccessLogs(t.Context(), kube, LogQuery{Namespace: ns, Selector: "app=productpage", Tail: 1})
	if err != nil || len(logs) != 1 || len(logs[0].Entries) != 1 || logs[0].Entries[0].Code != 500 {
		t.Errorf("tail 1: %+v, %v; want the last entry only", logs, err)
	}
	if _, _, err := AccessLogs(t.Context(), kube, LogQuery{Namespace: ns, Selector: "app=nothing"}); err == nil || !strings.Contains(err.Error(), "no running pod") {
		t.Errorf("no pods: %v", err)
	}
	if _, _, err := AccessLogs(t.Context(), kube, LogQuery{Namespace: ns, Selector: "app=productpage", Container: "missing"}); err == nil {
		t.Error("a container no pod has: no error")
	}
}
