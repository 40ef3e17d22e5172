package traffic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The gateway kinds an ingress is found through, newest version first.
var (
	istioGateways = []schema.GroupVersionResource{
		{Group: "networking.istio.io", Version: "v1", Resource: "gateways"},
		{Group: "networking.istio.io", Version: "v1beta1", Resource: "gateways"},
	}
	apiGateways = []schema.GroupVersionResource{
		{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"},
		{Group: "gateway.networking.k8s.io", Version: "v1beta1", Resource: "gateways"},
	}
)

// Ingress is the Service that receives the mesh's inbound traffic.
type Ingress struct {
	Via       string // how it was found: "Istio Gateway ns/name", "Gateway API Gateway ns/name", "Service ns/name"
	Namespace string
	Service   string
	Port      int // the Service port
	// Others lists further candidates that were not chosen, so the reader
	// can pick one with the check's gateway parameter.
	Others []string
}

func (in *Ingress) String() string {
	return fmt.Sprintf("Service %s/%s port %d (%s)", in.Namespace, in.Service, in.Port, in.Via)
}

// Want narrows the search for the ingress.
type Want struct {
	Gateway   string // "ns/name" or "name" of an Istio or Gateway API Gateway
	Namespace string // with Service: where the Service is
	Service   string // skip gateways: use this Service
	Port      int    // a gateway server / listener / Service port
}

// ErrNoIngress wraps every "could not find the ingress" error.
var ErrNoIngress = errors.New("no ingress found")

// FindIngress looks for the Service behind an Istio Gateway (by its pod
// selector) or a Gateway API Gateway (Istio and other implementations
// label it gateway.networking.k8s.io/gateway-name and usually name it
// <gateway>-<class>), in any namespace. Egress and waypoint gateways are
// skipped: only gateways with an HTTP server or listener qualify.
func FindIngress(ctx context.Context, kube kubernetes.Interface, dyn dynamic.Interface, want Want) (*Ingress, error) {
	if want.Service != "" {
		return serviceIngress(ctx, kube, want)
	}
	var (
		cands []*Ingress
		seen  []string // gateways that matched but had no Service
		errs  []error
	)
	svcs, err := kube.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: listing Services: %w", ErrNoIngress, err)
	}
	igws, err := listFirstServed(ctx, dyn, istioGateways)
	if err != nil {
		errs = append(errs, err)
	}
	for _, gw := range igws {
		if !wantGateway(want, gw) {
			continue
		}
		sel, _, _ := unstructured.NestedStringMap(gw.Object, "spec", "selector")
		ports := istioHTTPPorts(gw)
		if len(sel) == 0 || len(ports) == 0 {
			continue
		}
		name := "Istio Gateway " + gw.GetNamespace() + "/" + gw.GetName()
		found := false
		for i := range svcs.Items {
			s := &svcs.Items[i]
			if !selectorsAgree(sel, s.Spec.Selector) {
				continue
			}
			if p := servicePort(s, ports, want.Port); p != 0 {
				cands = append(cands, &Ingress{Via: name, Namespace: s.Namespace, Service: s.Name, Port: p})
				found = true
			}
		}
		if !found {
			seen = append(seen, fmt.Sprintf("%s selects pods labelled %s on port %s, but no Service selects them", name, labels.Set(sel), joinInts(ports)))
		}
	}
	agws, err := listFirstServed(ctx, dyn, apiGateways)
	if err != nil {
		errs = append(errs, err)
	}
	for _, gw := range agws {
		if !wantGateway(want, gw) {
			continue
		}
		class, _, _ := unstructured.NestedString(gw.Object, "spec", "gatewayClassName")
		ports := listenerHTTPPorts(gw)
		if strings.Contains(class, "waypoint") || len(ports) == 0 {
			continue
		}
		name := "Gateway API Gateway " + gw.GetNamespace() + "/" + gw.GetName()
		found := false
		for i := range svcs.Items {
			s := &svcs.Items[i]
			if s.Namespace != gw.GetNamespace() {
				continue
			}
			if s.Labels["gateway.networking.k8s.io/gateway-name"] != gw.GetName() && s.Name != gw.GetName()+"-"+class {
				continue
			}
			if p := servicePort(s, ports, want.Port); p != 0 {
				cands = append(cands, &Ingress{Via: name, Namespace: s.Namespace, Service: s.Name, Port: p})
				found = true
			}
		}
		if !found {
			seen = append(seen, fmt.Sprintf("%s (class %s) has no Service %s-%s with port %s yet", name, class, gw.GetName(), class, joinInts(ports)))
		}
	}
	if len(cands) == 0 {
		msg := "no Istio Gateway or Gateway API Gateway with an HTTP port leads to a Service"
		if want.Gateway != "" {
			msg = fmt.Sprintf("no gateway named %q with an HTTP port leads to a Service", want.Gateway)
		}
		if len(seen) > 0 {
			msg += ": " + strings.Join(seen, "; ")
		}
		if len(errs) > 0 && len(igws)+len(agws) == 0 {
			// Why the gateways could not be read, kept for errors.Is/As
			// (a refusal is the reader's permissions, not a missing gateway).
			return nil, fmt.Errorf("%w: %s (%w)", ErrNoIngress, msg, errList(errs))
		}
		return nil, fmt.Errorf("%w: %s", ErrNoIngress, msg)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Port < b.Port
	})
	best := cands[0]
	for _, c := range cands[1:] {
		if c.Namespace == best.Namespace && c.Service == best.Service && c.Port == best.Port {
			continue
		}
		best.Others = appendUnique(best.Others, c.String())
	}
	return best, nil
}

