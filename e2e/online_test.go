package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/lessons"
)

// TestOnlineGateOpensOnRealCluster runs the tutorial against a real API
// server (the test harness's kube-apiserver and etcd): the step's checks
// are watched by the real engine, fail while the cluster lacks what they
// want, and pass, opening the gate, the moment it appears.
func TestOnlineGateOpensOnRealCluster(t *testing.T) {
	l, si := rootCertStep(t)
	s := &l.Steps[si]
	c := testcluster.Shared(t)
	kc, err := c.Kubeconfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	env := offlineEnv(t)
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kcPath, kc, 0o600)

	// The namespaces exist, the root certificates do not yet.
	var nsYAML, cmYAML strings.Builder
	pemCert := selfSignedPEM(t)
	for _, ref := range s.Checks {
		ns := ref.Params["namespace"]
		fmt.Fprintf(&nsYAML, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
		fmt.Fprintf(&cmYAML, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio-ca-root-cert\n  namespace: %s\ndata:\n  root-cert.pem: |\n%s",
			ns, indent(pemCert, "    "))
	}
	if err := c.Apply(t.Context(), nsYAML.String()); err != nil {
		t.Fatal(err)
	}

	step := strconv.Itoa(si + 1)
	tm := start(t, env, 100, 30, "--kubeconfig", kcPath, "--lesson", l.ID, "--step", step)
	tm.waitText("● testcluster", "Lesson "+strings.ToUpper(l.ID)+" · step "+step+"/", "FAIL")
	tm.press("n")
	tm.waitText("Not yet:", "is not passing")

	if err := c.Apply(t.Context(), cmYAML.String()); err != nil {
		t.Fatal(err)
	}
	tm.waitFor("every check to pass", func(scr string) bool {
		return strings.Count(scr, "PASS ") == len(s.Checks) && !strings.Contains(scr, "FAIL")
	})
	if q := s.Question; q != nil {
		for i, ch := range q.Choices {
			if ch == q.Answer {
				tm.press(strconv.Itoa(i + 1))
			}
		}
		tm.waitText("RIGHT")
	}
	tm.press("n")
	tm.waitText("· step " + strconv.Itoa(si+2) + "/")
	tm.press("q")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if st := stateFor(t, env, "testcluster").StatusOf(l.ID, s.Anchor); st != progress.Done {
		t.Errorf("step saved as %q, want done (progress is per context: testcluster)", st)
	}
}

// rootCertStep finds a shipped step whose checks are all ca-root-cert
// and whose question, if any, has a fixed answer, so the test can satisfy
// it; chapter 6 has one.
func rootCertStep(t *testing.T) (*lessons.Lesson, int) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		for i := range l.Steps {
			s := &l.Steps[i]
			if len(s.Checks) == 0 || i+1 >= len(l.Steps) || s.Question != nil && s.Question.Check != nil {
				continue
			}
			ok := true
			for _, c := range s.Checks {
				ok = ok && c.Name == "ca-root-cert"
			}
			if ok {
				return l, i
			}
		}
	}
	t.Fatal("no lesson step checks only ca-root-cert; pick another step for this test")
	return nil, 0
}

func selfSignedPEM(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"cluster.local"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func indent(s, pad string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(pad + l + "\n")
	}
	return b.String()
}
