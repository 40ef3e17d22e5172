package fakelab_test

// The simulator behind a real API server, reached the way the checks
// reach a cluster: pod proxy to a sidecar's stats, service proxy to
// Prometheus, a probe pod whose curl the simulated node runs.

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/internal/traffic"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// onCluster is a small lab: ratings-v3 with a sidecar in an enrolled
// namespace, and Prometheus.
func onCluster(ns, prom string) string {
	return `apiVersion: v1
kind: Namespace
metadata: {name: ` + ns + `, labels: {istio.io/rev: stable}}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: ` + ns + `}
spec: {selector: {app: ratings}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-v3-6d8c9b7f5-abcde, namespace: ` + ns + `, labels: {app: ratings, version: v3}}
spec: {containers: [{name: ratings, image: ratings}, {name: istio-proxy, image: proxyv2}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: ` + prom + `}
---
apiVersion: v1
kind: Service
metadata: {name: prometheus-server, namespace: ` + prom + `}
spec: {selector: {app.kubernetes.io/name: prometheus}, ports: [{name: http, port: 9090, targetPort: 9090}]}
---
apiVersion: v1
kind: Pod
metadata: {name: prometheus-server-0, namespace: ` + prom + `, labels: {app.kubernetes.io/name: prometheus}}
spec: {containers: [{name: prometheus, image: prometheus}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
`
}

func TestNodeOnCluster(t *testing.T) {
	c := testcluster.Shared(t)
	pn := testcluster.SharedPodNet(t)
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	live, err := fakelab.Watch(ctx, c.Config)
	if err != nil {
		t.Fatal(err)
	}
	sim := fakelab.NewSim(live.Source(), fakelab.Options{Seed: 1})
	// pods/log: the node binds every pod to the Node of a kubelet that
	// serves what the node says each container wrote.
	kubelet := c.Kubelet(t, pn, "fakelab-node-test")
	node := &fakelab.Node{Kube: kube, Sim: sim, NewIP: pn.AddIP, ReleaseIP: pn.ReleaseIP, Listen: pn.ListenAt, Errorf: t.Errorf,
		NodeName: kubelet.Node}
	kubelet.Source = testcluster.LogsFrom(node.Log)
	done := make(chan struct{})
	go func() { node.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	ns, prom, out := "fakelab-bookinfo", "fakelab-prometheus", c.Namespace(t)
	c.ApplyT(t, onCluster(ns, prom))
	probe := func() *traffic.PodResult {
		t.Helper()
		res, err := traffic.RunPod(ctx, kube, traffic.PodProbe{Namespace: out, URL: "http://ratings." + ns + ":9080/ratings/0",
			Timeout: 5 * time.Second, Start: 30 * time.Second, Poll: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// No policy: PERMISSIVE, and the plain-text client gets its answer;
	// the status comes from curl's output, read through pods/log.
	if res := probe(); res.ExitCode != 0 || res.Status != 200 {
		t.Errorf("PERMISSIVE: curl exit %d, status %d (logs %q, %v)", res.ExitCode, res.Status, res.Logs, res.LogErr)
	}
	c.ApplyT(t, "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: "+ns+"}\nspec: {mtls: {mode: STRICT}}\n")
	var res *traffic.PodResult
	for i := 0; i < 100; i++ { // the simulator's informer sees the policy a moment later
		if res = probe(); res.ExitCode != 0 {
			break
		}
	}
	if res.ExitCode != 56 {
		t.Errorf("STRICT: curl exit %d, want 56 (reset)", res.ExitCode)
	}

	// The first probe reached ratings' sidecar: its stats say so, read
	// through the API server's pod proxy.
	var series []traffic.Series
	for i := 0; i < 100; i++ {
		series, _, err = traffic.EnvoyStats(ctx, kube, traffic.StatQuery{Namespace: ns, Selector: "app=ratings", Port: 15090, Metric: "istio_requests_total"})
		if err == nil && len(series) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(series) == 0 || !strings.Contains(series[0].Labels, `reporter="destination"`) {
		t.Errorf("ratings' stats: %v %v", series, err)
	}
	// And Prometheus, through the service proxy and the EndpointSlice
	// the node wrote.
	var got []traffic.Series
	for i := 0; i < 100; i++ {
		got, err = traffic.Query(ctx, kube, traffic.PromTarget{Namespace: prom, Service: "prometheus-server", Port: 9090},
			`sum(istio_requests_total{destination_app="ratings",destination_version="v3",connection_security_policy="none"})`)
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || len(got) != 1 || got[0].Value < 1 {
		t.Errorf("Prometheus: %v %v", got, err)
	}
	if got, err := traffic.Query(ctx, kube, traffic.PromTarget{Namespace: prom, Service: "prometheus-server", Port: 9090},
		`sum(istio_requests_total{connection_security_policy="mutual_tls"})`); err != nil || len(got) != 0 {
		t.Errorf("nobody called ratings over mTLS, yet: %v %v", got, err)
	}

	// ratings' proxy logged the plain-text calls it let through, and
	// the kubelet serves that log (a native sidecar or not, the
	// container is istio-proxy).
	logs := func() []traffic.PodLog {
		t.Helper()
		pl, _, err := traffic.AccessLogs(ctx, kube, traffic.LogQuery{Namespace: ns, Selector: "app=ratings", Since: 5 * time.Minute})
		if err != nil {
			t.Fatalf("ratings' access log: %v", err)
		}
		return pl
	}
	if pl := logs(); len(pl) != 1 || len(pl[0].Entries) == 0 || pl[0].Entries[0].Code != 200 {
		t.Errorf("ratings' access log: %+v", pl)
	}
	// Ten minutes later, none of it is within the last five.
	sim.Age(10 * time.Minute)
	if pl := logs(); len(pl) != 1 || len(pl[0].Entries) != 0 {
		t.Errorf("ratings' access log, aged: %+v", pl)
	}
	// The application container wrote nothing the node knows of.
	if _, _, err := traffic.AccessLogs(ctx, kube, traffic.LogQuery{Namespace: ns, Selector: "app=ratings", Container: "ratings"}); err == nil {
		t.Errorf("the ratings container's log was served")
	}
}
