package cluster

import (
	"errors"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/lessons"
)

// Need is one permission meshdojo uses: a verb on a resource, in one
// namespace or ("") in all of them, and the checks that use it.
type Need struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Namespace   string
	For         []string // check names, or "discovery"
}

func (n Need) Name() string {
	s := n.Resource
	if n.Subresource != "" {
		s += "/" + n.Subresource
	}
	if n.Group != "" {
		s += "." + n.Group
	}
	return s
}

// DiscoveryReads are the reads Connect makes to describe the cluster.
var DiscoveryReads = []checks.Input{
	{GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Selector: "app=istiod"},
	{GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, Selector: "app=ztunnel"},
	{GVR: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}},
	{GVR: schema.GroupVersionResource{Version: "v1", Resource: "pods"}},
	{GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}},
}

// Uses is every check of the lessons bound to its parameters and, with
// registry, every registered check with made-up parameters (each value
// of each enum in turn), so that a check no lesson uses yet still counts.
func Uses(all []*lessons.Lesson, registry bool) []checks.Bound {
	var out []checks.Bound
	add := func(name string, raw map[string]string) {
		c, ok := catalogue.Lookup(name)
		if !ok {
			return
		}
		if p, err := c.Validate(raw); err == nil {
			out = append(out, checks.Bound{Check: c, Params: p})
		}
	}
	for _, l := range all {
		for _, s := range l.Steps {
			for _, ref := range s.Checks {
				if b, err := ref.Bind(); err == nil {
					out = append(out, b)
				}
			}
			if q := s.Question; q != nil && q.Check != nil {
				for choice := range q.Choices {
					if b, err := q.Bind(choice); err == nil {
						out = append(out, b)
					}
				}
			}
		}
	}
	if !registry {
		return out
	}
	for _, c := range catalogue.All() {
		if !catalogue.Builtin(c) {
			continue // a test's check
		}
		base := examples(c)
		add(c.Name, base)
		for _, s := range c.Params {
			for _, v := range s.Enum {
				raw := map[string]string{s.Name: v}
				for k, bv := range base {
					if k != s.Name {
						raw[k] = bv
					}
				}
				add(c.Name, raw)
			}
		}
	}
	return out
}

// examples are made-up parameters the check accepts: its required
// parameters, and the optional ones its rules between parameters ask
// for. String values name nothing that exists, so a check derives no
// input from them beyond what it always reads.
func examples(c *checks.Check) map[string]string {
	raw := map[string]string{}
	for _, s := range c.Params {
		if s.Required {
			raw[s.Name] = example(s)
		}
	}
	for range 3 {
		_, err := c.Validate(raw)
		var inv *checks.InvalidParams
		if !errors.As(err, &inv) {
			break
		}
		for _, pe := range inv.Problems {
			if s, ok := c.Spec(pe.Param); ok && pe.Problem == checks.Missing {
				raw[pe.Param] = example(s)
			}
		}
	}
	return raw
}

// example is a value the parameter accepts on its own.
func example(s checks.ParamSpec) string {
	cands := []string{"meshdojo-example", "meshdojo_example", "examples.meshdojo.example"}
	switch s.Type {
	case checks.Int, checks.Float:
		cands = []string{s.Min, "1"}
	case checks.Bool:
		cands = []string{"false"}
	case checks.Duration:
		cands = []string{s.Min, "1s"}
	case checks.Enum:
		cands = s.Enum
	case checks.Weights:
		cands = []string{"v1=100"}
	case checks.URL:
		cands = []string{"http://meshdojo-example:80/"}
	case checks.HTTPPath:
		cands = []string{"/"}
	case checks.Headers:
		cands = []string{"x-meshdojo: example"}
	case checks.KindName:
		cands = nil // a made-up kind would be a made-up read
	}
	for _, v := range cands {
		if v != "" && s.Valid(v) == nil {
			return v
		}
	}
	return "meshdojo-example"
}

