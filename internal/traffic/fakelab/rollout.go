package fakelab

// A rollout restart, as the Deployment controller, the kubelet and the
// proxies play it out, derived from the Deployment objects alone.
//
// `kubectl rollout restart` writes the annotation
// kubectl.kubernetes.io/restartedAt into a Deployment's pod template;
// the controller then replaces every pod by the rolling update its
// strategy allows (maxSurge new pods beyond the replicas, at most
// maxUnavailable replicas not available; Recreate stops them all
// first). What the callers see follows from the pod template:
//
//   - a new pod is Ready once its containers run and its sidecar is ready
//     (proxyReady), unless an application container has a readinessProbe,
//     which passes at its first probe after the application listens
//     (appListen): initialDelaySeconds, then every periodSeconds. A pod
//     Ready before its application listens refuses the connections its
//     own sidecar opens to it.
//   - an old pod, once deleted, stays in the callers' endpoints until
//     the change reaches their proxies (endpointLag). Its application
//     stops at once (gunicorn closes its socket on SIGTERM), unless an
//     application container has a preStop hook, which keeps it answering
//     until the proxies have stopped sending. Its sidecar goes on
//     accepting meanwhile: a native sidecar is stopped only after the
//     application has exited, and then drains (the lab's
//     MINIMUM_DRAIN_DURATION, 10s), a classic one drains too.
//
//     Either way the caller's proxy reaches the pod's sidecar, which
//     answers 503 itself ("... delayed connect error: Connection
//     refused", UF in that sidecar's log): to the caller an HTTP answer,
//     not a connect failure, so Istio's default retries (connect-failure,
//     ..., retriable-status-codes with no codes) do not retry it.
//   - while no endpoint is left at all the callers' proxies answer 503
//     UH (no healthy upstream).
//
// The pods the API server holds are not touched (the fixtures write the
// pods of the end state): during a rollout the simulator puts the
// rollout's pods in place of the Deployment's own, and RunRollouts
// writes the Deployment's status as the controller would, so that
// `kubectl rollout status` and the checks see the rollout end. Only a
// change of restartedAt starts a rollout; other template changes in the
// fixtures take effect at once, as before.

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// RestartedAt is the pod-template annotation kubectl rollout restart writes.
const RestartedAt = "kubectl.kubernetes.io/restartedAt"

// Times of a pod's life in a rollout, before Options.Scale.
const (
	proxyReady  = time.Second     // containers started, sidecar ready
	appListen   = 3 * time.Second // the application accepts connections
	endpointLag = time.Second     // an endpoint change reaches the callers' proxies
	rolloutStep = 50 * time.Millisecond
	rolloutMax  = 10 * time.Minute // a rollout that has not ended by then is cut short
)

// podSpecOf is what a rollout needs of a pod template.
type podSpecOf struct {
	ready       bool          // an application container has a readinessProbe
	probeDelay  time.Duration // its initialDelaySeconds
	probePeriod time.Duration // its periodSeconds (10s by default)
	drains      bool          // an application container has a preStop hook
}

func templateOf(t *corev1.PodTemplateSpec) podSpecOf {
	var p podSpecOf
	for _, c := range t.Spec.Containers {
		if c.Name == "istio-proxy" {
			continue
		}
		if rp := c.ReadinessProbe; rp != nil && !p.ready {
			p.ready = true
			p.probeDelay = time.Duration(rp.InitialDelaySeconds) * time.Second
			p.probePeriod = time.Duration(rp.PeriodSeconds) * time.Second
			if p.probePeriod <= 0 {
				p.probePeriod = 10 * time.Second
			}
		}
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			p.drains = true
		}
	}
	return p
}

// vpod is one pod of a rollout, its times from the rollout's start.
type vpod struct {
	name               string
	epFrom, epUntil    time.Duration // in the callers' endpoints
	serveFrom, serveTo time.Duration // the application answers
	old                bool
	created            time.Duration // new pods: when created
	readyAt            time.Duration // new pods: when Ready
	deleted            time.Duration // old pods: when deleted
}

