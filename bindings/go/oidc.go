package tokenclient

// OpenID Connect: a client made from its issuer's metadata, revocation,
// introspection, userinfo, ID token validation, the authorization code
// flow (Authorization) and the device flow (DeviceAuthorization). The C
// library does all of it; this file only converts arguments and results.
// Every call that does I/O takes a context, through Client.do (or
// withOptions, for FromIssuer), as the ...Context methods do.

// #include "tokenclient.h"
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"sync"
)

// FromIssuer creates a client of the authorization server issuer,
// identified as clientID, from the server's metadata: it fetches
// issuer + "/.well-known/openid-configuration" (else RFC 8414's
// "/.well-known/oauth-authorization-server"), whose "issuer" must equal
// issuer exactly, and takes the token endpoint and the endpoints of
// Revoke, Introspect, UserInfo, Authorization and DeviceAuthorize from it.
// The metadata is fetched with the default transport settings (the
// system's CAs, the proxy from the environment) and kept for its
// Cache-Control max-age (else an hour). Set credentials (SetClientSecret,
// SetPrivateKey, SetPublic) before requesting tokens, as for New.
//
// ctx bounds the fetch as it bounds the ...Context methods (see
// ExchangeCodeContext). An issuer that is neither https:// nor http:// to a
// loopback host is KindInvalidArgument; a document that is not valid
// metadata or names another issuer is KindConfig; no document at either
// location is KindHTTP.
func FromIssuer(ctx context.Context, issuer, clientID string) (*Client, error) {
	is, id := cString(issuer), cString(clientID)
	defer freeCString(is)
	defer freeCString(id)
	var h *C.tokenclient_client
	err := withOptions(ctx, func(o *C.tokenclient_call_options) error {
		return toError(C.tokenclient_client_from_issuer_ex(is, id, o, &h))
	})
	if err != nil {
		return nil, err
	}
	return wrapClient(h), nil
}

// stringFunc makes one _ex call that writes an owned string to out.
type stringFunc func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.char) *C.tokenclient_error

// callObject runs f through do and decodes the JSON object it wrote.
func (c *Client) callObject(ctx context.Context, f stringFunc) (map[string]any, error) {
	var out *C.char
	err := c.do(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options) *C.tokenclient_error {
		return f(h, o, &out)
	})
	if err != nil {
		return nil, err
	}
	return decodeObject(takeString(out))
}

// decodeObject decodes a JSON object the library wrote (numbers as
// float64, as encoding/json does).
func decodeObject(text string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil || m == nil {
		return nil, &Error{Kind: KindResponse, Message: "the library returned JSON that is not an object"}
	}
	return m, nil
}

// Metadata returns the issuer's metadata document of a client made by
// FromIssuer, decoded as a JSON object (e.g. m["token_endpoint"],
// m["revocation_endpoint"]): the cached copy while it is fresh, else one
// fetched again within ctx (a failed fetch keeps the cached copy). A
// client made by New is KindConfig.
func (c *Client) Metadata(ctx context.Context) (map[string]any, error) {
	return c.callObject(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.char) *C.tokenclient_error {
		return C.tokenclient_client_metadata_ex(h, o, out)
	})
}

// Revoke revokes token (RFC 7009) at the issuer's revocation_endpoint,
// with the client's authentication. hint is "access_token",
// "refresh_token" or "" (none). A token the server does not know counts as
// revoked. A client made by New, an issuer without a revocation endpoint
// or a client without credentials is KindConfig; the server's refusal is
// an *OAuthError (e.g. invalid_client).
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	t, th := cString(token), cStringOrNil(hint)
	defer freeCString(t)
	defer freeCString(th)
	return c.do(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options) *C.tokenclient_error {
		return C.tokenclient_client_revoke_ex(h, t, th, o)
	})
}

// Introspect asks the issuer's introspection_endpoint about token (RFC
// 7662), with the client's authentication, and returns its answer: a JSON
// object whose boolean "active" says whether the token is valid, with the
// token's "client_id", "scope", "exp", ... when it is. hint is as for
// Revoke; errors are too.
func (c *Client) Introspect(ctx context.Context, token, hint string) (map[string]any, error) {
	t, th := cString(token), cStringOrNil(hint)
	defer freeCString(t)
	defer freeCString(th)
	return c.callObject(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.char) *C.tokenclient_error {
		return C.tokenclient_client_introspect_ex(h, t, th, o, out)
	})
}

