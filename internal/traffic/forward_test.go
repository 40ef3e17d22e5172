package traffic

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
	"github.com/meshdojo/meshdojo/internal/traffic/pfserver"
)

// forwardLab starts a fake lab behind a local port-forward server and
// returns the server and a rest.Config pointing at it.
func forwardLab(t testing.TB, cfg fakelab.Config, noWebsocket bool) (*pfserver.Server, *rest.Config) {
	lab := httptest.NewServer(fakelab.New(cfg))
	t.Cleanup(lab.Close)
	pf := &pfserver.Server{Dial: pfserver.To(lab.Listener.Addr().String()), NoWebsocket: noWebsocket}
	api := httptest.NewServer(pf)
	t.Cleanup(api.Close)
	return pf, &rest.Config{Host: api.URL}
}

func TestPortForwardEndToEnd(t *testing.T) {
	for _, mode := range []struct {
		name        string
		noWebsocket bool
	}{{"websocket tunnel", false}, {"spdy fallback", true}} {
		t.Run(mode.name, func(t *testing.T) {
			pf, cfg := forwardLab(t, fakelab.Config{Seed: 1, Weights: map[string]int{"v1": 80, "v2": 20}}, mode.noWebsocket)
			fwd, err := PortForward(context.Background(), cfg, "istio-ingress", "istio-ingressgateway-abc-xyz", 9080, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer fwd.Close()
			rep, err := Run(context.Background(), nil, Plan{URL: fwd.URL() + "/api/v1/products/0/reviews", Count: 100, Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			if fs := Judge(rep, Expect{Status: []string{"200"}, Versions: map[string]int{"v1": 80, "v2": 20}}); !verdict(fs) {
				t.Fatalf("probe through the forward failed:%s", describe(fs))
			}
			ws, spdy := pf.Sessions.Websocket.Load(), pf.Sessions.SPDY.Load()
			if mode.noWebsocket && (spdy != 1 || ws != 0) || !mode.noWebsocket && (ws != 1 || spdy != 0) {
				t.Fatalf("sessions: websocket %d, spdy %d", ws, spdy)
			}
			if pf.Streams.Load() == 0 {
				t.Fatal("no forwarded connections")
			}
		})
	}
}

func TestPortForwardRefusedByPod(t *testing.T) {
	pf := &pfserver.Server{Dial: func(string, string, int) (net.Conn, error) {
		return nil, errors.New("dial tcp4 127.0.0.1:9080: connect: connection refused")
	}}
	api := httptest.NewServer(pf)
	defer api.Close()
	fwd, err := PortForward(context.Background(), &rest.Config{Host: api.URL}, "istio-ingress", "gw", 9080, 0)
	if err != nil {
		t.Fatal(err) // the session itself is accepted; the pod refuses later
	}
	defer fwd.Close()
	rep, err := Run(context.Background(), nil, Plan{URL: fwd.URL() + "/productpage", Count: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Samples[0]; s.Status != 0 {
		t.Fatalf("want a transport failure, got %+v", s)
	}
	// The pod's complaint is kept for the reader.
	deadline := time.Now().Add(5 * time.Second)
	for fwd.Problem() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p := fwd.Problem(); !strings.Contains(p, "connection refused") {
		t.Fatalf("problem = %q", p)
	}
}

func TestPortForwardNoServer(t *testing.T) {
	srv := httptest.NewServer(nil)
	addr := srv.URL
	srv.Close()
	_, err := PortForward(context.Background(), &rest.Config{Host: addr}, "ns", "pod", 9080, 2*time.Second)
	if !errors.Is(err, ErrForwardRefused) {
		t.Fatalf("want ErrForwardRefused, got %v", err)
	}
	// An API server that answers but will not upgrade (404 here).
	api := httptest.NewServer(&pfserver.Server{Dial: pfserver.To("127.0.0.1:1")})
	defer api.Close()
	_, err = PortForward(context.Background(), &rest.Config{Host: api.URL + "/nowhere"}, "ns", "pod", 9080, 2*time.Second)
	if !errors.Is(err, ErrForwardRefused) {
		t.Fatalf("want ErrForwardRefused, got %v", err)
	}
}

// BenchmarkProbeThroughPortForward measures how many requests per second
// a probe drives through client-go's port-forward (WebSocket tunnel,
// then SPDY) to a local server, with 1 and 8 requests in flight.
func BenchmarkProbeThroughPortForward(b *testing.B) {
	for _, mode := range []struct {
		name        string
		noWebsocket bool
	}{{"websocket", false}, {"spdy", true}} {
		for _, conc := range []int{1, 8, -1} {
			name := mode.name + "/concurrency=" + strconv.Itoa(conc)
			fresh := conc < 0
			if fresh {
				// Every request on a new connection: a new pair of
				// streams through the forward each time.
				conc, name = 8, mode.name+"/concurrency=8/new-connection-each"
			}
			b.Run(name, func(b *testing.B) {
				_, cfg := forwardLab(b, fakelab.Config{Seed: 1}, mode.noWebsocket)
				fwd, err := PortForward(context.Background(), cfg, "ns", "pod", 9080, 0)
				if err != nil {
					b.Fatal(err)
				}
				defer fwd.Close()
				client := NewClient(conc)
				if fresh {
					client.Transport.(*http.Transport).DisableKeepAlives = true
				}
				b.ResetTimer()
				start := time.Now()
				// A probe's budget is at most MaxCount, so send b.N in
				// several probes, as a reader re-running a check would.
				for done := 0; done < b.N; {
					n := min(MaxCount, b.N-done)
					rep, err := Run(context.Background(), client, Plan{URL: fwd.URL() + "/api/v1/products/0/reviews", Count: n, Concurrency: conc})
					if err != nil {
						b.Fatal(err)
					}
					if t := rep.Tally(); t.Outcomes["200"] != n {
						b.Fatalf("outcomes %v", t.Outcomes)
					}
					done += n
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			})
		}
	}
}
