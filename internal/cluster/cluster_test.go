package cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// kubeconfig writes a kubeconfig file and returns its path.
func kubeconfig(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// realKubeconfig is the harness's kubeconfig, with extra YAML appended
// to its contexts list, written to a file.
func realKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	c := testcluster.Shared(t)
	b, err := c.Kubeconfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kubeconfig(t, "kubeconfig", string(b))
}

const twoContexts = `apiVersion: v1
kind: Config
current-context: a
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: abc}
contexts:
- name: a
  context: {cluster: c, user: u}
- name: b
  context: {cluster: c, user: u, namespace: bookinfo}
`

func TestLoadResolvesLikeKubectl(t *testing.T) {
	path := kubeconfig(t, "config", twoContexts)

	t.Setenv("KUBECONFIG", path)
	got, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Context != "a" || got.Namespace != "default" || got.Server != "https://127.0.0.1:1" {
		t.Errorf("$KUBECONFIG: %+v", got)
	}
	if got.Config.Timeout != DefaultTimeout {
		t.Errorf("timeout %v, want the default on every request", got.Config.Timeout)
	}

	got, err = Load(Options{Context: "b", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got.Context != "b" || got.Namespace != "bookinfo" || got.Config.Timeout != time.Second {
		t.Errorf("--context b: context %q namespace %q timeout %v", got.Context, got.Namespace, got.Config.Timeout)
	}

	// --kubeconfig wins over $KUBECONFIG.
	other := kubeconfig(t, "other", strings.ReplaceAll(twoContexts, "current-context: a", "current-context: b"))
	got, err = Load(Options{Kubeconfig: other})
	if err != nil || got.Context != "b" {
		t.Errorf("--kubeconfig: %+v %v", got, err)
	}

	// $KUBECONFIG lists are merged, the first file's current-context
	// winning, as kubectl does.
	t.Setenv("KUBECONFIG", other+string(os.PathListSeparator)+path)
	got, err = Load(Options{})
	if err != nil || got.Context != "b" {
		t.Errorf("merged $KUBECONFIG: %+v %v", got, err)
	}
}

func TestLoadErrorsSayWhatToDo(t *testing.T) {
	t.Setenv("KUBECONFIG", kubeconfig(t, "config", twoContexts))
	for _, tc := range []struct {
		opts Options
		want []string
	}{
		{Options{Context: "nope"}, []string{`no context "nope"`, "kubectl config get-contexts", "--context"}},
		{Options{Kubeconfig: filepath.Join(t.TempDir(), "missing")}, []string{"cannot read kubeconfig", "missing", "--kubeconfig"}},
		{Options{Kubeconfig: kubeconfig(t, "bad", "{{{")}, []string{"is not usable"}},
	} {
		_, err := Load(tc.opts)
		if err == nil {
			t.Errorf("%+v: no error", tc.opts)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q lacks %q", tc.opts, err, w)
			}
		}
	}
	// No kubeconfig at all (and not in a pod): say so.
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, err := Load(Options{})
	if err == nil || !strings.Contains(err.Error(), "no cluster configured") {
		t.Errorf("no kubeconfig: %v", err)
	}
}

func TestConnectFailsFastAndClearly(t *testing.T) {
	// A port nobody listens on: refused at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	path := kubeconfig(t, "refused", strings.ReplaceAll(twoContexts, "127.0.0.1:1", closed))
	_, err = Connect(context.Background(), Options{Kubeconfig: path})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "kubectl --context a get namespaces") {
		t.Errorf("refused: %v", err)
	}

	// A server that accepts connections and never answers: Connect gives
	// up after the time-out instead of hanging the caller.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	path = kubeconfig(t, "hang", strings.ReplaceAll(twoContexts, "127.0.0.1:1", hang.Addr().String()))
	_, err = Connect(context.Background(), Options{Kubeconfig: path, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not answer within") {
		t.Errorf("hanging server: %v", err)
	}
}

func TestConnectWithExecCredentialPlugin(t *testing.T) {
	c := testcluster.Shared(t)
	// A credential plugin that prints the harness's token, as
	// gke-gcloud-auth-plugin or aws eks get-token would print theirs.
	dir := t.TempDir()
	plugin := filepath.Join(dir, "token-plugin")
	cred := fmt.Sprintf(`{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":%q}}`, c.Config.BearerToken)
	script := "#!/bin/sh\n[ \"$1\" = meshdojo ] || exit 3\ncat <<'EOF'\n" + cred + "\nEOF\n"
	if err := os.WriteFile(plugin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: exec
clusters:
- name: c
  cluster: {server: %q, certificate-authority-data: %s}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: %s
      args: [meshdojo]
      interactiveMode: Never
contexts:
- name: exec
  context: {cluster: c, user: u, namespace: lab}
`, c.Config.Host, base64.StdEncoding.EncodeToString(c.Config.CAData), plugin)
	conn, err := Connect(context.Background(), Options{Kubeconfig: kubeconfig(t, "exec", kc)})
	if err != nil {
		t.Fatal(err)
	}
	if conn.Info.Context != "exec" || conn.Namespace != "lab" || conn.Info.Server != c.Config.Host {
		t.Errorf("conn: context %q namespace %q server %q", conn.Info.Context, conn.Namespace, conn.Info.Server)
	}
	if conn.Discovery.ServerVersion == "" || len(conn.Discovery.Notes) != 0 {
		t.Errorf("discovery: version %q notes %q", conn.Discovery.ServerVersion, conn.Discovery.Notes)
	}
}

func TestImageVersion(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/istio/pilot:1.29.0":                 "1.29.0",
		"docker.io/istio/pilot:1.29.0-distroless":      "1.29.0",
		"gcr.io/istio-release/pilot:1.28.1@sha256:abc": "1.28.1",
		"localhost:5000/pilot":                         "",
		"pilot":                                        "",
	} {
		if got := ImageVersion(in); got != want {
			t.Errorf("ImageVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVersionLess(t *testing.T) {
	order := []string{"v1alpha1", "v1alpha3", "v2alpha1", "v1beta1", "v1", "v2"}
	for i := range order {
		for j := range order {
			if got := versionLess(order[i], order[j]); got != (i < j) {
				t.Errorf("versionLess(%s, %s) = %v", order[i], order[j], got)
			}
		}
	}
}

// A credential plugin that never finishes (one waiting for a browser
// log-in, say) must not hold Connect: client-go runs it without the
// request's context, so Connect itself gives up and names the plugin.
func TestConnectGivesUpOnAStuckCredentialPlugin(t *testing.T) {
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	plugin := filepath.Join(dir, "stuck-plugin")
	// It waits until the test ends, then exits without credentials, so no
	// process outlives the test.
	// (It also stops when the test's directory is gone.)
	script := "#!/bin/sh\nexec 2>/dev/null\nwhile [ -d " + dir + " ] && [ ! -e " + release + " ]; do sleep 0.05; done\nexit 1\n"
	if err := os.WriteFile(plugin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(release, nil, 0o600) })
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: stuck
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: %s
      interactiveMode: Never
contexts:
- name: stuck
  context: {cluster: c, user: u}
`, plugin)
	_, err := Connect(context.Background(), Options{Kubeconfig: kubeconfig(t, "stuck", kc), Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "credential plugin") || !strings.Contains(err.Error(), plugin) ||
		!strings.Contains(err.Error(), "kubectl --context stuck get namespaces") {
		t.Errorf("stuck plugin: %v", err)
	}
}
