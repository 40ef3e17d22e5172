package catalogue

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/engine"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
)

// uptimeLab is productpage-v2 behind the ingress gateway in namespace
// ns, as the simulator sees it, and its Deployment as the API server
// holds it, with a readinessProbe every period seconds and a preStop
// hook when period is not 0.
func uptimeLab(ns string, period int) (world, deploy string) {
	world = fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: productpage-ingress, namespace: %[1]s}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 9080, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: istio-ingressgateway-abc-12345, namespace: %[1]s, labels: {app: istio-ingressgateway, istio: ingressgateway}}
spec: {containers: [{name: istio-proxy}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: productpage-ingress, namespace: %[1]s}
spec:
  hosts: ["*"]
  gateways: [productpage-ingress]
  http:
  - route: [{destination: {host: productpage, port: {number: 9080}}}]
---
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: %[1]s}
spec: {selector: {app: productpage}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: productpage-v2-6d8c9b7f5-abcde
  namespace: %[1]s
  labels: {app: productpage, version: v2, pod-template-hash: 6d8c9b7f5}
spec: {containers: [{name: productpage}, {name: istio-proxy}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
`, ns)
	extra := ""
	if period > 0 {
		extra = fmt.Sprintf(`
        readinessProbe: {httpGet: {path: /health, port: 9080}, periodSeconds: %d}
        lifecycle: {preStop: {sleep: {seconds: 5}}}`, period)
	}
	deploy = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: productpage-v2, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: productpage, version: v2}}
  template:
    metadata: {labels: {app: productpage, version: v2}}
    spec:
      containers:
      - name: productpage
        image: productpage%[2]s
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
`, ns, extra)
	return world, deploy
}

// TestUptimeProbeOnCluster runs uptime-probe against the simulated lab
// while the Deployment it watches is restarted in the API server (as
// kubectl rollout restart does), with the simulator playing the
// Deployment controller: a graceful restart passes, the lab's
// productpage as it is fails with every dropped answer listed, and a
// probe with no restart, or one cut short, says so.
func TestUptimeProbeOnCluster(t *testing.T) {
	c := testcluster.Shared(t)
	clients := trafficClients(t, c.Config)
	var runPatched func(t *testing.T, period int, patchOf func() string, params map[string]string) checks.Result

	// run starts the probe on the lab of ns and, once its first answers
	// are in, restarts the Deployment when restart is set.
	restartPatch := func() string {
		return fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, fakelab.RestartedAt, time.Now().Format(time.RFC3339))
	}
	run := func(t *testing.T, period int, restart bool, params map[string]string) checks.Result {
		var patch func() string
		if restart {
			patch = restartPatch
		}
		return runPatched(t, period, patch, params)
	}
	runPatched = func(t *testing.T, period int, patchOf func() string, params map[string]string) checks.Result {
		ns := c.Namespace(t)
		world, deploy := uptimeLab(ns, period)
		sim, err := fakelab.FromYAML(world, fakelab.Options{Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(t.Context())
		defer stop()
		c.ApplyT(t, deploy)
		go sim.RunRollouts(ctx, clients.Kube, t.Errorf)
		ingress := httptest.NewServer(sim.IngressHandler(9080))
		defer ingress.Close()
		env := newEmitEnv(clients)
		p := map[string]string{"ingress": ingress.URL, "restart-namespace": ns}
		for k, v := range params {
			p[k] = v
		}
		cc, _ := Lookup("uptime-probe")
		vp, err := cc.Validate(p)
		if err != nil {
			t.Fatal(err)
		}
		// The controller must know the Deployment before it is restarted.
		time.Sleep(300 * time.Millisecond)
		done := make(chan checks.Result, 1)
		go func() { done <- engine.Evaluate(ctx, env, checks.Bound{Key: "t", Check: cc, Params: vp}) }()
		if patchOf != nil {
			for {
				env.mu.Lock()
				n := len(env.emitted)
				env.mu.Unlock()
				if n > 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			d, err := clients.Kube.AppsV1().Deployments(ns).Patch(ctx, "productpage-v2", types.StrategicMergePatchType, []byte(patchOf()), metav1.PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(patchOf(), "template") {
				// No new pods: the controller only notes the new generation.
				d.Status.ObservedGeneration = d.Generation
				if _, err := clients.Kube.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		r := <-done
		if !cc.Declares(r.Code) {
			t.Errorf("code %s is not declared", r.Code)
		}
		env.mu.Lock()
		defer env.mu.Unlock()
		if len(env.emitted) == 0 || len(env.emitted[len(env.emitted)-1].Bars) == 0 {
			t.Errorf("no chart while it ran")
		}
		return r
	}
	t.Run("graceful restart", func(t *testing.T) {
		r := run(t, 2, true, map[string]string{"duration": "10s", "max-duration": "40s", "rate": "20"})
		if r.Verdict != checks.Pass || r.Code != CodeUptimeOK || !strings.Contains(r.Summary, "productpage-v2") {
			t.Fatal(explain(r))
		}
		series := 0
		for _, b := range r.Bars {
			if b.Series && b.Group == UptimeGroupOK {
				series++
			}
		}
		if series < 3 {
			t.Fatalf("want a chart over time, one bar a second: %+v", r.Bars)
		}
	})
	t.Run("the lab's productpage restarted", func(t *testing.T) {
		r := run(t, 0, true, map[string]string{"duration": "10s", "max-duration": "40s", "rate": "20"})
		// Both the new pod not yet listening and the old one already
		// stopped leave their sidecar to answer 503 itself: connection
		// refused, UF, never a cut connection (UC).
		if r.Verdict != checks.Fail || r.Code != CodeUptimeFailed || !strings.Contains(r.Summary, "503 UF ×") || strings.Contains(r.Summary, "UC") {
			t.Fatal(explain(r))
		}
	})
	t.Run("no restart", func(t *testing.T) {
		r := run(t, 2, false, map[string]string{"duration": "5s", "max-duration": "40s"})
		if r.Verdict != checks.Fail || r.Code != CodeUptimeNoRestart || !strings.Contains(explain(r), "kubectl rollout restart deployment -n") {
			t.Fatal(explain(r))
		}
	})
	t.Run("changed without a restart", func(t *testing.T) {
		// kubectl scale or a change outside the pod template raises the
		// generation and replaces no pod: it is no restart.
		r := runPatched(t, 2, func() string { return `{"spec":{"revisionHistoryLimit":3}}` }, map[string]string{"duration": "5s", "max-duration": "40s"})
		if r.Verdict != checks.Fail || r.Code != CodeUptimeNoRestart {
			t.Fatal(explain(r))
		}
	})
	t.Run("cut short", func(t *testing.T) {
		// A readinessProbe every 30s passes 30s after the new pod starts:
		// the probe, stopped at 6s, saw the restart but not its end.
		r := run(t, 30, true, map[string]string{"duration": "5s", "max-duration": "6s", "rate": "5"})
		if r.Verdict != checks.Fail || r.Code != CodeUptimeUnfinished || !strings.Contains(r.Summary, "still rolling out when the probe stopped: productpage-v2 (") {
			t.Fatal(explain(r))
		}
	})
}

// TestUptimeProbeParams: the rules the lint and check --run apply before
// anything is sent.
func TestUptimeProbeParams(t *testing.T) {
	c, _ := Lookup("uptime-probe")
	for _, tc := range []struct {
		params map[string]string
		param  string // the parameter refused, "" when accepted
	}{
		{map[string]string{}, ""},
		{map[string]string{"restart-namespace": "bookinfo", "duration": "30s", "max-duration": "3m", "rate": "10"}, ""},
		{map[string]string{"rate": "0"}, "rate"},
		{map[string]string{"rate": "51"}, "rate"},
		{map[string]string{"duration": "1s"}, "duration"},
		{map[string]string{"duration": "6m"}, "duration"},
		{map[string]string{"max-duration": "3m"}, "max-duration"},
		{map[string]string{"selector": "app=productpage"}, "selector"},
		{map[string]string{"restart-namespace": "bookinfo", "duration": "2m", "max-duration": "1m"}, "max-duration"},
		{map[string]string{"duration": "10s", "timeout": "20s"}, "duration"},
		{map[string]string{"restart-namespace": "Bookinfo"}, "restart-namespace"},
	} {
		_, err := c.Validate(tc.params)
		switch {
		case tc.param == "" && err != nil:
			t.Errorf("%v: refused: %v", tc.params, err)
		case tc.param != "" && (err == nil || !strings.Contains(err.Error(), tc.param)):
			t.Errorf("%v: want %s refused, got %v", tc.params, tc.param, err)
		}
	}
}

// TestDeployRolloutTerminating: a Deployment whose status counts every
// replica updated and available has not finished while it reports old
// pods still terminating: their application may still fail an answer.
func TestDeployRolloutTerminating(t *testing.T) {
	d := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "productpage-v2", "generation": int64(2)},
		"spec":     map[string]any{"replicas": int64(1)},
		"status": map[string]any{"observedGeneration": int64(2), "replicas": int64(1), "updatedReplicas": int64(1),
			"availableReplicas": int64(1)},
	}}
	if _, done, sum := deployRollout(d); !done {
		t.Fatalf("a finished rollout not seen finished: %s", sum)
	}
	unstructured.SetNestedField(d.Object, int64(1), "status", "terminatingReplicas")
	if _, done, sum := deployRollout(d); done || !strings.Contains(sum, "1 terminating") {
		t.Fatalf("a rollout with a pod still terminating seen finished: %s", sum)
	}
}
