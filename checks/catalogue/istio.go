package catalogue

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshdojo/meshdojo/checks"
)

// Codes of the control-plane checks.
const (
	CodeIstiodReady     = "MD0100" // pass
	CodeIstiodMissing   = "MD0101" // no istiod Deployment (of that revision)
	CodeIstiodNotReady  = "MD0102" // found but not every replica updated and ready
	CodeRevisionUnknown = "MD0103" // the revision is neither a running revision nor a tag
	CodeRootCertOK      = "MD0110" // pass
	CodeRootCertMissing = "MD0111" // no istio-ca-root-cert ConfigMap
	CodeRootCertBad     = "MD0112" // no root-cert.pem, not a certificate, or expired
)

// The messages of istiod-ready.
var (
	msgIstiodReady = checks.Msg1[string](checks.Code{ID: CodeIstiodReady, Verdict: checks.Pass,
		Template: "istiod is ready: %s",
		Doc:      "every chosen istiod Deployment is Available with all replicas updated and ready"})
	msgIstiodMissing = checks.Msg2[string, string](checks.Code{ID: CodeIstiodMissing, Verdict: checks.Fail,
		Template: "%s is not installed in %s",
		Doc:      "no istiod Deployment (of that revision) in the namespace"})
	msgIstiodNotReady = checks.Msg1[string](checks.Code{ID: CodeIstiodNotReady, Verdict: checks.Fail,
		Template: "istiod %s is not ready yet",
		Doc:      "istiod is there, but not every replica is updated and ready"})
	msgRevisionUnknown = checks.Msg1[string](checks.Code{ID: CodeRevisionUnknown, Verdict: checks.Fail,
		Template: "no istiod revision or tag named %s",
		Doc:      "the revision is neither a running revision nor a revision tag"})
)

var istiodReady = &checks.Check{
	Name:    "istiod-ready",
	Summary: "istiod (of a revision or tag, or every one installed) is Available with all replicas updated and ready",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Default: "istio-system", Doc: "namespace istiod runs in"},
		{Name: "revision", Type: checks.LabelValue, Doc: "a revision such as 1-29-0, or a revision tag such as stable (resolved through the istio-revision-tag webhook's istio.io/tag and istio.io/rev labels); empty means every istiod Deployment found"},
	},
	Watch:  true,
	Inputs: istiodInputs,
	Codes: []checks.Code{
		msgIstiodReady.Code,
		msgIstiodMissing.Code,
		msgIstiodNotReady.Code,
		msgRevisionUnknown.Code,
	},
	Eval: evalIstiodReady,
}

func istiodInputs(p checks.Params) []checks.Input {
	in := []checks.Input{{GVR: checks.GVRDeployments, Namespace: p.Str("namespace"), Selector: "app=istiod"}}
	if r := p.Str("revision"); r != "" {
		in = append(in, tagInput(r))
	}
	return in
}

// The messages of ca-root-cert.
var (
	msgRootCertOK = checks.Msg1[string](checks.Code{ID: CodeRootCertOK, Verdict: checks.Pass,
		Template: "istio-ca-root-cert is present in %s",
		Doc:      "istio-ca-root-cert holds a root certificate valid now"})
	msgRootCertMissing = checks.Msg1[string](checks.Code{ID: CodeRootCertMissing, Verdict: checks.Fail,
		Template: "istio-ca-root-cert is missing in %s",
		Doc:      "no istio-ca-root-cert ConfigMap in the namespace: istiod does not watch it, or is not running"})
	msgRootCertBad = checks.Msg2[string, rootCertFault](checks.Code{ID: CodeRootCertBad, Verdict: checks.Fail,
		Template: "the root certificate in %s cannot be used: %s",
		Doc:      "the ConfigMap has no root-cert.pem, or it is not a certificate, or it has expired"})
)

// rootCertFault is what makes istio-ca-root-cert unusable.
type rootCertFault string

const (
	rootCertAbsent  rootCertFault = "istio-ca-root-cert has no root-cert.pem"
	rootCertInvalid rootCertFault = "root-cert.pem is not a valid certificate"
	rootCertEmpty   rootCertFault = "root-cert.pem holds no certificate"
	rootCertExpired rootCertFault = "it has expired"
)

var caRootCert = &checks.Check{
	Name:    "ca-root-cert",
	Summary: "the ConfigMap istio-ca-root-cert that istiod writes into each namespace it watches is present with a valid root-cert.pem",
	Params: []checks.ParamSpec{
		{Name: "namespace", Type: checks.Namespace, Required: true, Doc: "namespace that should hold istio-ca-root-cert"},
	},
	Watch:  true,
	Inputs: rootCertInputs,
	Codes: []checks.Code{
		msgRootCertOK.Code,
		msgRootCertMissing.Code,
		msgRootCertBad.Code,
	},
	Eval: evalRootCert,
}

func rootCertInputs(p checks.Params) []checks.Input {
	return []checks.Input{{GVR: checks.GVRConfigMaps, Namespace: p.Str("namespace")}}
}

