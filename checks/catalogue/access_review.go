package catalogue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdojo/meshdojo/checks"
)

// Codes of can-i.
const (
	CodeAccessAsExpected = "MD0860" // pass
	CodeAccessAllowed    = "MD0861" // allowed, the step wants it denied
	CodeAccessDenied     = "MD0862" // denied, the step wants it allowed
	CodeAccessNoReview   = "MD0863" // the review could not be made
)

var (
	gvrRoles               = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
	gvrRoleBindings        = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
	gvrClusterRoles        = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	gvrClusterRoleBindings = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
)

var accessVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"}

// The messages of can-i.
var (
	msgAccessAsExpected = checks.Msg2[string, string](checks.Code{ID: CodeAccessAsExpected, Verdict: checks.Pass,
		Template: "%s: %s, as expected",
		Doc:      "the authorizer answers as expected"})
	msgAccessAllowed = checks.Msg1[string](checks.Code{ID: CodeAccessAllowed, Verdict: checks.Fail,
		Template: "%s: allowed, but the step wants it denied",
		Doc:      "the request is allowed, and the step wants it denied"})
	msgAccessDenied = checks.Msg1[string](checks.Code{ID: CodeAccessDenied, Verdict: checks.Fail,
		Template: "%s: denied, but the step wants it allowed",
		Doc:      "the request is denied, and the step wants it allowed"})
	msgAccessNoReview = checks.Msg1[reviewFault](checks.Code{ID: CodeAccessNoReview, Verdict: checks.Error,
		Template: "the access review could not be made: %s",
		Doc:      "the review could not be made: no connection, refused, or failed"})
)

// reviewFault is why no access review could be made.
type reviewFault string

const (
	reviewOffline    reviewFault = "not connected to a cluster"
	reviewUnanswered reviewFault = "the API server did not answer it"
	reviewStopped    reviewFault = "stopped before it was settled"
)

var canI = &checks.Check{
	Name: "can-i",
	Summary: "asks the API server, as kubectl auth can-i --as does, whether a user or group may do a verb on a kind " +
		"in a namespace, and compares with allowed or denied (e.g. an application team may edit VirtualServices in " +
		"its namespace and nothing in istio-system)",
	Params: []checks.ParamSpec{
		{Name: "user", Type: checks.String, Required: true, Rule: accountName, Doc: "the user asked about, as RBAC subjects name it: a user " +
			"such as alice, or a ServiceAccount as system:serviceaccount:<namespace>:<name>"},
		{Name: "groups", Type: checks.List, Doc: "groups the user is in, comma-separated, e.g. bookinfo-team (a ServiceAccount is also in " +
			"system:serviceaccounts and system:serviceaccounts:<namespace>, which are added for you)"},
		{Name: "verb", Type: checks.Enum, Enum: accessVerbs, Required: true, Doc: "the API verb: get, list, watch, create, update, patch, " +
			"delete, deletecollection, or * for all"},
		kindParam,
		{Name: "namespace", Type: checks.Namespace, Doc: "the namespace the request is in; empty for cluster-scoped kinds, or to ask " +
			"about every namespace at once (what a ClusterRoleBinding grants)"},
		{Name: "name", Type: checks.ObjectName, Doc: "one object's name, for rules with resourceNames"},
		{Name: "value", Type: checks.Enum, Enum: []string{"allowed", "denied"}, Default: "allowed", Doc: "what the authorizer must answer: allowed or denied (a question offers both)"},
	},
	Watch: true,
	// RBAC's objects, so the verdict follows every change of a role or
	// binding; the decision itself is the API server's.
	Inputs: func(checks.Params) []checks.Input {
		return []checks.Input{{GVR: gvrRoles}, {GVR: gvrRoleBindings}, {GVR: gvrClusterRoles}, {GVR: gvrClusterRoleBindings}}
	},
	Uses: []*checks.Capability{checks.AccessReview},
	Codes: []checks.Code{
		msgAccessAsExpected.Code,
		msgAccessAllowed.Code,
		msgAccessDenied.Code,
		msgAccessNoReview.Code,
	},
	Eval: evalCanI,
}

// accountName: a user name as RBAC subjects write it.
func accountName(v string) error {
	if strings.TrimSpace(v) != v || v == "" || strings.ContainsAny(v, " \t\n") {
		return errors.New("a user name without spaces, such as alice or system:serviceaccount:bookinfo:deployer")
	}
	if strings.HasPrefix(v, "system:serviceaccount:") && len(strings.Split(v, ":")) != 4 {
		return errors.New("a ServiceAccount as system:serviceaccount:<namespace>:<name>")
	}
	return nil
}

