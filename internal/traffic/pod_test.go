package traffic

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// kubelet plays the kubelet for the probe pods of one namespace: when
// one appears it writes the given status, the way a real kubelet would
// report the curl container's end.
func kubelet(t *testing.T, kube kubernetes.Interface, ns string, status corev1.PodStatus) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			l, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: ManagedByLabel + "=" + ManagedBy})
			if err == nil && len(l.Items) > 0 {
				p := l.Items[0]
				p.Status = status
				if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
					t.Errorf("kubelet: %v", err)
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return &wg
}

func terminated(code int32) corev1.PodStatus {
	phase := corev1.PodSucceeded
	if code != 0 {
		phase = corev1.PodFailed
	}
	return corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "probe", Image: DefaultImage,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Completed"}},
	}}}
}

// assertGone checks that no probe pod is left in ns.
func assertGone(t *testing.T, kube kubernetes.Interface, ns string, res *PodResult) {
	t.Helper()
	if res != nil && !res.Deleted {
		t.Errorf("probe pod %s not reported deleted: %v", res.Pod, res.CleanErr)
	}
	l, err := kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: ManagedByLabel + "=" + ManagedBy})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 0 {
		t.Errorf("%d probe pods left behind in %s", len(l.Items), ns)
	}
}

func TestRunPodExitCodes(t *testing.T) {
	c := testcluster.Shared(t)
	kube, _ := clients(t, c.Config)
	for _, code := range []int32{0, 56, 6} {
		t.Run(fmt.Sprint("exit ", code), func(t *testing.T) {
			ns := c.Namespace(t)
			wg := kubelet(t, kube, ns, terminated(code))
			var states []string
			res, err := RunPod(t.Context(), kube, PodProbe{Namespace: ns, URL: "http://ratings.bookinfo:9080/ratings/0", Mesh: MeshOut,
				Poll: 20 * time.Millisecond, OnState: func(_, s string) { states = append(states, s) }})
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != int(code) {
				t.Fatalf("exit code %d, want %d", res.ExitCode, code)
			}
			// No kubelet, no logs (the API server answers with nothing for
			// a pod on no node): the verdict comes from the status alone.
			if res.Status != 0 || res.Logs != "" {
				t.Fatalf("logs without a kubelet: %q (%v)", res.Logs, res.LogErr)
			}
			if states[0] != "created" || states[len(states)-1] != "deleted" {
				t.Fatalf("states %v", states)
			}
			assertGone(t, kube, ns, res)
		})
	}
}

