package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ErrNotServed is wrapped by every error that says a resource is not
// served by the API server (its CRD is not installed).
var ErrNotServed = errors.New("resource not served")

// ErrUnreachable is wrapped by errors that mean the API server could not
// be reached or did not answer in time; the engine shows "reconnecting".
var ErrUnreachable = errors.New("API server unreachable")

// NotServedError says which resource is missing, in words that name the
// product that would install it.
type NotServedError struct {
	GVR schema.GroupVersionResource
}

func (e *NotServedError) Error() string {
	name := resourceName(e.GVR)
	switch {
	case strings.HasSuffix(e.GVR.Group, "istio.io"):
		return "Istio is not installed: " + name + " is not served"
	case e.GVR.Group == "gateway.networking.k8s.io":
		return "the Gateway API CRDs are not installed: " + name + " is not served"
	default:
		return name + " is not served by this cluster"
	}
}

func (e *NotServedError) Unwrap() error { return ErrNotServed }

// GrantRBAC is the command that grants every permission the checks use
// (meshdojo's read-only ClusterRole, see assets/rbac): what fix texts
// point an admin to, rather than a path in meshdojo's sources.
const GrantRBAC = "meshdojo doctor --rbac | kubectl apply -f -"

// Again is what fix texts say when running the check once more may
// help. It names no key and no command: the tutorial (r) and meshdojo
// check (the command line to run again) say how.
const Again = "check again"

// ForbiddenError names the verb, resource and namespace that RBAC
// refused, and the rule that would allow it.
type ForbiddenError struct {
	Verb      string
	GVR       schema.GroupVersionResource
	Namespace string // "" for cluster-scoped reads or all namespaces
	Err       error  // the API's Forbidden status
}

func (e *ForbiddenError) Error() string {
	where := "in all namespaces"
	if e.Namespace != "" {
		where = "in namespace " + e.Namespace
	}
	return fmt.Sprintf("forbidden: your credentials may not %s %s %s; %s",
		e.Verb, resourceName(e.GVR), where, e.Rule())
}

// Rule is the RBAC rule that would allow the read, in YAML flow style.
func (e *ForbiddenError) Rule() string {
	kind := "a ClusterRole"
	if e.Namespace != "" {
		kind = "a Role in " + e.Namespace + " (or a ClusterRole)"
	}
	return fmt.Sprintf(`grant it with %s rule {apiGroups: [%q], resources: [%q], verbs: ["get", "list", "watch"]}, `+
		`or everything meshdojo reads at once with %s`, kind, e.GVR.Group, e.GVR.Resource, GrantRBAC)
}

func (e *ForbiddenError) Unwrap() error { return e.Err }

// UnreachableError wraps a transport failure or time-out.
type UnreachableError struct {
	Server string
	Err    error
}

func (e *UnreachableError) Error() string {
	s := "the API server"
	if e.Server != "" {
		s += " at " + e.Server
	}
	return fmt.Sprintf("cannot reach %s: %v", s, e.Err)
}

func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

func resourceName(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group
}

// DirectEnv is an Env that lists straight from the API server, with no
// cache. The `check` command, probes and tests use it; the engine uses
// informers instead.
type DirectEnv struct {
	clients *Clients
	info    ClusterInfo
	// Timeout bounds each List call (default 10s).
	Timeout time.Duration
	// OnEmit receives intermediate results; nil drops them.
	OnEmit func(Result)
	// Settings are the reader's traffic settings for this run.
	Settings TrafficSettings

	mu       sync.Mutex
	versions map[string]string // resource.group -> version found by fallback
}

// NewDirectEnv returns an Env reading through clients. info.Served picks
// the version of each resource; a resource it does not mention is read
// at the version the check asks for, falling back to older Istio and
// Gateway API versions if that one is not served.
func NewDirectEnv(clients *Clients, info ClusterInfo) Env {
	return &DirectEnv{clients: clients, info: info, Timeout: 10 * time.Second, versions: map[string]string{}}
}

func (e *DirectEnv) Cluster() ClusterInfo { return e.info }
func (e *DirectEnv) Clients() *Clients    { return e.clients }

func (e *DirectEnv) Traffic() TrafficSettings { return e.Settings }

func (e *DirectEnv) Emit(r Result) {
	if e.OnEmit != nil {
		e.OnEmit(r)
	}
}

// olderVersions are the versions, newest first, that serve the same
// objects (same storage) for groups whose v1 arrived late.
var olderVersions = map[string][]string{
	"networking.istio.io":       {"v1", "v1beta1", "v1alpha3"},
	"security.istio.io":         {"v1", "v1beta1"},
	"telemetry.istio.io":        {"v1", "v1alpha1"},
	"extensions.istio.io":       {"v1alpha1"},
	"gateway.networking.k8s.io": {"v1", "v1beta1", "v1alpha2"},
}

// ResolveVersion returns gvr with the version the cluster serves it at,
// per info.Served (which the engine fills from discovery).
func ResolveVersion(info ClusterInfo, gvr schema.GroupVersionResource) schema.GroupVersionResource {
	if v := info.Served[resourceName(gvr)]; v != "" {
		gvr.Version = v
	}
	return gvr
}

