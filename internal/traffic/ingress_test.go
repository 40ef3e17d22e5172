package traffic

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
	"github.com/meshdojo/meshdojo/internal/traffic/pfserver"
)

func clients(t testing.TB, cfg *rest.Config) (kubernetes.Interface, dynamic.Interface) {
	t.Helper()
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k, d
}

func TestFindIngressIstioGateway(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	c.ApplyT(t, fakelab.Ingress(ns, 9080, "", "Running"))
	kube, dyn := clients(t, c.Config)
	in, err := FindIngress(t.Context(), kube, dyn, Want{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Namespace != ns || in.Service != "istio-ingressgateway" || in.Port != 9080 || !strings.Contains(in.Via, "Istio Gateway "+ns+"/productpage-ingress") {
		t.Fatalf("found %+v", in)
	}
	// A port that no gateway serves.
	if _, err := FindIngress(t.Context(), kube, dyn, Want{Port: 8080}); !errors.Is(err, ErrNoIngress) {
		t.Fatalf("want ErrNoIngress for port 8080, got %v", err)
	}
}

func TestFindIngressGatewayAPI(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	c.ApplyT(t, fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: istio-ingress, namespace: %[1]s}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http-productpage, port: 9080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: v1
kind: Service
metadata:
  name: istio-ingress-istio
  namespace: %[1]s
  labels: {gateway.networking.k8s.io/gateway-name: istio-ingress}
spec:
  selector: {gateway.networking.k8s.io/gateway-name: istio-ingress}
  ports: [{name: status-port, port: 15021}, {name: http-productpage, port: 9080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: istio-waypoint-proxy, namespace: %[1]s}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
---
apiVersion: v1
kind: Service
metadata: {name: istio-waypoint-proxy, namespace: %[1]s}
spec:
  selector: {gateway.networking.k8s.io/gateway-name: istio-waypoint-proxy}
  ports: [{name: mesh, port: 15008}]
`, ns))
	kube, dyn := clients(t, c.Config)
	in, err := FindIngress(t.Context(), kube, dyn, Want{Gateway: ns + "/istio-ingress"})
	if err != nil {
		t.Fatal(err)
	}
	if in.Service != "istio-ingress-istio" || in.Port != 9080 || !strings.HasPrefix(in.Via, "Gateway API Gateway") {
		t.Fatalf("found %+v", in)
	}
	// The waypoint is never an ingress.
	if _, err := FindIngress(t.Context(), kube, dyn, Want{Gateway: ns + "/istio-waypoint-proxy"}); !errors.Is(err, ErrNoIngress) {
		t.Fatalf("waypoint taken for an ingress: %v", err)
	}
}

func TestFindIngressExplainsAbsence(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	kube, dyn := clients(t, c.Config)
	_, err := FindIngress(t.Context(), kube, dyn, Want{Gateway: ns + "/productpage-ingress"})
	if !errors.Is(err, ErrNoIngress) {
		t.Fatalf("want ErrNoIngress, got %v", err)
	}
	// A Gateway whose pods have no Service is named in the error.
	c.ApplyT(t, fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: lonely, namespace: %s}
spec:
  selector: {istio: nosuchgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
`, ns))
	_, err = FindIngress(t.Context(), kube, dyn, Want{Gateway: ns + "/lonely"})
	if !errors.Is(err, ErrNoIngress) || !strings.Contains(err.Error(), "istio=nosuchgateway") || !strings.Contains(err.Error(), "no Service selects them") {
		t.Fatalf("error does not explain: %v", err)
	}
	// A named Service that does not exist.
	_, err = FindIngress(t.Context(), kube, dyn, Want{Namespace: ns, Service: "nginx-gateway-nginx"})
	if !errors.Is(err, ErrNoIngress) || !strings.Contains(err.Error(), "no Service nginx-gateway-nginx") {
		t.Fatalf("error does not explain: %v", err)
	}
}

func TestFindIngressNamedService(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	c.ApplyT(t, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: nginx-gateway-nginx, namespace: %s}
spec:
  selector: {app: nginx}
  ports: [{name: metrics, port: 9113}, {name: http-productpage, port: 9080}]
`, ns))
	kube, dyn := clients(t, c.Config)
	in, err := FindIngress(t.Context(), kube, dyn, Want{Namespace: ns, Service: "nginx-gateway-nginx"})
	if err != nil || in.Port != 9080 {
		t.Fatalf("got %+v, %v", in, err)
	}
	if _, err := FindIngress(t.Context(), kube, dyn, Want{Namespace: ns, Service: "nginx-gateway-nginx", Port: 80}); err == nil || !strings.Contains(err.Error(), "9113, 9080") {
		t.Fatalf("want an error listing the ports, got %v", err)
	}
}

// TestReachPortForwardRefused asks the real API server for a port-forward
// to a gateway pod. There is no kubelet, so the API server refuses, and
// the error must say so instead of hanging.
func TestReachPortForwardRefused(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	c.ApplyT(t, fakelab.Ingress(ns, 9080, "", "Running"))
	kube, _ := clients(t, c.Config)
	in := &Ingress{Via: "test", Namespace: ns, Service: "istio-ingressgateway", Port: 9080}
	_, err := Reach(t.Context(), t.Context(), c.Config, kube, in)
	if !errors.Is(err, ErrForwardRefused) {
		t.Fatalf("want ErrForwardRefused, got %v", err)
	}
	t.Log(err)
	// No ready pod at all.
	c.ApplyT(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: istio-ingressgateway-5d9f-abcde
  namespace: %s
  labels: {app: istio-ingressgateway, istio: ingressgateway}
spec:
  nodeName: node-a
  containers: [{name: istio-proxy, image: istio/proxyv2}]
status:
  phase: Pending
`, ns))
	_, err = Reach(t.Context(), t.Context(), c.Config, kube, in)
	if !errors.Is(err, ErrNoGatewayPod) || !strings.Contains(err.Error(), "not ready (1 Pending)") {
		t.Fatalf("want ErrNoGatewayPod explaining, got %v", err)
	}
}