// reviewSettle is how long a decision against the expectation is asked
// again before it stands: the API server's RBAC authorizer reads roles
// and bindings through its own informers, so a binding written a moment
// ago may not count yet.
var reviewSettle = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}

func evalCanI(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	k, err := checks.LookupKind(p.Str("kind"))
	if err != nil {
		return errResult(err)
	}
	c := env.Clients()
	if c == nil || c.Kube == nil {
		return msgAccessNoReview.Result(reviewOffline)
	}
	user, ns := p.Str("user"), p.Str("namespace")
	groups := p.List("groups")
	if sa, ok := strings.CutPrefix(user, "system:serviceaccount:"); ok {
		// The groups the API server gives every ServiceAccount token.
		san, _, _ := strings.Cut(sa, ":")
		groups = append(groups, "system:serviceaccounts", "system:serviceaccounts:"+san, "system:authenticated")
	} else {
		groups = append(groups, "system:authenticated")
	}
	if !k.Namespaced {
		ns = ""
	}
	attrs := &authorizationv1.ResourceAttributes{Namespace: ns, Verb: p.Str("verb"), Group: k.GVR.Group, Resource: k.GVR.Resource, Name: p.Str("name")}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, ResourceAttributes: attrs}}
	want := p.Str("value") == "allowed"

	what := canIText(p, k.Kind, ns)
	var got *authorizationv1.SubjectAccessReview
	for i := 0; ; i++ {
		got, err = c.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return msgAccessNoReview.Result(reviewUnanswered, checks.Condition{
				Name: what, Observed: err.Error(), Expected: "an answer",
				Fix: "Your credentials need create on subjectaccessreviews.authorization.k8s.io (meshdojo doctor --rbac prints the role).",
			})
		}
		if got.Status.Allowed == want || i == len(reviewSettle) {
			break
		}
		select {
		case <-ctx.Done():
			return msgAccessNoReview.Result(reviewStopped)
		case <-time.After(reviewSettle[i]):
		}
	}
	obs := "denied"
	if got.Status.Allowed {
		obs = "allowed"
	}
	if why := strings.TrimSpace(got.Status.Reason); why != "" {
		obs += ": " + why
	}
	if got.Status.EvaluationError != "" {
		obs += " (evaluation error: " + got.Status.EvaluationError + ")"
	}
	cond := checks.Condition{Name: what, OK: got.Status.Allowed == want, Observed: obs, Expected: p.Str("value")}
	switch {
	case cond.OK:
		return msgAccessAsExpected.Result(what, p.Str("value"), cond)
	case got.Status.Allowed:
		cond.Fix = fmt.Sprintf("Find what grants it: kubectl get rolebindings,clusterrolebindings -A -o wide | grep -e %s%s; "+
			"a ClusterRoleBinding grants its ClusterRole in every namespace, a RoleBinding only in its own.", user, grepGroups(p.List("groups")))
		return msgAccessAllowed.Result(what, cond)
	}
	cond.Fix = fmt.Sprintf("Bind a Role (or ClusterRole) that allows %s on %s to %s with a RoleBinding in %s, then check with "+
		"kubectl auth can-i %s %s%s --as %s%s.", p.Str("verb"), k.GVR.Resource, subjectText(user, p.List("groups")), orDefault(ns, "the namespace"),
		p.Str("verb"), checks.ResourceName(k.GVR), nsFlag(ns), user, asGroups(p.List("groups")))
	return msgAccessDenied.Result(what, cond)
}

func canIText(p checks.Params, kind, ns string) string {
	s := p.Str("user")
	if g := p.List("groups"); len(g) > 0 {
		s += " (groups " + strings.Join(g, ", ") + ")"
	}
	s += " " + p.Str("verb") + " " + kind
	if n := p.Str("name"); n != "" {
		s += " " + n
	}
	if ns != "" {
		s += " in " + ns
	} else {
		s += " cluster-wide"
	}
	return s
}

func subjectText(user string, groups []string) string {
	if len(groups) > 0 {
		return "group " + groups[0]
	}
	return "user " + user
}

func grepGroups(groups []string) string {
	var b strings.Builder
	for _, g := range groups {
		b.WriteString(" -e " + g)
	}
	return b.String()
}

func asGroups(groups []string) string {
	var b strings.Builder
	for _, g := range groups {
		b.WriteString(" --as-group " + g)
	}
	return b.String()
}

func nsFlag(ns string) string {
	if ns == "" {
		return " -A"
	}
	return " -n " + ns
}
