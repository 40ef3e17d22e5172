package fakelab

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// ch7Policies are the chapter 7 lab's RequestAuthentications and
// AuthorizationPolicies in bookinfo; jwks is the RequestAuthentications'
// jwksUri.
func ch7Policies(jwks string) string {
	ra := func(app string) string {
		return `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: ` + app + `, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: ` + app + `}}
  jwtRules:
  - issuer: http://localhost:8080/realms/bookinfo
    jwksUri: ` + jwks + `
    fromCookies: [access_token]
---
`
	}
	return ra("details") + ra("reviews") + ra("ratings") + `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: productpage, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: productpage}}
  rules:
  - from: [{source: {principals: [cluster.local/ns/istio-ingress/sa/istio-ingressgateway]}}]
    to: [{operation: {paths: [/, /callback*, /favicon*, /index.html, /login*, /logout*, /productpage*, /static*]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: details, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: details}}
  rules:
  - when: [{key: "request.auth.claims[iss]", values: [http://localhost:8080/realms/bookinfo]}]
    from: [{source: {principals: [cluster.local/ns/bookinfo/sa/productpage]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: reviews}}
  rules:
  - when:
    - {key: "request.auth.claims[iss]", values: [http://localhost:8080/realms/bookinfo]}
    - {key: "request.auth.claims[groups]", values: [/reviewers]}
    from: [{source: {principals: [cluster.local/ns/bookinfo/sa/productpage]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: ratings}}
  rules:
  - when: [{key: "request.auth.claims[iss]", values: [http://localhost:8080/realms/bookinfo]}]
    from: [{source: {principals: [cluster.local/ns/bookinfo/sa/productpage, cluster.local/ns/bookinfo/sa/reviews]}}]
---
`
}

const labJWKS = "http://keycloak-http.keycloak.svc.cluster.local:8080/realms/bookinfo/protocol/openid-connect/certs"

// keycloakYAML is the chapter 7 Keycloak: its namespace, pod, Service,
// realm Secret (izzy in /reviewers, bob in no group) and the ingress's
// port 8080 routed to it.
func keycloakYAML(running bool) string {
	phase := "Running"
	if !running {
		phase = "Pending"
	}
	return `apiVersion: v1
kind: Namespace
metadata: {name: keycloak, labels: {istio.io/rev: stable}}
---
apiVersion: v1
kind: Pod
metadata: {name: keycloak-0, namespace: keycloak, labels: {app.kubernetes.io/name: keycloakx, app.kubernetes.io/instance: keycloak}}
spec: {containers: [{name: keycloak}, {name: istio-proxy}]}
status: {phase: ` + phase + `, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: keycloak-http, namespace: keycloak}
spec: {selector: {app.kubernetes.io/name: keycloakx, app.kubernetes.io/instance: keycloak}, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Secret
metadata: {name: keycloak-realms, namespace: keycloak}
stringData:
  realm-bookinfo.json: |
    {"realm": "bookinfo", "accessTokenLifespan": 43200,
     "users": [{"username": "izzy", "enabled": true, "groups": ["/reviewers"], "credentials": [{"type": "password", "value": "izzy"}]},
               {"username": "bob", "enabled": true, "credentials": [{"type": "password", "value": "bob"}]}],
     "clients": [{"clientId": "productpage", "secret": "s3cret", "directAccessGrantsEnabled": true}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: keycloak-ingress, namespace: istio-ingress}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: keycloak-http-ingress, namespace: keycloak}
spec:
  hosts: ["*"]
  gateways: [istio-ingress/keycloak-ingress]
  http:
  - match: [{port: 8080}]
    route: [{destination: {host: keycloak-http.keycloak.svc.cluster.local, port: {number: 8080}}}]
---
`
}

// token asks the simulated Keycloak through the ingress's port 8080 with
// the given Host; "" when it refuses.
func token(t *testing.T, s *Sim, host, user, password string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "client_id": {"productpage"}, "client_secret": {"s3cret"}, "username": {user}, "password": {password}}
	r := s.Ingress(context.Background(), Request{Method: http.MethodPost, Host: host, Port: 8080,
		Path: "/realms/bookinfo/protocol/openid-connect/token", Body: form.Encode(),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if r.Status != 200 || json.Unmarshal([]byte(r.Body), &body) != nil {
		return ""
	}
	return body.AccessToken
}

func page(s *Sim, path, cookie string) Response {
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", "access_token="+cookie)
	}
	return s.Ingress(context.Background(), Request{Host: "localhost:9080", Port: 9080, Path: path, Header: h})
}

