package checks

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ErrNotServed is wrapped by every error that says a resource is not
// served by the API server (its CRD is not installed).
var ErrNotServed = errors.New("resource not served")

// ErrUnreachable is wrapped by errors that mean the API server could not
// be reached or did not answer in time; the engine shows "reconnecting".
var ErrUnreachable = errors.New("API server unreachable")

// ErrUndeclared is wrapped by the error Env.List returns for an input
// the check does not declare. A check reads only what its Inputs name:
// that is what the engine watches and what the reader role grants, so a
// read beyond it would go stale or be refused on a reader's cluster.
var ErrUndeclared = errors.New("input not declared")

// UndeclaredError names the input a check read without declaring it.
type UndeclaredError struct {
	Check    string
	Input    Input
	Declared []Input
}

func (e *UndeclaredError) Error() string {
	var ds []string
	for _, d := range e.Declared {
		ds = append(ds, d.String())
	}
	decl := "none"
	if len(ds) > 0 {
		decl = strings.Join(ds, "; ")
	}
	return fmt.Sprintf("check %s read %s, which its Inputs do not declare (declared: %s)", e.Check, e.Input, decl)
}

func (e *UndeclaredError) Unwrap() error { return ErrUndeclared }

// NotServedError says which resource is missing, in words that name the
// product that would install it.
type NotServedError struct {
	GVR schema.GroupVersionResource
}

func (e *NotServedError) Error() string {
	name := ResourceName(e.GVR)
	switch {
	case strings.HasSuffix(e.GVR.Group, "istio.io"):
		return "Istio is not installed: " + name + " is not served"
	case e.GVR.Group == "gateway.networking.k8s.io":
		return "the Gateway API CRDs are not installed: " + name + " is not served"
	default:
		return name + " is not served by this cluster"
	}
}

func (e *NotServedError) Unwrap() error { return ErrNotServed }

// GrantRBAC is the command that grants every permission the checks use
// (meshdojo's read-only ClusterRole, see assets/rbac): what fix texts
// point an admin to, rather than a path in meshdojo's sources.
const GrantRBAC = "meshdojo doctor --rbac | kubectl apply -f -"

// Again is what fix texts say when running the check once more may
// help. It names no key and no command: the tutorial (r) and meshdojo
// check (the command line to run again) say how.
const Again = "check again"

// ForbiddenError names the verb, resource and namespace that RBAC
// refused, and the rule that would allow it.
type ForbiddenError struct {
	Verb      string
	GVR       schema.GroupVersionResource
	Namespace string // "" for cluster-scoped reads or all namespaces
	Err       error  // the API's Forbidden status
}

func (e *ForbiddenError) Error() string {
	where := "in all namespaces"
	if e.Namespace != "" {
		where = "in namespace " + e.Namespace
	}
	return fmt.Sprintf("forbidden: your credentials may not %s %s %s; %s",
		e.Verb, ResourceName(e.GVR), where, e.Rule())
}

// Rule is the RBAC rule that would allow the read, in YAML flow style.
func (e *ForbiddenError) Rule() string {
	kind := "a ClusterRole"
	if e.Namespace != "" {
		kind = "a Role in " + e.Namespace + " (or a ClusterRole)"
	}
	return fmt.Sprintf(`grant it with %s rule {apiGroups: [%q], resources: [%q], verbs: ["get", "list", "watch"]}, `+
		`or everything meshdojo reads at once with %s`, kind, e.GVR.Group, e.GVR.Resource, GrantRBAC)
}

func (e *ForbiddenError) Unwrap() error { return e.Err }

// UnreachableError wraps a transport failure or time-out.
type UnreachableError struct {
	Server string
	Err    error
}

func (e *UnreachableError) Error() string {
	s := "the API server"
	if e.Server != "" {
		s += " at " + e.Server
	}
	return fmt.Sprintf("cannot reach %s: %v", s, e.Err)
}

func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

func ResourceName(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group
}

// Codes shared by every check for the things that stop it from looking.
const (
	CodeNotServed   = "MD0001"
	CodeForbidden   = "MD0002"
	CodeUnreachable = "MD0003"
	CodeReadFailed  = "MD0004"
	CodeBadParams   = "MD0005"
)

// ErrorResult turns an error from Env.List (or a bad parameter found at
// evaluation time) into an Error result that says what could not be seen
// and what to do about it. The caller fills Check and Params.
func ErrorResult(err error) Result {
	var (
		msg   Message1[error]
		conds []Condition
	)
	var (
		ns  *NotServedError
		fb  *ForbiddenError
		ue  *UnreachableError
		bad *ParamError
		und *UndeclaredError
	)
	switch {
	case errors.As(err, &ns):
		msg = MsgNotServed
		fix := "Install the CRD that serves it (see the lesson's set-up step), then wait a few seconds."
		switch {
		case strings.HasSuffix(ns.GVR.Group, "istio.io"):
			fix = "Install Istio's CRDs (the istio-base Helm release, or istioctl install), then try again."
		case ns.GVR.Group == "gateway.networking.k8s.io":
			fix = "Install the Gateway API CRDs (kubectl apply -f the standard-install.yaml of the Gateway API release), then try again."
		}
		conds = []Condition{{Name: ResourceName(ns.GVR) + " served", Observed: "not served", Expected: "served", Fix: fix}}
	case errors.As(err, &fb):
		msg = MsgForbidden
		conds = []Condition{{
			Name:     "permission to " + fb.Verb + " " + ResourceName(fb.GVR),
			Observed: "forbidden",
			Expected: "allowed",
			Fix:      "Ask your cluster admin to " + fb.Rule() + ".",
		}}
	case errors.As(err, &ue):
		msg = MsgUnreachable
		conds = []Condition{{Name: "API server reachable", Observed: ue.Err.Error(), Expected: "an answer",
			Fix: "Check that the cluster is running (minikube status -p istio-demo) and that kubectl get ns works; meshdojo retries by itself."}}
	case errors.As(err, &und):
		msg = MsgUndeclared
		conds = []Condition{{Name: "reads only its declared inputs", Observed: und.Input.String(), Expected: "one of its Inputs",
			Fix: "This is a meshdojo bug, not a cluster problem: please report it with the output of `meshdojo check --run " + und.Check + " -o json`; you can skip this step meanwhile."}}
	case errors.As(err, &bad):
		msg = MsgBadParams
		obs := bad.Value
		if obs == "" {
			obs = "not given"
		}
		conds = []Condition{{Name: "parameter " + bad.Param, Observed: obs, Expected: bad.Want,
			Fix: "Fix the check's parameters in the lesson (this is a lesson bug, not a cluster problem)."}}
	default:
		msg = MsgReadFailed
		conds = []Condition{{Name: "read", Observed: err.Error(), Expected: "a successful read", Fix: "It may have been passing: " + Again + "; if it fails again, run meshdojo doctor."}}
	}
	return msg.Result(err, conds...)
}