// proxyToCluster is an API server in front of the harness: port-forward
// requests are served locally (to the fake lab), everything else goes to
// the real API server with the admin's credentials. So discovery reads
// real objects and the forward runs client-go's real code.
func proxyToCluster(t *testing.T, c *testcluster.Cluster, lab string) (*pfserver.Server, *rest.Config) {
	t.Helper()
	target, err := url.Parse(c.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rest.TransportFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = rt
	pf := &pfserver.Server{Dial: pfserver.To(lab), Fallback: rp}
	srv := httptest.NewServer(pf)
	t.Cleanup(srv.Close)
	return pf, &rest.Config{Host: srv.URL}
}

func TestReachEndToEnd(t *testing.T) {
	c := testcluster.Shared(t)
	lab := httptest.NewServer(fakelab.New(fakelab.Config{Seed: 3, Weights: map[string]int{"v4": 100}}))
	defer lab.Close()
	_, labPort, _ := net.SplitHostPort(lab.Listener.Addr().String())
	port := atoi(labPort)

	t.Run("port-forward", func(t *testing.T) {
		ns := c.Namespace(t)
		c.ApplyT(t, fakelab.Ingress(ns, 9080, "", "Running"))
		pf, cfg := proxyToCluster(t, c, lab.Listener.Addr().String())
		kube, dyn := clients(t, cfg)
		in, err := FindIngress(t.Context(), kube, dyn, Want{Gateway: ns + "/productpage-ingress"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Reach(t.Context(), t.Context(), cfg, kube, in)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Via != ViaPortForward || !strings.Contains(r.Detail, "istio-ingressgateway-5d9f-abcde") {
			t.Fatalf("reached via %s: %s", r.Via, r.Detail)
		}
		rep, err := Run(t.Context(), nil, Plan{URL: r.URL + "/api/v1/products/0/reviews", Count: 20, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		if fs := Judge(rep, Expect{Status: []string{"200"}, Versions: map[string]int{"v4": 100}}); !verdict(fs) {
			t.Fatalf("probe failed:%s", describe(fs))
		}
		if pf.Streams.Load() == 0 {
			t.Fatal("nothing went through the port-forward")
		}
	})
	t.Run("load balancer", func(t *testing.T) {
		ns := c.Namespace(t)
		c.ApplyT(t, fakelab.Ingress(ns, port, "127.0.0.1", "Running"))
		kube, dyn := clients(t, c.Config)
		in, err := FindIngress(t.Context(), kube, dyn, Want{Gateway: ns + "/productpage-ingress"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Reach(t.Context(), t.Context(), c.Config, kube, in)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Via != ViaLoadBalancer || r.URL != "http://"+lab.Listener.Addr().String() {
			t.Fatalf("reached via %s at %s", r.Via, r.URL)
		}
	})
	t.Run("load balancer that does not answer", func(t *testing.T) {
		ns := c.Namespace(t)
		// Port 9 (discard) on loopback: nothing listens there.
		c.ApplyT(t, fakelab.Ingress(ns, 9, "127.0.0.1", "Running"))
		_, cfg := proxyToCluster(t, c, lab.Listener.Addr().String())
		kube, _ := clients(t, cfg)
		r, err := Reach(t.Context(), t.Context(), cfg, kube, &Ingress{Via: "test", Namespace: ns, Service: "istio-ingressgateway", Port: 9})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Via != ViaPortForward || !strings.Contains(r.Detail, "did not answer") {
			t.Fatalf("reached via %s: %s", r.Via, r.Detail)
		}
		resp, err := http.Get(r.URL + "/productpage")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET through the fallback forward: %v %v", resp, err)
		}
		resp.Body.Close()
	})
}

func TestParseOverride(t *testing.T) {
	good := map[string]string{
		"http://localhost:9080": "http://localhost:9080",
		"localhost:9080":        "http://localhost:9080",
		"https://example.com/":  "https://example.com",
		" http://10.0.0.1:80 ":  "http://10.0.0.1:80",
		"":                      "",
	}
	for in, want := range good {
		if got, err := ParseOverride(in); err != nil || got != want {
			t.Errorf("ParseOverride(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "http://localhost:9080/productpage", "http://a b"} {
		if _, err := ParseOverride(bad); err == nil || !strings.Contains(err.Error(), "localhost:9080") {
			t.Errorf("ParseOverride(%q) = %v; want an error with an example", bad, err)
		}
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscanf(s, "%d", &n)
	return n
}
