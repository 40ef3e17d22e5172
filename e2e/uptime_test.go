package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
	"github.com/meshdojo/meshdojo/lessons"
)

// uptimeWorld is productpage behind the ingress gateway in bookinfo, as
// the simulated lab sees it.
const uptimeWorld = `apiVersion: v1
kind: Namespace
metadata: {name: bookinfo}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: productpage-ingress, namespace: bookinfo}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 9080, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: istio-ingressgateway-abc-12345, namespace: bookinfo, labels: {app: istio-ingressgateway, istio: ingressgateway}}
spec: {containers: [{name: istio-proxy}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: productpage-ingress, namespace: bookinfo}
spec:
  hosts: ["*"]
  gateways: [productpage-ingress]
  http:
  - route: [{destination: {host: productpage, port: {number: 9080}}}]
---
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: bookinfo}
spec: {selector: {app: productpage}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: productpage-v2-6d8c9b7f5-abcde, namespace: bookinfo, labels: {app: productpage, version: v2}}
spec: {containers: [{name: productpage}, {name: istio-proxy}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
`

// uptimeDeploy is productpage-v2 as the step leaves it: a readinessProbe
// and a preStop sleep.
const uptimeDeploy = `apiVersion: v1
kind: Namespace
metadata: {name: bookinfo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: productpage-v2, namespace: bookinfo}
spec:
  replicas: 1
  selector: {matchLabels: {app: productpage, version: v2}}
  template:
    metadata: {labels: {app: productpage, version: v2}}
    spec:
      containers:
      - name: productpage
        image: productpage
        readinessProbe: {httpGet: {path: /health, port: 9080}, periodSeconds: 2}
        lifecycle: {preStop: {sleep: {seconds: 5}}}
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
`

// TestUptimeChartOnScreen runs lesson a1's uptime probe from the built
// binary in presenter mode against a real API server and the simulated
// lab: the reader starts it, restarts productpage-v2 as the step says
// (the simulator plays the Deployment controller), and the chart over
// time fills second by second in the probe's view, then stays under the
// check's row in the presenter's panel with the verdict.
func TestUptimeChartOnScreen(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	l, _ := lessons.Find(all, "a1")
	step := 0
	for i, s := range l.Steps {
		for _, c := range s.Checks {
			if c.Name == "uptime-probe" {
				step = i + 1
			}
		}
	}
	if step == 0 {
		t.Fatal("lesson a1 has no uptime-probe")
	}
	c := testcluster.Shared(t)
	kc, err := c.Kubeconfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kcPath, kc, 0o600)
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := fakelab.FromYAML(uptimeWorld, fakelab.Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.RunRollouts(ctx, kube, t.Errorf); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	c.ApplyT(t, uptimeDeploy)
	t.Cleanup(func() { c.Delete(context.Background(), uptimeDeploy) })
	ingress := httptest.NewServer(sim.IngressHandler(9080))
	defer ingress.Close()
	// The simulated controller knows the Deployment before the restart.
	time.Sleep(500 * time.Millisecond)

	tm := start(t, offlineEnv(t), 120, 50, "--present", "--kubeconfig", kcPath, "--ingress", ingress.URL,
		"--lesson", "a1", "--step", strconv.Itoa(step))
	tm.waitText("no request failed while Bookinfo restarted", "NOT RUN")
	tm.press("t")
	tm.waitText("Run")
	tm.press("y")
	tm.waitText("ANSWERS PER SECOND", "█ 2xx", "▒ not 2xx 0")

	// The reader's kubectl rollout restart deployment -n bookinfo.
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, fakelab.RestartedAt, time.Now().Format(time.RFC3339))
	if _, err := kube.AppsV1().Deployments("bookinfo").Patch(t.Context(), "productpage-v2", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	scr := tm.waitText("PASS", "0 not 2xx", "every one 2xx through the restart of", "▒ not 2xx 0")
	if !strings.Contains(scr, "0s") {
		t.Errorf("no time axis under the chart:\n%s", scr)
	}
	tm.press("esc")
	scr = tm.waitText("PASS", "2xx", "not 2xx")
	var series []string
	for _, row := range lines(scr) {
		if f := strings.Fields(row); len(f) > 0 && (f[0] == "2xx" || f[0] == "not") {
			series = append(series, strings.TrimSpace(row))
		}
	}
	if len(series) != 2 || !strings.ContainsAny(series[0], "▁▂▃▄▅▆▇█") || !strings.Contains(series[1], "·") || !strings.HasSuffix(series[1], " 0") {
		t.Fatalf("want the panel's two series under the probe's row (2xx heights, not 2xx dots and 0):\n%s", scr)
	}
}
