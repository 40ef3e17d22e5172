package testcluster

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// Main runs a test package's tests and then stops the cluster started by
// Shared and removes the network namespace made by SharedPodNet, if any,
// and exits. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testcluster.Main(m) }
//
// Both are made lazily, so tests that do not need one (or a -run
// that selects none of them) pay nothing.
func Main(m *testing.M) {
	inMain.Store(true)
	code := m.Run()
	if shared.c != nil {
		shared.c.Stop()
	}
	stopPodNet()
	os.Exit(code)
}

// Shared returns the package's cluster, starting it on first use. If it
// cannot start (for example the binaries are missing) the test fails with
// the reason; it never skips. Without Main in TestMain the processes still
// die with the test binary, but the temporary directory is only removed by
// the next run.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.once.Do(func() { shared.c, shared.err = Start() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// ApplyT applies yaml for a test and deletes it again when the test
// ends, so tests that look in every namespace see only their own objects.
func (c *Cluster) ApplyT(t testing.TB, yaml string) {
	t.Helper()
	if err := c.Apply(t.Context(), yaml); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Delete(context.Background(), yaml); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

// Namespace creates a fresh namespace for the test, named after it, and
// returns its name. Labels are given as key, value pairs. Namespaces are
// not deleted: the cluster goes away with the test binary, and deleting
// is slow without a namespace controller.
func (c *Cluster) Namespace(t testing.TB, labels ...string) string {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("testcluster: Namespace labels must be key, value pairs: %q", labels)
	}
	c.nsMu.Lock()
	c.nsSeq++
	seq := c.nsSeq
	c.nsMu.Unlock()
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	suffix := fmt.Sprintf("-%d", seq)
	if len(base) > 63-len(suffix) {
		base = strings.Trim(base[:63-len(suffix)], "-")
	}
	name := base + suffix
	lm := map[string]any{}
	for i := 0; i < len(labels); i += 2 {
		lm[labels[i]] = labels[i+1]
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "labels": lm},
	}}
	if _, err := c.dyn.Resource(nsGVR).Create(t.Context(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("testcluster: creating namespace %s: %v", name, err)
	}
	c.nsMu.Lock()
	c.known[name] = true
	c.nsMu.Unlock()
	return name
}

// Kubeconfig renders cfg (the admin Config when nil, or one from
// Impersonate) as a kubeconfig file with one context, "testcluster", for
// tests that run the meshdojo binary with --kubeconfig.
func (c *Cluster) Kubeconfig(cfg *rest.Config) ([]byte, error) {
	if cfg == nil {
		cfg = c.Config
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["testcluster"] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos["testcluster"] = &clientcmdapi.AuthInfo{
		Token:             cfg.BearerToken,
		Impersonate:       cfg.Impersonate.UserName,
		ImpersonateGroups: cfg.Impersonate.Groups,
	}
	kc.Contexts["testcluster"] = &clientcmdapi.Context{Cluster: "testcluster", AuthInfo: "testcluster"}
	kc.CurrentContext = "testcluster"
	return clientcmd.Write(*kc)
}
