// Package testcluster runs a real etcd and kube-apiserver for integration
// tests, with the Istio and Gateway API CRDs installed.
//
// There is no kubelet, scheduler or controller manager: objects are stored
// and validated exactly as in a real cluster, but nothing acts on them. Tests
// that need a Ready pod or an Available deployment write the status
// themselves with Apply (a document's `status:` is written through the status
// subresource).
//
// The binaries are built once per machine by `make testbins` (.ci/testbins.sh)
// and found through $MESHDOJO_TESTBINS or that script. A missing binary is an
// error, never a skip, so CI cannot pass without running these tests.
//
// The API server will not proxy to loopback, so a test that serves a fake
// pod (Prometheus, Envoy) behind pods/proxy or services/proxy listens in
// SharedPodNet's network namespace and uses its address as the pod IP.
//
// Typical use, one cluster per test package:
//
//	func TestMain(m *testing.M) { testcluster.Main(m) }
//
//	func TestX(t *testing.T) {
//		c := testcluster.Shared(t)
//		ns := c.Namespace(t)
//		...
//	}
package testcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Cluster is a running etcd + kube-apiserver pair.
type Cluster struct {
	// Config connects as an administrator (group system:masters), which
	// bypasses RBAC. Use Impersonate or ServiceAccount to act as a less
	// privileged user. It is shared: copy it (rest.CopyConfig) before
	// changing anything.
	Config *rest.Config

	dir  string // temporary directory for data, keys and logs
	bins string
	pki  *pki

	etcdURL string
	port    int // API server's secure port, kept across StopAPIServer/StartAPIServer

	mu   sync.Mutex // guards etcd and api
	etcd *proc
	api  *proc

	dyn    dynamic.Interface
	disc   discovery.CachedDiscoveryInterface
	mapper *restmapper.DeferredDiscoveryRESTMapper

	nsMu  sync.Mutex
	nsSeq int
	known map[string]bool // namespaces known to exist
}

// Start launches etcd and kube-apiserver on free loopback ports, waits
// until the API server is ready and installs the Istio and Gateway API
// CRDs. Call Stop when done.
func Start() (*Cluster, error) {
	bins, err := binDir()
	if err != nil {
		return nil, err
	}
	cleanStale()
	dir, err := os.MkdirTemp("", fmt.Sprintf("meshdojo-testcluster-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bins: bins, known: map[string]bool{}}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	if c.pki, err = writePKI(dir); err != nil {
		return nil, fmt.Errorf("testcluster: writing keys: %w", err)
	}
	if err := c.startEtcd(); err != nil {
		return nil, err
	}
	if err := c.startAPI(true); err != nil {
		return nil, err
	}
	if err := c.initClients(); err != nil {
		return nil, err
	}
	// Install the CRDs while the API server is still creating its
	// bootstrap RBAC roles (about a second); the admin is in
	// system:masters, which needs no roles.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	crdErr := make(chan error, 1)
	go func() { crdErr <- c.installCRDs(ctx) }()
	readyErr := c.waitReady(c.api, "")
	if err := <-crdErr; err != nil {
		return nil, err
	}
	if readyErr != nil {
		return nil, fmt.Errorf("testcluster: kube-apiserver did not become ready: %w", readyErr)
	}
	ok = true
	return c, nil
}

// Stop kills both processes and removes the temporary directory. It is
// safe to call more than once.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Everything is thrown away, so there is no point in a graceful
	// shutdown (which takes the API server about a second).
	if c.api != nil {
		c.api.kill()
		c.api = nil
	}
	if c.etcd != nil {
		c.etcd.kill()
		c.etcd = nil
	}
	if c.dir != "" {
		os.RemoveAll(c.dir)
		c.dir = ""
	}
}

// StopAPIServer stops kube-apiserver but keeps etcd, so that clients see the
// cluster go away. StartAPIServer brings it back on the same address with
// the same data.
func (c *Cluster) StopAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api == nil {
		return errors.New("testcluster: API server is not running")
	}
	c.api.stop()
	c.api = nil
	return nil
}

// StartAPIServer restarts an API server stopped by StopAPIServer on the same
// port and waits until it is ready.
func (c *Cluster) StartAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api != nil {
		return errors.New("testcluster: API server is already running")
	}
	if c.etcd == nil {
		return errors.New("testcluster: cluster was stopped")
	}
	return c.startAPILocked(false)
}

// Impersonate returns a copy of the admin config that acts as user (and
// groups). Requests are authorized by RBAC as that user, so tests see the
// real Forbidden errors. The API server adds system:authenticated itself.
func (c *Cluster) Impersonate(user string, groups ...string) *rest.Config {
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return cfg
}