// UserInfo asks the issuer's userinfo_endpoint for the claims of the user
// accessToken was issued for (OpenID Connect Core §5.3) and returns them
// (a JSON object with at least "sub"). A token the endpoint refuses is an
// *Error with HTTPStatus 401 (an *OAuthError when the server names the
// error, e.g. invalid_token).
func (c *Client) UserInfo(ctx context.Context, accessToken string) (map[string]any, error) {
	t := cString(accessToken)
	defer freeCString(t)
	return c.callObject(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.char) *C.tokenclient_error {
		return C.tokenclient_client_userinfo_ex(h, t, o, out)
	})
}

// ValidateIDToken validates idToken as an ID token the issuer gave this
// client (OpenID Connect Core §3.1.3.7) and returns its claims: the
// signature (with the issuer's JWKS, fetched within ctx when needed, or
// the client secret for HS256/384/512), alg (never "none"), iss, aud (and
// azp), exp, iat and nbf (with the clock-skew leeway of SetClockSkew), and
// nonce when nonce is not "". A token that breaks a rule is an *Error of
// KindResponse whose message names the rule (never the token).
//
// The tokens of (*Authorization).Finish are validated already: their
// claims are in Token.IDTokenClaims.
func (c *Client) ValidateIDToken(ctx context.Context, idToken, nonce string) (map[string]any, error) {
	t, n := cString(idToken), cStringOrNil(nonce)
	defer freeCString(t)
	defer freeCString(n)
	return c.callObject(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.char) *C.tokenclient_error {
		return C.tokenclient_client_validate_id_token_ex(h, t, n, o, out)
	})
}

// AuthorizationOption configures (*Client).Authorization.
type AuthorizationOption func(*authorizationConfig)

type authorizationConfig struct {
	params [][2]string
	par    bool
}

// WithParam adds a parameter to the authorization request (see SetParam).
func WithParam(name, value string) AuthorizationOption {
	return func(a *authorizationConfig) { a.params = append(a.params, [2]string{name, value}) }
}

// WithPAR sends the request by PAR (RFC 9126), even when the issuer does
// not require it (when it does, PAR is always used): URL then makes a
// request to the issuer's pushed_authorization_request_endpoint, and the
// URL it returns holds only client_id and request_uri.
func WithPAR() AuthorizationOption {
	return func(a *authorizationConfig) { a.par = true }
}

// Authorization is one authorization code request (with PKCE S256, state
// and nonce) of a client made by FromIssuer, from the URL the user's
// browser is sent to until the callback it comes back with:
//
//	auth, err := c.Authorization(redirectURI, "openid", tokenclient.WithParam("prompt", "login"))
//	url, err := auth.URL(ctx)   // redirect the browser there
//	kept, err := auth.Export()  // keep it in the server-side session (a secret)
//	...
//	auth, err := c.ImportAuthorization(kept)
//	tok, err := auth.Finish(ctx, callbackURL) // tok.IDTokenClaims: the validated claims
//
// URL, Export and Finish may run from many goroutines at once; SetParam
// and Close wait for them. Close frees it (wiping its PKCE verifier); a
// finalizer does so too if Close is forgotten. URL and Finish need the
// Client open: after its Close they fail.
type Authorization struct {
	client *Client
	mu     sync.RWMutex // read-held by URL, Export and Finish, write-held by SetParam and Close
	h      *C.tokenclient_authorization
}

func wrapAuthorization(c *Client, h *C.tokenclient_authorization) *Authorization {
	a := &Authorization{client: c, h: h}
	runtime.SetFinalizer(a, (*Authorization).Close)
	return a
}

