package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshdojo/meshdojo/assets/rbac"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/lessons"
)

func init() {
	commands["doctor"] = command{summary: "show what meshdojo finds in the cluster and what your credentials may read", run: runDoctor}
}

// doctorReport is `meshdojo doctor -o json`.
type doctorReport struct {
	Context     string              `json:"context,omitempty"`
	Server      string              `json:"server,omitempty"`
	Namespace   string              `json:"namespace,omitempty"`
	Error       string              `json:"error,omitempty"`
	Discovery   *cluster.Discovery  `json:"discovery,omitempty"`
	Permissions []permissionVerdict `json:"permissions"`
}

type permissionVerdict struct {
	Verb      string   `json:"verb"`
	Resource  string   `json:"resource"` // resource[/subresource][.group]
	Namespace string   `json:"namespace,omitempty"`
	For       []string `json:"for"` // checks (or "discovery") that need it
	Allowed   bool     `json:"allowed"`
	Reason    string   `json:"reason,omitempty"`
}

func runDoctor(args []string, io IO) int {
	fs := flag.NewFlagSet("meshdojo doctor", flag.ContinueOnError)
	var out string
	fs.StringVar(&out, "o", "text", "output: text or json")
	fs.StringVar(&out, "output", "text", "output: text or json (same as -o)")
	rbacF := fs.Bool("rbac", false, "print the RBAC manifests that grant what meshdojo needs (pipe to kubectl apply -f -) and exit")
	timeoutF := fs.Duration("timeout", cluster.DefaultTimeout, "give up on each request to the API server after this long")
	ctxF, kcF := clusterFlags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: meshdojo doctor [--context NAME] [--kubeconfig PATH] [-o text|json] [--rbac]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Connects as the tutorial would and prints what it finds: the API server, Istio's CRDs and")
		fmt.Fprintln(w, "control plane, the Gateway API, the data-plane mode, and, for every permission the lessons'")
		fmt.Fprintln(w, "checks use, whether your credentials have it.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Exit status: 0 when every permission is granted, 1 when some are refused, 2 when there is no cluster.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Flags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, io); !ok {
		return code
	}
	if *rbacF {
		fmt.Fprint(io.Out, rbac.All())
		return 0
	}
	if out != "text" && out != "json" {
		fmt.Fprintf(io.Err, "meshdojo doctor: -o %q is not text or json\n", out)
		return 2
	}
	if *timeoutF <= 0 { // zero or less would silently mean the default
		fmt.Fprintf(io.Err, "meshdojo doctor: --timeout %s is not a positive duration; use e.g. --timeout 30s\n", *timeoutF)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := doctorReport{Permissions: []permissionVerdict{}}
	if t, err := cluster.Load(cluster.Options{Kubeconfig: *kcF, Context: *ctxF}); err == nil {
		rep.Context, rep.Server, rep.Namespace = t.Context, t.Server, t.Namespace
	}
	conn, err := cluster.Connect(ctx, cluster.Options{Kubeconfig: *kcF, Context: *ctxF, Timeout: *timeoutF})
	if err != nil {
		rep.Error = err.Error()
		if out == "json" {
			writeJSON(io.Out, rep)
		} else {
			fmt.Fprintln(io.Out, "Connection")
			fmt.Fprintf(io.Out, "  context    %s\n  server     %s\n", orDash(rep.Context), orDash(rep.Server))
			fmt.Fprintf(io.Out, "  status     not connected: %s\n", err)
			fmt.Fprintln(io.Out, "\nThe tutorial still works offline: lessons are readable, checks show as not checked.")
		}
		return 2
	}
	rep.Discovery = conn.Discovery
	all, err := lessons.Load()
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo doctor: the lessons built into this binary do not load:", err)
		return 2
	}
	rep.Permissions = review(ctx, conn.Kube, cluster.Needs(all))
	denied := 0
	for _, p := range rep.Permissions {
		if !p.Allowed {
			denied++
		}
	}
	if out == "json" {
		writeJSON(io.Out, rep)
	} else {
		printDoctor(io.Out, rep, denied)
	}
	if denied > 0 {
		return 1
	}
	return 0
}

// review asks the API server, with one SelfSubjectAccessReview per need,
// whether the reader's credentials allow it.
func review(ctx context.Context, kube kubernetes.Interface, needs []cluster.Need) []permissionVerdict {
	out := make([]permissionVerdict, len(needs))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, n := range needs {
		out[i] = permissionVerdict{Verb: n.Verb, Resource: n.Name(), Namespace: n.Namespace, For: n.For}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ssar := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authv1.ResourceAttributes{
					Namespace: n.Namespace, Verb: n.Verb, Group: n.Group, Resource: n.Resource, Subresource: n.Subresource,
				},
			}}
			res, err := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, ssar, metav1.CreateOptions{})
			switch {
			case err != nil:
				out[i].Reason = "could not ask: " + err.Error()
			default:
				out[i].Allowed = res.Status.Allowed
				out[i].Reason = res.Status.Reason
				if res.Status.EvaluationError != "" && !res.Status.Allowed {
					out[i].Reason = strings.TrimSpace(out[i].Reason + " " + res.Status.EvaluationError)
				}
			}
		})
	}
	wg.Wait()
	return out
}

