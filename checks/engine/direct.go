package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdojo/meshdojo/checks"
)

// DirectEnv is an Env that lists straight from the API server, with no
// cache. The `check` command, probes and tests use it; the engine uses
// informers instead.
type DirectEnv struct {
	clients *checks.Clients
	info    checks.ClusterInfo
	// Timeout bounds each List call (default 10s).
	Timeout time.Duration
	// OnEmit receives intermediate results; nil drops them.
	OnEmit func(checks.Result)
	// Settings are the reader's traffic settings for this run.
	Settings checks.TrafficSettings

	mu       sync.Mutex
	versions map[string]string // resource.group -> version found by fallback
}

// NewDirectEnv returns an Env reading through clients. info.Served picks
// the version of each resource; a resource it does not mention is read
// at the version the check asks for, falling back to older Istio and
// Gateway API versions if that one is not served.
func NewDirectEnv(clients *checks.Clients, info checks.ClusterInfo) checks.Env {
	return &DirectEnv{clients: clients, info: info, Timeout: 10 * time.Second, versions: map[string]string{}}
}

func (e *DirectEnv) Cluster() checks.ClusterInfo { return e.info }
func (e *DirectEnv) Clients() *checks.Clients    { return e.clients }

func (e *DirectEnv) Traffic() checks.TrafficSettings { return e.Settings }

func (e *DirectEnv) Emit(r checks.Result) {
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
func ResolveVersion(info checks.ClusterInfo, gvr schema.GroupVersionResource) schema.GroupVersionResource {
	if v := info.Served[checks.ResourceName(gvr)]; v != "" {
		gvr.Version = v
	}
	return gvr
}

func (e *DirectEnv) List(ctx context.Context, in checks.Input) ([]*unstructured.Unstructured, error) {
	if e.clients == nil || e.clients.Dynamic == nil {
		return nil, &checks.UnreachableError{Server: e.info.Server, Err: errors.New("not connected to a cluster")}
	}
	gvr := ResolveVersion(e.info, in.GVR)
	key := checks.ResourceName(gvr)
	_, known := e.info.Served[key]
	e.mu.Lock()
	if v := e.versions[key]; v != "" && !known {
		gvr.Version = v
	}
	e.mu.Unlock()

	items, err := e.list(ctx, gvr, in)
	if err == nil || known || !errors.Is(err, checks.ErrNotServed) {
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
		if !errors.Is(aerr, checks.ErrNotServed) {
			return nil, aerr
		}
	}
	return nil, err
}

func (e *DirectEnv) list(ctx context.Context, gvr schema.GroupVersionResource, in checks.Input) ([]*unstructured.Unstructured, error) {
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
		return fmt.Errorf("%s %s: stopped before an answer: %w", verb, checks.ResourceName(gvr), err)
	case !errors.As(err, &status):
		return &checks.UnreachableError{Server: server, Err: err}
	case apierrors.IsNotFound(err):
		// A list only 404s when the resource itself is unknown; an empty
		// or missing namespace gives an empty list.
		return &checks.NotServedError{GVR: gvr}
	case apierrors.IsForbidden(err):
		return &checks.ForbiddenError{Verb: verb, GVR: gvr, Namespace: ns, Err: err}
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the API server at %s did not accept your credentials (log in again or refresh the kubeconfig): %w", server, err)
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), apierrors.IsServiceUnavailable(err), apierrors.IsTooManyRequests(err):
		return &checks.UnreachableError{Server: server, Err: err}
	}
	return fmt.Errorf("%s %s: %w", verb, checks.ResourceName(gvr), err)
}
