package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// A first request's failure is explained by the type of what client-go
// and the standard library return, whatever its text says: each error
// here has a text that would mislead a substring match.
func TestReachProblemByType(t *testing.T) {
	get := func(err error) error { return &url.Error{Op: "Get", URL: "https://192.0.2.1:8443/version", Err: err} }
	dial := func(err error) error { return get(&net.OpError{Op: "dial", Net: "tcp", Err: err}) }
	for _, tc := range []struct {
		name string
		err  error
		exec bool
		want reachKind
	}{
		{"refused", dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)), false, problemRefused},
		{"refused, wrapped again", fmt.Errorf("discovery: %w", dial(os.NewSyscallError("connect", syscall.ECONNREFUSED))), false, problemRefused},
		{"no such host", dial(&net.DNSError{Err: "server misbehaving", Name: "cluster.example", IsNotFound: true}), false, problemNoHost},
		{"unknown authority", get(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), false, problemCertificate},
		{"wrong host name", get(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "192.0.2.1"}), false, problemCertificate},
		{"expired", get(x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired}), false, problemCertificate},
		{"deadline", get(context.DeadlineExceeded), false, problemTimeout},
		{"unauthorized", apierrors.NewUnauthorized("connection refused"), false, problemUnauthorized},
		{"forbidden", apierrors.NewForbidden(schema.GroupResource{}, "version", errors.New("certificate")), false, problemForbidden},
		{"credential plugin", get(errors.New("getting credentials: exec: executable kubelogin not found")), true, problemCredentials},
		{"no plugin: not credentials", get(errors.New("getting credentials: exec: executable kubelogin not found")), false, problemOther},
		{"text says refused, type says nothing", errors.New("connection refused; certificate; no such host"), false, problemOther},
	} {
		if got := reachProblem(tc.err, tc.exec); got != tc.want {
			t.Errorf("%s: %v classified %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestReachErrorSaysWhatToDo(t *testing.T) {
	tg := &Target{Server: "https://192.0.2.1:8443", Context: "lab", Config: &rest.Config{ExecProvider: &clientcmdapi.ExecConfig{Command: "kubelogin"}}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&url.Error{Op: "Get", Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}, "connection refused; is the cluster running"},
		{&url.Error{Op: "Get", Err: &net.OpError{Op: "dial", Err: &net.DNSError{Name: "x", IsNotFound: true}}}, "does not resolve"},
		{&url.Error{Op: "Get", Err: x509.UnknownAuthorityError{}}, "certificate data does not match"},
		{&url.Error{Op: "Get", Err: errors.New("getting credentials: exec: exit status 1")}, "cannot get credentials for the API server"},
	} {
		got := reachError(tc.err, tg)
		if !strings.Contains(got.Error(), tc.want) || !strings.Contains(got.Error(), "kubectl --context lab") && !strings.Contains(tc.want, "resolve") && !strings.Contains(tc.want, "certificate") {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("%v: the cause is not kept for errors.Is", tc.err)
		}
	}
}
