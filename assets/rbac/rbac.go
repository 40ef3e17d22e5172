// Package rbac ships the Kubernetes RBAC that meshdojo needs, so an
// administrator can give a reader (or a workshop's ServiceAccount) exactly
// the access the checks use: reader.yaml (read-only, what every check
// reads), prober.yaml (optional: what the checks that send traffic do),
// breaker.yaml (optional: what the troubleshooting lessons' breaks write)
// and binding-example.yaml. `meshdojo doctor --rbac` prints them.
package rbac

import (
	_ "embed"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

var (
	//go:embed reader.yaml
	Reader string
	//go:embed prober.yaml
	Prober string
	//go:embed binding-example.yaml
	BindingExample string
	//go:embed breaker.yaml
	Breaker string
)

// Rules parses the rules of a ClusterRole manifest such as Reader.
func Rules(manifest string) ([]rbacv1.PolicyRule, error) {
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict([]byte(manifest), &role); err != nil {
		return nil, fmt.Errorf("rbac: %w", err)
	}
	if role.Kind != "ClusterRole" {
		return nil, fmt.Errorf("rbac: want a ClusterRole, got %q", role.Kind)
	}
	return role.Rules, nil
}

// Allows reports whether rules grant verb on resource (with an optional
// "/subresource") of group.
func Allows(rules []rbacv1.PolicyRule, verb, group, resource string) bool {
	for _, r := range rules {
		if has(r.Verbs, verb) && has(r.APIGroups, group) && has(r.Resources, resource) {
			return true
		}
	}
	return false
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v || x == "*" {
			return true
		}
	}
	return false
}

// All is every manifest, separated as one YAML stream for kubectl apply.
func All() string {
	return strings.Join([]string{Reader, Prober, Breaker, BindingExample}, "---\n")
}
