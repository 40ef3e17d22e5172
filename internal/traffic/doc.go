// Package traffic is the machinery behind meshdojo's traffic checks: it
// finds and reaches the ingress gateway, sends bounded bursts of HTTP
// requests and tallies what came back, runs short-lived curl pods inside
// the cluster, and reads what the mesh itself measured (Prometheus
// queries and Envoy stats through the API server's proxy).
//
// Nothing here loops by itself or outlives the call that started it:
// every probe has a request budget, a deadline and a context, and every
// object it creates in the cluster is deleted before it returns.
//
// The package knows nothing about lessons or the check registry; package
// checks turns its reports into verdicts.
package traffic