// rollout is one restart under way.
type rollout struct {
	ns, name   string
	selector   map[string]string
	generation int64
	replicas   int
	start      time.Time
	end        time.Duration // every new pod ready and every old one out of the endpoints
	// until is when the rollout's pods behave as the Deployment's own:
	// a new pod Ready before its application listens still refuses
	// after the Deployment says it is done.
	until time.Duration
	pods  []vpod
}

// rollouts is the simulator's record of Deployments and their restarts.
type rollouts struct {
	mu     sync.Mutex
	seen   map[string]seenDeploy // namespace/name
	active map[string]*rollout
}

type seenDeploy struct {
	restartedAt string
	spec        podSpecOf
}

// strategyOf reads replicas, surge and unavailability as the controller
// resolves them: percentages of the replicas, surge rounded up and
// unavailability down, and not both zero.
func strategyOf(d *appsv1.Deployment) (replicas, surge, unavail int, recreate bool) {
	replicas = 1
	if d.Spec.Replicas != nil {
		replicas = int(*d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return replicas, 0, replicas, true
	}
	ms, mu := intstr.FromString("25%"), intstr.FromString("25%")
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			ms = *ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			mu = *ru.MaxUnavailable
		}
	}
	surge, _ = intstr.GetScaledValueFromIntOrPercent(&ms, replicas, true)
	unavail, _ = intstr.GetScaledValueFromIntOrPercent(&mu, replicas, false)
	if surge == 0 && unavail == 0 {
		unavail = 1
	}
	return replicas, surge, min(unavail, replicas), false
}

// planRollout plays a rolling update of replicas pods through: the
// controller's steps (scale the new pods up within surge, the old ones
// down while enough pods stay available) at a fine step, and each pod's
// times from the old and new templates.
func planRollout(d *appsv1.Deployment, old, cur podSpecOf, scale float64) (pods []vpod, end time.Duration) {
	replicas, surge, unavail, recreate := strategyOf(d)
	sc := func(x time.Duration) time.Duration { return time.Duration(float64(x) * scale) }
	listen := sc(appListen)
	readyAfter := sc(proxyReady)
	if cur.ready {
		// The first probe at or after the application listens.
		k := math.Ceil(float64(appListen-cur.probeDelay) / float64(cur.probePeriod))
		readyAfter = sc(cur.probeDelay + time.Duration(max(0, k))*cur.probePeriod)
		readyAfter = max(readyAfter, sc(proxyReady))
	}
	lag := sc(endpointLag)
	step := max(time.Millisecond, sc(rolloutStep))
	for i := range replicas {
		pods = append(pods, vpod{name: fmt.Sprintf("old%d", i), old: true, epUntil: -1, serveTo: -1, deleted: -1})
	}
	count := func(t time.Duration) (oldAlive, news, newReady, oldGone int) {
		for _, p := range pods {
			switch {
			case p.old && p.deleted < 0:
				oldAlive++
			case p.old && t >= p.epUntil:
				oldGone++
			case !p.old:
				news++
				if t >= p.readyAt {
					newReady++
				}
			}
		}
		return
	}
	del := func(i int, t time.Duration) {
		p := &pods[i]
		p.deleted, p.epUntil = t, t+lag
		p.serveTo = t
		if old.drains {
			p.serveTo = p.epUntil + lag // answers until well after the proxies stopped sending
		}
	}
	for t := time.Duration(0); t <= sc(rolloutMax); t += step {
		oldAlive, news, newReady, oldGone := count(t)
		if recreate {
			// Every old pod goes first; the new ones start once the old
			// have stopped.
			if t == 0 {
				for i := range pods {
					del(i, 0)
				}
				continue
			}
			if news == 0 && oldGone == replicas {
				for i := range replicas {
					pods = append(pods, vpod{name: fmt.Sprintf("new%d", i), created: t, readyAt: t + readyAfter,
						epFrom: t + readyAfter, serveFrom: t + listen, epUntil: math.MaxInt64, serveTo: math.MaxInt64})
				}
			}
		} else {
			for ; oldAlive+news < replicas+surge && news < replicas; news++ {
				pods = append(pods, vpod{name: fmt.Sprintf("new%d", news), created: t, readyAt: t + readyAfter,
					epFrom: t + readyAfter, serveFrom: t + listen, epUntil: math.MaxInt64, serveTo: math.MaxInt64})
			}
			for i := range pods {
				if oldAlive == 0 || oldAlive+newReady-1 < replicas-unavail {
					break
				}
				if pods[i].old && pods[i].deleted < 0 {
					del(i, t)
					oldAlive--
				}
			}
		}
		if oldAlive, news, newReady, oldGone = count(t); oldAlive == 0 && oldGone == replicas && news == replicas && newReady == replicas {
			return pods, t
		}
	}
	return pods, sc(rolloutMax)
}

