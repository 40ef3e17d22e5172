package catalogue

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/traffic"
)

// Codes of pod-probe.
const (
	CodePodProbeOK        = "MD0820" // pass
	CodePodProbeFailed    = "MD0821" // curl's outcome is not the expected one
	CodePodProbeForbidden = "MD0822" // RBAC does not allow creating the pod
	CodePodProbeNoNS      = "MD0823" // the namespace does not exist
	CodePodProbeImage     = "MD0824" // the image could not be pulled
	CodePodProbeStuck     = "MD0825" // the pod never started (unschedulable, …)
	CodePodProbePodFailed = "MD0826" // the pod failed before curl finished
	CodePodProbeLeftover  = "MD0827" // the probe pod could not be deleted
	CodePodProbeDNS       = "MD0828" // the URL's host did not resolve in the cluster
	CodePodProbeNoSA      = "MD0829" // the namespace has no ServiceAccount default for the pod
)

// The messages of pod-probe.
var (
	msgPodProbeOK = checks.Msg3[string, string, string](checks.Code{ID: CodePodProbeOK, Verdict: checks.Pass,
		Template: "%s: %s, as expected (%s)",
		Doc:      "curl's outcome is the expected one"})
	msgPodProbeLeftover = checks.Msg3[string, string, string](checks.Code{ID: CodePodProbeLeftover, Verdict: checks.Pass,
		Template: "%s: %s, as expected (%s), but the probe pod could not be deleted",
		Doc:      "the outcome is the expected one, but the probe pod could not be deleted: delete it by hand"})
	msgPodProbeFailed = checks.Msg3[string, string, string](checks.Code{ID: CodePodProbeFailed, Verdict: checks.Fail,
		Template: "%s: %s; expected %s",
		Doc:      "curl's outcome is not the expected one"})
	msgPodProbeDNS = checks.Msg3[string, string, string](checks.Code{ID: CodePodProbeDNS, Verdict: checks.Fail,
		Template: "%s: %s; expected %s",
		Doc:      "the URL's host did not resolve in the cluster"})
	msgPodProbeForbidden = checks.Msg1[string](checks.Code{ID: CodePodProbeForbidden, Verdict: checks.Error,
		Template: "your credentials may not create the probe pod in %s",
		Doc:      "RBAC does not allow creating the probe pod"})
	msgPodProbeNoNS = checks.Msg1[string](checks.Code{ID: CodePodProbeNoNS, Verdict: checks.Error,
		Template: "namespace %s does not exist",
		Doc:      "the namespace does not exist"})
	msgPodProbeImage = checks.Msg1[string](checks.Code{ID: CodePodProbeImage, Verdict: checks.Error,
		Template: "the cluster could not pull the probe image %s",
		Doc:      "the image could not be pulled"})
	msgPodProbeStuck = checks.Msg0(checks.Code{ID: CodePodProbeStuck, Verdict: checks.Error,
		Template: "the probe pod did not start",
		Doc:      "the pod never started (unschedulable, …)"})
	msgPodProbePodFailed = checks.Msg0(checks.Code{ID: CodePodProbePodFailed, Verdict: checks.Error,
		Template: "the probe pod failed",
		Doc:      "the pod failed before curl finished"})
	msgPodProbeNoSA = checks.Msg1[string](checks.Code{ID: CodePodProbeNoSA, Verdict: checks.Error,
		Template: "namespace %s has no ServiceAccount default for the probe pod",
		Doc:      "the namespace has no ServiceAccount default for the probe pod (yet)"})
)

