package fakelab

// Request authentication and authorization in the server's sidecar, and
// the chapter 7 lab's Keycloak.
//
// A sidecar that receives a request first applies the
// RequestAuthentications that select its workload: a token where their
// jwtRules look (the lab's: the access_token cookie) that does not
// verify, or whose issuer no rule names, gets 401; a valid one's claims
// go on to authorization. Then the AuthorizationPolicies decide, with
// internal/authz (the evaluator the authz-decision check uses): a denial
// is 403 "RBAC: access denied". The caller's identity is its service
// account's SPIFFE name when the request came over mutual TLS, none for
// plain text.
//
// Keycloak is any running pod labelled app.kubernetes.io/name=keycloakx
// (the codecentric/keycloakx chart's), and its realms are read from the
// JSON files of the Secrets in its namespace (the lab's keycloak-realms,
// mounted for --import-realm). It answers the realm's OpenID
// configuration and its token endpoint's password grant, for the users
// and confidential clients of the realm; like Keycloak, it takes the
// token's issuer from the Host the request was sent to. Its tokens are
// signed with a key of the realm (HS256 here, where the real one signs
// RS256: only the simulator verifies them), and a sidecar verifies a
// token only when the jwksUri of the rule naming its issuer reaches that
// Keycloak's realm, as istiod fetches the keys from it.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdojo/meshdojo/internal/authz"
)