// errList is several errors as one, joined with "; " on one line, each
// kept for errors.Is and errors.As.
type errList []error

func (l errList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (l errList) Unwrap() []error { return l }

func serviceIngress(ctx context.Context, kube kubernetes.Interface, want Want) (*Ingress, error) {
	var s *corev1.Service
	if want.Namespace != "" {
		got, err := kube.CoreV1().Services(want.Namespace).Get(ctx, want.Service, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: there is no Service %s in namespace %s", ErrNoIngress, want.Service, want.Namespace)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: reading Service %s/%s: %w", ErrNoIngress, want.Namespace, want.Service, err)
		}
		s = got
	} else {
		l, err := kube.CoreV1().Services("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + want.Service})
		if err != nil {
			return nil, fmt.Errorf("%w: listing Services: %w", ErrNoIngress, err)
		}
		if len(l.Items) == 0 {
			return nil, fmt.Errorf("%w: there is no Service named %s in any namespace", ErrNoIngress, want.Service)
		}
		s = &l.Items[0]
	}
	var p int
	if want.Port != 0 {
		p = servicePort(s, []int{want.Port}, 0)
		if p == 0 {
			return nil, fmt.Errorf("%w: Service %s/%s has no port %d (it has %s)", ErrNoIngress, s.Namespace, s.Name, want.Port, joinInts(svcPorts(s)))
		}
	} else if len(s.Spec.Ports) > 0 {
		p = int(s.Spec.Ports[0].Port)
		for _, sp := range s.Spec.Ports {
			if strings.HasPrefix(sp.Name, "http") {
				p = int(sp.Port)
				break
			}
		}
	} else {
		return nil, fmt.Errorf("%w: Service %s/%s has no ports", ErrNoIngress, s.Namespace, s.Name)
	}
	return &Ingress{Via: "Service " + s.Namespace + "/" + s.Name, Namespace: s.Namespace, Service: s.Name, Port: p}, nil
}

// listFirstServed lists a resource at the first version the API serves.
func listFirstServed(ctx context.Context, dyn dynamic.Interface, gvrs []schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
	var last error
	for _, gvr := range gvrs {
		l, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err == nil {
			return l.Items, nil
		}
		last = err
		if !apierrors.IsNotFound(err) {
			break
		}
	}
	if apierrors.IsNotFound(last) {
		return nil, fmt.Errorf("%s.%s not served", gvrs[0].Resource, gvrs[0].Group)
	}
	return nil, fmt.Errorf("listing %s.%s: %w", gvrs[0].Resource, gvrs[0].Group, last)
}

func wantGateway(want Want, gw unstructured.Unstructured) bool {
	if want.Gateway == "" {
		return true
	}
	ns, name, ok := strings.Cut(want.Gateway, "/")
	if !ok {
		return gw.GetName() == want.Gateway
	}
	return gw.GetNamespace() == ns && gw.GetName() == name
}

// istioHTTPPorts are the ports of an Istio Gateway's plain-HTTP servers.
func istioHTTPPorts(gw unstructured.Unstructured) []int {
	servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
	var out []int
	for _, s := range servers {
		m, _ := s.(map[string]any)
		proto, _, _ := unstructured.NestedString(m, "port", "protocol")
		num, _, _ := unstructured.NestedFieldNoCopy(m, "port", "number")
		if n := toInt(num); n > 0 && isHTTP(proto) {
			out = append(out, n)
		}
	}
	return out
}

// listenerHTTPPorts are the ports of a Gateway API Gateway's HTTP listeners.
func listenerHTTPPorts(gw unstructured.Unstructured) []int {
	ls, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	var out []int
	for _, l := range ls {
		m, _ := l.(map[string]any)
		proto, _ := m["protocol"].(string)
		if n := toInt(m["port"]); n > 0 && isHTTP(proto) {
			out = append(out, n)
		}
	}
	return out
}

func isHTTP(proto string) bool {
	p := strings.ToUpper(proto)
	return p == "HTTP" || p == "HTTP2"
}

func toInt(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case float64:
		return int(n)
	case int:
		return n
	}
	return 0
}

