package testcluster

import (
	"net"
	"os"
	"testing"
)

// ClosedKubeconfig writes to path a kubeconfig whose one context, named
// context, points at a local address where nothing listens: a participant
// or reader whose cluster does not answer (connection refused, at once).
func ClosedKubeconfig(t testing.TB, path, context string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	err = os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
current-context: `+context+`
clusters: [{name: c, cluster: {server: "https://`+addr+`"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: `+context+`, context: {cluster: c, user: u}}]
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
}

// WidgetCRD is a CRD no lab has (widgets.room.example.com), installed on
// one cluster only so that the same check passes there and fails on
// another.
const WidgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.room.example.com}
spec:
  group: room.example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`
