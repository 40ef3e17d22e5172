package engine

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// fastKube is a clientset for setting up benchmarks, without client-side
// rate limiting.
func fastKube(b *testing.B, cfg *rest.Config) kubernetes.Interface {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 1000, 1000
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// BenchmarkChangeToVerdict measures the time from an object change (the
// update request sent) to the engine's new verdict for a check reading
// that object: informer event, settle, evaluation and send. Reported as
// the median and 99th percentile over b.N changes. Goal: median under
// 50ms, p99 under 250ms. The change includes the API server's write.
func BenchmarkChangeToVerdict(b *testing.B) {
	c := testcluster.Shared(b)
	ns := c.Namespace(b)
	kube := fastKube(b, c.Config)
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: ns}, Data: map[string]string{"v": "a"}}
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	// A registered check, as a lesson would use it.
	field, ok := catalogue.Lookup("resource-field")
	if !ok {
		b.Fatal("resource-field is not registered")
	}
	e := newTestEngine(b, c.Config)
	f, _ := watching(b, e, bind(b, field, "k", map[string]string{"kind": "ConfigMap", "namespace": ns, "name": "cm", "path": "data.v", "value": "a"}))
	await(b, f, "k", "pass", verdict(checks.Pass))

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// An isolated change, as a reader makes them: after the engine's
		// minimum interval between evaluations (Debounce), which only
		// holds back changes that come faster than that.
		b.StopTimer()
		time.Sleep(2 * e.Debounce)
		b.StartTimer()
		value, want := "b", checks.Fail
		if i%2 == 1 {
			value, want = "a", checks.Pass
		}
		cm.Data["v"] = value
		start := time.Now()
		updated, err := kube.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		cm = updated
		await(b, f, "k", string(want), verdict(want))
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "ms-median")
	b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "ms-p99")
}

// BenchmarkEngineMemory measures the heap the engine holds while watching
// lesson 6's checks (a lab namespace, bookinfo, with 10 pods), with and
// without 5,000 pods in 50 other namespaces. Informers are filtered by
// namespace and selector, so the other pods should cost (almost) nothing.
// Goal: under 10 MB more with them than without.
func BenchmarkEngineMemory(b *testing.B) {
	c := testcluster.Shared(b)
	kube := fastKube(b, c.Config)
	var set []checks.Bound
	for _, bd := range LessonChecks(b, "6") {
		if bd.Check.Watch && bd.Check.Acts == "" {
			set = append(set, bd)
		}
	}
	makePods(b, kube, "bookinfo", 10)

	// For scale: what one cluster-wide pod input would cost instead.
	allPods := checks.Bound{Key: "all-pods", Check: &checks.Check{Name: "bench-all-pods", Watch: true,
		Inputs: func(checks.Params) []checks.Input { return []checks.Input{{GVR: podGVR}} },
		Eval: func(ctx context.Context, env checks.Env, _ checks.Params) checks.Result {
			if _, err := env.List(ctx, checks.Input{GVR: podGVR}); err != nil {
				return checks.ErrorResult(err)
			}
			return checks.Result{Verdict: checks.Pass}
		}}}
	for _, tc := range []struct {
		others int
		set    []checks.Bound
		name   string
	}{
		{0, set, "other-pods=0"},
		{5000, set, "other-pods=5000"},
		{5000, []checks.Bound{allPods}, "other-pods=5000/one-cluster-wide-pod-input"},
	} {
		set, others := tc.set, tc.others
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < others/100; i++ {
				makePods(b, kube, fmt.Sprintf("bench-other-%02d", i), 100)
			}
			b.ResetTimer()
			var delta float64
			for i := 0; i < b.N; i++ {
				e := newTestEngine(b, c.Config)
				before := heap()
				f, stop := watching(b, e, set...)
				seen := map[string]bool{}
				for len(seen) < len(set) {
					select {
					case u := <-f.ch:
						if u.Result.Verdict != checks.Pending {
							seen[u.Key] = true
						}
					case <-time.After(2 * time.Minute):
						b.Fatalf("results for %d of %d checks", len(seen), len(set))
					}
				}
				after := heap()
				runtime.KeepAlive(f)
				stop()
				delta = float64(int64(after)-int64(before)) / (1 << 20)
			}
			b.ReportMetric(delta, "MB-engine-heap")
			b.ReportMetric(float64(len(e2informers(set))), "inputs")
		})
	}
}

// LessonChecks returns a lesson's checks bound to their parameters. It
// is set by lessons_test.go, in package checks_test: package lessons
// binds its check blocks to this registry, so this package's own tests
// cannot import it.
var LessonChecks func(tb testing.TB, id string) []checks.Bound

// e2informers counts the distinct inputs of a set (what the engine runs
// informers for).
func e2informers(set []checks.Bound) map[sourceKey]bool {
	out := map[sourceKey]bool{}
	for _, b := range set {
		ins, _ := inputs(b)
		for _, in := range ins {
			out[keyOf(in)] = true
		}
	}
	return out
}

var podGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

func heap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// makePods creates n pods (with a sidecar, as a meshed lab's would
// have) in namespace ns, creating it if needed; existing ones are kept.
func makePods(b *testing.B, kube kubernetes.Interface, ns string, n int) {
	ctx := context.Background()
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	always := corev1.ContainerRestartPolicyAlways
	for i := 0; i < n; i++ {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%04d", i), Namespace: ns,
				Labels:      map[string]string{"app": fmt.Sprintf("app%d", i%5), "version": "v1", "security.istio.io/tlsMode": "istio"},
				Annotations: map[string]string{"sidecar.istio.io/status": `{"initContainers":["istio-validation","istio-proxy"],"containers":null,"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null,"revision":"1-29-0"}`}},
			Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.29.0", RestartPolicy: &always,
					Args: []string{"proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning"}}},
				Containers: []corev1.Container{{Name: "app", Image: "docker.io/istio/examples-bookinfo-details-v1:1.20.3",
					Ports: []corev1.ContainerPort{{ContainerPort: 9080}}}},
			},
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
