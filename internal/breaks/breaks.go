// Package breaks lets a lesson break the reader's lab on purpose, and
// puts back what it broke. A troubleshooting exercise needs a fault to
// find; writing it by hand would teach typing, not troubleshooting.
//
// A break is a list of objects a lesson declares (a `break` block in the
// lesson's Markdown, see lessons/README.md). Writing them follows four
// rules, each tested against a real API server:
//
//   - Consent first: Plan asks the API server for a server-side dry run
//     of every object against the cluster as it is and shows the
//     difference; nothing is written until the reader agrees (Apply).
//   - The tutorial's own hands: objects are written with server-side
//     apply under the field manager "meshdojo-break" and carry the label
//     meshdojo.dev/break=<lesson>.<name>. The previous state of every
//     object is recorded, before the object is written, in the state
//     directory (written atomically, as progress is).
//   - Only what the tutorial owns is put back: Restore deletes an object
//     the break created only if it is still the one it created (same
//     UID, still labelled); for an object that existed before, it
//     re-applies the recorded previous values of the fields the
//     tutorial's field manager still owns, and nothing else. A field the
//     reader changed afterwards (kubectl edit, apply, a Helm upgrade)
//     belongs to the reader's field manager by then, and is kept as the
//     reader left it; an object the reader deleted is not brought back.
//     The report says what was kept.
//   - Not on production: a context whose name or API server looks like
//     production (see Production) is refused unless the reader passes
//     --allow-production.
package breaks

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdojo/meshdojo/checks"
)

const (
	// Manager is the field manager of everything a break writes.
	Manager = "meshdojo-break"
	// Label marks an object a break wrote; its value is the break's ID.
	Label = "meshdojo.dev/break"
)

// Kind is a kind of object a break may write.
type Kind struct {
	APIVersion, Kind string
	GVR              schema.GroupVersionResource
}

// Kinds are the kinds a break may write: what a troubleshooting exercise
// on a mesh needs, and nothing that holds secrets or grants access. The
// lint refuses any other kind, and the RBAC role for breaks
// (Capability) grants exactly these.
var Kinds = []Kind{
	{"v1", "Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}},
	{"apps/v1", "Deployment", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}},
	{"networking.istio.io/v1", "DestinationRule", schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}},
	{"networking.istio.io/v1", "VirtualService", schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}},
	{"networking.istio.io/v1", "Gateway", schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}},
	{"networking.istio.io/v1", "ServiceEntry", schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}},
	{"networking.istio.io/v1", "Sidecar", schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"}},
	{"security.istio.io/v1", "PeerAuthentication", schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}},
	{"security.istio.io/v1", "AuthorizationPolicy", schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}},
}

// KindOf finds a kind by apiVersion and kind.
func KindOf(apiVersion, kind string) (Kind, bool) {
	for _, k := range Kinds {
		if k.APIVersion == apiVersion && k.Kind == kind {
			return k, true
		}
	}
	return Kind{}, false
}

func kindNames() string {
	var s []string
	for _, k := range Kinds {
		s = append(s, k.APIVersion+" "+k.Kind)
	}
	return strings.Join(s, ", ")
}

// Capability is what breaks may do, declared as the checks declare
// theirs, so that the RBAC role (assets/rbac/breaker.yaml) and doctor's
// permission list are derived from it: read an object, create it by
// server-side apply, change it (apply, and the patch that hands its
// fields back on restore), and delete what a break created.
var Capability = func() *checks.Capability {
	c := &checks.Capability{
		Name: "break objects",
		Doc:  "writes the objects a lesson's break declares (server-side apply, field manager " + Manager + "), after a dry-run diff the reader agreed to, and puts them back",
	}
	for _, k := range Kinds {
		for _, v := range []string{"get", "create", "patch", "delete"} {
			c.Perms = append(c.Perms, checks.Permission{Verb: v, Group: k.GVR.Group, Resource: k.GVR.Resource})
		}
	}
	return c
}()

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)

// ValidName checks a break's name (the word after `break` in its block),
// which becomes part of a label value.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("break name %q: use lower-case letters, digits and dashes, at most 40, e.g. `break subset-without-pods`", name)
	}
	return nil
}

// ID is a break's identity in records and labels: lesson.name.
func ID(lesson, name string) string { return lesson + "." + name }

// Production says whether a context looks like production, and why.
//
// The rule: a context looks like production when its name contains
// "prod" (prod, production, eks-prod-1...), in any case, or when its API
// server is not local. A server is local when its host is localhost or
// a name under .localhost, .local or .internal, or an IP address that is
// loopback (127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16,
// fc00::/7) or link-local. minikube, kind, k3d and Docker Desktop
// clusters are local by this rule; a managed cloud cluster's public
// endpoint is not.
func Production(context, server string) (bool, string) {
	if strings.Contains(strings.ToLower(context), "prod") {
		return true, fmt.Sprintf("the context's name %q contains \"prod\"", context)
	}
	host := server
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		host = u.Hostname()
	} else if h, _, err := net.SplitHostPort(server); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "" {
		return true, "the context names no API server"
	}
	if strings.Contains(host, "prod") {
		return true, fmt.Sprintf("the API server's name %q contains \"prod\"", host)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal") {
		return false, ""
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()) {
		return false, ""
	}
	return true, fmt.Sprintf("the API server %s is not a local or private address", host)
}

// ProductionError refuses a break on a context that looks like
// production.
type ProductionError struct{ Context, Why string }

func (e *ProductionError) Error() string {
	return fmt.Sprintf("refused: context %q looks like production (%s); breaks change the cluster on purpose. If this really is a lab, start meshdojo with --allow-production", e.Context, e.Why)
}