// ObserveDeployment is the Deployment controller seeing d: a changed
// restartedAt annotation starts a rollout restart now (Options.Now);
// the first sighting only records it.
func (s *Sim) ObserveDeployment(d *appsv1.Deployment) {
	key := d.Namespace + "/" + d.Name
	at := d.Spec.Template.Annotations[RestartedAt]
	cur := templateOf(&d.Spec.Template)
	r := &s.roll
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen, r.active = map[string]seenDeploy{}, map[string]*rollout{}
	}
	prev, known := r.seen[key]
	r.seen[key] = seenDeploy{restartedAt: at, spec: cur}
	if !known || prev.restartedAt == at || d.Spec.Selector == nil {
		return
	}
	pods, end := planRollout(d, prev.spec, cur, s.opts.Scale)
	replicas, _, _, _ := strategyOf(d)
	until := end
	for _, p := range pods {
		if !p.old {
			until = max(until, p.serveFrom)
		}
	}
	r.active[key] = &rollout{ns: d.Namespace, name: d.Name, selector: d.Spec.Selector.MatchLabels, generation: d.Generation,
		replicas: replicas, start: s.opts.Now(), end: end, until: until, pods: pods}
}

// ForgetDeployment is the Deployment deleted.
func (s *Sim) ForgetDeployment(ns, name string) {
	s.roll.mu.Lock()
	defer s.roll.mu.Unlock()
	delete(s.roll.seen, ns+"/"+name)
	delete(s.roll.active, ns+"/"+name)
}

// rolling puts the pods of the rollouts under way in place of their
// Deployments' own pods among eps, the endpoints a caller's proxy has
// for one cluster. The rollout's pods are copies of one of the
// Deployment's pods there, so the application answers as that pod does.
func (s *Sim) rolling(eps []*Pod) []*Pod {
	s.roll.mu.Lock()
	defer s.roll.mu.Unlock()
	if len(s.roll.active) == 0 {
		return eps
	}
	now := s.opts.Now()
	var out []*Pod
	models := map[*rollout]*Pod{}
	for _, ep := range eps {
		var owner *rollout
		for _, r := range s.roll.active {
			if r.ns == ep.Namespace && len(r.selector) > 0 && labelsMatch(r.selector, ep.Labels) && now.Sub(r.start) < r.until {
				owner = r
			}
		}
		if owner == nil {
			out = append(out, ep)
			continue
		}
		if models[owner] == nil {
			models[owner] = ep
		}
	}
	keys := make([]*rollout, 0, len(models))
	for r := range models {
		keys = append(keys, r)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].name < keys[j].name })
	for _, r := range keys {
		t := now.Sub(r.start)
		for _, p := range r.pods {
			if t < p.epFrom || t >= p.epUntil {
				continue
			}
			c := *models[r]
			c.Name = models[r].Name + "-" + p.name
			out = append(out, &c)
		}
	}
	return out
}

// rolloutFault is what a connection to ep gets when ep is a pod of a
// rollout whose application does not answer at this moment.
func (s *Sim) rolloutFault(ep *Pod) (Response, bool) {
	s.roll.mu.Lock()
	defer s.roll.mu.Unlock()
	now := s.opts.Now()
	for _, r := range s.roll.active {
		if r.ns != ep.Namespace || !labelsMatch(r.selector, ep.Labels) {
			continue
		}
		t := now.Sub(r.start)
		for _, p := range r.pods {
			if !hasSuffix(ep.Name, "-"+p.name) {
				continue
			}
			if (!p.old && t < p.serveFrom) || (p.old && p.deleted >= 0 && t >= p.serveTo) {
				// The pod's sidecar answers: the caller's proxy got a
				// response, so it logs no flag of its own ("-").
				return Response{Status: 503, Header: textHeader(), Flags: "-", Body: appRefused}, true
			}
			return Response{}, false
		}
	}
	return Response{}, false
}

