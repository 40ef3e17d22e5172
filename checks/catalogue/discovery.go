package catalogue

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// Which namespaces istiod reads Istio config from.
//
// Since Istio 1.22 the mesh config's discoverySelectors filter Istio
// config objects (PeerAuthentication, DestinationRule, VirtualService,
// ...) as well as Services and endpoints: istiod's config store composes
// the discovery namespace filter into every namespaced kind's informer
// (pilot/pkg/config/kube/crdclient/client.go), and the filter has no
// exception for the root namespace or istiod's own
// (pkg/kube/namespace/filter.go). A policy in a namespace the selectors
// do not select is simply never seen. In the book's lab the selectors
// pick namespaces labelled istio.io/rev=stable and istio-system is not
// labelled, so a "mesh-wide" PeerAuthentication there does nothing.

// discoveryScope is what one mesh config says about the namespaces
// istiod watches.
type discoveryScope struct {
	config    string            // namespace/name of the mesh ConfigMap; "" when none was found
	selectors []labels.Selector // nil: every namespace (no discoverySelectors)
	text      string            // the selectors as a reader would write them
	nsLabels  map[string]map[string]string
	nsKnown   map[string]bool
}

// selects reports whether istiod reads Istio config in ns. A namespace
// that does not exist is not selected when there are selectors.
func (d discoveryScope) selects(ns string) bool {
	if len(d.selectors) == 0 {
		return true
	}
	if !d.nsKnown[ns] {
		return false
	}
	for _, s := range d.selectors {
		if s.Matches(labels.Set(d.nsLabels[ns])) {
			return true
		}
	}
	return false
}

// ignoredWhy says why istiod ignores objects in ns, for observations.
func (d discoveryScope) ignoredWhy(ns string) string {
	return fmt.Sprintf("istiod ignores Istio config in %s: the mesh config %s has discoverySelectors %s, which %s does not match "+
		"(since Istio 1.22 they filter config objects too, the root namespace included)", ns, d.config, d.text, ns)
}

// ignoredFix says how to make istiod read ns.
func (d discoveryScope) ignoredFix(ns string) string {
	return fmt.Sprintf("label %s so that the discoverySelectors %s match it (in the lab: kubectl label namespace %s istio.io/rev=stable), "+
		"or put the policy in a namespace they select", ns, d.text, ns)
}

// discoveryScopes reads the mesh ConfigMaps (istio and istio-<revision>
// with a key mesh) and the namespaces, and answers per revision.
type discoveryScopes struct {
	byName   map[string]discoveryScope // ConfigMap name -> scope
	nsLabels map[string]map[string]string
	nsKnown  map[string]bool
	problems []string // mesh configs that could not be read
}

func readDiscoveryScopes(cms, nss []*unstructured.Unstructured) discoveryScopes {
	ds := discoveryScopes{byName: map[string]discoveryScope{}, nsLabels: map[string]map[string]string{}, nsKnown: map[string]bool{}}
	for _, u := range nss {
		ds.nsKnown[u.GetName()] = true
		ds.nsLabels[u.GetName()] = u.GetLabels()
	}
	for _, u := range cms {
		n := u.GetName()
		if n != "istio" && !strings.HasPrefix(n, "istio-") {
			continue
		}
		text, ok, _ := unstructured.NestedString(u.Object, "data", "mesh")
		if !ok {
			continue
		}
		sc, err := parseDiscoverySelectors(text)
		if err != nil {
			ds.problems = append(ds.problems, fmt.Sprintf("mesh config %s: %v", nsName(u), err))
			continue
		}
		sc.config, sc.nsLabels, sc.nsKnown = nsName(u), ds.nsLabels, ds.nsKnown
		ds.byName[n] = sc
	}
	return ds
}

// parseDiscoverySelectors reads meshConfig.discoverySelectors: label
// selectors ORed together; an empty selector selects every namespace.
func parseDiscoverySelectors(mesh string) (discoveryScope, error) {
	var m struct {
		DiscoverySelectors []metav1.LabelSelector `json:"discoverySelectors"`
	}
	if err := yaml.Unmarshal([]byte(mesh), &m); err != nil {
		return discoveryScope{}, fmt.Errorf("not valid YAML: %w", err)
	}
	var sc discoveryScope
	var texts []string
	for i := range m.DiscoverySelectors {
		s, err := metav1.LabelSelectorAsSelector(&m.DiscoverySelectors[i])
		if err != nil {
			return discoveryScope{}, fmt.Errorf("discoverySelectors[%d]: %w", i, err)
		}
		sc.selectors = append(sc.selectors, s)
		t := s.String()
		if t == "" {
			t = "{} (every namespace)"
		}
		texts = append(texts, t)
	}
	if b, err := json.Marshal(texts); err == nil && len(texts) > 0 {
		sc.text = string(b)
	}
	return sc, nil
}

// forRevision picks the mesh config of the istiod revision that serves a
// proxy: istio-<rev>, istio for the default revision, or the only mesh
// config there is. Without one, every namespace is in scope (Istio's
// default when no selectors are set).
func (ds discoveryScopes) forRevision(rev string) discoveryScope {
	want := "istio"
	if rev != "" && rev != "default" {
		want = "istio-" + rev
	}
	if sc, ok := ds.byName[want]; ok {
		return sc
	}
	if len(ds.byName) == 1 {
		for _, sc := range ds.byName {
			return sc
		}
	}
	if len(ds.byName) > 1 {
		// Several revisions and none named: take the first by name, so
		// the answer is stable; policiesCondition names the config used.
		names := make([]string, 0, len(ds.byName))
		for n := range ds.byName {
			names = append(names, n)
		}
		sort.Strings(names)
		return ds.byName[names[0]]
	}
	return discoveryScope{nsLabels: ds.nsLabels, nsKnown: ds.nsKnown}
}
