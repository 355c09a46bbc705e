package tokenclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// OpenID Connect (issue 18) against the real test server: a client made
// from the issuer, revocation, introspection, userinfo, ID tokens, the
// authorization code flow and the device flow.

// callCtx is a context for one test's calls, bounded so that a broken
// server fails the test instead of hanging it.
func callCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// issuerClient is the post-client of the main issuer, made from the issuer.
func issuerClient(t *testing.T) *tokenclient.Client {
	t.Helper()
	c, err := tokenclient.FromIssuer(callCtx(t, 10*time.Second), server.Issuer, "post-client")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetClientSecret(server.Clients["post-client"].ClientSecret, tokenclient.AuthClientSecretPost); err != nil {
		t.Fatal(err)
	}
	return c
}

// getJSON GETs u and decodes its 200 answer into out.
func getJSON(u string, out any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

// browse is the test user's browser: it logs in at authURL and returns
// the callback URL it would come back to.
func browse(t *testing.T, authURL string) string {
	t.Helper()
	var out struct{ Callback string }
	if err := getJSON(server.AuthorizeURL+"?"+url.Values{"url": {authURL}}.Encode(), &out); err != nil || out.Callback == "" {
		t.Fatalf("browse: %v %q", err, out.Callback)
	}
	return out.Callback
}

// approve is the test user approving (or denying) a device's user code.
func approve(userCode string, deny bool) error {
	q := url.Values{"user_code": {userCode}}
	if deny {
		q.Set("deny", "1")
	}
	var out struct{ Approved bool }
	if err := getJSON(server.DeviceURL+"?"+q.Encode(), &out); err != nil {
		return err
	}
	if out.Approved == deny {
		return fmt.Errorf("approved=%v for deny=%v", out.Approved, deny)
	}
	return nil
}

// denyAfter denies d's user code after d unless stop is called first, so
// that a Poll that ignores its context ends (access_denied) instead of
// polling for the code's 10 minutes.
func denyAfter(d *tokenclient.DeviceAuthorization, after time.Duration) (stop func() bool) {
	return time.AfterFunc(after, func() { _ = approve(d.UserCode, true) }).Stop
}

// codeWithNonce is an authorization code of post-client whose ID token
// carries nonce.
func codeWithNonce(t *testing.T, nonce string) string {
	t.Helper()
	q := url.Values{"issuer": {"main"}, "client_id": {"post-client"}, "redirect_uri": {server.RedirectURI},
		"scope": {"openid offline_access"}, "nonce": {nonce}}
	var out struct{ Code string }
	if err := getJSON(server.CodeURL+"?"+q.Encode(), &out); err != nil || out.Code == "" {
		t.Fatalf("code: %v", err)
	}
	return out.Code
}

// protectedStatus is the resource server's status for an access token.
func protectedStatus(t *testing.T, accessToken string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", server.ProtectedURL, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// kindOf is the Kind of err's *Error; -1 when it has none.
func kindOf(err error) tokenclient.ErrorKind {
	var e *tokenclient.Error
	if !errors.As(err, &e) {
		return -1
	}
	return e.Kind
}

func TestFromIssuerMetadataAndToken(t *testing.T) {
	c := issuerClient(t)
	ctx := callCtx(t, 10*time.Second)
	m, err := c.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"issuer": server.Issuer, "token_endpoint": server.TokenURL,
		"revocation_endpoint": server.RevocationURL} {
		if m[name] != want {
			t.Fatalf("metadata %s = %v, want %q", name, m[name], want)
		}
	}
	for _, name := range []string{"authorization_endpoint", "introspection_endpoint", "userinfo_endpoint",
		"jwks_uri", "device_authorization_endpoint", "pushed_authorization_request_endpoint"} {
		if s, _ := m[name].(string); !strings.HasPrefix(s, server.Issuer+"/") {
			t.Fatalf("metadata %s = %v", name, m[name])
		}
	}
	// The token endpoint comes from the metadata.
	tok, err := c.ClientCredentialsContext(ctx, "read")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.Scope != "read" || tok.IDTokenClaims != nil {
		t.Fatalf("token: %v, claims %s", tok, tok.IDTokenClaims)
	}
	if s := protectedStatus(t, tok.AccessToken); s != 200 {
		t.Fatalf("the resource server answered %d to the token", s)
	}

	// An issuer that is not the one its document names.
	if bad, err := tokenclient.FromIssuer(ctx, server.Issuer+"/", "post-client"); bad != nil || kindOf(err) != tokenclient.KindConfig {
		t.Fatalf("another issuer: %v %#v", bad, err)
	}
	// A done context makes no request.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if bad, err := tokenclient.FromIssuer(done, server.Issuer, "post-client"); bad != nil ||
		!errors.Is(err, context.Canceled) || kindOf(err) != tokenclient.KindCancelled {
		t.Fatalf("done context: %v %#v", bad, err)
	}
	// The context's deadline bounds the fetch.
	// (The clock starts before the context's: the silent server takes
	// milliseconds to start, which the deadline must not include.)
	silent := strings.TrimSuffix(silentServer(t), "/token")
	start := time.Now()
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	_, err = tokenclient.FromIssuer(short, silent, "post-client")
	took := time.Since(start)
	t.Logf("FromIssuer of a silent server with a 300 ms deadline: %v after %v", err, took.Round(time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || took < 300*time.Millisecond || took > time.Second {
		t.Fatalf("silent issuer: %v after %v", err, took)
	}

	// A client made from a token URL has no metadata.
	plain := newClient(t, "post-client")
	if _, err := plain.Metadata(ctx); kindOf(err) != tokenclient.KindConfig {
		t.Fatalf("Metadata of a client made by New: %#v", err)
	}
	if _, err := plain.Authorization(server.RedirectURI, "openid"); kindOf(err) != tokenclient.KindConfig {
		t.Fatalf("Authorization of a client made by New: %#v", err)
	}
}

func TestRevokeThenIntrospect(t *testing.T) {
	c := issuerClient(t)
	ctx := callCtx(t, 10*time.Second)
	tok, err := c.ClientCredentialsContext(ctx, "read")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Introspect(ctx, tok.AccessToken, "access_token")
	if err != nil {
		t.Fatal(err)
	}
	if info["active"] != true || info["client_id"] != "post-client" || info["scope"] != "read" {
		t.Fatalf("before revocation: %v", info)
	}
	if err := c.Revoke(ctx, tok.AccessToken, "access_token"); err != nil {
		t.Fatal(err)
	}
	info, err = c.Introspect(ctx, tok.AccessToken, "")
	if err != nil {
		t.Fatal(err)
	}
	if info["active"] != false {
		t.Fatalf("after revocation: %v", info)
	}
	if s := protectedStatus(t, tok.AccessToken); s != 401 {
		t.Fatalf("the resource server answered %d to a revoked token", s)
	}
	// An unknown token counts as revoked; an empty one is refused here.
	if err := c.Revoke(ctx, "not-a-token", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx, "", ""); kindOf(err) != tokenclient.KindInvalidArgument {
		t.Fatalf("empty token: %#v", err)
	}
	// Wrong credentials: the server's OAuth error, without the secret.
	bad, err := tokenclient.FromIssuer(ctx, server.Issuer, "post-client")
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.SetClientSecret("wrong-secret-value", tokenclient.AuthClientSecretPost); err != nil {
		t.Fatal(err)
	}
	_, err = bad.Introspect(ctx, tok.AccessToken, "")
	var oe *tokenclient.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_client" || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Fatalf("wrong secret: %#v", err)
	}
}

func TestUserInfo(t *testing.T) {
	c := issuerClient(t)
	ctx := callCtx(t, 10*time.Second)
	tok, err := c.ExchangeCodeContext(ctx, server.code(t, "post-client", ""), server.RedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.UserInfo(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if info["sub"] != server.TestUser || server.TestUser == "" {
		t.Fatalf("userinfo %v, test user %q", info, server.TestUser)
	}
	_, err = c.UserInfo(ctx, "not-a-token")
	var e *tokenclient.Error
	if !errors.As(err, &e) || e.HTTPStatus != 401 {
		t.Fatalf("userinfo of a token that is none: %#v", err)
	}
}

func TestValidateIDToken(t *testing.T) {
	c := issuerClient(t)
	ctx := callCtx(t, 10*time.Second)
	tok, err := c.ExchangeCodeContext(ctx, codeWithNonce(t, "go-nonce-1"), server.RedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	if tok.IDToken == "" || tok.IDTokenClaims != nil {
		t.Fatalf("an exchange's ID token: %d bytes, claims %s (none: it was not validated)", len(tok.IDToken), tok.IDTokenClaims)
	}
	claims, err := c.ValidateIDToken(ctx, tok.IDToken, "go-nonce-1")
	if err != nil {
		t.Fatal(err)
	}
	if claims["nonce"] != "go-nonce-1" || claims["sub"] != server.TestUser || claims["aud"] != "post-client" ||
		claims["iss"] != server.Issuer {
		t.Fatalf("claims: %v", claims)
	}
	if _, ok := claims["exp"].(float64); !ok {
		t.Fatalf("exp: %#v", claims["exp"])
	}
	// "" checks no nonce.
	if claims, err := c.ValidateIDToken(ctx, tok.IDToken, ""); err != nil || claims["nonce"] != "go-nonce-1" {
		t.Fatalf("without a nonce: %v %v", claims, err)
	}
	claims, err = c.ValidateIDToken(ctx, tok.IDToken, "another-nonce")
	var e *tokenclient.Error
	var oe *tokenclient.OAuthError
	if claims != nil || !errors.As(err, &e) || e.Kind != tokenclient.KindResponse || !strings.Contains(e.Message, "nonce") ||
		errors.As(err, &oe) {
		t.Fatalf("wrong nonce: %v %#v", claims, err)
	}
	if strings.Contains(e.Message, tok.IDToken[:40]) {
		t.Fatal("the message holds the token")
	}
	t.Logf("wrong nonce: %v", err)
}

// exported is what the tests read of an (*Authorization).Export.
type exported struct {
	State, Nonce string
	Par          bool
}

func TestAuthorizationFlow(t *testing.T) {
	c := issuerClient(t)
	for _, par := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "PAR"}[par], func(t *testing.T) {
			ctx := callCtx(t, 10*time.Second)
			opts := []tokenclient.AuthorizationOption{tokenclient.WithParam("prompt", "consent")}
			if par {
				opts = append(opts, tokenclient.WithPAR())
			}
			a, err := c.Authorization(server.RedirectURI, "openid offline_access", opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.SetParam("max_age", "600"); err != nil {
				t.Fatal(err)
			}
			if err := a.SetParam("state", "mine"); kindOf(err) != tokenclient.KindInvalidArgument {
				t.Fatalf("SetParam(state): %#v", err)
			}
			authURL, err := a.URL(ctx)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(authURL)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			kept, err := a.Export()
			if err != nil {
				t.Fatal(err)
			}
			var doc exported
			if err := json.Unmarshal([]byte(kept), &doc); err != nil || doc.State == "" || doc.Nonce == "" || doc.Par != par {
				t.Fatalf("export: %v %+v", err, doc)
			}
			if par {
				if q.Get("request_uri") == "" || q.Get("client_id") != "post-client" || q.Has("code_challenge") || q.Has("nonce") {
					t.Fatalf("a PAR URL: %s", authURL)
				}
			} else if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") != doc.State ||
				q.Get("nonce") != doc.Nonce || q.Get("prompt") != "consent" || q.Get("max_age") != "600" {
				t.Fatalf("a direct URL: %s", authURL)
			}
			// Kept in a session between the redirect and the callback.
			a.Close()
			b, err := c.ImportAuthorization(kept)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			callback := browse(t, authURL)
			cb, _ := url.Parse(callback)
			if cb.Query().Get("state") != doc.State || cb.Query().Get("iss") != server.Issuer || cb.Query().Get("code") == "" {
				t.Fatalf("callback: %s", callback)
			}
			tok, err := b.Finish(ctx, callback)
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.IDToken == "" {
				t.Fatalf("token: %v", tok)
			}
			var claims map[string]any
			if err := json.Unmarshal(tok.IDTokenClaims, &claims); err != nil {
				t.Fatalf("IDTokenClaims %q: %v", tok.IDTokenClaims, err)
			}
			if claims["nonce"] != doc.Nonce || claims["sub"] != server.TestUser || claims["aud"] != "post-client" {
				t.Fatalf("claims: %v", claims)
			}
			// The same callback again: the code is used up.
			tok, err = b.Finish(ctx, callback)
			var oe *tokenclient.OAuthError
			if tok != nil || !errors.As(err, &oe) || oe.Code != "invalid_grant" {
				t.Fatalf("the callback again: %v %#v", tok, err)
			}
		})
	}
	if _, err := c.ImportAuthorization(`{"v":1}`); kindOf(err) != tokenclient.KindInvalidArgument {
		t.Fatalf("import of a bad export: %#v", err)
	}
	// An export of another client does not import.
	other, err := tokenclient.FromIssuer(callCtx(t, 10*time.Second), server.Issuer, "basic-client")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	a, err := other.Authorization(server.RedirectURI, "openid")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	kept, err := a.Export()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportAuthorization(kept); kindOf(err) != tokenclient.KindInvalidArgument {
		t.Fatalf("import of another client's export: %#v", err)
	}
}

func TestAuthorizationErrorCallbacks(t *testing.T) {
	c := issuerClient(t)
	ctx := callCtx(t, 10*time.Second)
	a, err := c.Authorization(server.RedirectURI, "openid")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	authURL, err := a.URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	state := u.Query().Get("state")
	iss := url.QueryEscape(server.Issuer)

	tok, err := a.Finish(ctx, server.RedirectURI+"?code=x&state=wrong&iss="+iss)
	var e *tokenclient.Error
	var oe *tokenclient.OAuthError
	if tok != nil || !errors.As(err, &e) || e.Kind != tokenclient.KindInvalidArgument || !strings.Contains(e.Message, "state") ||
		errors.As(err, &oe) {
		t.Fatalf("wrong state: %v %#v", tok, err)
	}
	t.Logf("wrong state: %v", err)

	tok, err = a.Finish(ctx, server.RedirectURI+"?error=access_denied&error_description=the+user+said+no&state="+
		url.QueryEscape(state)+"&iss="+iss)
	if tok != nil || !errors.As(err, &oe) || oe.Code != "access_denied" || oe.Description != "the user said no" ||
		kindOf(err) != tokenclient.KindOAuth {
		t.Fatalf("access_denied: %v %#v", tok, err)
	}
	t.Logf("error callback: %v (code %s)", err, oe.Code)
}

func TestDeviceFlow(t *testing.T) {
	c := issuerClient(t)
	ctx := callCtx(t, 20*time.Second) // a broken approval fails, not polls for 10 minutes
	d, err := c.DeviceAuthorize(ctx, "openid")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.UserCode == "" || !strings.HasPrefix(d.VerificationURI, "http") ||
		!strings.Contains(d.VerificationURIComplete, "user_code=") || d.ExpiresIn <= 0 {
		t.Fatalf("device authorization: user code %q, URIs %q %q, expires in %d", d.UserCode, d.VerificationURI,
			d.VerificationURIComplete, d.ExpiresIn)
	}
	// Approved after the first poll (the server's interval is 1 s), so
	// Poll goes on through authorization_pending.
	const approveAfter = 1200 * time.Millisecond
	approved := make(chan error, 1)
	time.AfterFunc(approveAfter, func() { approved <- approve(d.UserCode, false) })
	start := time.Now()
	tok, err := d.Poll(ctx)
	took := time.Since(start)
	if err := <-approved; err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("approved after %v: Poll returned after %v", approveAfter, took.Round(time.Millisecond))
	if took < approveAfter || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("after %v: %v", took, tok)
	}
	if s := protectedStatus(t, tok.AccessToken); s != 200 {
		t.Fatalf("the resource server answered %d to the device's token", s)
	}

	denied, err := c.DeviceAuthorize(ctx, "openid")
	if err != nil {
		t.Fatal(err)
	}
	defer denied.Close()
	if denied.UserCode == d.UserCode {
		t.Fatal("the same user code twice")
	}
	if err := approve(denied.UserCode, true); err != nil {
		t.Fatal(err)
	}
	tok, err = denied.Poll(ctx)
	var oe *tokenclient.OAuthError
	if tok != nil || !errors.As(err, &oe) || oe.Code != "access_denied" {
		t.Fatalf("denied: %v %#v", tok, err)
	}

	// A deadline bounds the polling (instead of the code's lifetime).
	pending, err := c.DeviceAuthorize(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	short, cancel := context.WithTimeout(ctx, 1200*time.Millisecond)
	defer cancel()
	stop := denyAfter(pending, 5*time.Second)
	start = time.Now()
	tok, err = pending.Poll(short)
	took = time.Since(start)
	stop()
	t.Logf("a pending code polled with a 1.2 s deadline: %v after %v", err, took.Round(time.Millisecond))
	if tok != nil || !errors.Is(err, context.DeadlineExceeded) || took < 1200*time.Millisecond || took > 2*time.Second {
		t.Fatalf("deadline: %v %#v after %v", tok, err, took)
	}
}

// A Poll whose context is cancelled returns promptly with context.Canceled.
func TestDevicePollCancelled(t *testing.T) {
	c := issuerClient(t)
	d, err := c.DeviceAuthorize(callCtx(t, 10*time.Second), "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, delay := range []time.Duration{300 * time.Millisecond, 1100 * time.Millisecond} {
		ctx, cancel := context.WithCancel(t.Context())
		var cancelledAt atomic.Int64
		time.AfterFunc(delay, func() {
			cancelledAt.Store(time.Now().UnixNano())
			cancel()
		})
		stop := denyAfter(d, 5*time.Second)
		start := time.Now()
		tok, err := d.Poll(ctx)
		end := time.Now()
		cancel()
		if !stop() {
			t.Fatalf("Poll ended only when its code was denied, after %v: %v %#v", end.Sub(start), tok, err)
		}
		if cancelledAt.Load() == 0 {
			t.Fatalf("returned before the cancel, after %v: %v %v", end.Sub(start), tok, err)
		}
		after := end.Sub(time.Unix(0, cancelledAt.Load()))
		t.Logf("cancelled %v into the Poll: returned %v after the cancel: %v", delay, after.Round(time.Microsecond), err)
		if tok != nil || !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
			kindOf(err) != tokenclient.KindCancelled {
			t.Fatalf("want context.Canceled and KindCancelled, got %v %#v", tok, err)
		}
		if after >= 150*time.Millisecond {
			t.Fatalf("returned %v after the cancel (bound 150 ms)", after)
		}
	}
	// A context already done polls nothing.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := d.Poll(done); !errors.Is(err, context.Canceled) || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("done context: %#v after %v", err, time.Since(start))
	}
}

// Close is idempotent, and every method of a closed object (or of one
// whose client is closed) fails at once with KindInvalidArgument.
func TestOIDCCloseAndUseAfterClose(t *testing.T) {
	ctx := callCtx(t, 10*time.Second)
	c, err := tokenclient.FromIssuer(ctx, server.Issuer, "post-client")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetClientSecret(server.Clients["post-client"].ClientSecret, tokenclient.AuthClientSecretPost); err != nil {
		t.Fatal(err)
	}
	a, err := c.Authorization(server.RedirectURI, "openid")
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DeviceAuthorize(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	closed := func(what string, err error) {
		t.Helper()
		if kindOf(err) != tokenclient.KindInvalidArgument || !strings.Contains(err.Error(), "closed") {
			t.Fatalf("%s: %#v", what, err)
		}
	}
	// Close twice: the second is a no-op that succeeds too.
	for i := range 2 {
		if err := c.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	_, err = c.Metadata(ctx)
	closed("Metadata", err)
	closed("Revoke", c.Revoke(ctx, "t", ""))
	_, err = c.Introspect(ctx, "t", "")
	closed("Introspect", err)
	_, err = c.UserInfo(ctx, "t")
	closed("UserInfo", err)
	_, err = c.ValidateIDToken(ctx, "t", "")
	closed("ValidateIDToken", err)
	_, err = c.Authorization(server.RedirectURI, "openid")
	closed("Authorization", err)
	_, err = c.DeviceAuthorize(ctx, "")
	closed("DeviceAuthorize", err)
	// What needs the client fails; the request itself is still there.
	_, err = a.URL(ctx)
	closed("URL of a closed client", err)
	_, err = a.Finish(ctx, server.RedirectURI+"?code=x")
	closed("Finish of a closed client", err)
	kept, err := a.Export()
	if err != nil || !strings.Contains(kept, `"code_verifier"`) {
		t.Fatalf("Export with the client closed: %v", err)
	}
	_, err = c.ImportAuthorization(kept)
	closed("ImportAuthorization", err)
	start := time.Now()
	_, err = d.Poll(ctx)
	closed("Poll of a closed client", err)
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Fatalf("Poll of a closed client took %v", took)
	}

	for i := range 2 {
		if err := a.Close(); err != nil {
			t.Fatalf("Authorization.Close #%d: %v", i+1, err)
		}
		if err := d.Close(); err != nil {
			t.Fatalf("DeviceAuthorization.Close #%d: %v", i+1, err)
		}
	}
	_, err = a.URL(ctx)
	closed("URL", err)
	_, err = a.Export()
	closed("Export", err)
	closed("SetParam", a.SetParam("prompt", "login"))
	_, err = a.Finish(ctx, server.RedirectURI+"?code=x")
	closed("Finish", err)
	_, err = d.Poll(ctx)
	closed("Poll", err)
	if !strings.Contains(err.Error(), "device authorization is closed") {
		t.Fatalf("Poll of a closed device authorization: %v", err)
	}
}

// TestAuthAuto: AuthAuto takes the issuer's preferred secret method
// (client_secret_basic, which basic-client is registered for); a client
// not made from an issuer refuses it with KindConfig.
func TestAuthAuto(t *testing.T) {
	ctx := callCtx(t, 10*time.Second)
	c, err := tokenclient.FromIssuer(ctx, server.Issuer, "basic-client")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetClientSecret(server.Clients["basic-client"].ClientSecret, tokenclient.AuthAuto); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClientCredentialsContext(ctx, "read"); err != nil {
		t.Fatal(err)
	}
	plain, err := tokenclient.New(server.TokenURL, "basic-client")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.SetClientSecret("x", tokenclient.AuthAuto); kindOf(err) != tokenclient.KindConfig {
		t.Fatalf("AuthAuto without an issuer: %v", err)
	}
}