// appRefused is the answer of a sidecar whose application refuses its
// connection: Envoy's local reply for a connect failure (UF).
const appRefused = "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, " +
	"transport failure reason: delayed connect error: Connection refused"

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// rolloutStatus is a Deployment's status as the controller writes it at
// t into the rollout: the new pods created count as updated, the pods
// alive as replicas, the ready ones as available.
func (r *rollout) status(t time.Duration) rollCounts {
	var total, updated, avail int32
	for _, p := range r.pods {
		switch {
		case p.old && (p.deleted < 0 || t < p.deleted):
			total++
			avail++
		case !p.old && t >= p.created:
			total++
			updated++
			if t >= p.readyAt {
				avail++
			}
		}
	}
	if t >= r.end {
		total, updated, avail = int32(r.replicas), int32(r.replicas), int32(r.replicas)
	}
	return rollCounts{gen: r.generation, replicas: int32(r.replicas), total: total, updated: updated, avail: avail}
}

// rollCounts are the numbers of a Deployment's status.
type rollCounts struct {
	gen                             int64
	replicas, total, updated, avail int32
}

func (c rollCounts) status() appsv1.DeploymentStatus {
	return appsv1.DeploymentStatus{ObservedGeneration: c.gen, Replicas: c.total, UpdatedReplicas: c.updated,
		ReadyReplicas: c.avail, AvailableReplicas: c.avail, UnavailableReplicas: max(0, c.replicas-c.avail)}
}

// RunRollouts is the Deployment controller for the simulator, against an
// API server: it watches Deployments, starts a rollout when one is
// restarted, and writes each rollout's status as it goes, until ctx
// ends. errorf reports what went wrong; nil ignores.
func (s *Sim) RunRollouts(ctx context.Context, kube kubernetes.Interface, errorf func(string, ...any)) {
	if errorf == nil {
		errorf = func(string, ...any) {}
	}
	f := informers.NewSharedInformerFactory(kube, 10*time.Minute)
	inf := f.Apps().V1().Deployments().Informer()
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.ObserveDeployment(o.(*appsv1.Deployment)) },
		UpdateFunc: func(_, o any) { s.ObserveDeployment(o.(*appsv1.Deployment)) },
		DeleteFunc: func(o any) {
			if d, ok := o.(*appsv1.Deployment); ok {
				s.ForgetDeployment(d.Namespace, d.Name)
			} else if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				if d, ok := t.Obj.(*appsv1.Deployment); ok {
					s.ForgetDeployment(d.Namespace, d.Name)
				}
			}
		},
	})
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	written := map[string]rollCounts{}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		type todo struct {
			ns, name string
			st       rollCounts
			ended    bool
		}
		var work []todo
		s.roll.mu.Lock()
		now := s.opts.Now()
		for k, r := range s.roll.active {
			t := now.Sub(r.start)
			st := r.status(t)
			if st != written[k] {
				work = append(work, todo{r.ns, r.name, st, t >= r.end})
			}
		}
		s.roll.mu.Unlock()
		for _, w := range work {
			d, err := kube.AppsV1().Deployments(w.ns).Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				continue // deleted meanwhile
			}
			d.Status = w.st.status()
			if _, err := kube.AppsV1().Deployments(w.ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
				errorf("fakelab: writing the rollout status of %s/%s: %v", w.ns, w.name, err)
				continue
			}
			written[w.ns+"/"+w.name] = w.st
		}
		// Finished rollouts leave once their last status is written.
		s.roll.mu.Lock()
		for k, r := range s.roll.active {
			if now.Sub(r.start) >= r.until && written[k] == r.status(r.end) {
				delete(s.roll.active, k)
				delete(written, k)
			}
		}
		s.roll.mu.Unlock()
	}
}