// Reads is every input of every use (see Uses) plus DiscoveryReads,
// without duplicates, sorted. A check whose Inputs panics is left out;
// its own tests catch that.
func Reads(all []*lessons.Lesson) []checks.Input {
	seen := map[checks.Input]bool{}
	var out []checks.Input
	add := func(in checks.Input) {
		in.GVR.Version = "" // RBAC and this list do not care which version
		if !seen[in] {
			seen[in] = true
			out = append(out, in)
		}
	}
	for _, in := range DiscoveryReads {
		add(in)
	}
	for _, b := range Uses(all, true) {
		for _, in := range safeInputs(b) {
			add(in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func safeInputs(b checks.Bound) (ins []checks.Input) {
	defer func() {
		if recover() != nil {
			ins = nil
		}
	}()
	if b.Check.Inputs == nil {
		return nil
	}
	return b.Check.Inputs(b.Params)
}

// ActNeeds is what the checks may do beyond reading, whatever the
// lessons ask of them: the permissions of the capabilities they declare
// (checks.Check.Uses). prober.yaml in assets/rbac grants it.
func ActNeeds() []Need {
	var out []Need
	for _, c := range catalogue.All() {
		if !catalogue.Builtin(c) {
			continue
		}
		for _, u := range c.Uses {
			for _, p := range u.Perms {
				out = append(out, Need{Verb: p.Verb, Group: p.Group, Resource: p.Resource, Subresource: p.Subresource, For: []string{c.Name}})
			}
		}
	}
	return out
}

// Needs is every permission meshdojo uses for the given lessons: list and
// watch on each read (see Reads), per namespace where the lessons name
// one, and what the checks that act do (create probe pods, port-forward,
// the service proxy). Doctor asks the API server about each.
func Needs(all []*lessons.Lesson) []Need {
	type key struct{ verb, group, res, sub, ns string }
	idx := map[key]*Need{}
	var order []key
	add := func(k key, who string) {
		n := idx[k]
		if n == nil {
			n = &Need{Verb: k.verb, Group: k.group, Resource: k.res, Subresource: k.sub, Namespace: k.ns}
			idx[k] = n
			order = append(order, k)
		}
		for _, f := range n.For {
			if f == who {
				return
			}
		}
		n.For = append(n.For, who)
	}
	for _, in := range DiscoveryReads {
		verb := "list"
		if in.GVR.Resource == "configmaps" {
			verb = "get" // the mesh config, in istiod's namespace
		}
		add(key{verb, in.GVR.Group, in.GVR.Resource, "", in.Namespace}, "discovery")
	}
	// Only the lessons' own uses: made-up parameters would ask about
	// namespaces that exist nowhere.
	for _, b := range Uses(all, false) {
		for _, in := range safeInputs(b) {
			for _, v := range []string{"list", "watch"} {
				add(key{v, in.GVR.Group, in.GVR.Resource, "", in.Namespace}, b.Check.Name)
			}
		}
		for _, u := range b.Check.Uses {
			for _, p := range u.Perms {
				ns := ""
				if p.NamespaceParam != "" {
					ns = b.Params[p.NamespaceParam]
				}
				add(key{p.Verb, p.Group, p.Resource, p.Subresource, ns}, b.Check.Name)
			}
		}
	}
	// What the lessons' breaks write, in the namespaces they write in
	// (breaks.Capability declares the verbs).
	for _, l := range all {
		for _, s := range l.Steps {
			if s.Break == nil {
				continue
			}
			for _, o := range s.Break.Objects {
				k, ok := breaks.KindOf(o.GetAPIVersion(), o.GetKind())
				if !ok {
					continue
				}
				for _, p := range breaks.Capability.Perms {
					if p.Group == k.GVR.Group && p.Resource == k.GVR.Resource {
						add(key{p.Verb, p.Group, p.Resource, "", o.GetNamespace()}, "break "+s.Break.ID)
					}
				}
			}
		}
	}
	out := make([]Need, 0, len(order))
	for _, k := range order {
		n := idx[k]
		sort.Strings(n.For)
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name() != b.Name() {
			return a.Name() < b.Name()
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return verbRank(a.Verb) < verbRank(b.Verb)
	})
	return out
}

func verbRank(v string) int {
	return strings.Index("get list watch create patch delete", v)
}
