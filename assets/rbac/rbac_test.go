package rbac_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdojo/meshdojo/assets/rbac"
	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/lessons"
)

// TestReaderCoversExactlyTheReads keeps reader.yaml in step with the
// checks: every input of every check (as the lessons use it, and as the
// registry allows it) and of discovery must be readable, and the role
// must grant nothing that no check reads.
func TestReaderCoversExactlyTheReads(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := rbac.Rules(rbac.Reader)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]bool{} // group -> resources
	for _, in := range cluster.Reads(all) {
		g := in.GVR.Group
		if want[g] == nil {
			want[g] = map[string]bool{}
		}
		if want[g][in.GVR.Resource] {
			continue
		}
		want[g][in.GVR.Resource] = true
		for _, verb := range []string{"get", "list", "watch"} {
			if !rbac.Allows(rules, verb, g, in.GVR.Resource) {
				t.Errorf("reader.yaml does not allow %s on %s, which is read as %s", verb, in.GVR.GroupResource(), in)
			}
		}
	}
	for _, r := range rules {
		if len(r.Verbs) != 3 || !rbac.Allows([]rbacv1.PolicyRule{r}, "get", r.APIGroups[0], r.Resources[0]) {
			t.Errorf("rule %v: want exactly verbs get, list, watch", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if !want[g][res] {
					t.Errorf("reader.yaml grants %s, which no check reads: remove it", schema.GroupResource{Group: g, Resource: res})
				}
			}
		}
	}
	if t.Failed() {
		t.Logf("the rules reader.yaml should have:\n%s", render(want))
	}
}

// TestProberCoversWhatChecksDo does the same for prober.yaml and the
// permissions of the capabilities the checks declare (reads come from
// reader.yaml).
func TestProberCoversWhatChecksDo(t *testing.T) {
	reader, err := rbac.Rules(rbac.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prober, err := rbac.Rules(rbac.Prober)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, n := range cluster.ActNeeds() {
		res := n.Resource
		if n.Subresource != "" {
			res += "/" + n.Subresource
		}
		used[n.Verb+" "+res] = true
		if !rbac.Allows(reader, n.Verb, n.Group, res) && !rbac.Allows(prober, n.Verb, n.Group, res) {
			t.Errorf("neither reader.yaml nor prober.yaml allows %s %s, which %s does", n.Verb, res, strings.Join(n.For, ", "))
		}
	}
	for _, r := range prober {
		for _, res := range r.Resources {
			for _, v := range r.Verbs {
				if !used[v+" "+res] {
					t.Errorf("prober.yaml grants %s %s, which no check does: remove it", v, res)
				}
			}
		}
	}
	if t.Failed() {
		var lines []string
		for u := range used {
			lines = append(lines, u)
		}
		sort.Strings(lines)
		t.Logf("the capabilities the checks declare (checks/capability.go) use, beyond reader.yaml: %s", strings.Join(lines, ", "))
	}
}

func TestManifestsParse(t *testing.T) {
	for _, m := range []string{rbac.Reader, rbac.Prober, rbac.Breaker} {
		if _, err := rbac.Rules(m); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(rbac.BindingExample, "name: meshdojo-reader") || !strings.Contains(rbac.All(), "kind: ClusterRoleBinding") {
		t.Error("binding example does not bind meshdojo-reader")
	}
}

func render(want map[string]map[string]bool) string {
	var groups []string
	for g := range want {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	var b strings.Builder
	b.WriteString("rules:\n")
	for _, g := range groups {
		var res []string
		for r := range want[g] {
			res = append(res, r)
		}
		sort.Strings(res)
		q := g
		if q == "" {
			q = `""`
		}
		fmt.Fprintf(&b, "- apiGroups: [%s]\n  resources: [%s]\n  verbs: [get, list, watch]\n", q, strings.Join(res, ", "))
	}
	return b.String()
}

// TestBreakerCoversBreaks keeps breaker.yaml equal to the permissions
// breaks.Capability declares: every one granted, nothing more.
func TestBreakerCoversBreaks(t *testing.T) {
	rules, err := rbac.Rules(rbac.Breaker)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, p := range breaks.Capability.Perms {
		used[p.Verb+" "+p.Group+"/"+p.Resource] = true
		if !rbac.Allows(rules, p.Verb, p.Group, p.Resource) {
			t.Errorf("breaker.yaml does not allow %s %s.%s, which breaks do", p.Verb, p.Resource, p.Group)
		}
	}
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if !used[v+" "+g+"/"+res] {
						t.Errorf("breaker.yaml grants %s %s.%s, which no break does: remove it", v, res, g)
					}
				}
			}
		}
	}
	if !strings.Contains(rbac.All(), "name: meshdojo-breaker") {
		t.Error("doctor --rbac does not print the breaker role")
	}
}
