// Package cluster connects meshdojo to the reader's Kubernetes cluster
// exactly as kubectl would (same kubeconfig files, contexts, credential
// plugins and namespace), and finds out what is installed there: which
// Istio and Gateway API resources are served, where istiod runs and at
// which version, and whether the data plane uses sidecars or ambient.
//
// Every request carries a time-out, and Connect gives up quickly when no
// API server answers, so the tutorial can start offline instead of
// waiting on the network.
package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/engine"
)

// DefaultTimeout bounds each request when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Options says which cluster to talk to. The zero value means what a bare
// kubectl means: $KUBECONFIG or ~/.kube/config, its current context.
type Options struct {
	// Kubeconfig is a kubeconfig path (or a list joined like $KUBECONFIG),
	// as kubectl's --kubeconfig. Empty means $KUBECONFIG, then
	// ~/.kube/config, then the in-cluster service account.
	Kubeconfig string
	// Context overrides the kubeconfig's current-context, as --context.
	Context string
	// Timeout bounds every request to the API server, and Connect as a
	// whole; DefaultTimeout when zero.
	Timeout time.Duration
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

// Target is a resolved kubeconfig: what Connect will talk to, before any
// request is made.
type Target struct {
	Config    *rest.Config // with Timeout set; credential plugins run without stdin
	Context   string       // the context's name ("" for in-cluster)
	Namespace string       // the context's namespace, "default" when unset
	Server    string
}

// Conn is a live connection to a cluster.
type Conn struct {
	Config    *rest.Config // every request gives up after Options.Timeout
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Info      checks.ClusterInfo
	Discovery *Discovery
	Namespace string // the context's namespace
}

func init() {
	// client-go reports watch failures through klog, which would write
	// over the terminal UI. The engine turns those failures into verdicts
	// instead, so klog stays quiet unless asked for while debugging.
	if os.Getenv("MESHDOJO_KLOG") == "" {
		klog.SetLogger(logr.Discard())
		klog.SetOutput(io.Discard)
		klog.LogToStderr(false)
	}
}

// Load resolves the kubeconfig the way kubectl does, without contacting
// the cluster.
func Load(opts Options) (*Target, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if opts.Kubeconfig != "" {
		if strings.Contains(opts.Kubeconfig, string(os.PathListSeparator)) {
			// A list, like $KUBECONFIG: merge the files in order.
			rules.Precedence = strings.Split(opts.Kubeconfig, string(os.PathListSeparator))
		} else {
			rules.ExplicitPath = opts.Kubeconfig
		}
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)

	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, configError(err, opts, rules, cc)
	}
	ns, _, err := cc.Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	name := opts.Context
	if name == "" {
		if raw, err := cc.RawConfig(); err == nil {
			name = raw.CurrentContext
		}
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = opts.timeout()
	// Deprecation warnings (v1beta1 Istio APIs) would be printed on
	// stderr, over the UI; discovery already picks the newest version.
	cfg.WarningHandler = rest.NoWarnings{}
	// client-go's default of 5 requests a second would queue a step's
	// informers and doctor's access reviews; kubectl allows 50 (burst 300).
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 300
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "meshdojo"
	}
	if cfg.ExecProvider != nil {
		// The UI owns the terminal, so a credential plugin must not read
		// from it; plugins with cached or refreshable tokens still work.
		exec := *cfg.ExecProvider
		exec.StdinUnavailable = true
		exec.StdinUnavailableMessage = "meshdojo runs credential plugins without a terminal; log in with kubectl first"
		cfg.ExecProvider = &exec
	}
	return &Target{Config: cfg, Context: name, Namespace: ns, Server: cfg.Host}, nil
}

func configError(err error, opts Options, rules *clientcmd.ClientConfigLoadingRules, cc clientcmd.ClientConfig) error {
	where := "$KUBECONFIG or ~/.kube/config"
	if opts.Kubeconfig != "" {
		where = opts.Kubeconfig
	} else if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
		where = env + " (from $KUBECONFIG)"
	}
	switch {
	case clientcmd.IsEmptyConfig(err):
		return fmt.Errorf("no cluster configured: found no kubeconfig in %s; start a cluster (minikube start) or pass --kubeconfig PATH", where)
	case clientcmd.IsContextNotFound(err) || contextMissing(cc, opts.Context):
		return fmt.Errorf("kubeconfig %s has no context %q; list them with kubectl config get-contexts and pass one with --context", where, opts.Context)
	case os.IsNotExist(errors.Unwrap(err)) || os.IsNotExist(err):
		return fmt.Errorf("cannot read kubeconfig %s: %v; check the path given to --kubeconfig or $KUBECONFIG", where, err)
	}
	return fmt.Errorf("kubeconfig %s is not usable: %v", where, err)
}

// contextMissing says whether the kubeconfig, as loaded, lacks the named
// context: clientcmd reports that inside an aggregate of validation
// errors, so ask the loaded config rather than read the message.
func contextMissing(cc clientcmd.ClientConfig, name string) bool {
	if name == "" {
		return false
	}
	raw, err := cc.RawConfig()
	return err == nil && raw.Contexts[name] == nil
}