func printDoctor(w io.Writer, rep doctorReport, denied int) {
	d := rep.Discovery
	fmt.Fprintln(w, "Connection")
	fmt.Fprintf(w, "  context     %s\n", orDash(rep.Context))
	fmt.Fprintf(w, "  server      %s (Kubernetes %s)\n", rep.Server, orDash(d.ServerVersion))
	fmt.Fprintf(w, "  namespace   %s (the context's default)\n", rep.Namespace)

	fmt.Fprintln(w, "\nIstio")
	if len(d.Istio) == 0 {
		fmt.Fprintln(w, "  CRDs        none served: Istio is not installed (lesson 2 installs it)")
	} else {
		fmt.Fprintf(w, "  CRDs        %d resources served\n", len(d.Istio))
		for _, a := range d.Istio {
			fmt.Fprintf(w, "              %-48s %s\n", a.Name(), versions(a))
		}
	}
	switch {
	case d.ControlPlanesUnread != "":
		// Not looked at is not absent: say which, so a refused list is
		// not read as "Istio is not installed".
		fmt.Fprintln(w, "  istiod      unknown: could not look for Deployments labelled app=istiod (see Permissions and Notes)")
	case len(d.ControlPlanes) == 0:
		fmt.Fprintln(w, "  istiod      no Deployment labelled app=istiod")
	}
	for _, cp := range d.ControlPlanes {
		fmt.Fprintf(w, "  istiod      %s/%s, revision %s, version %s, %d/%d ready\n",
			cp.Namespace, cp.Name, cp.Revision, orDash(cp.Version), cp.Ready, cp.Replicas)
	}
	fmt.Fprintf(w, "  root ns     %s (%s)\n", d.RootNamespace, d.RootNamespaceFrom)

	fmt.Fprintln(w, "\nGateway API")
	if len(d.GatewayAPI) == 0 {
		fmt.Fprintln(w, "  CRDs        not installed")
	}
	for _, a := range d.GatewayAPI {
		fmt.Fprintf(w, "              %-48s %s\n", a.Name(), versions(a))
	}

	fmt.Fprintln(w, "\nData plane")
	dp := d.DataPlane
	mode := dp.Mode
	switch dp.Sidecar {
	case "native":
		mode += " (native sidecars: istio-proxy is an init container that keeps running)"
	case "classic":
		mode += " (classic sidecars: istio-proxy is a regular container)"
	case "mixed":
		mode += " (both native and classic sidecars)"
	}
	fmt.Fprintf(w, "  mode        %s\n", mode)
	ztunnel := yesNo(dp.Ztunnel, "running (ambient is installed)", "none")
	if dp.ZtunnelUnread != "" {
		ztunnel = "unknown: could not look for DaemonSets (see Notes)"
	}
	fmt.Fprintf(w, "  ztunnel     %s\n", ztunnel)
	for _, e := range dp.Namespaces {
		rev := ""
		if e.Revision != "" {
			rev = ", revision " + e.Revision
		}
		fmt.Fprintf(w, "  %-11s %s%s; %d pods sampled: %d native, %d classic, %d ambient, %d without a proxy\n",
			e.Name, e.Mode, rev, e.Sampled, e.Native, e.Classic, e.Ambient, e.NoProxy)
	}

	fmt.Fprintln(w, "\nPermissions (asked of the API server for your credentials)")
	// Group list/watch/get lines of the same resource and namespace.
	type group struct {
		res, ns     string
		allowed, no []string
		users       []string // of the refused verbs
	}
	var groups []*group
	idx := map[string]*group{}
	for _, p := range rep.Permissions {
		k := p.Resource + "|" + p.Namespace
		g := idx[k]
		if g == nil {
			g = &group{res: p.Resource, ns: p.Namespace}
			idx[k] = g
			groups = append(groups, g)
		}
		if p.Allowed {
			g.allowed = append(g.allowed, p.Verb)
		} else {
			g.no = append(g.no, p.Verb)
			g.users = appendNew(g.users, p.For...)
		}
	}
	for _, g := range groups {
		where := "in all namespaces"
		switch {
		case g.ns != "":
			where = "in " + g.ns
		case d.ClusterScoped[g.res]:
			where = "(cluster-wide)"
		}
		if len(g.allowed) > 0 {
			fmt.Fprintf(w, "  ok    may %s %s %s\n", strings.Join(g.allowed, ", "), g.res, where)
		}
		if len(g.no) > 0 {
			fmt.Fprintf(w, "  NO    may not %s %s %s; affects %s\n", strings.Join(g.no, ", "), g.res, where, strings.Join(g.users, ", "))
		}
	}
	if denied > 0 {
		fmt.Fprintln(w, "\n  Checks that need a refused permission will show \"forbidden\" with the rule to add.")
		fmt.Fprintln(w, "  An administrator can grant exactly what meshdojo reads with:")
		fmt.Fprintln(w, "    meshdojo doctor --rbac | kubectl apply -f -")
		fmt.Fprintln(w, "  (it creates the ClusterRoles meshdojo-reader and meshdojo-prober and binds the reader to a")
		fmt.Fprintln(w, "  ServiceAccount meshdojo/meshdojo; edit the binding to name your user or group instead).")
	} else {
		fmt.Fprintln(w, "\n  Every permission the lessons' checks use is granted.")
	}
	if len(d.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes")
		for _, n := range d.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
}

func versions(a cluster.API) string {
	s := "read at " + a.Version
	var others []string
	for _, v := range a.Versions {
		if v != a.Version {
			others = append(others, v)
		}
	}
	if len(others) > 0 {
		s += " (also serves " + strings.Join(others, ", ") + ")"
	}
	return s
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func appendNew(list []string, vs ...string) []string {
	for _, v := range vs {
		found := false
		for _, x := range list {
			if x == v {
				found = true
			}
		}
		if !found {
			list = append(list, v)
		}
	}
	sort.Strings(list)
	return list
}