// ServiceAccount returns a config that authenticates with a real token of
// the ServiceAccount namespace/name (from the TokenRequest API), creating
// the namespace and account if needed. Unlike Impersonate, this goes
// through service-account authentication as in-cluster clients do.
func (c *Cluster) ServiceAccount(ctx context.Context, namespace, name string) (*rest.Config, error) {
	err := c.Apply(ctx, fmt.Sprintf("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: %q, namespace: %q}\n", name, namespace))
	if err != nil {
		return nil, err
	}
	req := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authentication.k8s.io/v1",
		"kind":       "TokenRequest",
		"metadata":   map[string]any{"name": name}, // the dynamic client posts to .../serviceaccounts/<name>/token
		"spec":       map[string]any{"expirationSeconds": int64(24 * 3600)},
	}}
	sa := schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	res, err := c.dyn.Resource(sa).Namespace(namespace).Create(ctx, req, metav1.CreateOptions{}, "token")
	if err != nil {
		return nil, fmt.Errorf("testcluster: token for service account %s/%s: %w", namespace, name, err)
	}
	tok, _, _ := unstructured.NestedString(res.Object, "status", "token")
	if tok == "" {
		return nil, fmt.Errorf("testcluster: token for service account %s/%s is empty", namespace, name)
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.BearerToken = tok
	return cfg, nil
}

// Dir is the cluster's temporary directory. The logs etcd.log and
// kube-apiserver.log are there; tests may put their own files in it.
func (c *Cluster) Dir() string { return c.dir }

// binDir finds the directory with kube-apiserver and etcd.
func binDir() (string, error) {
	const hint = "run `make testbins` (or .ci/testbins.sh) to build it once per machine"
	dir := os.Getenv("MESHDOJO_TESTBINS")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", fmt.Errorf("testcluster: kube-apiserver not found: $MESHDOJO_TESTBINS is unset and %v; %s", err, hint)
		}
		out, err := exec.Command("bash", filepath.Join(root, ".ci", "testbins.sh"), "--dir").Output()
		if err != nil {
			return "", fmt.Errorf("testcluster: kube-apiserver not found: .ci/testbins.sh --dir: %v %s; %s", err, stderr(err), hint)
		}
		dir = strings.TrimSpace(string(out))
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		p := filepath.Join(dir, b)
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("testcluster: %s not found at %s: %s", b, p, hint)
		}
	}
	return dir, nil
}

// repoRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = up
	}
}

