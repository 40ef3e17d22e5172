package fakelab

// Node plays the parts of a cluster a bare API server lacks, so that the
// checks reach the simulated lab the way they reach a real one:
//
//   - a kubelet: every pod gets an IP in a test pod network (the API
//     server's pod proxy dials it), a sidecar's Envoy stats are served on
//     :15090 and, merged with istio-agent's, on :15020, and a Prometheus
//     pod's query API on :9090; a probe pod (label
//     app.kubernetes.io/managed-by=meshdojo) runs its curl through the
//     simulator and ends with curl's exit code;
//   - an endpoints controller: an EndpointSlice per Service, from the
//     ready pods with IPs (the API server's service proxy reads them);
//   - a scheduler, when NodeName is set: every pod is bound to that Node,
//     so the API server's pods/log asks the kubelet the Node object
//     points at, which serves Log (the proxies' access logs, a probe
//     pod's curl output).

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Node runs the simulated node for Sim against an API server.
type Node struct {
	Kube kubernetes.Interface
	Sim  *Sim
	// NewIP returns a pod IP that Listen can open ports on and that the
	// API server can reach; ReleaseIP gives one back.
	NewIP     func() (string, error)
	ReleaseIP func(ip string)
	Listen    func(ip string, port int) (net.Listener, error)
	// Errorf reports what went wrong (a test's t.Errorf); nil ignores.
	Errorf func(format string, args ...any)
	// NodeName, if set, is the Node every pod is bound to (a kubelet
	// serving Log must stand behind it, such as testcluster's Kubelet);
	// empty leaves pods unscheduled, and pods/log unavailable.
	NodeName string

	mu      sync.Mutex
	pods    map[types.UID]*podState
	probing map[types.UID]bool
	slices  map[string]string // namespace/name@uid -> last EndpointSlice written
	output  map[string]string // namespace/name -> a probe pod's curl output
	ready   chan struct{}     // closed when Run has its caches
}

type podState struct {
	ip      string
	servers []*http.Server
}

// Run works until ctx ends, then closes every listener it opened.
func (n *Node) Run(ctx context.Context) {
	n.mu.Lock()
	n.pods, n.probing, n.slices, n.output = map[types.UID]*podState{}, map[types.UID]bool{}, map[string]string{}, map[string]string{}
	if n.ready == nil {
		n.ready = make(chan struct{})
	}
	ready := n.ready
	n.mu.Unlock()
	f := informers.NewSharedInformerFactory(n.Kube, 10*time.Minute)
	pods := f.Core().V1().Pods().Informer()
	svcs := f.Core().V1().Services().Informer()
	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { n.pod(ctx, o.(*corev1.Pod)); poke() },
		UpdateFunc: func(_, o any) { n.pod(ctx, o.(*corev1.Pod)); poke() },
		DeleteFunc: func(o any) {
			if p, ok := o.(*corev1.Pod); ok {
				n.gone(p.UID)
			} else if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				if p, ok := d.Obj.(*corev1.Pod); ok {
					n.gone(p.UID)
				}
			}
			poke()
		},
	})
	svcs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { poke() }, UpdateFunc: func(any, any) { poke() }, DeleteFunc: func(any) { poke() },
	})
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	close(ready)
	for {
		select {
		case <-ctx.Done():
			n.mu.Lock()
			for uid := range n.pods {
				n.goneLocked(uid)
			}
			n.mu.Unlock()
			return
		case <-kick:
			n.endpoints(ctx, pods.GetStore().List(), svcs.GetStore().List())
		}
	}
}

func (n *Node) errorf(format string, args ...any) {
	if n.Errorf != nil {
		n.Errorf(format, args...)
	}
}

func (n *Node) gone(uid types.UID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.goneLocked(uid)
}

func (n *Node) goneLocked(uid types.UID) {
	st := n.pods[uid]
	if st == nil {
		return
	}
	for _, s := range st.servers {
		s.Close()
	}
	if n.ReleaseIP != nil {
		n.ReleaseIP(st.ip)
	}
	delete(n.pods, uid)
}

func isProbe(p *corev1.Pod) bool { return p.Labels["app.kubernetes.io/managed-by"] == "meshdojo" }