func TestAuthorizationPolicies(t *testing.T) {
	open := lab(t, podYAML("bookinfo", "ratings", "v3", true))
	locked := lab(t, podYAML("bookinfo", "ratings", "v3", true), ch7Policies(labJWKS))

	// Without a token the page renders, with details and reviews refused.
	r := page(locked, "/productpage", "")
	if r.Status != 200 || !strings.Contains(r.Body, "<strong>403</strong>: Please sign in to view product details.") ||
		!strings.Contains(r.Body, "<strong>403</strong>: Please sign in to view product reviews.") {
		t.Errorf("no token, policies: %d %s", r.Status, r.Body)
	}
	if r := page(open, "/productpage", ""); r.Status != 200 || strings.Contains(r.Body, "Please sign in") || !strings.Contains(r.Body, "Reviews served by: reviews-v4") {
		t.Errorf("no policies: %d %s", r.Status, r.Body)
	}
	// The API path is not in productpage's allowed paths.
	if r := page(locked, "/api/v1/products/0", ""); r.Status != 403 || r.Body != "RBAC: access denied" {
		t.Errorf("API path, policies: %d %s", r.Status, r.Body)
	}
	if r := page(open, "/api/v1/products/0", ""); r.Status != 200 {
		t.Errorf("API path, no policies: %d %s", r.Status, r.Body)
	}
	// A mesh workload other than the gateway.
	direct := Request{Host: "productpage.bookinfo", Port: 9080, Path: "/productpage"}
	if r := locked.FromPod(context.Background(), "bookinfo", true, direct); r.Status != 403 {
		t.Errorf("probe pod to productpage, policies: %d %s", r.Status, r.Body)
	}
	if r := open.FromPod(context.Background(), "bookinfo", true, direct); r.Status != 200 {
		t.Errorf("probe pod to productpage, no policies: %d %s", r.Status, r.Body)
	}
	// Policies outside the discoverySelectors are not seen.
	hidden := lab(t, podYAML("bookinfo", "ratings", "v3", true), `apiVersion: v1
kind: Namespace
metadata: {name: elsewhere}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: istio-system}
spec: {action: DENY, rules: [{}]}
`)
	if r := page(hidden, "/api/v1/products/0", ""); r.Status != 200 {
		t.Errorf("a DENY policy in an unselected root namespace was enforced: %d", r.Status)
	}
	shown := lab(t, podYAML("bookinfo", "ratings", "v3", true), `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: bookinfo}
spec: {action: DENY, rules: [{}]}
`)
	if r := page(shown, "/api/v1/products/0", ""); r.Status != 403 {
		t.Errorf("a DENY policy in bookinfo was not enforced: %d", r.Status)
	}
}

func TestRequestAuthentication(t *testing.T) {
	s := lab(t, podYAML("bookinfo", "ratings", "v3", true), ch7Policies(labJWKS), keycloakYAML(true))

	izzy := token(t, s, "localhost:8080", "izzy", "izzy")
	if izzy == "" {
		t.Fatal("no token for izzy")
	}
	if token(t, s, "localhost:8080", "izzy", "wrong") != "" {
		t.Error("a wrong password got a token")
	}
	r := page(s, "/productpage", izzy)
	if r.Status != 200 || strings.Contains(r.Body, "Please sign in") || !strings.Contains(r.Body, "Reviews served by: reviews-v4") || !strings.Contains(r.Body, `"stars":5`) {
		t.Errorf("izzy's token: %d %s", r.Status, r.Body)
	}
	// A token asked from another address has another issuer: refused
	// with 401, so productpage signs the user out.
	other := token(t, s, "keycloak-http.keycloak.svc.cluster.local:8080", "izzy", "izzy")
	if other == "" {
		t.Fatal("no token through the in-cluster name")
	}
	for name, tok := range map[string]string{"other issuer": other, "garbage": "not-a-jwt", "tampered": izzy[:len(izzy)-2] + "xx"} {
		if r := page(s, "/productpage", tok); r.Status != 302 || !strings.HasSuffix(r.Header.Get("Location"), "/logout") {
			t.Errorf("%s: %d %v", name, r.Status, r.Header)
		}
	}
	// The claims decide: bob has no /reviewers group.
	bob := token(t, s, "localhost:8080", "bob", "bob")
	if r := page(s, "/productpage", bob); r.Status != 200 || !strings.Contains(r.Body, "Book Details") || !strings.Contains(r.Body, "403</strong>: Please sign in to view product reviews") {
		t.Errorf("bob: %d %s", r.Status, r.Body)
	}
	// A jwksUri istiod cannot fetch: no token verifies.
	broken := lab(t, podYAML("bookinfo", "ratings", "v3", true), ch7Policies("http://keycloak-http.nowhere.svc.cluster.local:8080/realms/bookinfo/protocol/openid-connect/certs"), keycloakYAML(true))
	if r := page(broken, "/productpage", token(t, broken, "localhost:8080", "izzy", "izzy")); r.Status != 302 {
		t.Errorf("unreachable jwksUri: %d", r.Status)
	}
	// Without a running Keycloak there is no token to be had.
	down := lab(t, podYAML("bookinfo", "ratings", "v3", true), ch7Policies(labJWKS), keycloakYAML(false))
	if tok := token(t, down, "localhost:8080", "izzy", "izzy"); tok != "" {
		t.Error("a Keycloak that is not running gave a token")
	}
	// Without RequestAuthentications the token is ignored: no claims,
	// so the ALLOW policies that want them refuse.
	all := ch7Policies(labJWKS)
	nora := lab(t, podYAML("bookinfo", "ratings", "v3", true), all[strings.Index(all, "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy"):], keycloakYAML(true))
	if r := page(nora, "/productpage", token(t, nora, "localhost:8080", "izzy", "izzy")); r.Status != 200 || !strings.Contains(r.Body, "403</strong>: Please sign in to view product details") {
		t.Errorf("no RequestAuthentication: %d %s", r.Status, r.Body)
	}
}