// Connect resolves the kubeconfig, checks that the API server answers and
// runs discovery. It returns within about Options.Timeout even when the
// server is unreachable, with an error saying what to do.
func Connect(ctx context.Context, opts Options) (*Conn, error) {
	t, err := Load(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()

	dc, err := discovery.NewDiscoveryClientForConfig(t.Config)
	if err != nil {
		return nil, fmt.Errorf("context %q: %v", t.Context, err)
	}
	ver, err := firstRequest(ctx, dc, t)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(t.Config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(t.Config)
	if err != nil {
		return nil, err
	}
	c := &Conn{Config: t.Config, Kube: kube, Dynamic: dyn, Namespace: t.Namespace}
	d := discover(ctx, dc, kube, t)
	d.ServerVersion = ver.GitVersion
	c.Discovery = d
	c.Info = checks.ClusterInfo{
		Context:       t.Context,
		Server:        t.Server,
		RootNamespace: d.RootNamespace,
		Served:        d.Served,
	}
	return c, nil
}

// firstRequest asks for the server version, giving up when ctx ends.
// client-go runs a kubeconfig's exec credential plugin inside the request
// without its context, so a plugin that waits (for a browser log-in, a
// cloud CLI that hangs) would hold Connect, and the commands and the
// tutorial's connecting state, for as long as it runs. The request goes
// on in the background and is dropped when it ends.
func firstRequest(ctx context.Context, dc *discovery.DiscoveryClient, t *Target) (*version.Info, error) {
	type answer struct {
		ver *version.Info
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := dc.ServerVersionWithContext(ctx)
		ch <- answer{v, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, reachError(a.err, t)
		}
		return a.ver, nil
	case <-ctx.Done():
		if e := t.Config.ExecProvider; e != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			try := "kubectl get namespaces"
			if t.Context != "" {
				try = "kubectl --context " + t.Context + " get namespaces"
			}
			return nil, fmt.Errorf("the kubeconfig's credential plugin (%s) did not finish within %s; run `%s` once to log in, then try again", e.Command, t.Config.Timeout, try)
		}
		return nil, reachError(ctx.Err(), t)
	}
}

// reachError explains a failed first request in the reader's terms. It
// classifies by what client-go and the standard library return (API
// statuses, *url.Error around net, DNS, TLS and x509 errors, context
// errors), never by the text of the error.
func reachError(err error, t *Target) error {
	who := fmt.Sprintf("the API server at %s", t.Server)
	if t.Context != "" {
		who += fmt.Sprintf(" (context %q)", t.Context)
	}
	try := "kubectl get namespaces"
	if t.Context != "" {
		try = "kubectl --context " + t.Context + " get namespaces"
	}
	switch reachProblem(err, t.Config.ExecProvider != nil) {
	case problemUnauthorized:
		return &quiet{fmt.Sprintf("%s did not accept your credentials (401 Unauthorized); the token may have expired, log in again and check with `%s`", who, try), err}
	case problemForbidden:
		// /version is readable by everyone by default; a refusal means an
		// unusual RBAC set-up, but the server is there.
		return fmt.Errorf("%s refused even the version request: %w", who, err)
	case problemTimeout:
		return fmt.Errorf("%s did not answer within %s; is the cluster running (minikube status)? check with `%s`: %w", who, t.Config.Timeout, try, err)
	case problemRefused:
		return fmt.Errorf("cannot reach %s: connection refused; is the cluster running (minikube status)? check with `%s`: %w", who, try, err)
	case problemNoHost:
		return fmt.Errorf("cannot reach %s: the host name does not resolve; check the kubeconfig's server address: %w", who, err)
	case problemCertificate:
		return fmt.Errorf("cannot reach %s: %w; the kubeconfig's certificate data does not match the server", who, err)
	case problemCredentials:
		return fmt.Errorf("cannot get credentials for %s: %w; run `%s` once to log in", who, err, try)
	}
	return fmt.Errorf("cannot reach %s: %w; check with `%s`", who, err, try)
}

// quiet is an error that says msg and keeps its cause for errors.Is and
// errors.As, without repeating the cause's own text.
type quiet struct {
	msg string
	err error
}

func (q *quiet) Error() string { return q.msg }
func (q *quiet) Unwrap() error { return q.err }

// Refused reports whether err, from Connect, says the API server answered
// and refused the credentials (401 Unauthorized, or 403 Forbidden even
// for the version), rather than not answering.
func Refused(err error) bool {
	return apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err)
}

// What stopped a first request.
type reachKind int

const (
	problemOther reachKind = iota
	problemUnauthorized
	problemForbidden
	problemTimeout
	problemRefused
	problemNoHost
	problemCertificate
	problemCredentials
)

// reachProblem classifies err by its type. exec says whether the
// kubeconfig runs a credential plugin: client-go returns the plugin's
// failures as plain errors inside the *url.Error of the request, so a
// request that failed before any network error, with a plugin
// configured, failed for want of credentials.
func reachProblem(err error, exec bool) reachKind {
	var (
		ne      net.Error
		dns     *net.DNSError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		verify  *tls.CertificateVerificationError
		ue      *url.Error
		op      *net.OpError
		status  apierrors.APIStatus
	)
	switch {
	case apierrors.IsUnauthorized(err):
		return problemUnauthorized
	case apierrors.IsForbidden(err):
		return problemForbidden
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return problemTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return problemRefused
	case errors.As(err, &dns):
		return problemNoHost
	case errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid), errors.As(err, &verify):
		return problemCertificate
	case exec && errors.As(err, &ue) && !errors.As(err, &op) && !errors.As(err, &status):
		return problemCredentials
	}
	return problemOther
}

// Clients gives checks that act direct access to the cluster.
func (c *Conn) Clients() *checks.Clients {
	return &checks.Clients{Kube: c.Kube, Dynamic: c.Dynamic, Config: c.Config}
}

// NewRunner returns the check engine for this connection, as the UI's
// Runner: informers that watch what the current step's checks read.
func (c *Conn) NewRunner() checks.Runner { return c.Engine() }

// Engine returns a new check engine for this connection.
func (c *Conn) Engine() *engine.Engine {
	return engine.NewEngine(c.Clients(), c.Info)
}