// evalIstiodReady judges the istiod Deployments (label app=istiod) of a
// namespace. A revision picks those labelled istio.io/rev=<revision>; a
// name that a revision-tag webhook carries as istio.io/tag (the
// MutatingWebhookConfiguration istio-revision-tag-<tag>[-<ns>] the istiod
// chart creates for revisionTags, or istioctl tag set) is first turned
// into the revision of its istio.io/rev label, as istioctl tag list does.
// Without a revision every istiod found must be ready, so a half-done
// upgrade does not pass.
func evalIstiodReady(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	deps, mwcs, err := listWithWebhooks(ctx, env, istiodInputs(p))
	if err != nil {
		return errResult(err)
	}
	ns, want := p.Str("namespace"), p.Str("revision")
	rev, via := want, ""
	if t := resolveTag(mwcs, want); t != "" {
		rev, via = t, fmt.Sprintf("tag %s points at revision %s", want, t)
	}
	var all, chosen []*appsv1.Deployment
	for _, u := range deps {
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
			return errResult(fmt.Errorf("deployment %s: %w", nsName(u), err))
		}
		all = append(all, &d)
		if rev == "" || istiodRevision(&d) == rev {
			chosen = append(chosen, &d)
		}
	}
	if len(chosen) == 0 {
		var found []string
		for _, d := range all {
			found = append(found, fmt.Sprintf("%s (revision %s)", d.Name, istiodRevision(d)))
		}
		obs := "no Deployment labelled app=istiod in " + ns
		if len(found) > 0 {
			obs = "istiod Deployments in " + ns + ": " + strings.Join(found, ", ")
		}
		if rev == "" {
			return msgIstiodMissing.Result("istiod", ns, checks.Condition{
				Name: "istiod Deployment", Observed: obs, Expected: "a Deployment labelled app=istiod in " + ns,
				Fix: "Install the control plane (the lab's istio-base and istio-istiod Helm releases), then wait for it to start.",
			})
		}
		if via == "" && len(all) > 0 {
			return msgRevisionUnknown.Result(want, checks.Condition{
				Name: "istiod revision " + want, Observed: obs + "; no MutatingWebhookConfiguration labelled istio.io/tag=" + want,
				Expected: "an istiod Deployment labelled istio.io/rev=" + want + ", or a revision tag " + want,
				Fix:      "Install istiod with revision " + want + ", or create the tag (revisionTags in the istiod Helm values, or istioctl tag set " + want + " --revision <rev>).",
			})
		}
		exp := "an istiod Deployment labelled istio.io/rev=" + rev
		if via != "" {
			exp += " (" + via + ")"
		}
		notag := ""
		fix := "Install istiod with revision " + rev + " (the istio-istiod Helm release with revision: " + rev + "), or point the tag at a revision that is installed."
		if via == "" {
			// No istiod at all and no tag of that name: the name may be
			// either, so say both.
			notag = "; no revision tag named " + want
			fix = "Install istiod (the lab's istio-istiod Helm release). " + want + " must then be its revision, or a revision tag pointing at it (revisionTags: [" + want + "] in the istiod Helm values, or istioctl tag set " + want + " --revision <revision>)."
		}
		return msgIstiodMissing.Result("istiod revision "+rev, ns, checks.Condition{
			Name: "istiod revision " + rev, Observed: obs + notag, Expected: exp, Fix: fix,
		})
	}
	sort.Slice(chosen, func(i, j int) bool { return chosen[i].Name < chosen[j].Name })
	var conds []checks.Condition
	if via != "" {
		conds = append(conds, checks.Condition{Name: "revision tag " + want, OK: true, Observed: via, Expected: "tag resolves to a revision"})
	}
	var bad []string
	var versions []string
	for _, d := range chosen {
		ok, obs := deploymentReady(d)
		ver := imageVersion(d, "discovery")
		versions = append(versions, ver)
		c := checks.Condition{Name: fmt.Sprintf("%s/%s (revision %s, Istio %s)", d.Namespace, d.Name, istiodRevision(d), ver),
			OK: ok, Observed: obs, Expected: "Available, every replica updated and ready"}
		if !ok {
			c.Fix = fmt.Sprintf("Wait for the rollout (kubectl rollout status deployment/%s -n %s); if pods stay Pending, check the node labels the lab's affinity needs (kubectl describe pod -n %s -l app=istiod).", d.Name, d.Namespace, d.Namespace)
			bad = append(bad, d.Name)
		}
		conds = append(conds, c)
	}
	if len(bad) > 0 {
		return msgIstiodNotReady.Result(strings.Join(bad, ", "), conds...)
	}
	var names []string
	for i, d := range chosen {
		names = append(names, fmt.Sprintf("%s (Istio %s)", d.Name, versions[i]))
	}
	return msgIstiodReady.Result(strings.Join(names, ", "), conds...)
}

func istiodRevision(d *appsv1.Deployment) string {
	if r := d.Labels["istio.io/rev"]; r != "" {
		return r
	}
	return "default"
}