var podProbe = &checks.Check{
	Name: "pod-probe",
	Summary: "runs curl once from a short-lived pod in a namespace of your choice, inside or outside the mesh, " +
		"and judges whether the call succeeded, was refused (as STRICT mTLS refuses plain text) or was denied",
	Acts: "creates a short-lived curl pod (labelled app.kubernetes.io/managed-by=meshdojo) in the namespace you chose, " +
		"and deletes it when curl is done",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "where the probe pod runs: a mesh namespace such as bookinfo for an " +
			"in-mesh client, or one outside the mesh such as default for a plain-text client (ch. 6)"},
		{Name: "url", Type: checks.URL, Required: true, Doc: "what curl requests, e.g. http://ratings.bookinfo:9080/ratings/0"},
		{Name: "expect", Type: checks.Enum, Default: "success", Enum: []string{"success", "refused", "denied"}, Doc: "success: curl gets a " +
			"2xx or 3xx answer. refused: the server side cuts the connection (reset, closed or refused, curl exit 56, 52, 7 or 35), " +
			"as a sidecar under STRICT mTLS does to a plain-text client. denied: an HTTP 401 or 403, as an AuthorizationPolicy gives (ch. 7)"},
		{Name: "mesh", Type: checks.Enum, Default: "namespace", Enum: []string{"namespace", "in", "out"}, Doc: "namespace: the pod joins " +
			"the mesh if its namespace does; in: ask for a sidecar (sidecar.istio.io/inject=true); out: keep it out of the mesh " +
			"in both sidecar and ambient mode"},
		{Name: "image", Type: checks.String, Rule: checks.ValidImage, Doc: "curl image; default curlimages/curl, or what the reader set with --probe-image"},
		{Name: "header", Type: checks.Headers, Doc: "request headers as Name: value, several separated by ;"},
		{Name: "timeout", Type: checks.Duration, Default: "10s", Min: "1ms", Doc: "curl's own time limit"},
		{Name: "start-timeout", Type: checks.Duration, Default: "90s", Min: "1ms", Doc: "how long the pod may take to start (image pull, scheduling, " +
			"sidecar) before the check gives up and explains why"},
	},
	Uses: []*checks.Capability{checks.ProbePods},
	Codes: []checks.Code{
		msgPodProbeOK.Code,
		msgPodProbeLeftover.Code,
		msgPodProbeFailed.Code,
		msgPodProbeDNS.Code,
		msgPodProbeForbidden.Code,
		msgPodProbeNoNS.Code,
		msgPodProbeImage.Code,
		msgPodProbeStuck.Code,
		msgPodProbePodFailed.Code,
		msgPodProbeNoSA.Code,
		codeProbeCancelled,
		codeProbeOffline,
	},
	Eval: evalPodProbe,
}

func evalPodProbe(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	probe := traffic.PodProbe{
		Namespace: p.Str("namespace"), URL: p.Str("url"), Image: p.Str("image"), Mesh: p.Str("mesh"),
		Timeout: p.Duration("timeout"), Start: p.Duration("start-timeout"),
	}
	if probe.Image == "" {
		probe.Image = env.Traffic().ProbeImage
	}
	if probe.Image == "" {
		probe.Image = traffic.DefaultImage
	}
	pairs, err := checks.ParseHeaders(p.Str("header"))
	if err != nil {
		return errResult(&checks.ParamError{Param: "header", Value: p.Str("header"), Want: err.Error()})
	}
	for _, kv := range pairs {
		probe.Header = append(probe.Header, kv[0]+": "+kv[1])
	}
	c := env.Clients()
	if c == nil || c.Kube == nil {
		return msgProbeOffline.Result("run a probe pod", checks.Condition{
			Name: "cluster", Observed: "not connected", Expected: "a cluster connection",
			Fix: "Connect meshdojo to your cluster (--context), or run the probe by hand: " + probe.KubectlRun()})
	}
	where := "probe pod in " + probe.Namespace
	probe.OnState = func(pod, state string) {
		env.Emit(checks.Result{Verdict: checks.Pending, Summary: fmt.Sprintf("%s/%s: %s", probe.Namespace, pod, state),
			Progress: "probe pod " + state})
	}
	res, err := traffic.RunPod(ctx, c.Kube, probe)
	leftover := podLeftoverCond(probe, res)
	if err != nil {
		r := podProbeError(err, probe)
		if leftover != nil {
			r.Conditions = append(r.Conditions, *leftover)
			if r.Code == CodeProbeCancelled {
				r = msgProbeCancelled.Result("and left its pod behind", r.Conditions...)
			}
		}
		return r
	}
	want := p.Str("expect")
	got := checks.Condition{Name: "curl " + probe.URL + " from " + probe.Namespace, Expected: podExpectText(want)}
	got.Observed = fmt.Sprintf("exit %d: %s", res.ExitCode, traffic.CurlMeaning(res.ExitCode))
	if res.Status != 0 {
		got.Observed += fmt.Sprintf(" (HTTP %d)", res.Status)
	}
	failed := msgPodProbeFailed
	switch want {
	case "success":
		got.OK = res.ExitCode == 0
	case "refused":
		got.OK = traffic.Refusal(res.ExitCode)
	case "denied":
		got.OK = res.ExitCode == 22 && (res.Status == 0 || res.Status == 401 || res.Status == 403)
	}
	if !got.OK {
		got.Fix = podProbeFix(want, res, probe)
		if res.ExitCode == 6 {
			failed = msgPodProbeDNS
		}
	}
	conds := []checks.Condition{got}
	if leftover != nil {
		conds = append(conds, *leftover)
	}
	meaning := traffic.CurlMeaning(res.ExitCode)
	var r checks.Result
	switch {
	case got.OK && leftover != nil:
		r = msgPodProbeLeftover.Result(where, meaning, want, conds...)
	case got.OK:
		r = msgPodProbeOK.Result(where, meaning, want, conds...)
	default:
		r = failed.Result(where, meaning, podExpectText(want), conds...)
	}
	r.Progress = "probe pod " + res.Pod + " deleted"
	return r
}

