package testcluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kubelet is a stand-in for one node's kubelet that serves container
// logs, so that pods/log works on the test API server.
//
// Why it exists: the API server does not store logs; for
// GET pods/<pod>/log it looks up the pod's node, takes the node's address
// and kubelet port from the Node's status, and fetches
// https://<address>:<port>/containerLogs/<namespace>/<pod>/<container>
// from that node's kubelet, passing tailLines, sinceSeconds and
// timestamps on. This one listens in the pod network (see PodNet: the
// API server reaches it through the veth, nothing leaves the machine)
// with a self-signed certificate, which the API server accepts because
// the harness gives it no --kubelet-certificate-authority, as many
// clusters do not. Checks that read proxies' access logs are tested
// against it.
type Kubelet struct {
	// Node is the name of the Node object that points at this kubelet;
	// pods whose logs it serves need spec.nodeName set to it.
	Node string
	// Source, if set, is asked for a container's log that SetLog has not
	// set: a simulated node's live logs (fakelab.Node.Log). ok false
	// means the container is not known. Set it before pods are read.
	Source func(namespace, pod, container string) (lines []LogLine, ok bool)

	mu   sync.Mutex
	logs map[string][]LogLine // namespace/pod/container
}

// LogLine is one line a container wrote, and when.
type LogLine struct {
	At   time.Time
	Text string
}

// LogsFrom makes a Source of a log whose lines have LogLine's fields
// under a type of their own (fakelab.Node.Log's), so that this package
// does not depend on the simulator.
func LogsFrom[L ~struct {
	At   time.Time
	Text string
}](log func(namespace, pod, container string) ([]L, bool)) func(namespace, pod, container string) ([]LogLine, bool) {
	return func(namespace, pod, container string) ([]LogLine, bool) {
		lines, ok := log(namespace, pod, container)
		out := make([]LogLine, len(lines))
		for i, l := range lines {
			out[i] = LogLine(l)
		}
		return out, ok
	}
}

// Kubelet starts a fake kubelet in the pod network and creates (or
// updates) the Node named node that leads the API server to it. Both
// live until the test ends.
func (c *Cluster) Kubelet(t testing.TB, p *PodNet, node string) *Kubelet {
	t.Helper()
	k := &Kubelet{Node: node, logs: map[string][]LogLine{}}
	cert, err := selfSigned(p.IP)
	if err != nil {
		t.Fatalf("testcluster: kubelet certificate: %v", err)
	}
	l, _ := p.Listen(t)
	srv := &http.Server{Handler: k, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go srv.Serve(tls.NewListener(l, srv.TLSConfig))
	t.Cleanup(func() { srv.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodeYAML := fmt.Sprintf(`apiVersion: v1
kind: Node
metadata:
  name: %s
status:
  addresses:
  - type: InternalIP
    address: %s
  daemonEndpoints:
    kubeletEndpoint:
      Port: %d
`, node, p.IP, port)
	if err := c.Apply(ctx, nodeYAML); err != nil {
		t.Fatalf("testcluster: node for the fake kubelet: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.Delete(ctx, nodeYAML)
	})
	return k
}

// SetLog replaces what a container has written so far.
func (k *Kubelet) SetLog(namespace, pod, container string, lines ...LogLine) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.logs[namespace+"/"+pod+"/"+container] = append([]LogLine(nil), lines...)
}

// ServeHTTP answers /containerLogs/<namespace>/<pod>/<container> as the
// kubelet does, honouring tailLines, sinceSeconds, sinceTime and
// timestamps; other paths are 404.
func (k *Kubelet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/containerLogs/") || len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	k.mu.Lock()
	lines, ok := k.logs[strings.Join(parts, "/")]
	k.mu.Unlock()
	if !ok && k.Source != nil {
		lines, ok = k.Source(parts[0], parts[1], parts[2])
	}
	if !ok {
		http.Error(w, fmt.Sprintf("container %q in pod %s/%s is not known to this kubelet", parts[2], parts[0], parts[1]), http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	if s := q.Get("sinceSeconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			http.Error(w, "bad sinceSeconds", http.StatusBadRequest)
			return
		}
		lines = since(lines, time.Now().Add(-time.Duration(n)*time.Second))
	}
	if s := q.Get("sinceTime"); s != "" {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			http.Error(w, "bad sinceTime", http.StatusBadRequest)
			return
		}
		lines = since(lines, at)
	}
	if s := q.Get("tailLines"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			http.Error(w, "bad tailLines", http.StatusBadRequest)
			return
		}
		if n >= 0 && n < len(lines) {
			lines = lines[len(lines)-n:]
		}
	}
	stamps := q.Get("timestamps") == "true"
	w.Header().Set("Content-Type", "text/plain")
	for _, l := range lines {
		if stamps {
			fmt.Fprintf(w, "%s %s\n", l.At.UTC().Format(time.RFC3339Nano), l.Text)
		} else {
			fmt.Fprintln(w, l.Text)
		}
	}
}

func since(lines []LogLine, at time.Time) []LogLine {
	var out []LogLine
	for _, l := range lines {
		if !l.At.Before(at) {
			out = append(out, l)
		}
	}
	return out
}