// imageVersion is the tag of the named container's image, without the
// distroless/debug variant suffix.
func imageVersion(d *appsv1.Deployment, container string) string {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != container && len(d.Spec.Template.Spec.Containers) > 1 {
			continue
		}
		img := c.Image
		if strings.Contains(img, "@") {
			return "unknown (image pinned by digest)"
		}
		i := strings.LastIndex(img, ":")
		if i < 0 || strings.Contains(img[i:], "/") {
			return "unknown (image has no tag)"
		}
		tag := img[i+1:]
		for _, v := range []string{"-distroless", "-debug"} {
			tag = strings.TrimSuffix(tag, v)
		}
		return tag
	}
	return "unknown"
}

// deploymentReady applies `kubectl rollout status` rules: the controller
// has seen the latest spec, every replica is updated, ready and
// available, and no old replica is left.
func deploymentReady(d *appsv1.Deployment) (bool, string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	obs := fmt.Sprintf("%d/%d ready, %d/%d updated, %d/%d available", s.ReadyReplicas, want, s.UpdatedReplicas, want, s.AvailableReplicas, want)
	var notes []string
	ok := true
	if s.ObservedGeneration < d.Generation {
		ok = false
		notes = append(notes, "the controller has not processed the latest change yet")
	}
	if s.UpdatedReplicas < want || s.ReadyReplicas < want || s.AvailableReplicas < want {
		ok = false
	}
	if s.Replicas > s.UpdatedReplicas {
		ok = false
		notes = append(notes, plural(int(s.Replicas-s.UpdatedReplicas), "old replica", "old replicas")+" still running")
	}
	for _, c := range s.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status != corev1.ConditionTrue {
			ok = false
			notes = append(notes, fmt.Sprintf("Available=%s (%s)", c.Status, c.Reason))
		}
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			notes = append(notes, "rollout exceeded its progress deadline")
		}
	}
	if want == 0 {
		obs = "scaled to 0 replicas"
	}
	if len(notes) > 0 {
		obs += "; " + strings.Join(notes, "; ")
	}
	return ok, obs
}

func evalRootCert(ctx context.Context, env checks.Env, p checks.Params) checks.Result {
	ns := p.Str("namespace")
	objs, err := env.List(ctx, rootCertInputs(p)[0])
	if err != nil {
		return errResult(err)
	}
	var cm *corev1.ConfigMap
	for _, u := range objs {
		if u.GetName() == "istio-ca-root-cert" {
			cm = &corev1.ConfigMap{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, cm); err != nil {
				return errResult(err)
			}
		}
	}
	name := "ConfigMap " + ns + "/istio-ca-root-cert"
	if cm == nil {
		return msgRootCertMissing.Result(ns, checks.Condition{
			Name: name, Observed: "not found", Expected: "present (istiod writes it into every namespace it watches)",
			Fix: "Check that istiod is running and that " + ns + " is one istiod watches: in the lab, discoverySelectors select namespaces labelled istio.io/rev=stable (kubectl label namespace " + ns + " istio.io/rev=stable).",
		})
	}
	data := cm.Data["root-cert.pem"]
	if strings.TrimSpace(data) == "" {
		return msgRootCertBad.Result(ns, rootCertAbsent, checks.Condition{
			Name: name, Observed: "no root-cert.pem key", Expected: "root-cert.pem with a PEM certificate",
			Fix: "Delete the ConfigMap and let istiod write it again (kubectl delete configmap istio-ca-root-cert -n " + ns + ").",
		})
	}
	var certs []*x509.Certificate
	rest := []byte(data)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return msgRootCertBad.Result(ns, rootCertInvalid, checks.Condition{
				Name: name, Observed: err.Error(), Expected: "a PEM certificate",
				Fix: "Delete the ConfigMap and let istiod write it again (kubectl delete configmap istio-ca-root-cert -n " + ns + ").",
			})
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return msgRootCertBad.Result(ns, rootCertEmpty, checks.Condition{
			Name: name, Observed: "no PEM CERTIFICATE block", Expected: "a PEM certificate",
			Fix: "Delete the ConfigMap and let istiod write it again (kubectl delete configmap istio-ca-root-cert -n " + ns + ").",
		})
	}
	now := time.Now()
	var descr []string
	for _, c := range certs {
		descr = append(descr, fmt.Sprintf("%s, valid %s to %s", c.Subject, c.NotBefore.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02")))
		if now.After(c.NotAfter) {
			return msgRootCertBad.Result(ns, rootCertExpired, checks.Condition{
				Name: name, Observed: "expired: " + descr[len(descr)-1], Expected: "a root certificate valid now",
				Fix: "Rotate the CA (replace istio-system/istio-ca-secret or cacerts) and restart istiod so it rewrites the ConfigMaps.",
			})
		}
	}
	return msgRootCertOK.Result(ns, checks.Condition{
		Name: name, OK: true, Observed: strings.Join(descr, "; "), Expected: "a valid root certificate in root-cert.pem",
	})
}
