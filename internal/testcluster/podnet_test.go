package testcluster

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"k8s.io/client-go/kubernetes"
)

// remoteHost answers with the host part of the caller's address.
var remoteHost = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	h, _, _ := net.SplitHostPort(r.RemoteAddr)
	fmt.Fprint(w, h)
})

func serve(t *testing.T, p *PodNet) int {
	t.Helper()
	l, _ := p.Listen(t)
	srv := &http.Server{Handler: remoteHost}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestPodNet(t *testing.T) {
	p := SharedPodNet(t)
	if SharedPodNet(t) != p {
		t.Fatal("SharedPodNet made a second namespace")
	}
	if want := fmt.Sprintf("meshdojo-%d", os.Getpid()); p.Name != want {
		t.Errorf("namespace %q, want %q", p.Name, want)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, p.Name)); err != nil {
		t.Errorf("namespace not under %s: %v", netnsDir, err)
	}
	_, sub, _ := net.ParseCIDR(p.HostIP + "/30")
	ip := net.ParseIP(p.IP)
	if _, r, _ := net.ParseCIDR("10.213.0.0/16"); !r.Contains(ip) || !sub.Contains(ip) || p.IP == p.HostIP {
		t.Errorf("addresses %s (namespace) and %s (host) are not one /30 in 10.213.0.0/16", p.IP, p.HostIP)
	}
	// The pod IP is inside the namespace only; the host has its peer.
	addrs, _ := net.InterfaceAddrs()
	host := false
	for _, a := range addrs {
		switch a.(*net.IPNet).IP.String() {
		case p.IP:
			t.Errorf("%s is an address of the host namespace", p.IP)
		case p.HostIP:
			host = true
		}
	}
	if !host {
		t.Errorf("host end %s missing from the host namespace", p.HostIP)
	}

	// Several listeners, reached from the host through the veth.
	for i := 0; i < 5; i++ {
		port := serve(t, p)
		resp, err := http.Get(fmt.Sprintf("http://%s:%d/", p.IP, port))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != p.HostIP {
			t.Errorf("caller seen as %q, want the host end %s", b, p.HostIP)
		}
	}
	// Every thread went back to the process's own namespace.
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	for _, task := range tasks {
		if ns, err := os.Readlink(task); err == nil && ns != self {
			t.Errorf("%s is %s, not the process's %s", task, ns, self)
		}
	}

	// What the namespace is for: the API server proxies to it as to a pod.
	c := Shared(t)
	ns := c.Namespace(t)
	port := serve(t, p)
	err = c.Apply(t.Context(), fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: web, namespace: %s}
spec:
  containers: [{name: web, image: web}]
status: {phase: Running, podIP: %s, podIPs: [{ip: %[2]s}]}
`, ns, p.IP))
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(c.Config)
	b, err := kube.CoreV1().Pods(ns).ProxyGet("http", "web", strconv.Itoa(port), "/", nil).DoRaw(t.Context())
	if err != nil || string(b) != p.HostIP {
		t.Fatalf("through pods/proxy: %q %v, want %s", b, err, p.HostIP)
	}
}

func TestCleanStaleNetns(t *testing.T) {
	ip, err := ipCmd()
	if err != nil {
		t.Fatal(err)
	}
	// A namespace of a dead test process goes, one of a live one stays.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "600")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })
	names := map[string]bool{
		podnetPrefix + strconv.Itoa(dead.Process.Pid): false,
		podnetPrefix + strconv.Itoa(live.Process.Pid): true,
	}
	for name := range names {
		if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() { exec.Command(ip, "netns", "del", name).Run() })
	}
	cleanStaleNetns(ip)
	for name, stays := range names {
		_, err := os.Stat(filepath.Join(netnsDir, name))
		if (err == nil) != stays {
			t.Errorf("namespace %s: exists %v, want %v", name, err == nil, stays)
		}
	}
}
