package testcluster

import (
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
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// PodNet is a small stand-in for a cluster's pod network: a network
// namespace joined to this machine by a veth pair, with one address inside
// it that tests use as a pod IP.
//
// Why it exists: the API server's pods/proxy and services/proxy (which
// meshdojo uses to query Prometheus and read Envoy stats) refuse to dial
// loopback and link-local addresses, so a fake Prometheus or Envoy on
// 127.0.0.1 cannot stand behind a Pod or Service. Listening on the
// machine's own network interface would work but sends test traffic to an
// address outside the sandbox's test hosts. A namespace made by the test
// process itself is a proper test host: the API server (in the host
// namespace) reaches it through the veth, and nothing leaves the machine.
//
// It needs root and iproute2's `ip` (CI runs as root; .ci/run installs ip).
// There is one per test process, created on first use by SharedPodNet and
// removed by Main when the tests end. Namespaces left by processes that
// died before Main could remove them are removed by the next run.
type PodNet struct {
	// Name is the network namespace, meshdojo-<pid>, under /run/netns.
	Name string
	// IP is the address inside the namespace: use it as a pod IP.
	IP string
	// HostIP is the host end of the veth; connections from the API
	// server to IP come from it.
	HostIP string

	hostIf string // host end of the veth pair

	mu    sync.Mutex
	extra []string // addresses AddIP gave out, free ones included
	free  []string
}

// inMain is set by Main: only then is the namespace removed at the end.
var inMain atomic.Bool

var podnet struct {
	once sync.Once
	p    *PodNet
	err  error
}

// podnetHint says what a machine needs for SharedPodNet.
const podnetHint = "the pod network test host needs root and iproute2 (apt-get install iproute2)"

// SharedPodNet returns the test process's pod network, creating it on
// first use. If it cannot be made (not root, no `ip` command) the test
// fails with the reason; it never skips, so CI cannot pass without it.
// The package's TestMain must call Main, which removes the namespace.
func SharedPodNet(t testing.TB) *PodNet {
	t.Helper()
	if !inMain.Load() {
		t.Fatal("testcluster: SharedPodNet needs `func TestMain(m *testing.M) { testcluster.Main(m) }` in the test package, so that the network namespace is removed when the tests end")
	}
	podnet.once.Do(func() { podnet.p, podnet.err = newPodNet() })
	if podnet.err != nil {
		t.Fatal(podnet.err)
	}
	return podnet.p
}

// stopPodNet removes the process's pod network, if it made one.
func stopPodNet() {
	if podnet.p != nil {
		podnet.p.remove()
	}
}

// Listen opens a TCP listener on a free port of p.IP inside the namespace.
// The socket belongs to the namespace for its whole life, so only
// connections through the veth (the API server's proxy, say) reach it.
// It is closed when the test ends; closing it earlier is fine.
func (p *PodNet) Listen(t testing.TB) (net.Listener, string) {
	t.Helper()
	l, err := p.listen("tcp", net.JoinHostPort(p.IP, "0"))
	if err != nil {
		t.Fatalf("testcluster: listening in network namespace %s: %v", p.Name, err)
	}
	t.Cleanup(func() { l.Close() })
	return l, p.IP
}

// Serve serves h on a listener from Listen until the test ends and
// returns its port: a fake Prometheus or Envoy at what stands in for a
// pod IP.
func (p *PodNet) Serve(t testing.TB, h http.Handler) int {
	t.Helper()
	l, _ := p.Listen(t)
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// AddIP returns another address inside the namespace, for a test that
// needs several pod IPs (the API server's pod proxy knows a pod only by
// its IP). The addresses are 10.214-10.240.X.Y, where 10.213.X.Y-2 is the
// namespace's own /30, so they are this process's as much as that is; the
// host reaches them through the veth. Addresses given back with ReleaseIP
// are handed out again first.
func (p *PodNet) AddIP() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		ip := p.free[n-1]
		p.free = p.free[:n-1]
		return ip, nil
	}
	base := net.ParseIP(p.IP).To4()
	second := 214 + len(p.extra)
	if second > 240 {
		return "", fmt.Errorf("testcluster: pod network %s: no more than %d extra addresses", p.Name, len(p.extra))
	}
	ip := net.IPv4(10, byte(second), base[2], base[3]).String()
	ipc, err := ipCmd()
	if err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"-n", p.Name, "addr", "add", ip + "/32", "dev", "eth0"},
		{"route", "replace", ip + "/32", "dev", p.hostIf},
	} {
		if out, err := exec.Command(ipc, args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("testcluster: pod network: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	p.extra = append(p.extra, ip)
	return ip, nil
}

// ReleaseIP gives an address from AddIP back; close its listeners first.
func (p *PodNet) ReleaseIP(ip string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, ip)
}

// ListenAt opens a TCP listener on ip:port inside the namespace (ip is
// p.IP or one from AddIP). The caller closes it.
func (p *PodNet) ListenAt(ip string, port int) (net.Listener, error) {
	return p.listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
}

// listen runs net.Listen with its thread switched into the namespace. A
// socket belongs to the namespace of the thread that created it, and
// setns changes only the calling thread, so the switch happens on a
// goroutine of its own, locked to its thread. If switching back fails the
// goroutine ends still locked, and the runtime then kills the thread
// instead of reusing it for other goroutines.
func (p *PodNet) listen(network, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		l, back, err := p.listenLocked(network, addr)
		if back {
			runtime.UnlockOSThread()
		}
		res <- result{l, err}
	}()
	r := <-res
	return r.l, r.err
}

