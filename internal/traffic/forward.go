package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/klog/v2"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// Forward is a running port-forward from a local port to a pod, through
// the API server, the way `kubectl port-forward` does it.
type Forward struct {
	Namespace, Pod string
	Port           int    // the pod's port
	Local          string // 127.0.0.1:<port> to connect to

	cancel context.CancelFunc
	done   chan struct{}
	errs   *errorLog

	mu  sync.Mutex
	err error // why the forward ended, once it has
}

// ErrForwardRefused wraps every failure to set up a port-forward, so
// callers can tell it from other errors.
var ErrForwardRefused = errors.New("port-forward refused")

// PortForward opens a forward to port on pod ns/name. It tries the
// WebSocket tunnel first and falls back to SPDY for older API servers,
// as kubectl does. The forward lives until Close or until ctx ends;
// setting it up gives up after setup (default 15 s).
func PortForward(ctx context.Context, cfg *rest.Config, ns, pod string, port int, setup time.Duration) (*Forward, error) {
	if setup <= 0 {
		setup = 15 * time.Second
	}
	// A forward is a long-lived stream: the connection's per-request
	// time-out (if the kubeconfig or caller set one) must not cut it.
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 0
	u, err := portForwardURL(cfg, ns, pod)
	if err != nil {
		return nil, err
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrForwardRefused, err)
	}
	var dialer streamhttp.Dialer = spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	if tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg); err == nil {
		dialer = portforward.NewFallbackDialerForStreaming(tunnel, dialer, func(err error) bool {
			return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
		})
	}

	// client-go reports forwarding errors through its logger; keep them
	// for the reader instead of letting them scribble on the terminal.
	errs := &errorLog{}
	fctx, cancel := context.WithCancel(klog.NewContext(ctx, logr.New(errs)))
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesForStreamingWithContext(fctx, dialer, []string{"127.0.0.1"},
		[]string{"0:" + strconv.Itoa(port)}, ready, io.Discard, io.Discard)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %w", ErrForwardRefused, err)
	}
	f := &Forward{Namespace: ns, Pod: pod, Port: port, cancel: cancel, done: make(chan struct{}), errs: errs}
	failed := make(chan error, 1)
	go func() {
		defer close(f.done)
		err := pf.ForwardPorts()
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
		failed <- err
	}()
	timer := time.NewTimer(setup)
	defer timer.Stop()
	select {
	case <-ready:
	case err := <-failed:
		cancel()
		if err == nil {
			err = errors.New("closed before it was ready")
		}
		return nil, fmt.Errorf("%w to pod %s/%s port %d: %w", ErrForwardRefused, ns, pod, port, upgradeCause(err))
	case <-timer.C:
		f.Close()
		return nil, fmt.Errorf("%w to pod %s/%s port %d: no answer within %s", ErrForwardRefused, ns, pod, port, setup)
	case <-ctx.Done():
		f.Close()
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: no local port: %w", ErrForwardRefused, err)
	}
	f.Local = "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
	return f, nil
}

// upgradeCause keeps what the API server answered to a refused upgrade
// (a Forbidden status, say) reachable by errors.As: client-go's
// UpgradeFailureError holds it as Cause but does not unwrap to it.
func upgradeCause(err error) error {
	var up *streamhttp.UpgradeFailureError
	if errors.As(err, &up) && up.Cause != nil {
		return upgradeError{err, up.Cause}
	}
	return err
}

// upgradeError reads as the original error and unwraps to its cause too.
type upgradeError struct{ err, cause error }

func (e upgradeError) Error() string   { return e.err.Error() }
func (e upgradeError) Unwrap() []error { return []error{e.err, e.cause} }

func portForwardURL(cfg *rest.Config, ns, pod string) (*url.URL, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForwardRefused, err)
	}
	return cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name(pod).SubResource("portforward").URL(), nil
}

// URL is the base URL that reaches the pod's port over the forward.
func (f *Forward) URL() string { return "http://" + f.Local }

// Problem returns the last error the pod side reported (for example that
// nothing listens on the port), or why the forward ended; "" if none.
func (f *Forward) Problem() string {
	if msg := f.errs.last(); msg != "" {
		return msg
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err.Error()
	}
	return ""
}

// Close stops the forward and waits for it to end.
func (f *Forward) Close() {
	f.cancel()
	<-f.done
}

// errorLog is a logr sink that keeps the last error message.
type errorLog struct {
	mu  sync.Mutex
	msg string
}

func (l *errorLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg
}

func (l *errorLog) Init(logr.RuntimeInfo)          {}
func (l *errorLog) Enabled(int) bool               { return false }
func (l *errorLog) Info(int, string, ...any)       {}
func (l *errorLog) WithValues(...any) logr.LogSink { return l }
func (l *errorLog) WithName(string) logr.LogSink   { return l }
func (l *errorLog) Error(err error, msg string, _ ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		msg = msg + ": " + err.Error()
	}
	l.msg = msg
}
