package engine

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdojo/meshdojo/checks"
)

// ServedResources turns discovery's answer into ClusterInfo.Served:
// "resource.group" (or just "resource" for the core group) mapped to the
// version checks should read it at. v1 wins when served, so a cluster
// with Istio 1.22+ is read at security.istio.io/v1 even though it still
// serves v1beta1; otherwise the group's preferred version, otherwise the
// first version that lists the resource. Subresources are left out.
//
// The cluster package calls this at connect time and the engine calls it
// again when a CRD appears after connecting, so both agree.
func ServedResources(groups []*metav1.APIGroup, lists []*metav1.APIResourceList) map[string]string {
	preferred := map[string]string{}
	for _, g := range groups {
		if g != nil {
			preferred[g.Name] = g.PreferredVersion.Version
		}
	}
	// versions[resource.group] = every version that serves it
	versions := map[string][]string{}
	for _, l := range lists {
		if l == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			key := checks.ResourceName(gv.WithResource(r.Name))
			versions[key] = append(versions[key], gv.Version)
		}
	}
	out := make(map[string]string, len(versions))
	for key, vs := range versions {
		group := ""
		if _, g, ok := strings.Cut(key, "."); ok {
			group = g
		}
		out[key] = pickVersion(vs, preferred[group])
	}
	return out
}

func pickVersion(vs []string, preferred string) string {
	has := func(v string) bool {
		for _, x := range vs {
			if x == v {
				return true
			}
		}
		return false
	}
	switch {
	case has("v1"):
		return "v1"
	case preferred != "" && has(preferred):
		return preferred
	}
	return vs[0]
}