// cleanStale removes temporary directories left by test processes that
// were killed before they could clean up (a timeout, a panic in TestMain).
func cleanStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "meshdojo-testcluster-*"))
	for _, d := range dirs {
		f := strings.Split(filepath.Base(d), "-")
		if len(f) < 3 {
			continue
		}
		pid, err := strconv.Atoi(f[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) startEtcd() error {
	var err error
	// Another process may grab a free port before etcd binds it; retry
	// with new ports rather than fail the whole package.
	for try := 0; try < 3; try++ {
		var cp, pp int
		if cp, err = freePort(); err != nil {
			return err
		}
		if pp, err = freePort(); err != nil {
			return err
		}
		c.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", cp)
		peer := fmt.Sprintf("http://127.0.0.1:%d", pp)
		args := []string{
			"--name=testcluster",
			"--data-dir=" + filepath.Join(c.dir, "etcd"),
			"--listen-client-urls=" + c.etcdURL,
			"--advertise-client-urls=" + c.etcdURL,
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=testcluster=" + peer,
			// Test data is thrown away: skip fsync, the slowest part of etcd.
			"--unsafe-no-fsync",
			"--quota-backend-bytes=268435456",
			"--log-level=warn", "--heartbeat-interval=10", "--election-timeout=100",
		}
		var p *proc
		p, err = spawn(filepath.Join(c.bins, "etcd"), args, filepath.Join(c.dir, "etcd.log"))
		if err != nil {
			return fmt.Errorf("testcluster: starting etcd: %w", err)
		}
		c.etcd = p
		err = p.waitHTTP(30*time.Second, http.DefaultClient, c.etcdURL+"/health", nil)
		if err == nil {
			return nil
		}
		p.stop()
		c.etcd = nil
		if !strings.Contains(p.tail(), "address already in use") {
			break
		}
	}
	return fmt.Errorf("testcluster: etcd did not become healthy: %w", err)
}

func (c *Cluster) startAPI(first bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.startAPILocked(first)
}

func (c *Cluster) startAPILocked(first bool) error {
	var err error
	tries := 1
	if first {
		tries = 3
	}
	for try := 0; try < tries; try++ {
		if first {
			if c.port, err = freePort(); err != nil {
				return err
			}
		}
		args := []string{
			"--etcd-servers=" + c.etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(c.port),
			"--tls-cert-file=" + c.pki.certFile,
			"--tls-private-key-file=" + c.pki.keyFile,
			"--cert-dir=" + filepath.Join(c.dir, "certs"),
			"--token-auth-file=" + c.pki.tokenFile,
			"--authorization-mode=RBAC",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + c.pki.saKeyFile,
			"--service-account-signing-key-file=" + c.pki.saKeyFile,
			"--service-cluster-ip-range=10.96.0.0/16",
			// The ServiceAccount plugin rejects pods until a token
			// controller has created the namespace's default account; no
			// controller runs here.
			"--disable-admission-plugins=ServiceAccount",
			// Keep start-up and idle CPU low: no profiling endpoints, no
			// compaction loop, no endpoint reconciler.
			"--profiling=false",
			"--etcd-compaction-interval=0",
			"--endpoint-reconciler-type=none",
			"--v=0",
		}
		var p *proc
		p, err = spawn(filepath.Join(c.bins, "kube-apiserver"), args, filepath.Join(c.dir, "kube-apiserver.log"))
		if err != nil {
			return fmt.Errorf("testcluster: starting kube-apiserver: %w", err)
		}
		c.api = p
		if c.Config == nil {
			c.Config = &rest.Config{
				Host:            fmt.Sprintf("https://127.0.0.1:%d", c.port),
				BearerToken:     c.pki.adminToken,
				TLSClientConfig: rest.TLSClientConfig{CAData: c.pki.caPEM},
				// Tests create objects in bursts; the default client-side
				// limit (5 qps) would only slow them down.
				QPS:   1000,
				Burst: 2000,
			}
		}
		q := ""
		if first {
			q = early
		}
		err = c.waitReady(p, q)
		if err == nil {
			return nil
		}
		p.stop()
		c.api = nil
		if !strings.Contains(p.tail(), "address already in use") {
			break
		}
		c.Config = nil
	}
	return fmt.Errorf("testcluster: kube-apiserver did not become ready: %w", err)
}

// early is the readiness query that lets Start go on before the API
// server has finished creating its bootstrap roles and priority classes.
const early = "?exclude=poststarthook/rbac/bootstrap-roles&exclude=poststarthook/scheduling/bootstrap-system-priority-classes"

// waitReady polls the API server's /readyz (with query q) until it
// answers 200.
func (c *Cluster) waitReady(p *proc, q string) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.pki.caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	hdr := http.Header{"Authorization": {"Bearer " + c.pki.adminToken}}
	return p.waitHTTP(90*time.Second, hc, c.Config.Host+"/readyz"+q, hdr)
}

func (c *Cluster) initClients() error {
	// The harness's own requests touch deprecated APIs (deleting a
	// namespace's Endpoints, say); their warnings would only be noise.
	cfg := rest.CopyConfig(c.Config)
	cfg.WarningHandler = rest.NoWarnings{}
	var err error
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	c.disc = memory.NewMemCacheClient(dc)
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(c.disc)
	return nil
}

// proc is a child process with its output in a log file.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// spawnReq asks the spawner goroutine to start a process.
type spawnReq struct {
	cmd *exec.Cmd
	res chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)

// spawn starts a process that the kernel kills when the test process dies
// (Pdeathsig), so a test that times out or panics leaves no stray etcd or
// API server behind. Pdeathsig fires when the *thread* that forked exits,
// so all processes are started from one goroutine locked to a thread that
// never exits.
func spawn(path string, args []string, logFile string) (*proc, error) {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			// Never unlocked: the thread must outlive the children.
			runtime.LockOSThread()
			for r := range spawnCh {
				r.res <- r.cmd.Start()
			}
		}()
	})
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fmt.Fprintf(f, "==== %s %s\n", time.Now().Format(time.RFC3339), strings.Join(append([]string{path}, args...), " "))
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	res := make(chan error)
	spawnCh <- spawnReq{cmd, res}
	if err := <-res; err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitHTTP polls url until it answers 200, the process exits or the
// timeout passes.
func (p *proc) waitHTTP(timeout time.Duration, hc *http.Client, url string, hdr http.Header) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v); last log lines:\n%s", filepath.Base(p.cmd.Path), p.err, p.tail())
		default:
		}
		req, _ := http.NewRequest("GET", url, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := hc.Do(req.WithContext(ctx))
		if err == nil {
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, b.String())
		} else {
			last = err.Error()
		}
		cancel()
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %v (%s); last log lines:\n%s", url, timeout, last, p.tail())
}

// stop terminates the process: SIGTERM first so that it shuts down the
// way a real server does (clients see their connections closed cleanly),
// SIGKILL if it takes longer than a few seconds.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.kill()
	}
}

// kill ends the process at once, for when its data is thrown away anyway.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// tail returns the last lines of the process log, for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return strings.Join(lines, "\n")
}
