package fakelab

import "fmt"

// Names of the pods in the cluster fixtures below, for tests that look
// for them in messages.
const (
	IngressPod     = "istio-ingressgateway-5d9f-abcde"
	PrometheusPod  = "prometheus-server-abc-def"
	ProductPagePod = "productpage-v2-abc-def"
)

// Ingress is the lab's classic ingress as YAML for the test API server:
// an Istio Gateway on port selecting istio=ingressgateway pods, their
// LoadBalancer Service (with lbIP as its address when not empty), one
// gateway pod in podPhase (Ready only when Running), and an egress
// gateway that must not be mistaken for the ingress. There is no
// kubelet, so the statuses are set here.
func Ingress(ns string, port int, lbIP, podPhase string) string {
	lb := ""
	if lbIP != "" {
		lb = fmt.Sprintf("status:\n  loadBalancer:\n    ingress:\n    - ip: %s\n", lbIP)
	}
	ready := `conditions: [{type: Ready, status: "True"}]`
	if podPhase != "Running" {
		ready = "conditions: []"
	}
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: productpage-ingress, namespace: %[1]s}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: %[2]d, name: http-productpage, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: googleapis-egress, namespace: %[1]s}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: [www.googleapis.com]
    tls: {mode: PASSTHROUGH}
---
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: %[1]s}
spec:
  selector: {app: istio-egressgateway, istio: egressgateway}
  ports: [{name: https, port: 443}]
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: %[1]s}
spec:
  type: LoadBalancer
  selector: {app: istio-ingressgateway, istio: ingressgateway}
  ports:
  - {name: status-port, port: 15021}
  - {name: http-productpage, port: %[2]d, targetPort: %[2]d}
%[3]s---
apiVersion: v1
kind: Pod
metadata:
  name: %[6]s
  namespace: %[1]s
  labels: {app: istio-ingressgateway, istio: ingressgateway}
spec:
  nodeName: node-a
  containers: [{name: istio-proxy, image: istio/proxyv2}]
status:
  phase: %[4]s
  %[5]s
`, ns, port, lb, podPhase, ready, IngressPod)
}

// Metrics is a Prometheus Service (port 9090 to promPort) with its pod
// and EndpointSlice, and a productpage pod, all at the pod IP ip, as
// YAML for the test API server: the API server's service and pod proxies
// then reach whatever listens on ip.
func Metrics(ns, ip string, promPort int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: prometheus-server, namespace: %[1]s}
spec:
  ports: [{name: http, port: 9090, targetPort: %[3]d}]
---
apiVersion: v1
kind: Pod
metadata: {name: %[4]s, namespace: %[1]s, labels: {app: prometheus}}
spec:
  nodeName: node-a
  containers: [{name: prometheus, image: prometheus}]
status: {phase: Running, podIP: %[2]s, podIPs: [{ip: %[2]s}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: prometheus-server-1
  namespace: %[1]s
  labels: {kubernetes.io/service-name: prometheus-server}
addressType: IPv4
endpoints: [{addresses: [%[2]s], targetRef: {kind: Pod, namespace: %[1]s, name: %[4]s}}]
ports: [{name: http, port: %[3]d}]
---
apiVersion: v1
kind: Pod
metadata: {name: %[5]s, namespace: %[1]s, labels: {app: productpage}}
spec:
  nodeName: node-a
  containers: [{name: productpage, image: productpage}]
status: {phase: Running, podIP: %[2]s, podIPs: [{ip: %[2]s}]}
`, ns, ip, promPort, PrometheusPod, ProductPagePod)
}