// Authorization starts an authorization code request to come back to
// redirectURI, for scope ("" for none; include "openid" for an ID token,
// and ask for "offline_access" with WithParam("prompt", "consent") for a
// refresh token). A new state, nonce and PKCE verifier are drawn from the
// OS's random source. A client made by New is KindConfig; an empty or
// control-character redirect URI, or an option the library refuses, is
// KindInvalidArgument.
func (c *Client) Authorization(redirectURI, scope string, opts ...AuthorizationOption) (*Authorization, error) {
	var cfg authorizationConfig
	for _, o := range opts {
		o(&cfg)
	}
	ru, sc := cString(redirectURI), cStringOrNil(scope)
	defer freeCString(ru)
	defer freeCString(sc)
	var h *C.tokenclient_authorization
	err := c.with(func(ch *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_authorization_new(ch, ru, sc, &h)
	})
	if err != nil {
		return nil, err
	}
	a := wrapAuthorization(c, h)
	for _, p := range cfg.params {
		if err := a.SetParam(p[0], p[1]); err != nil {
			a.Close()
			return nil, err
		}
	}
	if cfg.par {
		err := a.use(true, func(h *C.tokenclient_authorization) error {
			return toError(C.tokenclient_authorization_set_par(h, 1))
		})
		if err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// ImportAuthorization reads a request that (*Authorization).Export wrote,
// for the same issuer and client id (e.g. kept in a session between the
// redirect and the callback). Text that is not such an export, or one of
// another issuer or client, is KindInvalidArgument.
func (c *Client) ImportAuthorization(text string) (*Authorization, error) {
	t := cString(text)
	defer freeCString(t)
	var h *C.tokenclient_authorization
	err := c.with(func(ch *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_authorization_import(ch, t, &h)
	})
	if err != nil {
		return nil, err
	}
	return wrapAuthorization(c, h), nil
}

// use runs f with the live handle, under the read lock (or the write lock
// when write), or fails if the request is closed.
func (a *Authorization) use(write bool, f func(h *C.tokenclient_authorization) error) error {
	if write {
		a.mu.Lock()
		defer a.mu.Unlock()
	} else {
		a.mu.RLock()
		defer a.mu.RUnlock()
	}
	if a.h == nil {
		return invalidArgument("the authorization is closed")
	}
	err := f(a.h)
	runtime.KeepAlive(a)
	return err
}

// SetParam adds a parameter to the request: prompt, login_hint,
// acr_values, resource, claims, max_age (then also checked against the ID
// token's auth_time), ...; a name may repeat. The parameters the request
// sets itself (response_type, client_id, redirect_uri, scope, state, nonce,
// code_challenge, code_challenge_method, request, request_uri), an empty
// name or value, a control character, a max_age that is not a number, or
// more than 64 parameters are KindInvalidArgument.
func (a *Authorization) SetParam(name, value string) error {
	n, v := cString(name), cString(value)
	defer freeCString(n)
	defer freeCString(v)
	return a.use(true, func(h *C.tokenclient_authorization) error {
		return toError(C.tokenclient_authorization_set_param(h, n, v))
	})
}

// URL returns the URL to send the user's browser to: the authorization
// endpoint with the request's parameters or, with PAR (WithPAR, or when
// the issuer requires it), with client_id and the request_uri the PAR
// endpoint gave within ctx (valid once and briefly: make the URL just
// before the redirect). A PAR request fails as an exchange does
// (*OAuthError, KindHTTP, KindTransport, KindResponse).
func (a *Authorization) URL(ctx context.Context) (string, error) {
	var out *C.char
	err := a.use(false, func(h *C.tokenclient_authorization) error {
		return a.client.do(ctx, func(_ *C.tokenclient_client, o *C.tokenclient_call_options) *C.tokenclient_error {
			return C.tokenclient_authorization_url_ex(h, o, &out)
		})
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Export returns the request as text (JSON), to keep between the redirect
// and the callback and read back with (*Client).ImportAuthorization. It
// holds the PKCE code verifier: it is a secret. Keep it server-side (or in
// an encrypted, authenticated cookie), never in a URL or a log.
func (a *Authorization) Export() (string, error) {
	var out *C.char
	err := a.use(false, func(h *C.tokenclient_authorization) error {
		return toError(C.tokenclient_authorization_export(h, &out))
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Finish completes the request with callbackURL, the full URL the browser
// came back to: the library checks its state (in constant time) and iss
// (RFC 9207), exchanges the code with the PKCE verifier within ctx, and
// validates the ID token (required when "openid" was asked) with the
// request's nonce and max_age and its at_hash and c_hash; the validated
// claims are in the Token's IDTokenClaims. A malformed callback URL, a
// wrong or missing state or iss, or no code is KindInvalidArgument; an
// error callback (e.g. error=access_denied) or a refused code is an
// *OAuthError with the server's code and description; an ID token that
// breaks a rule is KindResponse (the rule named).
func (a *Authorization) Finish(ctx context.Context, callbackURL string) (*Token, error) {
	cb := cString(callbackURL)
	defer freeCString(cb)
	var out *C.tokenclient_token
	err := a.use(false, func(h *C.tokenclient_authorization) error {
		return a.client.do(ctx, func(_ *C.tokenclient_client, o *C.tokenclient_call_options) *C.tokenclient_error {
			return C.tokenclient_authorization_finish_ex(h, cb, o, &out)
		})
	})
	if err != nil {
		return nil, err
	}
	defer C.tokenclient_token_free(out)
	return copyToken(out)
}

// Close frees the request and wipes its PKCE verifier, after the calls in
// flight end. It is idempotent; a closed request's methods return an
// error of KindInvalidArgument.
func (a *Authorization) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.h != nil {
		C.tokenclient_authorization_free(a.h)
		a.h = nil
		runtime.SetFinalizer(a, nil)
	}
	return nil
}

// DeviceAuthorization is a started device authorization (RFC 8628), from
// (*Client).DeviceAuthorize: show the user UserCode and VerificationURI
// (or VerificationURIComplete, e.g. as a QR code), then Poll for the
// token. It holds the device code (a secret, never exposed), wiped by
// Close; a finalizer frees it too if Close is forgotten. Poll may run
// from many goroutines at once; Close waits for them.
type DeviceAuthorization struct {
	UserCode                string // the code the user enters
	VerificationURI         string // where the user enters it
	VerificationURIComplete string // VerificationURI with the code in it; "" when the server gave none
	ExpiresIn               int64  // seconds the codes live, as the server said

	client *Client
	mu     sync.RWMutex // read-held by Poll, write-held by Close
	h      *C.tokenclient_device
}

// DeviceAuthorize starts a device authorization for scope ("" for the
// server's default) at the issuer's device_authorization_endpoint, with
// the client's authentication, within ctx. A client made by New, an issuer
// without that endpoint or a client without credentials is KindConfig;
// an answer without the RFC 8628 members is KindResponse.
func (c *Client) DeviceAuthorize(ctx context.Context, scope string) (*DeviceAuthorization, error) {
	s := cStringOrNil(scope)
	defer freeCString(s)
	var h *C.tokenclient_device
	err := c.do(ctx, func(ch *C.tokenclient_client, o *C.tokenclient_call_options) *C.tokenclient_error {
		return C.tokenclient_client_device_authorize_ex(ch, s, o, &h)
	})
	if err != nil {
		return nil, err
	}
	d := &DeviceAuthorization{
		UserCode:                goString(C.tokenclient_device_user_code(h)),
		VerificationURI:         goString(C.tokenclient_device_verification_uri(h)),
		VerificationURIComplete: goString(C.tokenclient_device_verification_uri_complete(h)),
		ExpiresIn:               int64(C.tokenclient_device_expires_in(h)),
		client:                  c,
		h:                       h,
	}
	runtime.SetFinalizer(d, (*DeviceAuthorization).Close)
	return d, nil
}

// Poll polls the token endpoint (RFC 8628 §3.4) every interval the server
// gave (5 s when it gave none; slow_down adds 5 s) until the user
// approves, and returns the token. It blocks until then, or until the user
// denies (an *OAuthError access_denied), the code expires (an *OAuthError
// expired_token, or KindTransport when its lifetime ran out), or ctx is
// done: its deadline, when it has one, bounds the polling instead of the
// code's lifetime, and a cancel stops it between or during polls within a
// few milliseconds, with an error that satisfies errors.Is(err,
// context.Canceled) (see ExchangeCodeContext).
func (d *DeviceAuthorization) Poll(ctx context.Context) (*Token, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.h == nil {
		return nil, invalidArgument("the device authorization is closed")
	}
	dh := d.h
	t, err := d.client.token(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.tokenclient_token) *C.tokenclient_error {
		return C.tokenclient_client_device_poll_ex(h, dh, o, out)
	})
	runtime.KeepAlive(d)
	return t, err
}

// Close frees the device authorization and wipes its device code, after
// the Polls in flight end (cancel their contexts to end them sooner). It
// is idempotent; Poll on a closed one returns an error of
// KindInvalidArgument.
func (d *DeviceAuthorization) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.h != nil {
		C.tokenclient_device_free(d.h)
		d.h = nil
		runtime.SetFinalizer(d, nil)
	}
	return nil
}
