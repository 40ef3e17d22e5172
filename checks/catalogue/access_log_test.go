package catalogue

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// labLine is one entry of the lab's envoy-stdout access log (JSON labels),
// as productpage's proxy writes it for a call to ratings.
func labLine(code int, flags string) string {
	return subsetLine("v3", code, flags)
}

// subsetLine is labLine for a call to a subset of ratings.
func subsetLine(subset string, code int, flags string) string {
	return fmt.Sprintf(`{"access_log_type":"-","bytes_received":0,"bytes_sent":18,"destination":"outbound|9080|%s|ratings.bookinfo.svc.cluster.local",`+
		`"duration":3,"method":"GET","path":"/ratings/0","protocol":"HTTP/1.1","response_code":%d,"response_flags":%q,"timestamp":"2026-11-29T21:04:05.123456789Z"}`, subset, code, flags)
}

// TestAccessLogOnCluster runs access-log against proxies' logs served by
// the test cluster's fake kubelet, in the states of lesson 9's steps: it
// passes on the flag and status the step injects and fails, saying why,
// on the previous step's, on a log without access-log entries, without
// the permission to read logs, and offline.
func TestAccessLogOnCluster(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	k := c.Kubelet(t, testcluster.SharedPodNet(t), "access-log-node")
	c.ApplyT(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: productpage-v2-z57ng28rl-fqf6k
  namespace: %[1]s
  labels:
    app: productpage
spec:
  nodeName: %[2]s
  initContainers:
  - name: istio-proxy
    image: docker.io/istio/proxyv2:1.29.0-distroless
    restartPolicy: Always
  containers:
  - name: productpage
    image: hirokihasegawa/examples-bookinfo-productpage-v2:1.20.2-istio-demo
status:
  phase: Running
---
apiVersion: v1
kind: Pod
metadata:
  name: details-v3-9b75v4t4p-9r2mj
  namespace: %[1]s
  labels:
    app: details
spec:
  nodeName: %[2]s
  initContainers:
  - name: istio-proxy
    image: docker.io/istio/proxyv2:1.29.0-distroless
    restartPolicy: Always
  containers:
  - name: details
    image: details
status:
  phase: Running
`, ns, k.Node))
	pp := "productpage-v2-z57ng28rl-fqf6k"
	setLog := func(pod string, lines ...string) {
		now := time.Now()
		var ll []testcluster.LogLine
		for i, l := range lines {
			ll = append(ll, testcluster.LogLine{At: now.Add(time.Duration(i-len(lines)) * time.Millisecond), Text: l})
		}
		k.SetLog(ns, pod, "istio-proxy", ll...)
	}
	env := newEmitEnv(trafficClients(t, c.Config))
	run := func(raw map[string]string) checks.Result {
		raw["namespace"] = ns
		if raw["selector"] == "" {
			raw["selector"] = "app=productpage"
		}
		return runTraffic(t, env, "access-log", raw)
	}
	abort500 := map[string]string{"flag": "FI", "status": "500", "upstream": "|ratings."}

	// Step 1's state: no fault, the calls to ratings answer 200.
	setLog(pp, "2026-11-29T21:04:05.123456Z\tinfo\tEnvoy proxy is ready", labLine(200, "-"), labLine(200, "-"))
	if r := run(abort500); r.Verdict != checks.Fail || r.Code != CodeLogNoMatch || !strings.Contains(r.Conditions[0].Observed, "200 - ×2") {
		t.Errorf("no fault: %s", explain(r))
	}
	// Step 3's: an injected abort with 500.
	setLog(pp, labLine(200, "-"), labLine(500, "FI"), labLine(500, "FI"))
	if r := run(abort500); r.Verdict != checks.Pass || r.Code != CodeLogOK {
		t.Errorf("abort 500: %s", explain(r))
	}
	if r := run(map[string]string{"flag": "FI", "status": "500", "min": "3"}); r.Verdict != checks.Fail {
		t.Errorf("abort 500, three wanted, two logged: %s", explain(r))
	}
	if r := run(map[string]string{"flag": "DI", "status": "504"}); r.Verdict != checks.Fail || r.Code != CodeLogNoMatch {
		t.Errorf("abort 500 judged as the delay step: %s", explain(r))
	}
	if r := run(map[string]string{"flag": "FI", "upstream": "|reviews."}); r.Verdict != checks.Fail {
		t.Errorf("aborts to ratings counted as calls to reviews: %s", explain(r))
	}
	// Step 5's: the delay, then the abort with 504.
	setLog(pp, labLine(504, "DI,FI"))
	for _, f := range []string{"DI", "FI"} {
		if r := run(map[string]string{"flag": f, "status": "504", "upstream": "|ratings."}); r.Verdict != checks.Pass {
			t.Errorf("delay and abort, flag %s: %s", f, explain(r))
		}
	}
	// Istio's default text format says the same.
	setLog(pp, `[2026-11-29T21:04:05.123Z] "GET /ratings/0 HTTP/1.1" 504 DI,FI fault_filter_abort - "-" 0 18 7001 - "-" "python-requests/2.32.3" "7f1c" "ratings:9080" "-" outbound|9080|v3|ratings.bookinfo.svc.cluster.local - 10.96.12.7:9080 10.244.1.5:45678 - -`)
	if r := run(map[string]string{"flag": "DI", "upstream": "|ratings."}); r.Verdict != checks.Pass {
		t.Errorf("text format: %s", explain(r))
	}
	// Access logging off: only the proxy's own lines.
	setLog(pp, "2026-11-29T21:04:05.123456Z\tinfo\tEnvoy proxy is ready")
	if r := run(abort500); r.Verdict != checks.Fail || r.Code != CodeLogNoEntries || !strings.Contains(r.Conditions[0].Fix, "accessLogging") {
		t.Errorf("no access log: %s", explain(r))
	}
	// Another pod's log cannot be read (its kubelet does not know it):
	// reported, without hiding what the readable one shows.
	setLog(pp, labLine(500, "FI"))
	if r := run(map[string]string{"selector": "app in (productpage,details)", "flag": "FI"}); r.Verdict != checks.Pass || len(r.Conditions) != 2 {
		t.Errorf("one pod unreadable: %s", explain(r))
	}
	if r := run(map[string]string{"selector": "app=details", "flag": "FI"}); r.Verdict != checks.Error || r.Code != CodeLogUnreadable {
		t.Errorf("no pod readable: %s", explain(r))
	}
	// Lesson 10's gates, each on the log of the state the reader arrives
	// in (the previous step's) and of the step's own.
	const delayed, faulty, e500 = "v-delayed-50percent-delayof7s", "v-faulty-50percent-503", "v-50percent-internal-server-error-500"
	for _, tc := range []struct {
		name         string
		raw          map[string]string
		arrive, pass []string
	}{
		{"timeout (UT, 504)", map[string]string{"upstream": "|v-delayed", "flag": "UT", "status": "504"},
			[]string{subsetLine(delayed, 200, "-"), subsetLine(delayed, 200, "-")},
			[]string{subsetLine(delayed, 200, "-"), subsetLine(delayed, 504, "UT")}},
		{"pool (UO, 503)", map[string]string{"upstream": "|" + delayed + "|", "flag": "UO", "status": "503"},
			[]string{subsetLine(faulty, 200, "-"), subsetLine(faulty, 503, "URX")},
			[]string{subsetLine(delayed, 200, "-"), subsetLine(delayed, 503, "UO")}},
		{"outlier detection (UH, 503)", map[string]string{"upstream": "|v-50percent", "flag": "UH", "status": "503"},
			[]string{subsetLine(delayed, 200, "-"), subsetLine(delayed, 503, "UO")},
			[]string{subsetLine(e500, 500, "-"), subsetLine(e500, 503, "UH")}},
	} {
		setLog(pp, tc.arrive...)
		if r := run(maps.Clone(tc.raw)); r.Verdict != checks.Fail || r.Code != CodeLogNoMatch {
			t.Errorf("lesson 10 %s, arrival: %s", tc.name, explain(r))
		}
		setLog(pp, tc.pass...)
		if r := run(maps.Clone(tc.raw)); r.Verdict != checks.Pass {
			t.Errorf("lesson 10 %s: %s", tc.name, explain(r))
		}
	}
	// Without the permission to read logs.
	denied := newEmitEnv(trafficClients(t, c.Impersonate("meshdojo-no-logs")))
	raw := map[string]string{"namespace": ns, "selector": "app=productpage", "flag": "FI"}
	if r := runTraffic(t, denied, "access-log", raw); r.Verdict != checks.Error || !strings.Contains(r.Conditions[0].Observed, "may not") {
		t.Errorf("forbidden: %s", explain(r))
	}
	// Offline.
	if r := runTraffic(t, newEmitEnv(nil), "access-log", raw); r.Verdict != checks.Error || r.Code != CodeProbeOffline {
		t.Errorf("offline: %s", explain(r))
	}
}

// TestAccessLogParams: values wrong whatever the cluster holds are
// refused before anything runs.
func TestAccessLogParams(t *testing.T) {
	c, _ := Lookup("access-log")
	for _, raw := range []map[string]string{
		{"namespace": "bookinfo", "selector": "app=productpage"},                              // neither flag nor status
		{"namespace": "bookinfo", "selector": "app=productpage", "flag": "fi"},                // not a flag
		{"namespace": "bookinfo", "selector": "app=productpage", "status": "700"},             // not a status
		{"namespace": "bookinfo", "selector": "app=productpage", "flag": "FI", "since": "0s"}, // no window
		{"namespace": "bookinfo", "selector": "app=productpage", "flag": "FI", "min": "0"},    // nothing to count
		{"namespace": "bookinfo", "selector": "app in (", "flag": "FI"},                       // a bad selector
	} {
		if _, err := c.Validate(raw); err == nil {
			t.Errorf("%v: accepted", raw)
		}
	}
	if _, err := c.Validate(map[string]string{"namespace": "bookinfo", "selector": "app=productpage", "flag": "FI", "status": "500"}); err != nil {
		t.Error(err)
	}
}