func hasSidecar(p *corev1.Pod) bool {
	for _, c := range append(append([]corev1.Container{}, p.Spec.Containers...), p.Spec.InitContainers...) {
		if c.Name == "istio-proxy" {
			return true
		}
	}
	return false
}

// pod gives a new pod its IP and servers, or runs a probe pod.
func (n *Node) pod(ctx context.Context, p *corev1.Pod) {
	if p.DeletionTimestamp != nil {
		return
	}
	if n.NodeName != "" && p.Spec.NodeName == "" {
		// Schedule it, as a scheduler would; the update that follows
		// brings the pod back here.
		b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID},
			Target: corev1.ObjectReference{Kind: "Node", Name: n.NodeName}}
		if err := n.Kube.CoreV1().Pods(p.Namespace).Bind(ctx, b, metav1.CreateOptions{}); err != nil && ctx.Err() == nil &&
			!apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			n.errorf("fakelab node: binding pod %s/%s to %s: %v", p.Namespace, p.Name, n.NodeName, err)
		}
		return
	}
	if isProbe(p) {
		n.mu.Lock()
		started := n.probing[p.UID]
		n.probing[p.UID] = true
		n.mu.Unlock()
		if !started && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			go n.probe(ctx, p.DeepCopy())
		}
		return
	}
	n.mu.Lock()
	_, known := n.pods[p.UID]
	if !known {
		n.pods[p.UID] = &podState{}
	}
	n.mu.Unlock()
	if known {
		return
	}
	ip, err := n.NewIP()
	if err != nil {
		n.errorf("fakelab node: pod %s/%s: %v", p.Namespace, p.Name, err)
		return
	}
	st := &podState{ip: ip}
	key := p.Namespace + "/" + p.Name
	serve := func(port int, h http.Handler) {
		l, err := n.Listen(ip, port)
		if err != nil {
			n.errorf("fakelab node: pod %s port %d: %v", key, port, err)
			return
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(l)
		st.servers = append(st.servers, srv)
	}
	if hasSidecar(p) {
		serve(15090, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			text, ok := n.Sim.EnvoyStats(n.Sim.pod(key))
			if !ok || r.URL.Path != "/stats/prometheus" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			fmt.Fprint(w, text)
		}))
		serve(15020, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			text, ok := n.Sim.MergedStats(n.Sim.pod(key))
			if !ok || r.URL.Path != "/stats/prometheus" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			fmt.Fprint(w, text)
		}))
	}
	switch {
	case p.Labels["app.kubernetes.io/name"] == "prometheus" || p.Labels["app"] == "prometheus":
		serve(9090, n.Sim.PrometheusHandler())
	case p.Labels["app.kubernetes.io/name"] == "tempo":
		serve(3200, n.Sim.TempoHandler())
	case p.Labels["app.kubernetes.io/name"] == "loki":
		serve(3100, n.Sim.LokiHandler())
	}
	n.mu.Lock()
	if cur, ok := n.pods[p.UID]; ok && cur.ip == "" {
		n.pods[p.UID] = st
	} else {
		// Deleted meanwhile.
		for _, s := range st.servers {
			s.Close()
		}
	}
	n.mu.Unlock()
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"podIP": ip, "podIPs": []map[string]string{{"ip": ip}}}})
	if _, err := n.Kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
		// A pod deleted before its IP was written (a fixture that creates
		// and removes it in quick succession) needs none.
		n.errorf("fakelab node: setting the IP of pod %s: %v", key, err)
	}
}

// pod finds a pod of the current world by namespace/name.
func (s *Sim) pod(key string) *Pod {
	w, err := s.world()
	if err != nil {
		return nil
	}
	for _, p := range w.Pods {
		if p.Key() == key {
			return p
		}
	}
	return nil
}