func podExpectText(want string) string {
	switch want {
	case "refused":
		return "the connection refused or reset"
	case "denied":
		return "HTTP 401 or 403"
	}
	return "a successful answer"
}

func podProbeFix(want string, res *traffic.PodResult, p traffic.PodProbe) string {
	switch {
	case res.ExitCode == 6:
		return "The host in the URL did not resolve from namespace " + p.Namespace + ". Check the Service name and namespace " +
			"(http://<service>.<namespace>:<port>) with kubectl get svc -A."
	case res.ExitCode == 28:
		return "curl timed out: is the target pod ready, and is a policy dropping the traffic?"
	case want == "refused" && res.ExitCode == 0:
		return "The plain-text call was accepted. Under STRICT mTLS the sidecar would refuse it: check the PeerAuthentication " +
			"(kubectl get peerauthentication -A) and that the target pod has a sidecar."
	case want == "success" && traffic.Refusal(res.ExitCode):
		return "The server side cut the connection. If the probe runs outside the mesh and the target is STRICT, that is mTLS at " +
			"work; this step wants it accepted (PERMISSIVE, or a probe inside the mesh)."
	case want == "success" && res.ExitCode == 22:
		return "The server answered with an HTTP error; an AuthorizationPolicy or the application refused the request."
	}
	return ""
}

func podLeftoverCond(p traffic.PodProbe, res *traffic.PodResult) *checks.Condition {
	if res == nil || res.Deleted {
		return nil
	}
	return &checks.Condition{Name: "probe pod removed", Observed: fmt.Sprintf("%s/%s still exists: %v", p.Namespace, res.Pod, res.CleanErr),
		Expected: "deleted", Fix: fmt.Sprintf("Delete it with kubectl delete pod -n %s %s (all of meshdojo's: kubectl delete pod -A -l %s=%s).",
			p.Namespace, res.Pod, traffic.ManagedByLabel, traffic.ManagedBy)}
}

func podProbeError(err error, p traffic.PodProbe) checks.Result {
	cond := checks.Condition{Name: "probe pod in " + p.Namespace, Observed: err.Error(), Expected: "a pod that runs curl once"}
	fail := func(c checks.Condition) checks.Result { return msgPodProbePodFailed.Result(c) }
	switch {
	case errors.Is(err, traffic.ErrPodForbidden):
		fail = func(c checks.Condition) checks.Result { return msgPodProbeForbidden.Result(p.Namespace, c) }
		cond.Fix = fmt.Sprintf("Ask for create, get and delete on pods (and get on pods/log) in %s, or run the probe by hand: %s",
			p.Namespace, p.KubectlRun())
	case errors.Is(err, traffic.ErrNoServiceAccount):
		fail = func(c checks.Condition) checks.Result { return msgPodProbeNoSA.Result(p.Namespace, c) }
		cond.Fix = "Kubernetes creates it moments after the namespace; if kubectl get serviceaccount default -n " + p.Namespace +
			" stays empty, create it (kubectl create serviceaccount default -n " + p.Namespace + "), then " + checks.Again + "."
	case errors.Is(err, traffic.ErrNoNamespace):
		fail = func(c checks.Condition) checks.Result { return msgPodProbeNoNS.Result(p.Namespace, c) }
		cond.Fix = "Create it (kubectl create namespace " + p.Namespace + ") or do the lesson's set-up step that creates it."
	case errors.Is(err, traffic.ErrImagePull):
		fail = func(c checks.Condition) checks.Result { return msgPodProbeImage.Result(p.Image, c) }
		cond.Fix = "Check that the nodes can reach the registry (kubectl describe pod shows the pull error). For a cluster " +
			"without internet access, push the image to a registry it can reach and start meshdojo with --probe-image <registry>/curl."
	case errors.Is(err, traffic.ErrPodStuck):
		fail = func(c checks.Condition) checks.Result { return msgPodProbeStuck.Result(c) }
		cond.Fix = "See why with kubectl get events -n " + p.Namespace + ". In the lab, pods only run on nodes with the " +
			"nodegroup labels; a full node or a missing sidecar image also keeps pods Pending."
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		fail = func(c checks.Condition) checks.Result { return msgProbeCancelled.Result("(the pod was deleted)", c) }
		cond.Observed = "stopped before curl finished (cancelled, or meshdojo was interrupted)"
		cond.Fix = "Run the check again when you want the result; it starts a fresh pod."
	default:
		cond.Fix = "See kubectl get events -n " + p.Namespace + ", then " + checks.Again + "."
	}
	return fail(cond)
}
