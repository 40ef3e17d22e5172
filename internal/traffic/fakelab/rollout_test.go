package fakelab

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// productpageDeploy is the lab's productpage-v2 Deployment (bookinfo-app/
// productpage chart: one replica, the default strategy, a livenessProbe
// only), changed by with.
func productpageDeploy(with func(*appsv1.Deployment)) *appsv1.Deployment {
	one := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "productpage-v2", Namespace: "bookinfo", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "productpage", "version": "v2"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "productpage", "version": "v2"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "productpage",
					LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt(9080)}}}}}},
			},
		},
	}
	if with != nil {
		with(d)
	}
	return d
}

// graceful gives productpage a readinessProbe and a preStop sleep.
func graceful(d *appsv1.Deployment) {
	c := &d.Spec.Template.Spec.Containers[0]
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt(9080)}},
		PeriodSeconds: 2}
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}
}

// restartThrough restarts d (as kubectl rollout restart does) in a lab
// on a clock, and sends a request through the ingress every 100ms of the
// clock until 30s after: the failing answers by status and Envoy flags.
func restartThrough(t *testing.T, d *appsv1.Deployment) (failed map[string]int, total int) {
	t.Helper()
	objs, err := ParseObjects(base())
	if err != nil {
		t.Fatal(err)
	}
	w, err := FromObjects(objs)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := NewSim(Static(w), Options{Seed: 7, Now: c.Now})
	s.ObserveDeployment(d)
	// Before the restart: every answer is good.
	if r := s.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: "/productpage"}); r.Status != 200 {
		t.Fatalf("before the restart: %d %s", r.Status, r.Body)
	}
	r := d.DeepCopy()
	r.Generation++
	if r.Spec.Template.Annotations == nil {
		r.Spec.Template.Annotations = map[string]string{}
	}
	r.Spec.Template.Annotations[RestartedAt] = c.Now().Format(time.RFC3339)
	s.ObserveDeployment(r)
	failed = map[string]int{}
	for range 300 {
		resp := s.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: "/productpage"})
		total++
		if resp.Status != 200 {
			k := fmt.Sprintf("%d %s", resp.Status, resp.Flags)
			if strings.Contains(resp.Body, "Connection refused") {
				k += " refused"
			}
			failed[k]++
		}
		c.add(100 * time.Millisecond)
	}
	return failed, total
}

func keysOf(m map[string]int) string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s×%d", k, v))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// TestRolloutRestart: a restart of productpage, played out from its
// Deployment, drops requests exactly when its objects say it must.
func TestRolloutRestart(t *testing.T) {
	t.Run("graceful: readinessProbe, preStop, default strategy", func(t *testing.T) {
		failed, n := restartThrough(t, productpageDeploy(graceful))
		if len(failed) > 0 {
			t.Fatalf("%d of %d answers failed: %s", len(failed), n, keysOf(failed))
		}
	})
	t.Run("the lab's productpage: no readinessProbe, no preStop", func(t *testing.T) {
		failed, _ := restartThrough(t, productpageDeploy(nil))
		// The old pod's application gone while it is still an endpoint,
		// and the new one Ready before it listens: either way the pod's
		// sidecar answers 503 itself (connection refused, UF in its own
		// log). To the gateway that is an answer, not a connect failure:
		// no flag of its own, and Istio's default retries leave it.
		if failed["503 - refused"] < 10 || len(failed) != 1 {
			t.Fatalf("want only the pods' sidecars' 503 (connection refused), not retried: %s", keysOf(failed))
		}
		t.Logf("failed: %s", keysOf(failed))
	})
	t.Run("readinessProbe without preStop", func(t *testing.T) {
		failed, _ := restartThrough(t, productpageDeploy(func(d *appsv1.Deployment) {
			graceful(d)
			d.Spec.Template.Spec.Containers[0].Lifecycle = nil
		}))
		// The new pod is ready when the old one is deleted: a retry onto
		// it would hide every failure, but the gateway does not retry the
		// old pod's sidecar's 503.
		if failed["503 - refused"] == 0 {
			t.Fatalf("an old pod that stops at once while still an endpoint dropped nothing: %s", keysOf(failed))
		}
		t.Logf("failed: %s", keysOf(failed))
	})
	t.Run("maxUnavailable 100%, maxSurge 0", func(t *testing.T) {
		failed, _ := restartThrough(t, productpageDeploy(func(d *appsv1.Deployment) {
			graceful(d)
			all, none := intstr.FromString("100%"), intstr.FromInt(0)
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &all, MaxSurge: &none}}
		}))
		if len(failed) == 0 {
			t.Fatal("a rollout that drops every ready pod dropped nothing")
		}
		t.Logf("failed: %s", keysOf(failed))
	})
	t.Run("Recreate", func(t *testing.T) {
		failed, _ := restartThrough(t, productpageDeploy(func(d *appsv1.Deployment) {
			graceful(d)
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}))
		if len(failed) == 0 {
			t.Fatal("Recreate dropped nothing")
		}
		t.Logf("failed: %s", keysOf(failed))
	})
}