// probe runs a probe pod's curl through the simulator and records its
// exit code as the pod's outcome.
func (n *Node) probe(ctx context.Context, p *corev1.Pod) {
	if len(p.Spec.Containers) == 0 {
		return
	}
	c := p.Spec.Containers[0]
	args := append(append([]string{}, c.Command...), c.Args...)
	limit := 10 * time.Second
	hdr := http.Header{}
	raw, write := "", ""
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--max-time", "-m":
			if i+1 < len(args) {
				if s, err := strconv.ParseFloat(args[i+1], 64); err == nil {
					limit = time.Duration(s * float64(time.Second))
				}
				i++
			}
		case "-H":
			if i+1 < len(args) {
				k, v, _ := strings.Cut(args[i+1], ":")
				hdr.Add(strings.TrimSpace(k), strings.TrimSpace(v))
				i++
			}
		case "-o":
			i++
		case "-w":
			if i+1 < len(args) {
				write = args[i+1]
			}
			i++
		default:
			if strings.Contains(args[i], "://") {
				raw = args[i]
			}
		}
	}
	code := 3 // curl: URL malformed
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		port, _ := strconv.Atoi(u.Port())
		if port == 0 {
			port = 80
		}
		sidecar := n.injected(ctx, p)
		rctx, cancel := context.WithTimeout(ctx, limit)
		r := n.Sim.FromPod(rctx, p.Namespace, sidecar, Request{Method: http.MethodGet, Host: u.Hostname(), Port: port, Path: u.RequestURI(), Header: hdr})
		code = curlExit(r, rctx.Err() != nil)
		cancel()
		// curl -w: what it writes once the transfer ends (--fail keeps
		// the status of a 4xx/5xx answer).
		status := fmt.Sprintf("%03d", r.Status)
		out := strings.NewReplacer("%{http_code}", status, "%{response_code}", status, `\n`, "\n").Replace(write)
		n.mu.Lock()
		n.output[p.Namespace+"/"+p.Name] = out
		n.mu.Unlock()
	}
	phase, reason := corev1.PodSucceeded, "Completed"
	if code != 0 {
		phase, reason = corev1.PodFailed, "Error"
	}
	for i := 0; i < 20 && ctx.Err() == nil; i++ {
		cur, err := n.Kube.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return // deleted: the check gave up
		}
		cur.Status.Phase = phase
		cur.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: int32(code), Reason: reason}}}}
		if _, err := n.Kube.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// injected says whether a probe pod gets a sidecar: its own
// sidecar.istio.io/inject label, else its namespace's istio.io/rev or
// istio-injection=enabled label.
func (n *Node) injected(ctx context.Context, p *corev1.Pod) bool {
	switch p.Labels["sidecar.istio.io/inject"] {
	case "true":
		return true
	case "false":
		return false
	}
	ns, err := n.Kube.CoreV1().Namespaces().Get(ctx, p.Namespace, metav1.GetOptions{})
	if err != nil {
		return false
	}
	return ns.Labels["istio.io/rev"] != "" || ns.Labels["istio-injection"] == "enabled"
}

// curlExit is curl's exit code for an answer (curl -sS --fail).
func curlExit(r Response, timedOut bool) int {
	switch {
	case timedOut:
		return 28
	case r.Status >= 400:
		return 22
	case r.Status > 0:
		return 0
	}
	switch r.Err {
	case "dns":
		return 6
	case "refused":
		return 7
	case "tls":
		return 35
	case "timeout":
		return 28
	}
	return 56 // reset
}

