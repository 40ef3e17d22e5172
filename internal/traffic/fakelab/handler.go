package fakelab

import (
	"io"
	"net"
	"net/http"
	"strconv"
)

// IngressHandler serves the lab's ingress over HTTP: what a reader's
// `kubectl port-forward` to the ingress gateway (meshdojo --ingress)
// would reach. port is the gateway port the requests arrive on (9080 in
// the lab). A request that gets no HTTP answer has its connection closed.
func (s *Sim) IngressHandler(port int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		req := Request{Method: r.Method, Host: r.Host, Port: port, Path: r.URL.RequestURI(), Header: r.Header, Body: string(body)}
		write(w, s.Ingress(r.Context(), req))
	})
}

func write(w http.ResponseWriter, resp Response) {
	if resp.Status == 0 {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0) // a reset, as a refusing proxy gives
				}
				c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if resp.Flags != "" && resp.Flags != "-" {
		// Not an Envoy header; it lets a test see why without the logs.
		w.Header().Set("x-fakelab-response-flags", resp.Flags)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.Body)))
	w.WriteHeader(resp.Status)
	w.Write([]byte(resp.Body))
}