// TestRolloutPlan: the controller's steps for a Deployment of three
// replicas keep the availability its strategy promises.
func TestRolloutPlan(t *testing.T) {
	three := int32(3)
	for _, tc := range []struct {
		name       string
		surge, una string
		minAvail   int
	}{
		{"default 25%", "25%", "25%", 3},
		{"maxUnavailable 1", "0", "1", 2},
		{"maxUnavailable 100%", "0", "100%", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := productpageDeploy(graceful)
			d.Spec.Replicas = &three
			s, u := intstr.Parse(tc.surge), intstr.Parse(tc.una)
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u}}
			sp := templateOf(&d.Spec.Template)
			pods, end := planRollout(d, sp, sp, 1)
			r := &rollout{replicas: 3, pods: pods, end: end}
			least := 99
			for at := time.Duration(0); at <= end; at += 50 * time.Millisecond {
				least = min(least, int(r.status(at).avail))
			}
			if least != tc.minAvail {
				t.Fatalf("fewest available pods during the rollout: %d, want %d", least, tc.minAvail)
			}
			if st := r.status(end); st.updated != 3 || st.avail != 3 || st.total != 3 {
				t.Fatalf("at the end: %+v", st)
			}
		})
	}
}

// TestRolloutProbeRates measures what lesson a1's uptime probe (20
// requests a second, one failed answer fails it) makes of a restart of
// productpage in the simulated lab, over 40 restarts each starting at a
// different moment between two requests and with its own seed: a
// graceful restart must never fail it (false fail) and each faulty one
// must never pass it (false pass). The figures are logged;
// lessons/testdata/a1/README.md quotes them.
func TestRolloutProbeRates(t *testing.T) {
	const trials = 40
	cases := []struct {
		name string
		with func(*appsv1.Deployment)
		bad  bool
	}{
		{"graceful", graceful, false},
		{"the lab's productpage", nil, true},
		{"readinessProbe without preStop", func(d *appsv1.Deployment) {
			graceful(d)
			d.Spec.Template.Spec.Containers[0].Lifecycle = nil
		}, true},
		{"maxUnavailable 100%", func(d *appsv1.Deployment) {
			graceful(d)
			all, none := intstr.FromString("100%"), intstr.FromInt(0)
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &all, MaxSurge: &none}}
		}, true},
	}
	objs, err := ParseObjects(base())
	if err != nil {
		t.Fatal(err)
	}
	w, err := FromObjects(objs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		wrong, fewest, most := 0, 1<<30, 0
		for trial := range trials {
			c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			s := NewSim(Static(w), Options{Seed: uint64(trial), Now: c.Now})
			d := productpageDeploy(tc.with)
			s.ObserveDeployment(d)
			r := d.DeepCopy()
			r.Spec.Template.Annotations = map[string]string{RestartedAt: fmt.Sprint(trial)}
			// The restart lands somewhere between two of the probe's
			// requests: the first comes trial/trials of 50ms after it.
			c.add(time.Duration(trial) * 50 * time.Millisecond / trials)
			s.ObserveDeployment(r)
			failed := 0
			for range 140 { // 7s at 20 a second: every rollout here is over by then
				if resp := s.Ingress(context.Background(), Request{Host: "bookinfo.example", Port: 9080, Path: "/productpage"}); resp.Status != 200 {
					failed++
				}
				c.add(50 * time.Millisecond)
			}
			fewest, most = min(fewest, failed), max(most, failed)
			if (failed > 0) != tc.bad {
				wrong++
			}
		}
		what := "false fail"
		if tc.bad {
			what = "false pass"
		}
		t.Logf("%s: %s %d of %d; failed answers per restart %d to %d", tc.name, what, wrong, trials, fewest, most)
		if wrong > 0 {
			t.Errorf("%s: %s %d of %d", tc.name, what, wrong, trials)
		}
	}
}