// endpoints writes one EndpointSlice per Service with a selector.
func (n *Node) endpoints(ctx context.Context, podObjs, svcObjs []any) {
	for _, o := range svcObjs {
		svc := o.(*corev1.Service)
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		type port struct {
			Name     string `json:"name"`
			Port     int32  `json:"port"`
			Protocol string `json:"protocol"`
		}
		var ports []port
		for _, sp := range svc.Spec.Ports {
			target := sp.Port
			if sp.TargetPort.IntValue() > 0 {
				target = int32(sp.TargetPort.IntValue())
			}
			ports = append(ports, port{Name: sp.Name, Port: target, Protocol: "TCP"})
		}
		var eps []map[string]any
		for _, po := range podObjs {
			p := po.(*corev1.Pod)
			if p.Namespace != svc.Namespace || p.Status.PodIP == "" || p.DeletionTimestamp != nil || !labelsMatch(svc.Spec.Selector, p.Labels) {
				continue
			}
			ready := p.Status.Phase == corev1.PodRunning
			eps = append(eps, map[string]any{"addresses": []string{p.Status.PodIP}, "conditions": map[string]bool{"ready": ready},
				"targetRef": map[string]string{"kind": "Pod", "namespace": p.Namespace, "name": p.Name}})
		}
		if eps == nil {
			eps = []map[string]any{}
		}
		slice := map[string]any{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
			"metadata": map[string]any{"name": svc.Name + "-fakelab", "namespace": svc.Namespace,
				"labels": map[string]string{"kubernetes.io/service-name": svc.Name, "endpointslice.kubernetes.io/managed-by": "fakelab"}},
			"addressType": "IPv4", "endpoints": eps, "ports": ports}
		b, _ := json.Marshal(slice)
		key := svc.Namespace + "/" + svc.Name + "@" + string(svc.UID)
		n.mu.Lock()
		same := n.slices[key] == string(b)
		n.mu.Unlock()
		if same {
			continue
		}
		force := true
		_, err := n.Kube.DiscoveryV1().EndpointSlices(svc.Namespace).Patch(ctx, svc.Name+"-fakelab", types.ApplyPatchType, b,
			metav1.PatchOptions{FieldManager: "fakelab", Force: &force})
		switch {
		case err == nil:
			n.mu.Lock()
			n.slices[key] = string(b)
			n.mu.Unlock()
		case ctx.Err() == nil && !strings.Contains(err.Error(), "being terminated") && !strings.Contains(err.Error(), "not found"):
			n.errorf("fakelab node: EndpointSlice for %s/%s: %v", svc.Namespace, svc.Name, err)
		}
	}
}

// Settle waits until the node has caught up with the API server: every
// pod there has its IP and every Service its EndpointSlice, as a
// reader's cluster has a moment after an apply. Checks run after Settle
// see the simulated lab as the objects describe it.
func (n *Node) Settle(ctx context.Context) error {
	n.mu.Lock()
	if n.ready == nil {
		n.ready = make(chan struct{})
	}
	ready := n.ready
	n.mu.Unlock()
	select {
	case <-ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	wrote := false
	for {
		pods, err := n.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		svcs, err := n.Kube.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		done := true
		bound := n.NodeName != ""
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && !isProbe(&p) && (p.Status.PodIP == "" || bound && p.Spec.NodeName == "") {
				done = false
			}
		}
		n.mu.Lock()
		for _, svc := range svcs.Items {
			if len(svc.Spec.Selector) == 0 {
				continue
			}
			last, ok := n.slices[svc.Namespace+"/"+svc.Name+"@"+string(svc.UID)]
			if !ok {
				done = false
				continue
			}
			for _, p := range pods.Items {
				if p.Namespace == svc.Namespace && p.Status.PodIP != "" && p.DeletionTimestamp == nil && labelsMatch(svc.Spec.Selector, p.Labels) &&
					!strings.Contains(last, `"`+p.Status.PodIP+`"`) {
					done = false
				}
			}
		}
		n.mu.Unlock()
		if done {
			if wrote {
				// The API server's service proxy reads EndpointSlices
				// from its own cache, a moment behind.
				t := time.NewTimer(100 * time.Millisecond)
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
				}
			}
			return ctx.Err()
		}
		wrote = true
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// Log is what a container of a pod on this node has written, for a
// kubelet to serve: istio-proxy's access log (Sim.ProxyLog) for a pod
// with a sidecar, curl's output for a probe pod. ok is false for a
// container the node knows nothing about.
func (n *Node) Log(namespace, pod, container string) (lines []LogLine, ok bool) {
	n.mu.Lock()
	out, probe := n.output[namespace+"/"+pod]
	n.mu.Unlock()
	if probe && container != "istio-proxy" {
		var lines []LogLine
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			lines = append(lines, LogLine{At: time.Now(), Text: l})
		}
		return lines, true
	}
	if container != "istio-proxy" {
		return nil, false
	}
	p := n.Sim.pod(namespace + "/" + pod)
	if p == nil || !p.Sidecar {
		return nil, false
	}
	return n.Sim.ProxyLog(namespace, pod), true
}
