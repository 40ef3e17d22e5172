package traffic

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Labels every probe pod carries, so a reader (or `kubectl delete pod -l
// app.kubernetes.io/managed-by=meshdojo -A`) can find leftovers.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "meshdojo"
	DefaultImage   = "curlimages/curl"
	probeContainer = "probe"
	statusMarker   = "meshdojo-http-status="
)

// Mesh membership of a probe pod.
const (
	MeshNamespace = "namespace" // whatever the namespace's labels say
	MeshIn        = "in"        // ask for a sidecar
	MeshOut       = "out"       // keep it out of the mesh (sidecar and ambient)
)

// PodProbe is one curl run from inside the cluster.
type PodProbe struct {
	Namespace string
	URL       string
	Image     string        // default DefaultImage
	Mesh      string        // MeshNamespace, MeshIn or MeshOut
	Header    []string      // "Name: value" lines for curl -H
	Timeout   time.Duration // curl's own limit (default 10s)
	// Start bounds how long the pod may take to start running (image
	// pull, scheduling, sidecar start); default 90 s.
	Start time.Duration
	// OnState, when set, hears each change of the pod's state, for the
	// UI's list of objects meshdojo created.
	OnState func(pod, state string)
	// Poll is how often the pod is looked at (default 500 ms).
	Poll time.Duration
}

// PodResult is what the probe pod saw.
type PodResult struct {
	Pod      string
	ExitCode int    // curl's exit code
	Reason   string // the container's termination reason
	Status   int    // HTTP status from the logs, 0 if unknown
	Logs     string // best effort: empty when logs could not be read
	LogErr   error
	Deleted  bool  // the pod is gone (or going) again
	CleanErr error // why deleting it failed, if it did
}

// Errors a probe pod can end with, each explained to the reader by the
// check that runs it.
var (
	ErrPodForbidden = errors.New("not allowed to create the probe pod")
	// ErrNoServiceAccount: the namespace has no ServiceAccount "default"
	// (yet). The API refuses the pod with a Forbidden status, but the
	// reader's permissions are not the cause.
	ErrNoServiceAccount = errors.New("no ServiceAccount for the probe pod")
	ErrNoNamespace      = errors.New("namespace not found")
	ErrImagePull        = errors.New("probe image could not be pulled")
	ErrPodStuck         = errors.New("probe pod did not start")
	ErrPodFailed        = errors.New("probe pod failed")
)

// CurlMeaning explains the curl exit codes a probe meets.
func CurlMeaning(code int) string {
	switch code {
	case 0:
		return "the request succeeded"
	case 6:
		return "the host name did not resolve (DNS)"
	case 7:
		return "the connection was refused"
	case 22:
		return "the server answered with an HTTP error (400 or above)"
	case 28:
		return "the request timed out"
	case 35:
		return "the TLS handshake failed"
	case 52:
		return "the server closed the connection without answering"
	case 56:
		return "the connection was reset while waiting for the answer (what a sidecar under STRICT mTLS does to plain text)"
	}
	return "curl exit code " + strconv.Itoa(code)
}

// Refusal reports whether a curl exit code means the server side refused
// or cut the conversation, as mTLS STRICT does to a plain-text client.
func Refusal(code int) bool {
	return code == 7 || code == 35 || code == 52 || code == 56
}

// Command is what the probe pod runs, also shown to readers who want to
// run it by hand.
func (p PodProbe) Command() []string {
	t := p.Timeout
	if t <= 0 {
		t = 10 * time.Second
	}
	cmd := []string{"curl", "-sS", "--fail", "--max-time", strconv.Itoa(max(1, int(t.Seconds()))),
		"-o", "/dev/null", "-w", statusMarker + "%{http_code}\\n"}
	for _, h := range p.Header {
		cmd = append(cmd, "-H", h)
	}
	return append(cmd, p.URL)
}

// KubectlRun is the equivalent one-off kubectl command, for readers whose
// credentials may not create pods from meshdojo, or who want to try it.
func (p PodProbe) KubectlRun() string {
	img := p.Image
	if img == "" {
		img = DefaultImage
	}
	return fmt.Sprintf("kubectl run meshdojo-probe -n %s --rm -i --restart=Never --image=%s -- curl -sS --max-time 10 %s", p.Namespace, img, p.URL)
}

