package authz

import (
	"net/http"
	"testing"
)

func TestPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern, v string
		want       bool
	}{
		{"*", "x", true}, {"*", "", false},
		{"/static*", "/static/a.css", true}, {"/static*", "/stat", false},
		{"*/health", "/a/health", true}, {"*/health", "/health/x", false},
		{"/productpage", "/productpage", true}, {"/productpage", "/productpage2", false},
	} {
		if got := Wildcard(c.pattern, c.v); got != c.want {
			t.Errorf("Wildcard(%q, %q) = %v, want %v", c.pattern, c.v, got, c.want)
		}
	}
	for _, c := range []struct {
		pattern, v string
		want       bool
	}{
		{"/a/{*}/c", "/a/b/c", true}, {"/a/{*}/c", "/a//c", false}, {"/a/{*}/c", "/a/b/x/c", false},
		{"/a/{**}", "/a/b/c", true}, {"/a/{**}", "/b/c", false},
	} {
		if got := Path(c.pattern, c.v); got != c.want {
			t.Errorf("Path(%q, %q) = %v, want %v", c.pattern, c.v, got, c.want)
		}
	}
}

func TestClaimPath(t *testing.T) {
	if p, ok := ClaimPath("request.auth.claims[realm_access][roles]"); !ok || len(p) != 2 || p[1] != "roles" {
		t.Errorf("nested claim: %v %v", p, ok)
	}
	for _, bad := range []string{"request.auth.claims", "request.auth.claim[iss]", "request.auth.claims[]", "request.auth.claims[iss"} {
		if ValidKey(bad) == nil {
			t.Errorf("ValidKey(%q) accepted it", bad)
		}
	}
	jwt := map[string]any{"realm_access": map[string]any{"roles": []any{"a", "b"}}}
	r := Request{JWT: jwt}
	if ok, _ := matchCondition(Condition{Key: "request.auth.claims[realm_access][roles]", Values: []string{"b"}}, r); !ok {
		t.Error("a nested list claim with the value did not match")
	}
	if ok, _ := matchCondition(Condition{Key: "request.auth.claims[realm_access][roles]", Values: []string{"c"}}, r); ok {
		t.Error("a nested list claim without the value matched")
	}
}

// The lab's RequestAuthentications read only the access_token cookie:
// a bearer header is not where they look.
func TestFindToken(t *testing.T) {
	rules := []JWTRule{{Issuer: "i", FromCookies: []string{"access_token"}}}
	h := http.Header{"Cookie": {"session=1; access_token=abc"}}
	if tok, where := FindToken(rules, h, nil); tok != "abc" || where != "cookie access_token" {
		t.Errorf("cookie: %q %q", tok, where)
	}
	if tok, _ := FindToken(rules, http.Header{"Authorization": {"Bearer abc"}}, nil); tok != "" {
		t.Errorf("a cookie-only rule read the Authorization header: %q", tok)
	}
	if tok, _ := FindToken([]JWTRule{{Issuer: "i"}}, http.Header{"Authorization": {"Bearer abc"}}, nil); tok != "abc" {
		t.Errorf("default location: %q", tok)
	}
}

func TestAuthenticate(t *testing.T) {
	ra := []*RequestAuthn{{Namespace: "b", Name: "r", Rules: []JWTRule{{Issuer: "good"}}}}
	if o := Authenticate(ra, nil); o.Status != 0 || o.Claims != nil {
		t.Errorf("no token: %+v", o)
	}
	if o := Authenticate(ra, &Token{Valid: false, Problem: "Jwt is expired"}); o.Status != 401 {
		t.Errorf("invalid token: %+v", o)
	}
	if o := Authenticate(ra, &Token{Valid: true, Claims: map[string]any{"iss": "other"}}); o.Status != 401 {
		t.Errorf("unknown issuer: %+v", o)
	}
	if o := Authenticate(ra, &Token{Valid: true, Claims: map[string]any{"iss": "good"}}); o.Status != 0 || o.Claims == nil {
		t.Errorf("good token: %+v", o)
	}
	if o := Authenticate(nil, &Token{Valid: false}); o.Status != 0 || o.Claims != nil {
		t.Errorf("no RequestAuthentication: a token must be ignored: %+v", o)
	}
}
