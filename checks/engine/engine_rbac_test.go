package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/meshdojo/meshdojo/assets/rbac"
	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/checks/engine"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/lessons"
)

// connectAs connects the way the tutorial does, through a kubeconfig
// file holding cfg's credentials.
func connectAs(t *testing.T, c *testcluster.Cluster, cfg *rest.Config) *cluster.Conn {
	t.Helper()
	b, err := c.Kubeconfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	conn, err := cluster.Connect(context.Background(), cluster.Options{Kubeconfig: p})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// readerSA applies the shipped reader role and binding example and
// returns the ServiceAccount's credentials (a real token).
func readerSA(t *testing.T, c *testcluster.Cluster) *rest.Config {
	t.Helper()
	ctx := context.Background()
	if err := c.Apply(ctx, rbac.Reader+"\n---\n"+rbac.BindingExample); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.ServiceAccount(ctx, "meshdojo", "meshdojo")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// collect watches set until every key has a result that is not
// pending, and returns the last result per key.
func collect(t *testing.T, e *engine.Engine, set []checks.Bound) map[string]checks.Result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan checks.Update, len(set))
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Watch(ctx, set, out)
	}()
	defer func() {
		cancel()
		<-done
	}()
	got := map[string]checks.Result{}
	deadline := time.After(2 * time.Minute) // keeps a broken engine from hanging the run
	for len(got) < len(set) {
		select {
		case u := <-out:
			if u.Result.Verdict != checks.Pending {
				got[u.Key] = u.Result
			}
		case <-deadline:
			t.Fatalf("results for %d of %d checks", len(got), len(set))
		}
	}
	return got
}

// TestShippedRoleSufficesForEveryCheck runs every watched check, as the
// lessons use it and as the registry allows it, through the engine's
// informers as a ServiceAccount bound only to assets/rbac's
// meshdojo-reader: none may be refused anything.
func TestShippedRoleSufficesForEveryCheck(t *testing.T) {
	c := testcluster.Shared(t)
	conn := connectAs(t, c, readerSA(t, c))
	if len(conn.Discovery.Notes) != 0 {
		t.Errorf("discovery as meshdojo-reader: %q", conn.Discovery.Notes)
	}
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	var set []checks.Bound
	for i, b := range cluster.Uses(all, true) {
		if !b.Check.Watch || b.Check.Acts != "" {
			continue // probes act or read through proxies: prober.yaml, tested in internal/traffic
		}
		b.Key = fmt.Sprintf("%d %s %v", i, b.Check.Name, b.Params)
		set = append(set, b)
	}
	if len(set) < 10 {
		t.Fatalf("only %d uses of watched checks", len(set))
	}
	t.Logf("%d uses of watched checks", len(set))
	e := conn.Engine()
	for key, r := range collect(t, e, set) {
		if r.Code == checks.CodeForbidden {
			t.Errorf("%s: refused through informers: %s", key, r.Summary)
		}
	}
	for _, b := range set {
		if r := e.Run(context.Background(), b, nil); r.Code == checks.CodeForbidden {
			t.Errorf("%s: refused when listed directly: %s", b.Key, r.Summary)
		}
	}
}

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// readsSecrets is a check reading what the reader role does not grant.
var readsSecrets = &checks.Check{
	Name:  "test-reads-secrets",
	Watch: true,
	Inputs: func(p checks.Params) []checks.Input {
		return []checks.Input{{GVR: secretsGVR, Namespace: "kube-system"}}
	},
	Eval: func(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
		if _, err := env.List(ctx, checks.Input{GVR: secretsGVR, Namespace: "kube-system"}); err != nil {
			return checks.ErrorResult(err)
		}
		return checks.Result{Verdict: checks.Pass}
	},
}

// TestForbiddenSaysWhatAndHow: a read the credentials may not make is an
// error verdict naming the verb, resource and namespace, and the rule
// (or the shipped role) that would allow it.
func TestForbiddenSaysWhatAndHow(t *testing.T) {
	c := testcluster.Shared(t)
	ctx := context.Background()
	reader := connectAs(t, c, readerSA(t, c)).Engine()
	nobodyCfg, err := c.ServiceAccount(ctx, "meshdojo", "unbound")
	if err != nil {
		t.Fatal(err)
	}
	nobody := connectAs(t, c, nobodyCfg).Engine()
	istiod, ok := catalogue.Lookup("istiod-ready")
	if !ok {
		t.Fatal("istiod-ready is not registered")
	}
	p, err := istiod.Validate(map[string]string{"namespace": "istio-system"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		e    *engine.Engine
		b    checks.Bound
		want []string
	}{
		{"outside the role", reader, checks.Bound{Key: "secrets", Check: readsSecrets},
			[]string{"may not LIST secrets in namespace kube-system", `apiGroups: [""]`, `resources: ["secrets"]`, `verbs: ["get", "list", "watch"]`}},
		{"no role at all", nobody, checks.Bound{Key: "istiod", Check: istiod, Params: p},
			[]string{"may not LIST deployments.apps in namespace istio-system", `apiGroups: ["apps"]`, "meshdojo doctor --rbac | kubectl apply -f -"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := collect(t, tc.e, []checks.Bound{tc.b})[tc.b.Key]
			if r.Verdict != checks.Error || r.Code != checks.CodeForbidden {
				t.Fatalf("%s %s: %s", r.Verdict, r.Code, r.Summary)
			}
			text := r.Summary + "\n" + r.Conditions[0].Fix
			// An informer's first request is a list or, with client-go's
			// streaming lists, a watch: either verb may be the refused one.
			text = strings.NewReplacer("may not list", "may not LIST", "may not watch", "may not LIST").Replace(text)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("message lacks %q:\n%s", w, text)
				}
			}
		})
	}
}