func (e *DirectEnv) List(ctx context.Context, in Input) ([]*unstructured.Unstructured, error) {
	if e.clients == nil || e.clients.Dynamic == nil {
		return nil, &UnreachableError{Server: e.info.Server, Err: errors.New("not connected to a cluster")}
	}
	gvr := ResolveVersion(e.info, in.GVR)
	key := resourceName(gvr)
	_, known := e.info.Served[key]
	e.mu.Lock()
	if v := e.versions[key]; v != "" && !known {
		gvr.Version = v
	}
	e.mu.Unlock()

	items, err := e.list(ctx, gvr, in)
	if err == nil || known || !errors.Is(err, ErrNotServed) {
		return items, err
	}
	// Not in Served and not served at the asked version: try the older
	// versions of the same group before giving up.
	for _, v := range olderVersions[gvr.Group] {
		if v == gvr.Version {
			continue
		}
		alt := gvr
		alt.Version = v
		items, aerr := e.list(ctx, alt, in)
		if aerr == nil {
			e.mu.Lock()
			e.versions[key] = v
			e.mu.Unlock()
			return items, nil
		}
		if !errors.Is(aerr, ErrNotServed) {
			return nil, aerr
		}
	}
	return nil, err
}

func (e *DirectEnv) list(ctx context.Context, gvr schema.GroupVersionResource, in Input) ([]*unstructured.Unstructured, error) {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out []*unstructured.Unstructured
	opts := metav1.ListOptions{LabelSelector: in.Selector, Limit: 500}
	for {
		var (
			l   *unstructured.UnstructuredList
			err error
		)
		if in.Namespace == "" {
			l, err = e.clients.Dynamic.Resource(gvr).List(ctx, opts)
		} else {
			l, err = e.clients.Dynamic.Resource(gvr).Namespace(in.Namespace).List(ctx, opts)
		}
		if err != nil {
			return nil, classify(e.info.Server, err, gvr, in.Namespace, "list")
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}

// classify maps a request's error to this package's error types; the
// engine and DirectEnv share it so that one error reads the same in the
// UI and in `meshdojo check`. An error that carries no API status never
// got an answer from the API server (refused, reset, EOF, timed out,
// TLS), so it means "unreachable" whatever its text; so do the statuses
// of a server that is starting or overloaded.
func classify(server string, err error, gvr schema.GroupVersionResource, ns, verb string) error {
	var status apierrors.APIStatus
	switch {
	case errors.Is(err, context.Canceled):
		// The caller gave up (the step was left, Ctrl-C): not the
		// server's fault.
		return fmt.Errorf("%s %s: stopped before an answer: %w", verb, resourceName(gvr), err)
	case !errors.As(err, &status):
		return &UnreachableError{Server: server, Err: err}
	case apierrors.IsNotFound(err):
		// A list only 404s when the resource itself is unknown; an empty
		// or missing namespace gives an empty list.
		return &NotServedError{GVR: gvr}
	case apierrors.IsForbidden(err):
		return &ForbiddenError{Verb: verb, GVR: gvr, Namespace: ns, Err: err}
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the API server at %s did not accept your credentials (log in again or refresh the kubeconfig): %w", server, err)
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), apierrors.IsServiceUnavailable(err), apierrors.IsTooManyRequests(err):
		return &UnreachableError{Server: server, Err: err}
	}
	return fmt.Errorf("%s %s: %w", verb, resourceName(gvr), err)
}

// Codes shared by every check for the things that stop it from looking.
const (
	CodeNotServed   = "MD0001"
	CodeForbidden   = "MD0002"
	CodeUnreachable = "MD0003"
	CodeReadFailed  = "MD0004"
	CodeBadParams   = "MD0005"
)

// ErrorResult turns an error from Env.List (or a bad parameter found at
// evaluation time) into an Error result that says what could not be seen
// and what to do about it. The caller fills Check and Params.
func ErrorResult(err error) Result {
	r := Result{Verdict: Error, Summary: err.Error(), At: time.Now()}
	var (
		ns  *NotServedError
		fb  *ForbiddenError
		ue  *UnreachableError
		bad *ParamError
	)
	switch {
	case errors.As(err, &ns):
		r.Code = CodeNotServed
		fix := "Install the CRD that serves it (see the lesson's set-up step), then wait a few seconds."
		switch {
		case strings.HasSuffix(ns.GVR.Group, "istio.io"):
			fix = "Install Istio's CRDs (the istio-base Helm release, or istioctl install), then try again."
		case ns.GVR.Group == "gateway.networking.k8s.io":
			fix = "Install the Gateway API CRDs (kubectl apply -f the standard-install.yaml of the Gateway API release), then try again."
		}
		r.Conditions = []Condition{{Name: resourceName(ns.GVR) + " served", Observed: "not served", Expected: "served", Fix: fix}}
	case errors.As(err, &fb):
		r.Code = CodeForbidden
		r.Conditions = []Condition{{
			Name:     "permission to " + fb.Verb + " " + resourceName(fb.GVR),
			Observed: "forbidden",
			Expected: "allowed",
			Fix:      "Ask your cluster admin to " + fb.Rule() + ".",
		}}
	case errors.As(err, &ue):
		r.Code = CodeUnreachable
		r.Conditions = []Condition{{Name: "API server reachable", Observed: ue.Err.Error(), Expected: "an answer",
			Fix: "Check that the cluster is running (minikube status -p istio-demo) and that kubectl get ns works; meshdojo retries by itself."}}
	case errors.As(err, &bad):
		r.Code = CodeBadParams
		obs := bad.Value
		if obs == "" {
			obs = "not given"
		}
		r.Conditions = []Condition{{Name: "parameter " + bad.Param, Observed: obs, Expected: bad.Want,
			Fix: "Fix the check's parameters in the lesson (this is a lesson bug, not a cluster problem)."}}
	default:
		r.Code = CodeReadFailed
		r.Conditions = []Condition{{Name: "read", Observed: err.Error(), Expected: "a successful read", Fix: "It may have been passing: " + Again + "; if it fails again, run meshdojo doctor."}}
	}
	return r
}
