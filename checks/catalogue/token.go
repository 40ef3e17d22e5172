package catalogue

// http-probe's token-user: a token obtained for the reader, with their
// consent (the probe runs only when they confirm), through the same ways
// to the ingress the probe uses, kept in the probe's memory and never
// put into a result.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/traffic"
)

// CodeNoToken: the token for token-user could not be obtained.
const CodeNoToken = "MD0809"

var msgNoToken = checks.Msg2[string, string](checks.Code{ID: CodeNoToken, Verdict: checks.Fail,
	Template: "no token for %s: %s",
	Doc:      "the token for token-user could not be obtained: the summary says why (the secret's variable, the way to Keycloak, Keycloak's answer)"})

func tokenAs(v string) error {
	if v == "bearer" {
		return nil
	}
	if name, ok := strings.CutPrefix(v, "cookie:"); ok && name != "" && !strings.ContainsAny(name, "=; \t") {
		return nil
	}
	return errors.New("cookie:NAME (e.g. cookie:access_token) or bearer")
}

// probeToken obtains the token for p's token-user; ok false with the
// result to give when it cannot. The condition says how it was obtained,
// never what it is.
func probeToken(ctx context.Context, env checks.Env, p checks.Params) (string, checks.Condition, *checks.Result) {
	user := p.Str("token-user")
	cond := checks.Condition{Name: "token for " + user, Expected: "an access token from " + p.Str("token-issuer")}
	failAs := func(res func(checks.Condition) checks.Result, observed, fix string) (string, checks.Condition, *checks.Result) {
		cond.Observed, cond.Fix = observed, fix
		r := res(cond)
		return "", cond, &r
	}
	fail := func(observed, fix string) (string, checks.Condition, *checks.Result) {
		return failAs(func(c checks.Condition) checks.Result { return msgNoToken.Result(user, observed, c) }, observed, fix)
	}
	secret, err := paramFromEnv("token-client-secret", p.Str("token-client-secret"))
	if err != nil {
		return fail(err.Error(), "Set the environment variable the parameter names, or give the secret itself.")
	}
	tr := traffic.TokenRequest{Issuer: p.Str("token-issuer"), Client: p.Str("token-client"), Secret: secret, User: user, Password: p.Str("token-password")}
	iss, _ := url.Parse(tr.Issuer)
	port, _ := strconv.Atoi(iss.Port())
	if port == 0 {
		port = 80
	}
	base, via := env.Traffic().Keycloak, "--keycloak"
	if base == "" && env.Traffic().Ingress != "" {
		// The reader reaches the ingress through their own port-forward,
		// as the chapter's README does for 9080 and 8080 alike.
		base, via = iss.Scheme+"://"+iss.Host, "the issuer's address (your own port-forward, as with --ingress)"
	}
	if base == "" {
		c := env.Clients()
		if c == nil || c.Kube == nil || c.Dynamic == nil || c.Config == nil {
			return failAs(func(c checks.Condition) checks.Result { return msgProbeOffline.Result("get a token for "+user, c) }, "not connected to a cluster",
				"Connect meshdojo to your cluster, or start it with --keycloak http://localhost:8080 while kubectl port-forward -n istio-ingress svc/istio-ingressgateway 8080:8080 runs.")
		}
		sctx, cancel := context.WithTimeout(ctx, setupTimeout)
		defer cancel()
		in, err := traffic.FindIngress(sctx, c.Kube, c.Dynamic, traffic.Want{Port: port})
		if err != nil {
			fix := fmt.Sprintf("Keycloak is reached through an ingress gateway port %d (the lab's Gateway keycloak-ingress); install Keycloak as the lesson says, "+
				"or run kubectl port-forward -n istio-ingress svc/istio-ingressgateway %d:%d and start meshdojo with --keycloak http://localhost:%d.", port, port, port, port)
			if apierrors.IsForbidden(err) {
				return failAs(func(c checks.Condition) checks.Result { return checks.MsgForbidden.Result(err, c) }, err.Error(), "An admin can grant it with "+checks.GrantRBAC+". "+fix)
			}
			return fail("no gateway serves port "+strconv.Itoa(port)+": "+strings.TrimPrefix(err.Error(), traffic.ErrNoIngress.Error()+": "), fix)
		}
		reached, err := traffic.Reach(ctx, sctx, c.Config, c.Kube, in)
		if err != nil {
			return fail("could not reach Keycloak's port: "+err.Error(),
				fmt.Sprintf("Try kubectl port-forward -n %s svc/%s %d:%d yourself and start meshdojo with --keycloak http://localhost:%d.", in.Namespace, in.Service, port, port, port))
		}
		defer reached.Close()
		base, via = reached.URL, reached.Detail
	}
	tok, err := traffic.FetchToken(ctx, base, tr)
	if err != nil {
		return fail(strings.TrimPrefix(err.Error(), traffic.ErrToken.Error()+": ")+" (via "+via+")",
			"Check that Keycloak is running (kubectl get pods -n keycloak) and that the user, password and client are the realm's (the lab's: izzy/izzy, client productpage). "+
				"The token request must reach Keycloak with Host "+iss.Host+", or the token's issuer will not be the one the RequestAuthentications accept.")
	}
	cond.OK, cond.Observed = true, "obtained for "+user+" from "+tr.Issuer+" via "+via+" (kept in memory, not shown)"
	return tok, cond, nil
}
