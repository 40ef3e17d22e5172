package testcluster

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// TestKubeletLogs reads a container's log through the API server's
// pods/log, served by the fake kubelet: the whole log, its tail, and the
// lines since a time, for an application container and a native sidecar
// (an init container, as istio-proxy is in the lab).
func TestKubeletLogs(t *testing.T) {
	p := SharedPodNet(t)
	c := Shared(t)
	k := c.Kubelet(t, p, "kubelet-test-node")
	ns := "kubelet-test"
	c.ApplyT(t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: %[1]s
spec:
  nodeName: %[2]s
  initContainers:
  - name: istio-proxy
    image: istio/proxyv2:1.29.0
    restartPolicy: Always
  containers:
  - name: app
    image: app
`, ns, k.Node))
	now := time.Now()
	k.SetLog(ns, "app", "istio-proxy",
		LogLine{At: now.Add(-10 * time.Minute), Text: "old"},
		LogLine{At: now.Add(-2 * time.Second), Text: "recent 1"},
		LogLine{At: now.Add(-1 * time.Second), Text: "recent 2"})
	k.SetLog(ns, "app", "app", LogLine{At: now, Text: "hello"})

	kube := kubernetes.NewForConfigOrDie(c.Config)
	read := func(o corev1.PodLogOptions) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		rc, err := kube.CoreV1().Pods(ns).GetLogs("app", &o).Stream(ctx)
		if err != nil {
			t.Fatalf("logs %+v: %v", o, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	tail, since := int64(2), int64(60)
	for _, c := range []struct {
		opts corev1.PodLogOptions
		want string
	}{
		{corev1.PodLogOptions{Container: "istio-proxy"}, "old\nrecent 1\nrecent 2"},
		{corev1.PodLogOptions{Container: "istio-proxy", TailLines: &tail}, "recent 1\nrecent 2"},
		{corev1.PodLogOptions{Container: "istio-proxy", SinceSeconds: &since}, "recent 1\nrecent 2"},
		{corev1.PodLogOptions{Container: "app"}, "hello"},
	} {
		if got := read(c.opts); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.opts, got, c.want)
		}
	}
}