// selectorsAgree reports whether a Service selector and a gateway's pod
// selector pick out the same pods as far as can be told without the pods:
// they share a key and never disagree on one.
func selectorsAgree(gw, svc map[string]string) bool {
	shared := false
	for k, v := range svc {
		if gv, ok := gw[k]; ok {
			if gv != v {
				return false
			}
			shared = true
		}
	}
	return shared
}

// servicePort returns the Service port that carries one of the gateway's
// ports: the port itself, or the port whose target is it (Istio gateway
// servers name the pod's port). only, when set, must be that port.
func servicePort(s *corev1.Service, ports []int, only int) int {
	for _, want := range ports {
		if only != 0 && want != only {
			continue
		}
		for _, sp := range s.Spec.Ports {
			if int(sp.Port) == want || sp.TargetPort.IntValue() == want {
				return int(sp.Port)
			}
		}
	}
	if only != 0 {
		for _, sp := range s.Spec.Ports {
			if int(sp.Port) == only {
				return only
			}
		}
	}
	return 0
}

func svcPorts(s *corev1.Service) []int {
	var out []int
	for _, p := range s.Spec.Ports {
		out = append(out, int(p.Port))
	}
	return out
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.Itoa(x))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// How an ingress is reached.
const (
	ViaOverride     = "override"
	ViaLoadBalancer = "load-balancer"
	ViaPortForward  = "port-forward"
)

// Reached is an open way to send requests to the ingress.
type Reached struct {
	URL    string // base URL, no trailing slash
	Via    string // ViaOverride, ViaLoadBalancer or ViaPortForward
	Detail string // one line for the reader: what exactly is used
	fwd    *Forward
}

// Close releases a port-forward, if one was opened.
func (r *Reached) Close() {
	if r != nil && r.fwd != nil {
		r.fwd.Close()
	}
}

// Problem is what the pod side of a port-forward complained about, if
// anything; it explains a probe whose requests all failed.
func (r *Reached) Problem() string {
	if r == nil || r.fwd == nil {
		return ""
	}
	return r.fwd.Problem()
}

// ErrNoGatewayPod is returned when the ingress Service has no ready pod
// to forward to.
var ErrNoGatewayPod = errors.New("no ready gateway pod")