func TestRunPodShape(t *testing.T) {
	c := testcluster.Shared(t)
	kube, _ := clients(t, c.Config)
	ns := c.Namespace(t)
	var seen *corev1.Pod
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for ctx.Err() == nil {
			l, _ := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if l != nil && len(l.Items) > 0 {
				seen = l.Items[0].DeepCopy()
				cancel() // the reader gives up: the pod must still go
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	res, err := RunPod(ctx, kube, PodProbe{Namespace: ns, URL: "http://ratings.bookinfo:9080/health", Image: "registry.example/curl:8", Mesh: MeshIn,
		Header: []string{"x-test: 1"}, Poll: 20 * time.Millisecond})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancelled probe, got %v", err)
	}
	assertGone(t, kube, ns, res)
	if seen == nil {
		t.Fatal("never saw the pod")
	}
	ctr := seen.Spec.Containers[0]
	cmd := strings.Join(ctr.Command, " ")
	if seen.Labels[ManagedByLabel] != ManagedBy || seen.Labels["sidecar.istio.io/inject"] != "true" ||
		ctr.Image != "registry.example/curl:8" || !strings.Contains(cmd, "-H x-test: 1 http://ratings.bookinfo:9080/health") ||
		seen.Spec.RestartPolicy != corev1.RestartPolicyNever || seen.Spec.ActiveDeadlineSeconds == nil {
		t.Fatalf("pod %+v", seen)
	}
}

func TestRunPodFailures(t *testing.T) {
	c := testcluster.Shared(t)
	kube, _ := clients(t, c.Config)
	waiting := func(reason, msg string) corev1.PodStatus {
		return corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "probe", Image: "curlimages/curl:nope",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}},
		}}}
	}
	cases := []struct {
		name   string
		status *corev1.PodStatus
		want   error
		text   string
	}{
		{"image pull", ptr(waiting("ImagePullBackOff", "Back-off pulling image")), ErrImagePull, "ImagePullBackOff"},
		{"sidecar image pull", &corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{{
			Name: "istio-init", Image: "istio/proxyv2",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}}}, ErrImagePull, "istio-init"},
		{"unschedulable", &corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/8 nodes are available"}}}, ErrPodStuck, "0/8 nodes"},
		{"never scheduled", nil, ErrPodStuck, "not scheduled"},
		{"evicted", &corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "low on memory"}, ErrPodFailed, "Evicted: low on memory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := c.Namespace(t)
			if tc.status != nil {
				defer kubelet(t, kube, ns, *tc.status).Wait()
			}
			res, err := RunPod(t.Context(), kube, PodProbe{Namespace: ns, URL: "http://x", Start: 500 * time.Millisecond, Poll: 20 * time.Millisecond})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("want %v mentioning %q, got %v", tc.want, tc.text, err)
			}
			assertGone(t, kube, ns, res)
		})
	}
	t.Run("no namespace", func(t *testing.T) {
		_, err := RunPod(t.Context(), kube, PodProbe{Namespace: "no-such-namespace-here", URL: "http://x"})
		if !errors.Is(err, ErrNoNamespace) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestRunPodForbidden runs the probe as a user RBAC does not allow to
// create pods.
func TestRunPodForbidden(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	kube, _ := clients(t, c.Impersonate("reader@example.com"))
	_, err := RunPod(t.Context(), kube, PodProbe{Namespace: ns, URL: "http://x"})
	if !errors.Is(err, ErrPodForbidden) || !strings.Contains(err.Error(), `cannot create resource "pods"`) {
		t.Fatalf("want ErrPodForbidden with the API's reason, got %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestRunPodLogs covers the log path, which needs a kubelet, with a fake
// clientset: the status line curl prints is read back from the logs.
func TestRunPodLogs(t *testing.T) {
	kube := fake.NewClientset()
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Name = p.GenerateName + "x1"
		p.Status = terminated(22)
		return false, p, nil
	})
	res, err := RunPod(context.Background(), kube, PodProbe{Namespace: "default", URL: "http://x", Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The fake clientset answers every log request with "fake logs".
	if res.ExitCode != 22 || res.Logs != "fake logs" || res.LogErr != nil || !res.Deleted {
		t.Fatalf("result %+v", res)
	}
	if _, err := kube.CoreV1().Pods("default").Get(context.Background(), res.Pod, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod not deleted: %v", err)
	}
	for logs, want := range map[string]int{
		"meshdojo-http-status=403\n":                        403,
		"curl: (56) Recv failure\nmeshdojo-http-status=000": 0,
		"": 0,
	} {
		if got := statusFromLogs(logs); got != want {
			t.Errorf("statusFromLogs(%q) = %d, want %d", logs, got, want)
		}
	}
}

// TestRunPodCreateButNotRead runs as a user who may create and delete
// pods but not read them back: the probe must say so, not wait forever.
func TestRunPodCreateButNotRead(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	if err := c.Apply(t.Context(), fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: create-only, namespace: %[1]s}
rules: [{apiGroups: [""], resources: [pods], verbs: [create, delete]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: create-only, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: create-only}
subjects: [{kind: User, name: creator@example.com}]
`, ns)); err != nil {
		t.Fatal(err)
	}
	kube, _ := clients(t, c.Impersonate("creator@example.com"))
	var res *PodResult
	var err error
	// RBAC reads bindings from a cache: retry while creating is still refused.
	for i := 0; i < 100; i++ {
		res, err = RunPod(t.Context(), kube, PodProbe{Namespace: ns, URL: "http://x", Poll: 20 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "cannot create") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !errors.Is(err, ErrPodForbidden) || !strings.Contains(err.Error(), "may not be read back") {
		t.Fatalf("want a clear refusal, got %v", err)
	}
	admin, _ := clients(t, c.Config)
	assertGone(t, admin, ns, res)
}

// TestRunPodCancelledBeforeStart: a probe whose reader already quit
// creates nothing (the create runs on a context of its own, so without
// this check a pod was created and deleted again on the way out).
func TestRunPodCancelledBeforeStart(t *testing.T) {
	kube := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunPod(ctx, kube, PodProbe{Namespace: "bookinfo", URL: "http://x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	for _, a := range kube.Actions() {
		if a.GetVerb() == "create" {
			t.Fatalf("a %s was created after the reader quit", a.GetResource().Resource)
		}
	}
}

// TestRunPodNoServiceAccount: the API refuses a pod whose namespace has
// no ServiceAccount default with a Forbidden status (the ServiceAccount
// admission plugin's message, which the test servers do not run). That
// is not the reader's credentials, and must not be reported as such.
func TestRunPodNoServiceAccount(t *testing.T) {
	kube := fake.NewClientset()
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ns := a.GetNamespace()
		// As admission.NewForbidden builds it in
		// plugin/pkg/admission/serviceaccount/admission.go.
		return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "",
			fmt.Errorf("error looking up service account %s/default: %w", ns, apierrors.NewNotFound(corev1.Resource("serviceaccount"), "default")))
	})
	_, err := RunPod(t.Context(), kube, PodProbe{Namespace: "fresh", URL: "http://x"})
	if !errors.Is(err, ErrNoServiceAccount) || errors.Is(err, ErrPodForbidden) {
		t.Fatalf("want ErrNoServiceAccount, got %v", err)
	}
	if !strings.Contains(err.Error(), "namespace fresh has no ServiceAccount default") {
		t.Errorf("message: %v", err)
	}
	// With the account there, a refusal is the credentials' after all.
	kube.CoreV1().ServiceAccounts("fresh").Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "fresh"}}, metav1.CreateOptions{})
	if _, err := RunPod(t.Context(), kube, PodProbe{Namespace: "fresh", URL: "http://x"}); !errors.Is(err, ErrPodForbidden) {
		t.Errorf("with the ServiceAccount present: %v, want ErrPodForbidden", err)
	}
}