func (p PodProbe) pod() *corev1.Pod {
	img := p.Image
	if img == "" {
		img = DefaultImage
	}
	t := p.Timeout
	if t <= 0 {
		t = 10 * time.Second
	}
	start := p.Start
	if start <= 0 {
		start = 90 * time.Second
	}
	lbl := map[string]string{ManagedByLabel: ManagedBy, "app.kubernetes.io/name": "meshdojo-probe"}
	ann := map[string]string{
		"meshdojo.io/purpose": "one curl request for a meshdojo check; deleted when it ends",
		// Start curl only once the sidecar is ready, or an in-mesh call
		// could fail for reasons the lesson is not about.
		"proxy.istio.io/config": `{"holdApplicationUntilProxyStarts": true}`,
	}
	switch p.Mesh {
	case MeshIn:
		lbl["sidecar.istio.io/inject"] = "true"
	case MeshOut:
		lbl["sidecar.istio.io/inject"] = "false"
		lbl["istio.io/dataplane-mode"] = "none"
	}
	no, yes := false, true
	uid := int64(65532)
	grace := int64(0)
	deadline := int64((start + t + 30*time.Second).Seconds())
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "meshdojo-probe-", Namespace: p.Namespace, Labels: lbl, Annotations: ann},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &deadline,
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  &no,
			Containers: []corev1.Container{{
				Name:    probeContainer,
				Image:   img,
				Command: p.Command(),
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
				},
				// Set on the container, not the pod, so an injected
				// istio-init (which needs root) is not affected.
				SecurityContext: &corev1.SecurityContext{
					RunAsNonRoot:             &yes,
					RunAsUser:                &uid,
					AllowPrivilegeEscalation: &no,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
		},
	}
}

// noServiceAccount reports whether the API says namespace ns has no
// ServiceAccount default (the one the probe pod runs as). Any other
// answer, a refusal to look included, is not that.
func noServiceAccount(ctx context.Context, kube kubernetes.Interface, ns string) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

// RunPod creates the probe pod, waits for curl to finish, reads its exit
// code (from the pod's status) and, best effort, its logs, and deletes
// the pod again, also when ctx is cancelled or something fails.
func RunPod(ctx context.Context, kube kubernetes.Interface, p PodProbe) (res *PodResult, err error) {
	notify := func(pod, state string) {
		if p.OnState != nil {
			p.OnState(pod, state)
		}
	}
	if err := ctx.Err(); err != nil {
		// The reader quit before the probe began: create nothing, as the
		// create below would go ahead on its own context.
		return nil, err
	}
	// Create on a context of its own: if the reader cancels while the
	// request is in flight, the pod may exist anyway and must be found
	// and deleted below, not left behind.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	created, err := kube.CoreV1().Pods(p.Namespace).Create(cctx, p.pod(), metav1.CreateOptions{})
	ccancel()
	switch {
	case apierrors.IsForbidden(err) && noServiceAccount(ctx, kube, p.Namespace):
		// The ServiceAccount admission plugin refuses a pod whose account
		// does not exist with a Forbidden status too
		// (plugin/pkg/admission/serviceaccount); that is about the
		// namespace, not about RBAC. Asked, not read from the message.
		return nil, fmt.Errorf("%w: namespace %s has no ServiceAccount default, which the pod runs as: %v", ErrNoServiceAccount, p.Namespace, apiMessage(err))
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("%w in namespace %s: %v", ErrPodForbidden, p.Namespace, apiMessage(err))
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%w: there is no namespace %s to run the probe pod in", ErrNoNamespace, p.Namespace)
	case err != nil:
		return nil, fmt.Errorf("creating the probe pod in %s: %w", p.Namespace, err)
	}
	res = &PodResult{Pod: created.Name}
	notify(created.Name, "created")
	defer func() {
		// A fresh context: the probe's own may be cancelled already, and
		// the pod must go whatever happened.
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		grace := int64(0)
		bg := metav1.DeletePropagationBackground
		derr := kube.CoreV1().Pods(p.Namespace).Delete(cctx, created.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace, PropagationPolicy: &bg})
		if derr != nil && !apierrors.IsNotFound(derr) {
			res.CleanErr = derr
			notify(created.Name, "could not be deleted: "+apiMessage(derr))
			return
		}
		res.Deleted = true
		notify(created.Name, "deleted")
	}()

	start := p.Start
	if start <= 0 {
		start = 90 * time.Second
	}
	poll := p.Poll
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	curlLimit := p.Timeout
	if curlLimit <= 0 {
		curlLimit = 10 * time.Second
	}
	startBy := time.Now().Add(start)
	var runningSince time.Time
	lastState := ""
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		gctx, gcancel := context.WithTimeout(ctx, 10*time.Second)
		pod, gerr := kube.CoreV1().Pods(p.Namespace).Get(gctx, created.Name, metav1.GetOptions{})
		gcancel()
		if gerr == nil {
			state, done, perr := judgePod(pod)
			if state != lastState {
				notify(created.Name, state)
				lastState = state
			}
			if perr != nil {
				return res, perr
			}
			if done != nil {
				res.ExitCode, res.Reason = int(done.ExitCode), done.Reason
				res.Logs, res.LogErr = podLogs(kube, p.Namespace, created.Name)
				res.Status = statusFromLogs(res.Logs)
				return res, nil
			}
			if pod.Status.Phase == corev1.PodRunning && runningSince.IsZero() {
				runningSince = time.Now()
			}
			if runningSince.IsZero() && time.Now().After(startBy) {
				return res, fmt.Errorf("%w within %s: %s", ErrPodStuck, start, pendingReason(pod))
			}
			if !runningSince.IsZero() && time.Since(runningSince) > curlLimit+30*time.Second {
				return res, fmt.Errorf("%w: curl was still running %s after it started, beyond its own %s limit", ErrPodFailed, time.Since(runningSince).Round(time.Second), curlLimit)
			}
		} else {
			switch {
			case apierrors.IsNotFound(gerr):
				return res, fmt.Errorf("%w: the probe pod %s was deleted by someone else before it finished", ErrPodFailed, created.Name)
			case apierrors.IsForbidden(gerr):
				return res, fmt.Errorf("%w: it was created but may not be read back (get pods) in %s: %v", ErrPodForbidden, p.Namespace, apiMessage(gerr))
			case runningSince.IsZero() && time.Now().After(startBy), !runningSince.IsZero() && time.Since(runningSince) > curlLimit+30*time.Second:
				// The API server keeps failing: give up within the same
				// bounds as for a pod that does not progress.
				return res, fmt.Errorf("%w: could not read the probe pod's state: %v", ErrPodFailed, apiMessage(gerr))
			}
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
	}
}