// listenLocked does the work of listen on a locked thread. back reports
// whether the thread is in its original namespace when it returns.
func (p *PodNet) listenLocked(network, addr string) (l net.Listener, back bool, err error) {
	self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	orig, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, fmt.Errorf("opening %s: %w", self, err)
	}
	defer unix.Close(orig)
	path := filepath.Join(netnsDir, p.Name)
	ns, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, fmt.Errorf("opening %s: %w", path, err)
	}
	defer unix.Close(ns)
	if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("entering %s: %w", path, err)
	}
	l, err = net.Listen(network, addr)
	if serr := unix.Setns(orig, unix.CLONE_NEWNET); serr != nil {
		// Fail rather than hand out a listener from a thread in an
		// unknown state; the thread itself is dropped (see listen).
		if l != nil {
			l.Close()
		}
		return nil, false, fmt.Errorf("returning to this process's network namespace: %w", serr)
	}
	return l, true, err
}

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/run/netns"

// podnetPrefix names the namespaces, meshdojo-<pid>; cleanStaleNetns
// relies on it.
const podnetPrefix = "meshdojo-"

// newPodNet creates the namespace meshdojo-<pid> with a veth pair: the
// host end mdh<pid> at 10.213.X.1/30, the namespace end eth0 at
// 10.213.X.2/30.
func newPodNet() (*PodNet, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("testcluster: %s: this process is not running as root", podnetHint)
	}
	ip, err := ipCmd()
	if err != nil {
		return nil, err
	}
	cleanStaleNetns(ip)
	pid := os.Getpid()
	p := &PodNet{Name: podnetPrefix + strconv.Itoa(pid), hostIf: "mdh" + strconv.Itoa(pid)}
	// A namespace with our pid can only be left by a dead process whose
	// pid was reused: this process has not made one yet.
	p.remove()

	// Two test processes (go test -p 2) may pick addresses at the same
	// time; a lock file makes choose-and-assign one step.
	unlock, err := lockFile(filepath.Join(os.TempDir(), "meshdojo-podnet.lock"))
	if err != nil {
		return nil, fmt.Errorf("testcluster: pod network: %w", err)
	}
	defer unlock()
	host, nsIP, err := freeSubnet(pid)
	if err != nil {
		return nil, err
	}
	p.HostIP, p.IP = host.String(), nsIP.String()
	steps := [][]string{
		{"netns", "add", p.Name},
		{"link", "add", p.hostIf, "type", "veth", "peer", "name", "eth0", "netns", p.Name},
		{"addr", "add", p.HostIP + "/30", "dev", p.hostIf},
		{"link", "set", p.hostIf, "up"},
		{"-n", p.Name, "addr", "add", p.IP + "/30", "dev", "eth0"},
		{"-n", p.Name, "link", "set", "eth0", "up"},
		{"-n", p.Name, "link", "set", "lo", "up"},
	}
	for _, args := range steps {
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			p.remove()
			return nil, fmt.Errorf("testcluster: pod network: ip %s: %v: %s (%s)", strings.Join(args, " "), err, strings.TrimSpace(string(out)), podnetHint)
		}
	}
	return p, nil
}

// remove deletes the veth pair and the namespace, ignoring what is already
// gone. The link goes first: a namespace outlives its name while a socket
// in it is open, and its veth with it.
func (p *PodNet) remove() {
	ip, err := ipCmd()
	if err != nil {
		return
	}
	exec.Command(ip, "link", "del", p.hostIf).Run()
	if _, err := os.Stat(filepath.Join(netnsDir, p.Name)); err == nil {
		exec.Command(ip, "netns", "del", p.Name).Run()
	}
}

// ipCmd finds iproute2's ip, also where a non-login root shell's PATH
// may not look.
func ipCmd() (string, error) {
	if p, err := exec.LookPath("ip"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("testcluster: %s: no `ip` command in $PATH or /usr/sbin", podnetHint)
}

// cleanStaleNetns removes namespaces left by test processes that died
// before Main could remove them (a timeout, a panic), as cleanStale does
// for temporary directories. Deleting a namespace also deletes its veth.
func cleanStaleNetns(ip string) {
	ents, _ := os.ReadDir(netnsDir)
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), podnetPrefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(rest)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			exec.Command(ip, "link", "del", "mdh"+rest).Run()
			exec.Command(ip, "netns", "del", e.Name()).Run()
		}
	}
}

// freeSubnet picks a /30 in 10.213.0.0/16 that overlaps no IPv4 address
// of the host namespace (other test processes' veths included), starting
// at one derived from pid so that concurrent processes rarely collide
// even without the lock. It returns the host and namespace addresses.
func freeSubnet(pid int) (host, ns net.IP, err error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, nil, fmt.Errorf("testcluster: pod network: listing addresses: %w", err)
	}
	var used []*net.IPNet
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			used = append(used, n)
		}
	}
	const n = 1 << 14
	for i := 0; i < n; i++ {
		k := (pid + i) % n
		base := net.IPv4(10, 213, byte(k>>6), byte(k&63)*4).To4()
		sub := &net.IPNet{IP: base, Mask: net.CIDRMask(30, 32)}
		free := true
		for _, u := range used {
			if u.Contains(base) || sub.Contains(u.IP) {
				free = false
				break
			}
		}
		if free {
			return net.IPv4(base[0], base[1], base[2], base[3]+1).To4(), net.IPv4(base[0], base[1], base[2], base[3]+2).To4(), nil
		}
	}
	return nil, nil, errors.New("testcluster: pod network: no free /30 left in 10.213.0.0/16")
}

// lockFile takes an exclusive flock on path and returns its release.
func lockFile(path string) (func(), error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { unix.Close(fd) }, nil
}