// realm is the part of a Keycloak realm export the simulator uses.
type realm struct {
	Realm               string `json:"realm"`
	AccessTokenLifespan int    `json:"accessTokenLifespan"`
	Users               []struct {
		Username    string   `json:"username"`
		Email       string   `json:"email"`
		Enabled     bool     `json:"enabled"`
		Groups      []string `json:"groups"`
		Credentials []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"credentials"`
	} `json:"users"`
	Clients []struct {
		ClientID                  string `json:"clientId"`
		Secret                    string `json:"secret"`
		PublicClient              bool   `json:"publicClient"`
		DirectAccessGrantsEnabled bool   `json:"directAccessGrantsEnabled"`
	} `json:"clients"`
}

// readSecurity reads the kinds of this file into w; it reports whether
// o was one of them.
func (w *World) readSecurity(o *unstructured.Unstructured, errs *[]string) bool {
	switch o.GetKind() {
	case "AuthorizationPolicy":
		p, err := authz.ParsePolicy(o)
		if err != nil {
			*errs = append(*errs, err.Error())
		} else {
			w.AuthzPolicies = append(w.AuthzPolicies, p)
		}
	case "RequestAuthentication":
		a, err := authz.ParseRequestAuthn(o)
		if err != nil {
			*errs = append(*errs, err.Error())
		} else {
			w.RequestAuthns = append(w.RequestAuthns, a)
		}
	case "Secret":
		// The API server turns stringData into data; objects parsed
		// without one (tests) may still hold stringData.
		files := map[string][]byte{}
		data, _, _ := unstructured.NestedStringMap(o.Object, "data")
		for k, v := range data {
			if b, err := base64.StdEncoding.DecodeString(v); err == nil {
				files[k] = b
			}
		}
		str, _, _ := unstructured.NestedStringMap(o.Object, "stringData")
		for k, v := range str {
			files[k] = []byte(v)
		}
		for k, b := range files {
			if !strings.HasSuffix(k, ".json") {
				continue
			}
			var r realm
			if json.Unmarshal(b, &r) == nil && r.Realm != "" {
				if w.realms == nil {
					w.realms = map[string]*realm{}
				}
				w.realms[o.GetNamespace()+"/"+r.Realm] = &r
			}
		}
	default:
		return false
	}
	return true
}

// principal is the caller's identity as the server's sidecar sees it.
func principal(from *caller, mode string) string {
	if mode != "mtls" || !from.sidecar {
		return ""
	}
	sa := "default"
	if from.pod != nil && from.pod.ServiceAccount != "" {
		sa = from.pod.ServiceAccount
	}
	return "cluster.local/ns/" + from.ns + "/sa/" + sa
}

// guard is the server sidecar's authentication and authorization; nil
// lets the request through to the application.
func (s *Sim) guard(w *World, from *caller, ep *Pod, req Request, mode string) *Response {
	if !ep.Sidecar {
		return nil
	}
	root := w.Mesh.RootNamespace
	wl := authz.Workload{Namespace: ep.Namespace, Labels: ep.Labels}
	ras := authz.ApplicableAuthn(w.RequestAuthns, root, wl)
	var rules []authz.JWTRule
	for _, a := range ras {
		rules = append(rules, a.Rules...)
	}
	var query url.Values
	if u, err := url.Parse(req.Path); err == nil {
		query = u.Query()
	}
	var tok *authz.Token
	if raw, _ := authz.FindToken(rules, req.Header, query); raw != "" {
		t := s.verify(w, ep, rules, raw)
		tok = &t
	}
	an := authz.Authenticate(ras, tok)
	if an.Status == 401 {
		msg := "Jwt verification fails"
		if tok != nil && tok.Valid {
			msg = "Jwt issuer is not configured"
		} else if tok != nil && tok.Problem != "" {
			msg = tok.Problem
		}
		return &Response{Status: 401, Body: msg, Header: textHeader()}
	}
	r := authz.Request{Principal: principal(from, mode), Method: method(req), Path: req.Path, Host: req.Host, Port: req.Port, JWT: an.Claims}
	if d := authz.Decide(authz.Applicable(w.AuthzPolicies, root, wl), r); !d.Allowed {
		return &Response{Status: 403, Body: "RBAC: access denied", Header: textHeader()}
	}
	return nil
}

// jwtParts splits and decodes a compact JWT.
func jwtParts(raw string) (header, claims map[string]any, ok bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, false
	}
	dec := func(s string, into *map[string]any) bool {
		b, err := base64.RawURLEncoding.DecodeString(s)
		return err == nil && json.Unmarshal(b, into) == nil
	}
	if !dec(parts[0], &header) || !dec(parts[1], &claims) {
		return nil, nil, false
	}
	return header, claims, true
}

// verify is a sidecar's JWT filter: the token must be well formed, and,
// when a rule names its issuer, signed by the key istiod fetched from
// that rule's jwksUri and not expired.
func (s *Sim) verify(w *World, ep *Pod, rules []authz.JWTRule, raw string) authz.Token {
	_, claims, ok := jwtParts(raw)
	if !ok {
		return authz.Token{Raw: raw, Problem: "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"}
	}
	iss, _ := claims["iss"].(string)
	var rule *authz.JWTRule
	for i := range rules {
		if rules[i].Issuer == iss {
			rule = &rules[i]
		}
	}
	if rule == nil {
		// Authenticate turns a valid token of an unknown issuer into 401.
		return authz.Token{Raw: raw, Valid: true, Claims: claims}
	}
	key, where := s.jwksKey(w, ep.Namespace, rule.JwksURI)
	if key == nil {
		return authz.Token{Raw: raw, Problem: "Jwks doesn't have key to match kid or alg from Jwt (istiod could not fetch " + where + ")"}
	}
	if !signedWith(raw, key) {
		return authz.Token{Raw: raw, Problem: "Jwt verification fails"}
	}
	if exp, ok := claims["exp"].(float64); ok && time.Unix(int64(exp), 0).Before(s.opts.Now()) {
		return authz.Token{Raw: raw, Problem: "Jwt is expired"}
	}
	return authz.Token{Raw: raw, Valid: true, Claims: claims}
}

// jwksKey finds the realm key a jwksUri leads to: a Service with a
// running Keycloak behind it, and a realm of that name in its namespace.
func (s *Sim) jwksKey(w *World, from, jwksURI string) ([]byte, string) {
	u, err := url.Parse(jwksURI)
	if err != nil || u.Host == "" {
		return nil, jwksURI
	}
	svc := w.Service(u.Host, from)
	if svc == nil {
		return nil, jwksURI + ": no such Service"
	}
	if keycloakPod(w.Endpoints(svc, nil)) == nil {
		return nil, jwksURI + ": no running Keycloak behind " + svc.Name
	}
	name, ok := realmOf(u.Path)
	if !ok || w.realms[svc.Namespace+"/"+name] == nil {
		return nil, jwksURI + ": no realm " + name
	}
	return realmKey(svc.Namespace, name), ""
}

func keycloakPod(eps []*Pod) *Pod {
	for _, p := range eps {
		if isKeycloak(p) {
			return p
		}
	}
	return nil
}

func isKeycloak(p *Pod) bool {
	n := p.Labels["app.kubernetes.io/name"]
	return n == "keycloakx" || n == "keycloak"
}

// realmOf reads /realms/NAME/... .
func realmOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(pathOnly(path), "/realms/")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	return name, name != ""
}

// realmKey is the signing key of a realm of a Keycloak namespace.
func realmKey(ns, realm string) []byte {
	k := sha256.Sum256([]byte("fakelab keycloak " + ns + "/" + realm))
	return k[:]
}

func signedWith(raw string, key []byte) bool {
	i := strings.LastIndexByte(raw, '.')
	if i < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(raw[i+1:])
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(raw[:i]))
	return hmac.Equal(sig, m.Sum(nil))
}

func sign(claims map[string]any, key []byte) string {
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	body := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// keycloak answers as the lab's Keycloak: the realm's OpenID
// configuration and the password grant of its token endpoint.
func (s *Sim) keycloak(w *World, self *caller, req Request) Response {
	name, ok := realmOf(req.Path)
	r := w.realms[self.ns+"/"+name]
	if !ok || r == nil {
		return jsonResp(404, map[string]string{"error": "Realm does not exist"})
	}
	issuer := "http://" + req.Host + "/realms/" + name
	switch strings.TrimPrefix(pathOnly(req.Path), "/realms/"+name) {
	case "/.well-known/openid-configuration":
		return jsonResp(200, map[string]string{"issuer": issuer, "token_endpoint": issuer + "/protocol/openid-connect/token",
			"jwks_uri": issuer + "/protocol/openid-connect/certs"})
	case "/protocol/openid-connect/token":
	default:
		return jsonResp(404, map[string]string{"error": "Unable to find matching target resource method"})
	}
	if method(req) != http.MethodPost {
		return jsonResp(405, map[string]string{"error": "HTTP 405 Method Not Allowed"})
	}
	form, _ := url.ParseQuery(req.Body)
	bad := func(status int, code, desc string) Response {
		return jsonResp(status, map[string]string{"error": code, "error_description": desc})
	}
	client := form.Get("client_id")
	var found bool
	for _, c := range r.Clients {
		if c.ClientID != client {
			continue
		}
		found = true
		if !c.PublicClient && c.Secret != form.Get("client_secret") {
			return bad(401, "unauthorized_client", "Invalid client or Invalid client credentials")
		}
		if !c.DirectAccessGrantsEnabled {
			return bad(400, "unauthorized_client", "Client not allowed for direct access grants")
		}
	}
	if !found {
		return bad(401, "invalid_client", "Invalid client or Invalid client credentials")
	}
	if form.Get("grant_type") != "password" {
		return bad(400, "unsupported_grant_type", "Unsupported grant_type")
	}
	for _, u := range r.Users {
		if u.Username != form.Get("username") || !u.Enabled {
			continue
		}
		for _, c := range u.Credentials {
			if c.Type == "password" && c.Value == form.Get("password") {
				now := s.opts.Now()
				life := r.AccessTokenLifespan
				if life <= 0 {
					life = 300
				}
				claims := map[string]any{"iss": issuer, "sub": "user-" + u.Username, "preferred_username": u.Username, "email": u.Email,
					"azp": client, "typ": "Bearer", "iat": now.Unix(), "exp": now.Add(time.Duration(life) * time.Second).Unix(),
					"groups": u.Groups}
				return jsonResp(200, map[string]any{"access_token": sign(claims, realmKey(self.ns, name)), "token_type": "Bearer", "expires_in": life})
			}
		}
	}
	return bad(401, "invalid_grant", "Invalid user credentials")
}

// String hides a realm's secrets from %v.
func (r *realm) String() string { return fmt.Sprintf("realm %s", r.Realm) }
