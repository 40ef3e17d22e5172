package authz

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// RequestAuthn is a RequestAuthentication reduced to what decides.
type RequestAuthn struct {
	Namespace, Name string
	Selector        map[string]string
	TargetRefs      []TargetRef
	Rules           []JWTRule
}

// Ref is namespace/name.
func (a *RequestAuthn) Ref() string { return a.Namespace + "/" + a.Name }

// JWTRule is one jwtRules entry.
type JWTRule struct {
	Issuer      string
	JwksURI     string
	FromCookies []string
	FromHeaders []string // header names; a prefix such as "Bearer " is stripped
	FromParams  []string
}

// Token is what a sidecar's JWT filter makes of a token it found.
type Token struct {
	// Raw is the token text, never shown.
	Raw string
	// Valid: the signature verified against the issuer's keys and the
	// token has not expired; Claims then hold its payload.
	Valid  bool
	Claims map[string]any
	// Problem says why it is not valid ("Jwt is expired"), for
	// observations.
	Problem string
}

// AuthnOutcome is what RequestAuthentications do with a request.
type AuthnOutcome struct {
	// Status is 401 when a token was found and refused, else 0.
	Status int
	// Claims of the accepted token, nil when there is none.
	Claims map[string]any
	Why    string
	// By names the RequestAuthentications that applied.
	By []string
}

// Locations of the applicable rules: where the sidecar looks for a
// token. A rule with no location set reads Envoy's defaults, the
// Authorization header (Bearer) and the access_token query parameter.
func locations(rules []JWTRule) (cookies, headers, params []string) {
	for _, r := range rules {
		if len(r.FromCookies)+len(r.FromHeaders)+len(r.FromParams) == 0 {
			headers = append(headers, "Authorization")
			params = append(params, "access_token")
			continue
		}
		cookies = append(cookies, r.FromCookies...)
		headers = append(headers, r.FromHeaders...)
		params = append(params, r.FromParams...)
	}
	return
}

// FindToken returns the token a request carries where the rules look.
func FindToken(rules []JWTRule, h http.Header, query map[string][]string) (string, string) {
	cookies, headers, params := locations(rules)
	for _, name := range headers {
		if v := h.Get(name); v != "" {
			if t, ok := strings.CutPrefix(v, "Bearer "); ok {
				return t, "header " + name
			}
			if !strings.EqualFold(name, "Authorization") {
				return v, "header " + name
			}
		}
	}
	if len(cookies) > 0 {
		r := http.Request{Header: http.Header{"Cookie": h.Values("Cookie")}}
		for _, name := range cookies {
			if c, err := r.Cookie(name); err == nil && c.Value != "" {
				return c.Value, "cookie " + name
			}
		}
	}
	for _, name := range params {
		if vs := query[name]; len(vs) > 0 && vs[0] != "" {
			return vs[0], "query parameter " + name
		}
	}
	return "", ""
}

// ApplicableAuthn returns the RequestAuthentications that apply to w.
func ApplicableAuthn(all []*RequestAuthn, root string, w Workload) []*RequestAuthn {
	var out []*RequestAuthn
	for _, a := range all {
		if Selects(a.Namespace, a.Selector, a.TargetRefs, root, w) {
			out = append(out, a)
		}
	}
	return out
}

// Authenticate applies the RequestAuthentications to a token found in a
// request (tok nil: none found). Without any, a token is ignored. With
// some, a missing token passes (authorization decides), and a token that
// does not verify, or whose issuer no rule names, gets 401.
func Authenticate(applicable []*RequestAuthn, tok *Token) AuthnOutcome {
	var by []string
	issuers := map[string]bool{}
	for _, a := range applicable {
		by = append(by, a.Ref())
		for _, r := range a.Rules {
			issuers[r.Issuer] = true
		}
	}
	if len(applicable) == 0 {
		if tok != nil {
			return AuthnOutcome{Why: "no RequestAuthentication applies to the workload, so its proxy ignores the token (no claims for authorization)"}
		}
		return AuthnOutcome{Why: "no token, and no RequestAuthentication applies"}
	}
	if tok == nil {
		return AuthnOutcome{By: by, Why: "no token: RequestAuthentication lets a request without one through, and authorization decides"}
	}
	if !tok.Valid {
		return AuthnOutcome{Status: 401, By: by, Why: "the token does not verify (" + tok.Problem + "), so the proxy answers 401"}
	}
	iss, _ := tok.Claims["iss"].(string)
	if !issuers[iss] {
		var names []string
		for i := range issuers {
			names = append(names, i)
		}
		return AuthnOutcome{Status: 401, By: by, Why: fmt.Sprintf("the token's issuer %s is not one the RequestAuthentications name (%s), so the proxy answers 401 (Jwt issuer is not configured)",
			iss, strings.Join(sortedCopy(names), ", "))}
	}
	return AuthnOutcome{Claims: tok.Claims, By: by, Why: "the token from " + iss + " verifies, so its claims reach authorization"}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