// ParseOverride checks a reader-given ingress address such as
// http://localhost:9080 and returns it without a trailing slash.
func ParseOverride(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("ingress address %q is not an http:// or https:// address such as http://localhost:9080", raw)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return "", fmt.Errorf("ingress address %q should be only scheme, host and port (such as http://localhost:9080); put the path in the check", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

// Reach opens a way to the ingress: the Service's load-balancer address
// if it has one that answers, otherwise a port-forward to one of its
// ready pods through the API server. (A reader-given override is handled
// by the caller, before any discovery.) The port-forward lives as long as
// ctx; setup bounds the API calls made to open it.
func Reach(ctx, setup context.Context, cfg *rest.Config, kube kubernetes.Interface, in *Ingress) (*Reached, error) {
	svc, err := kube.CoreV1().Services(in.Namespace).Get(setup, in.Service, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: reading Service %s/%s: %w", ErrNoIngress, in.Namespace, in.Service, err)
	}
	var lbNote string
	for _, lb := range svc.Status.LoadBalancer.Ingress {
		host := lb.IP
		if host == "" {
			host = lb.Hostname
		}
		if host == "" {
			continue
		}
		addr := net.JoinHostPort(host, strconv.Itoa(in.Port))
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(setup, "tcp", addr)
		if err == nil {
			c.Close()
			return &Reached{URL: "http://" + addr, Via: ViaLoadBalancer, Detail: "load-balancer address " + addr + " of " + in.String()}, nil
		}
		lbNote = fmt.Sprintf(" (its load-balancer address %s did not answer)", addr)
	}
	pod, port, err := gatewayPod(setup, kube, svc, in.Port)
	if err != nil {
		return nil, err
	}
	fwd, err := PortForward(ctx, cfg, svc.Namespace, pod, port, 0)
	if err != nil {
		return nil, forwardRefusal(setup, kube, svc.Namespace, pod, err)
	}
	return &Reached{
		URL: fwd.URL(), Via: ViaPortForward, fwd: fwd,
		Detail: fmt.Sprintf("port-forward to pod %s/%s port %d behind %s%s", svc.Namespace, pod, port, in, lbNote),
	}, nil
}

// forwardRefusal explains a port-forward that could not be opened. When
// the WebSocket upgrade is refused, client-go falls back to SPDY, which
// reports the API server's answer only as text; so ask the API server
// whether the credentials may create pods/portforward there, and if not,
// return a Forbidden error that callers tell by apierrors.IsForbidden.
func forwardRefusal(ctx context.Context, kube kubernetes.Interface, ns, pod string, err error) error {
	if !errors.Is(err, ErrForwardRefused) || apierrors.IsForbidden(err) {
		return err
	}
	review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
		Namespace: ns, Verb: "create", Resource: "pods", Subresource: "portforward", Name: pod,
	}}}
	res, rerr := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if rerr != nil || res.Status.Allowed {
		return err // could not ask, or allowed: the refusal is something else
	}
	why := "your credentials may not create pods/portforward in " + ns
	if res.Status.Reason != "" {
		why += " (" + res.Status.Reason + ")"
	}
	return fmt.Errorf("%w: %w", err, apierrors.NewForbidden(schema.GroupResource{Resource: "pods/portforward"}, pod, errors.New(why)))
}

// gatewayPod picks a running, ready pod behind svc and the container
// port that the Service port targets.
func gatewayPod(ctx context.Context, kube kubernetes.Interface, svc *corev1.Service, svcPort int) (string, int, error) {
	if len(svc.Spec.Selector) == 0 {
		return "", 0, fmt.Errorf("%w: Service %s/%s has no selector, so there is no pod to forward to", ErrNoGatewayPod, svc.Namespace, svc.Name)
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector).String()
	pods, err := kube.CoreV1().Pods(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", 0, fmt.Errorf("%w: listing pods %s in %s: %w", ErrNoGatewayPod, sel, svc.Namespace, err)
	}
	var target corev1.ServicePort
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) == svcPort {
			target = sp
		}
	}
	states := map[string]int{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !podReady(p) {
			states[podState(p)]++
			continue
		}
		return p.Name, containerPort(p, target, svcPort), nil
	}
	if len(pods.Items) == 0 {
		return "", 0, fmt.Errorf("%w: no pod in %s matches %s, the selector of Service %s", ErrNoGatewayPod, svc.Namespace, sel, svc.Name)
	}
	var parts []string
	for _, k := range Keys(states) {
		parts = append(parts, fmt.Sprintf("%d %s", states[k], k))
	}
	return "", 0, fmt.Errorf("%w: the pods behind Service %s/%s are not ready (%s)", ErrNoGatewayPod, svc.Namespace, svc.Name, strings.Join(parts, ", "))
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podState(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "terminating"
	}
	if p.Status.Phase == corev1.PodRunning {
		return "running but not ready"
	}
	if p.Status.Phase == "" {
		return "Pending"
	}
	return string(p.Status.Phase)
}

// containerPort resolves a Service port's target on a given pod.
func containerPort(p *corev1.Pod, sp corev1.ServicePort, svcPort int) int {
	switch {
	case sp.TargetPort.IntValue() > 0:
		return sp.TargetPort.IntValue()
	case sp.TargetPort.StrVal != "":
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal {
					return int(cp.ContainerPort)
				}
			}
		}
	}
	return svcPort
}
