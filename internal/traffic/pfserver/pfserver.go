// Package pfserver is a small stand-in for the API server and kubelet
// side of `kubectl port-forward`: it accepts the port-forward upgrade at
// /api/v1/namespaces/{ns}/pods/{pod}/portforward, over SPDY or over the
// WebSocket tunnel newer clients try first, and pipes each forwarded
// connection to an address the test chooses. Anything else can be passed
// to a fallback handler, for example a proxy to a real API server.
//
// It exists so that client-go's real port-forward code is exercised in
// tests and benchmarks without a kubelet.
package pfserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/portforward"
	streamhttp "k8s.io/streaming/pkg/httpstream"
	streamspdy "k8s.io/streaming/pkg/httpstream/spdy"
)

const protocolV1 = "portforward.k8s.io"

var path = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/]+)/portforward$`)

// Server answers port-forward requests.
type Server struct {
	// Dial connects to port of pod ns/name; an error is reported to the
	// client on the stream's error channel, as the kubelet does when
	// nothing listens on the port.
	Dial func(ns, pod string, port int) (net.Conn, error)
	// Fallback serves every other request; nil answers 404.
	Fallback http.Handler
	// NoWebsocket refuses the WebSocket tunnel, so clients fall back to
	// SPDY as they do against API servers older than 1.30.
	NoWebsocket bool

	// Sessions counts upgraded connections, by protocol.
	Sessions struct{ SPDY, Websocket atomic.Int64 }
	// Streams counts forwarded connections.
	Streams atomic.Int64
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := path.FindStringSubmatch(r.URL.Path)
	if m == nil {
		if s.Fallback != nil {
			s.Fallback.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	ns, pod := m[1], m[2]
	if gwebsocket.IsWebSocketUpgrade(r) {
		if s.NoWebsocket {
			http.Error(w, "websocket port-forward not supported", http.StatusBadRequest)
			return
		}
		s.websocket(w, r, ns, pod)
		return
	}
	if _, err := streamhttp.Handshake(r, w, []string{protocolV1}); err != nil {
		return // Handshake wrote the error
	}
	h := s.newHandler(ns, pod)
	conn := streamspdy.NewResponseUpgrader().UpgradeResponse(w, r, h.newStream)
	if conn == nil {
		return
	}
	s.Sessions.SPDY.Add(1)
	conn.SetIdleTimeout(10 * time.Minute)
	<-conn.CloseChan()
}

// websocket accepts the tunnel: SPDY framed inside WebSocket messages.
func (s *Server) websocket(w http.ResponseWriter, r *http.Request, ns, pod string) {
	up := gwebsocket.Upgrader{
		CheckOrigin:  func(*http.Request) bool { return true },
		Subprotocols: []string{"SPDY/3.1+" + protocolV1},
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	tunnel := portforward.NewTunnelingConnection("server", ws)
	h := s.newHandler(ns, pod)
	conn, err := streamspdy.NewServerConnection(tunnel, h.newStream)
	if err != nil {
		tunnel.Close()
		return
	}
	s.Sessions.Websocket.Add(1)
	<-conn.CloseChan()
}

// handler pairs each connection's error and data streams by request ID.
type handler struct {
	s       *Server
	ns, pod string
	mu      sync.Mutex
	pending map[string]*pair
}

type pair struct {
	errStream, data streamhttp.Stream
}

func (s *Server) newHandler(ns, pod string) *handler {
	return &handler{s: s, ns: ns, pod: pod, pending: map[string]*pair{}}
}

func (h *handler) newStream(st streamhttp.Stream, replySent <-chan struct{}) error {
	hdr := st.Headers()
	id := hdr.Get(corev1.PortForwardRequestIDHeader)
	port, err := strconv.Atoi(hdr.Get(corev1.PortHeader))
	if err != nil {
		return fmt.Errorf("bad port header %q", hdr.Get(corev1.PortHeader))
	}
	h.mu.Lock()
	p := h.pending[id]
	if p == nil {
		p = &pair{}
		h.pending[id] = p
	}
	switch hdr.Get(corev1.StreamType) {
	case corev1.StreamTypeError:
		p.errStream = st
	case corev1.StreamTypeData:
		p.data = st
	default:
		h.mu.Unlock()
		return fmt.Errorf("unknown stream type %q", hdr.Get(corev1.StreamType))
	}
	complete := p.errStream != nil && p.data != nil
	if complete {
		delete(h.pending, id)
	}
	h.mu.Unlock()
	if complete {
		go func() {
			<-replySent
			h.forward(p, port)
		}()
	}
	return nil
}

// forward copies between the data stream and the target, reporting a
// dial failure on the error stream the way the kubelet does.
func (h *handler) forward(p *pair, port int) {
	defer p.errStream.Close()
	defer p.data.Close()
	h.s.Streams.Add(1)
	target, err := h.s.Dial(h.ns, h.pod, port)
	if err != nil {
		fmt.Fprintf(p.errStream, "error forwarding port %d to pod %s, uid : %v", port, h.pod, err)
		return
	}
	defer target.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(p.data, target)
		close(done)
	}()
	io.Copy(target, p.data)
	if cw, ok := target.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	<-done
}

// To returns a Dial function that connects every forward to addr.
func To(addr string) func(string, string, int) (net.Conn, error) {
	return func(string, string, int) (net.Conn, error) { return net.Dial("tcp", addr) }
}
