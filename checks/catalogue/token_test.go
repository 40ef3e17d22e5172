package catalogue

import (
	"bytes"
	"encoding/json"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/traffic/fakelab"
)

// tokenLab is the simulated chapter 7 lab: Bookinfo with the lab's
// policies and Keycloak, its ingress's 9080 and 8080 served over HTTP.
func tokenLab(t *testing.T) (ingress, keycloak string) {
	t.Helper()
	raw, err := os.ReadFile("testdata/common/token-lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := fakelab.FromYAML(string(raw), fakelab.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ing := httptest.NewServer(sim.IngressHandler(9080))
	kc := httptest.NewServer(sim.IngressHandler(8080))
	t.Cleanup(func() { ing.Close(); kc.Close() })
	return ing.URL, kc.URL
}

// The probe signs izzy in, sends her token as the access_token cookie,
// and the page answers as for a signed-in reader; the token appears in
// no result, no emitted result, no JSON and no log line.
func TestHTTPProbeTokenUser(t *testing.T) {
	ing, kc := tokenLab(t)
	var logs bytes.Buffer
	log.SetOutput(&logs)
	defer log.SetOutput(os.Stderr)

	seen := struct {
		sync.Mutex
		cookies []string
	}{}
	// A recording proxy in front of the ingress, to learn the token the
	// probe sent (and then look for it everywhere it must not be).
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Lock()
		seen.cookies = append(seen.cookies, r.Header.Get("Cookie"))
		seen.Unlock()
		req, _ := http.NewRequest(r.Method, ing+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		req.Host = r.Host
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		w.Write(b.Bytes())
	}))
	defer front.Close()

	env := newEmitEnv(nil)
	env.Settings = checks.TrafficSettings{Ingress: front.URL, Keycloak: kc}
	params := map[string]string{"count": "3", "token-user": "izzy", "token-password": "izzy", "token-client-secret": "s3cret",
		"expect-status": "200", "body-contains": "Reviews served by"}
	r := runTraffic(t, env, "http-probe", params)
	if r.Verdict != checks.Pass {
		t.Fatal(explain(r))
	}
	seen.Lock()
	cookie := seen.cookies[0]
	seen.Unlock()
	tok, ok := strings.CutPrefix(cookie, "access_token=")
	if !ok || strings.Count(tok, ".") != 2 {
		t.Fatalf("the probe sent cookie %q, want access_token=<jwt>", cookie)
	}
	js, _ := json.Marshal(r)
	env.mu.Lock()
	emitted, _ := json.Marshal(env.emitted)
	env.mu.Unlock()
	for where, text := range map[string]string{"result": explain(r), "JSON": string(js), "emitted": string(emitted), "log": logs.String()} {
		if strings.Contains(text, tok) || strings.Contains(text, tok[:20]) {
			t.Errorf("the token appears in the %s", where)
		}
	}
	if !strings.Contains(explain(r), "obtained for izzy") {
		t.Errorf("the result does not say a token was used:\n%s", explain(r))
	}

	// Without the token the same probe fails: the page asks to sign in.
	delete(params, "token-user")
	delete(params, "token-password")
	delete(params, "token-client-secret")
	if r := runTraffic(t, env, "http-probe", params); r.Verdict != checks.Fail {
		t.Errorf("without a token: %s", explain(r))
	}
	// A wrong password gets no token, and the probe says why.
	params["token-user"], params["token-password"], params["token-client-secret"] = "izzy", "wrong", "s3cret"
	r = runTraffic(t, env, "http-probe", params)
	if r.Verdict != checks.Fail || r.Code != CodeNoToken || !strings.Contains(explain(r), "Invalid user credentials") {
		t.Errorf("wrong password: %s", explain(r))
	}
}
