package catalogue

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/internal/traffic"
)

// playKubelet stands in for the kubelet: it waits for meshdojo's probe
// pod in ns and reports the curl container's end with exit code (or the
// given status when st is not nil). It returns a channel closed when done.
func playKubelet(t *testing.T, kube kubernetes.Interface, ns string, exit int32, st *corev1.PodStatus) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			l, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: traffic.ManagedByLabel + "=" + traffic.ManagedBy})
			if err == nil && len(l.Items) > 0 {
				p := l.Items[0]
				if st != nil {
					p.Status = *st
				} else {
					p.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "probe",
						State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit}}}}}
				}
				if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
					t.Errorf("kubelet: %v", err)
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return done
}

func TestPodProbeLessons(t *testing.T) {
	c := testcluster.Shared(t)
	clients := trafficClients(t, c.Config)
	// ch. 6: a plain-text client outside the mesh, under STRICT and then
	// PERMISSIVE; a client inside the mesh; ch. 7: a denied call.
	cases := []struct {
		name   string
		expect string
		exit   int32
		want   checks.Verdict
		code   string
		text   string
	}{
		{"STRICT refuses plain text", "refused", 56, checks.Pass, CodePodProbeOK, "reset"},
		{"refused expected but accepted", "refused", 0, checks.Fail, CodePodProbeFailed, "PeerAuthentication"},
		{"PERMISSIVE accepts plain text", "success", 0, checks.Pass, CodePodProbeOK, "succeeded"},
		{"success expected but reset", "success", 56, checks.Fail, CodePodProbeFailed, "mTLS"},
		{"connection refused counts as refused", "refused", 7, checks.Pass, CodePodProbeOK, "refused"},
		{"authorization policy denies", "denied", 22, checks.Pass, CodePodProbeOK, "HTTP error"},
		{"DNS failure is explained", "refused", 6, checks.Fail, CodePodProbeDNS, "did not resolve"},
		{"timeout is not a refusal", "refused", 28, checks.Fail, CodePodProbeFailed, "timed out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := c.Namespace(t)
			done := playKubelet(t, clients.Kube, ns, tc.exit, nil)
			env := newEmitEnv(clients)
			r := runTraffic(t, env, "pod-probe", map[string]string{"namespace": ns, "url": "http://ratings.bookinfo:9080/ratings/0",
				"expect": tc.expect, "mesh": "out"})
			<-done
			if r.Verdict != tc.want || r.Code != tc.code || !strings.Contains(explain(r), tc.text) {
				t.Fatalf("want %s %s mentioning %q:\n%s", tc.want, tc.code, tc.text, explain(r))
			}
			l, _ := clients.Kube.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
			if len(l.Items) != 0 {
				t.Fatalf("probe pod left behind")
			}
			// The UI heard about the pod while it existed.
			var states []string
			for _, e := range env.emitted {
				states = append(states, e.Progress)
			}
			if len(states) < 2 || states[0] != "probe pod created" || states[len(states)-1] != "probe pod deleted" {
				t.Fatalf("emitted %q", states)
			}
		})
	}
}

func TestPodProbeErrors(t *testing.T) {
	t.Setenv("MESHDOJO_PROBE_IMAGE", "")
	c := testcluster.Shared(t)
	admin := trafficClients(t, c.Config)
	t.Run("forbidden", func(t *testing.T) {
		ns := c.Namespace(t)
		env := newEmitEnv(trafficClients(t, c.Impersonate("traffic-nobody@example.com")))
		r := runTraffic(t, env, "pod-probe", map[string]string{"namespace": ns, "url": "http://ratings.bookinfo:9080/ratings/0"})
		if r.Verdict != checks.Error || r.Code != CodePodProbeForbidden || !strings.Contains(explain(r), "kubectl run meshdojo-probe -n "+ns) {
			t.Fatal(explain(r))
		}
	})
	t.Run("image pull", func(t *testing.T) {
		ns := c.Namespace(t)
		done := playKubelet(t, admin.Kube, ns, 0, &corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "probe", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "dial tcp: i/o timeout"}}}}})
		r := runTraffic(t, newEmitEnv(admin), "pod-probe", map[string]string{"namespace": ns, "url": "http://x:80/"})
		<-done
		if r.Verdict != checks.Error || r.Code != CodePodProbeImage || !strings.Contains(explain(r), "--probe-image") {
			t.Fatal(explain(r))
		}
	})
	t.Run("stuck pending", func(t *testing.T) {
		ns := c.Namespace(t)
		r := runTraffic(t, newEmitEnv(admin), "pod-probe", map[string]string{"namespace": ns, "url": "http://x:80/", "start-timeout": "300ms"})
		if r.Verdict != checks.Error || r.Code != CodePodProbeStuck || !strings.Contains(explain(r), "not scheduled") {
			t.Fatal(explain(r))
		}
	})
	t.Run("no namespace", func(t *testing.T) {
		r := runTraffic(t, newEmitEnv(admin), "pod-probe", map[string]string{"namespace": "traffic-no-such-ns", "url": "http://x:80/"})
		if r.Verdict != checks.Error || r.Code != CodePodProbeNoNS || !strings.Contains(explain(r), "kubectl create namespace traffic-no-such-ns") {
			t.Fatal(explain(r))
		}
	})
	t.Run("bad url and offline", func(t *testing.T) {
		c, _ := Lookup("pod-probe")
		if _, err := c.Validate(map[string]string{"namespace": "default", "url": "ratings:9080"}); err == nil || !strings.Contains(err.Error(), `parameter "url"`) {
			t.Fatalf("a URL without scheme: %v", err)
		}
		r := runTraffic(t, newEmitEnv(nil), "pod-probe", map[string]string{"namespace": "default", "url": "http://ratings:9080/"})
		if r.Verdict != checks.Error || r.Code != CodeProbeOffline || !strings.Contains(explain(r), "kubectl run") {
			t.Fatal(explain(r))
		}
	})
}

// A stopped probe says so in words a reader knows, not "context canceled".
func TestPodProbeCancelledWording(t *testing.T) {
	r := podProbeError(fmt.Errorf("waiting for the pod: %w", context.Canceled), traffic.PodProbe{Namespace: "bookinfo"})
	if r.Code != CodeProbeCancelled || len(r.Conditions) != 1 {
		t.Fatalf("result %+v", r)
	}
	c := r.Conditions[0]
	if strings.Contains(c.Observed, "context canceled") || !strings.Contains(c.Observed, "stopped before curl finished") || c.Fix == "" {
		t.Errorf("condition %+v", c)
	}
}

// A missing ServiceAccount is explained as such, with what to run, and
// not blamed on the reader's credentials.
func TestPodProbeNoServiceAccountWording(t *testing.T) {
	p := traffic.PodProbe{Namespace: "fresh", URL: "http://x"}
	r := podProbeError(fmt.Errorf("%w: namespace fresh has no ServiceAccount default", traffic.ErrNoServiceAccount), p)
	if r.Code != CodePodProbeNoSA || strings.Contains(explain(r), "credentials") ||
		!strings.Contains(explain(r), "kubectl create serviceaccount default -n fresh") {
		t.Errorf("%s", explain(r))
	}
}