var pullReasons = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true}

// judgePod reads a pod's state: a one-line description, the curl
// container's termination when it has ended, or an error when it never
// will run.
func judgePod(pod *corev1.Pod) (state string, done *corev1.ContainerStateTerminated, err error) {
	all := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range all {
		if w := cs.State.Waiting; w != nil {
			if pullReasons[w.Reason] {
				return w.Reason, nil, fmt.Errorf("%w: %s for container %s (image %s): %s", ErrImagePull, w.Reason, cs.Name, cs.Image, w.Message)
			}
			if w.Reason == "CreateContainerConfigError" || w.Reason == "CreateContainerError" {
				return w.Reason, nil, fmt.Errorf("%w: %s: %s", ErrPodFailed, w.Reason, w.Message)
			}
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == probeContainer && cs.State.Terminated != nil {
			return "finished", cs.State.Terminated, nil
		}
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		return "finished", &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}, nil
	case corev1.PodFailed:
		why := pod.Status.Reason
		if pod.Status.Message != "" {
			why += ": " + pod.Status.Message
		}
		return "failed", nil, fmt.Errorf("%w before curl finished: %s", ErrPodFailed, strings.TrimPrefix(why, ": "))
	case corev1.PodRunning:
		return "running", nil, nil
	}
	return "pending: " + pendingReason(pod), nil, nil
}

// pendingReason says why a pod has not started, as the scheduler or
// kubelet put it.
func pendingReason(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return strings.TrimSpace(c.Reason + ": " + c.Message)
		}
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return cs.Name + " " + w.Reason
		}
	}
	if pod.Spec.NodeName == "" {
		return "not scheduled to a node yet"
	}
	return "waiting on node " + pod.Spec.NodeName
}

func podLogs(kube kubernetes.Interface, ns, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	limit := int64(16 << 10)
	raw, err := kube.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: probeContainer, LimitBytes: &limit}).DoRaw(ctx)
	if err != nil {
		return "", err
	}
	return string(raw), nil
}

var statusRe = regexp.MustCompile(regexp.QuoteMeta(statusMarker) + `(\d{3})`)

func statusFromLogs(logs string) int {
	m := statusRe.FindStringSubmatch(logs)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// apiMessage is an API error's message without Go's wrapping.
func apiMessage(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return st.Status().Message
	}
	return err.Error()
}
