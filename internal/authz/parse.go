package authz

import (
	"encoding/json"
	"fmt"
	"strings"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	typev1beta1 "istio.io/api/type/v1beta1"
)

// ParsePolicy reads an AuthorizationPolicy object.
func ParsePolicy(u *unstructured.Unstructured) (*Policy, error) {
	var ap securityv1.AuthorizationPolicy
	if err := convert(u, &ap); err != nil {
		return nil, fmt.Errorf("AuthorizationPolicy %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	s := &ap.Spec
	p := &Policy{Namespace: ap.Namespace, Name: ap.Name, Created: ap.CreationTimestamp.Time,
		Action: s.GetAction().String(), Selector: s.GetSelector().GetMatchLabels(), TargetRefs: refs(s.GetTargetRefs(), s.GetTargetRef()),
		DryRun: ap.Annotations["istio.io/dry-run"] == "true"}
	if s.GetProvider() != nil {
		p.Provider = s.GetProvider().GetName()
	}
	for i, r := range s.GetRules() {
		var rule Rule
		if r == nil {
			rule = Rule{}
		} else {
			for _, f := range r.GetFrom() {
				src := f.GetSource()
				if src == nil {
					rule.From = append(rule.From, Source{})
					continue
				}
				rule.From = append(rule.From, Source{
					Principals: src.Principals, NotPrincipals: src.NotPrincipals,
					RequestPrincipals: src.RequestPrincipals, NotRequestPrincipals: src.NotRequestPrincipals,
					Namespaces: src.Namespaces, NotNamespaces: src.NotNamespaces,
					ServiceAccounts: qualify(src.ServiceAccounts, ap.Namespace), NotServiceAccounts: qualify(src.NotServiceAccounts, ap.Namespace),
					IPBlocks: src.IpBlocks, NotIPBlocks: src.NotIpBlocks, RemoteIPBlocks: src.RemoteIpBlocks, NotRemoteIPBlocks: src.NotRemoteIpBlocks,
				})
			}
			for _, t := range r.GetTo() {
				op := t.GetOperation()
				if op == nil {
					rule.To = append(rule.To, Operation{})
					continue
				}
				rule.To = append(rule.To, Operation{Hosts: op.Hosts, NotHosts: op.NotHosts, Ports: op.Ports, NotPorts: op.NotPorts,
					Methods: op.Methods, NotMethods: op.NotMethods, Paths: op.Paths, NotPaths: op.NotPaths})
			}
			for _, c := range r.GetWhen() {
				if err := ValidKey(c.GetKey()); err != nil {
					if p.Invalid == nil {
						p.Invalid = map[int]string{}
					}
					p.Invalid[i] = err.Error()
				}
				rule.When = append(rule.When, Condition{Key: c.GetKey(), Values: c.Values, NotValues: c.NotValues})
			}
		}
		p.Rules = append(p.Rules, rule)
	}
	return p, nil
}

// qualify gives serviceAccounts entries without a namespace the
// policy's own, as Istio does.
func qualify(sas []string, ns string) []string {
	var out []string
	for _, s := range sas {
		if s != "" && !strings.Contains(s, "/") {
			s = ns + "/" + s
		}
		out = append(out, s)
	}
	return out
}

// ParseRequestAuthn reads a RequestAuthentication object.
func ParseRequestAuthn(u *unstructured.Unstructured) (*RequestAuthn, error) {
	var ra securityv1.RequestAuthentication
	if err := convert(u, &ra); err != nil {
		return nil, fmt.Errorf("RequestAuthentication %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	s := &ra.Spec
	a := &RequestAuthn{Namespace: ra.Namespace, Name: ra.Name, Selector: s.GetSelector().GetMatchLabels(),
		TargetRefs: refs(s.GetTargetRefs(), s.GetTargetRef())}
	for _, r := range s.GetJwtRules() {
		j := JWTRule{Issuer: r.GetIssuer(), JwksURI: r.GetJwksUri(), FromCookies: r.GetFromCookies(), FromParams: r.GetFromParams()}
		for _, h := range r.GetFromHeaders() {
			j.FromHeaders = append(j.FromHeaders, h.GetName())
		}
		a.Rules = append(a.Rules, j)
	}
	return a, nil
}

func refs(list []*typev1beta1.PolicyTargetReference, legacy *typev1beta1.PolicyTargetReference) []TargetRef {
	if len(list) == 0 && legacy != nil {
		list = []*typev1beta1.PolicyTargetReference{legacy}
	}
	var out []TargetRef
	for _, r := range list {
		g := r.GetGroup()
		if g == "core" {
			g = ""
		}
		out = append(out, TargetRef{Group: g, Kind: r.GetKind(), Name: r.GetName(), Namespace: r.GetNamespace()})
	}
	return out
}

func convert(u *unstructured.Unstructured, into any) error {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}
