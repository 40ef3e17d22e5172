package traffic

// Signing in without a browser: the chapter 7 lab's Keycloak realm lets
// its productpage client use the password grant, so a probe can ask for a
// user's access token and send it the way productpage's browser would
// (the access_token cookie). Keycloak takes a token's issuer (iss) from
// the Host the token request was sent to, and the lab's
// RequestAuthentications accept only http://localhost:8080/realms/bookinfo,
// so the request carries the issuer's host whatever address reaches
// Keycloak (a port-forward to the ingress gateway's port 8080, or the
// reader's own).
//
// The token is a credential: it is returned to the caller to put in
// request headers and is never written into an error, a report or a log.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TokenRequest is a password grant against a Keycloak realm.
type TokenRequest struct {
	// Issuer is the realm's issuer URL, such as
	// http://localhost:8080/realms/bookinfo; its host is sent as Host.
	Issuer         string
	Client, Secret string
	User, Password string
	Timeout        time.Duration // 0: 10 s
	Transport      http.RoundTripper
}

// ErrToken wraps every failure to obtain a token.
var ErrToken = errors.New("no token")

// FetchToken asks the Keycloak reached at base (scheme://host:port, no
// path) for the user's access token.
func FetchToken(ctx context.Context, base string, tr TokenRequest) (string, error) {
	iss, err := url.Parse(tr.Issuer)
	if err != nil || iss.Host == "" || !strings.Contains(iss.Path, "/realms/") {
		return "", fmt.Errorf("%w: the issuer %q is not a Keycloak realm URL such as http://localhost:8080/realms/bookinfo", ErrToken, tr.Issuer)
	}
	b, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || b.Host == "" {
		return "", fmt.Errorf("%w: %q is not an address to reach Keycloak at", ErrToken, base)
	}
	endpoint := b.Scheme + "://" + b.Host + iss.Path + "/protocol/openid-connect/token"
	form := url.Values{"grant_type": {"password"}, "client_id": {tr.Client}, "username": {tr.User}, "password": {tr.Password}, "scope": {"openid"}}
	if tr.Secret != "" {
		form.Set("client_secret", tr.Secret)
	}
	timeout := tr.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrToken, err)
	}
	req.Host = iss.Host // the token's iss comes from it
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := &http.Client{Transport: tr.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: Keycloak did not answer at %s (Host %s): %v", ErrToken, b.Host, iss.Host, scrub(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(raw, &body)
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		why := body.Description
		if why == "" {
			why = body.Error
		}
		if why == "" {
			why = "no access_token in the answer"
		}
		return "", fmt.Errorf("%w: Keycloak answered %d to the password grant for %s (client %s): %s", ErrToken, resp.StatusCode, tr.User, tr.Client, why)
	}
	return body.AccessToken, nil
}

// scrub keeps a transport error's cause without the request's form,
// which url.Error does not carry but a wrapped one might.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
