package tokenclient

/*
#include <stdint.h>
#include <stdlib.h>
#include "tokenclient.h"

extern void tokenclientGoTokenCallback(void *user_data, tokenclient_token *token);
static void tokenclient_go_callback_shim(void *user_data, const tokenclient_token *token) {
	tokenclientGoTokenCallback(user_data, (tokenclient_token *)token);
}
static tokenclient_error *tokenclient_go_set_callback(tokenclient_client *c, void *user_data) {
	return tokenclient_client_set_token_callback(c, user_data ? tokenclient_go_callback_shim : NULL, user_data);
}
*/
import "C"

import (
	"context"
	"encoding/json"
	"net/url"
	"runtime"
	"runtime/cgo"
	"sort"
	"sync"
	"time"
	"unsafe"
)

// AuthMethod is how the client authenticates at the token endpoint.
type AuthMethod uint32

// The authentication methods, the header's TOKENCLIENT_AUTH_* values.
const (
	AuthNone              AuthMethod = C.TOKENCLIENT_AUTH_NONE
	AuthClientSecretBasic AuthMethod = C.TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC
	AuthClientSecretPost  AuthMethod = C.TOKENCLIENT_AUTH_CLIENT_SECRET_POST
	AuthClientSecretJWT   AuthMethod = C.TOKENCLIENT_AUTH_CLIENT_SECRET_JWT
	AuthPrivateKeyJWT     AuthMethod = C.TOKENCLIENT_AUTH_PRIVATE_KEY_JWT
	// AuthAuto, for SetClientSecret of a client made by FromIssuer: the
	// secret-based method the issuer's metadata prefers.
	AuthAuto AuthMethod = C.TOKENCLIENT_AUTH_AUTO
	// AuthTLSClientAuth and AuthSelfSignedTLSClientAuth, for
	// SetTLSClientAuth: the client certificate of SetClientCert
	// authenticates (RFC 8705 §2.1, a CA-issued certificate; §2.2, a
	// self-signed one registered with the server).
	AuthTLSClientAuth           AuthMethod = C.TOKENCLIENT_AUTH_TLS_CLIENT_AUTH
	AuthSelfSignedTLSClientAuth AuthMethod = C.TOKENCLIENT_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH
)

// Client is a client of one token endpoint. It is safe for concurrent use
// by many goroutines; setters may run while exchanges do. Close frees it;
// a finalizer does so too if Close is forgotten.
//
// Calls block the goroutine (and its OS thread) until the request ends or
// its timeout passes (SetTimeout; defaults 10 s connect, 30 s total). The
// ...Context methods end sooner when their context is done: a cancel
// stops the request under way within a few milliseconds, and the
// context's deadline replaces the client's total timeout for that call.
type Client struct {
	mu sync.RWMutex // read-held by calls, write-held by Close
	h  *C.tokenclient_client

	cache *tokenCache // GetToken's snapshot (snapshot.go)

	hookMu sync.Mutex   // held while a hook is replaced
	hook   *C.uintptr_t // C memory holding the cgo.Handle of the OnToken func
	logger *C.uintptr_t // C memory holding the cgo.Handle of the SetLogger logger
}

// New creates a client of tokenURL (https://, or http:// to loopback)
// identified as clientID.
func New(tokenURL, clientID string) (*Client, error) {
	u, id := cString(tokenURL), cString(clientID)
	defer freeCString(u)
	defer freeCString(id)
	var h *C.tokenclient_client
	if err := toError(C.tokenclient_client_new(u, id, &h)); err != nil {
		return nil, err
	}
	return wrapClient(h), nil
}

// wrapClient makes the Client of a new handle, freed by Close or by its
// finalizer.
func wrapClient(h *C.tokenclient_client) *Client {
	c := &Client{h: h, cache: newTokenCache()}
	runtime.SetFinalizer(c, (*Client).Close)
	return c
}

// Region is a Talkdesk region.
type Region uint32

// The Talkdesk regions, the header's TOKENCLIENT_TALKDESK_* values.
const (
	RegionUS Region = C.TOKENCLIENT_TALKDESK_US
	RegionEU Region = C.TOKENCLIENT_TALKDESK_EU
	RegionCA Region = C.TOKENCLIENT_TALKDESK_CA
)

// Talkdesk creates a client of the Talkdesk account's token endpoint.
func Talkdesk(account, clientID string, region Region) (*Client, error) {
	a := cString(account)
	defer freeCString(a)
	var out *C.char
	if err := toError(C.tokenclient_talkdesk_token_url(a, C.tokenclient_talkdesk_region(region), &out)); err != nil {
		return nil, err
	}
	return New(takeString(out), clientID)
}

// PingOneOption configures PingOne.
type PingOneOption func(*pingOneConfig)

type pingOneConfig struct{ authBase string }

// AuthBase sets the PingOne auth host, e.g. "https://auth.pingone.eu"
// (default "https://auth.pingone.com").
func AuthBase(base string) PingOneOption { return func(c *pingOneConfig) { c.authBase = base } }

// PingOne creates a client of a PingOne environment's token endpoint,
// {authBase}/{envID}/as/token.
func PingOne(envID, clientID string, opts ...PingOneOption) (*Client, error) {
	cfg := pingOneConfig{authBase: "https://auth.pingone.com"}
	for _, o := range opts {
		o(&cfg)
	}
	b, e := cString(cfg.authBase), cString(envID)
	defer freeCString(b)
	defer freeCString(e)
	var out *C.char
	if err := toError(C.tokenclient_pingone_token_url(b, e, &out)); err != nil {
		return nil, err
	}
	return New(takeString(out), clientID)
}

// Close frees the client and wipes its secrets, after calls in flight end.
// It is idempotent; a closed client's methods return an error.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.h != nil {
		C.tokenclient_client_free(c.h)
		c.h = nil
		runtime.SetFinalizer(c, nil)
	}
	c.mu.Unlock()
	c.cache.drop(true)
	// The handle is gone, so no callback can run any more.
	c.hookMu.Lock()
	for _, slot := range []**C.uintptr_t{&c.hook, &c.logger} {
		releaseHook(*slot)
		*slot = nil
	}
	c.hookMu.Unlock()
	return nil
}

// setHook hands the library, through set, a callback's user_data: C memory
// holding a cgo.Handle of value (NULL when value is nil, which removes the
// callback). It keeps that slot in *field, and releases the slot it
// replaces once no call in flight can still be running the old callback.
func (c *Client) setHook(field **C.uintptr_t, value any, set func(h *C.tokenclient_client, userData unsafe.Pointer) *C.tokenclient_error) error {
	c.hookMu.Lock()
	defer c.hookMu.Unlock()
	var slot *C.uintptr_t
	if value != nil {
		slot = newHookSlot(value)
	}
	err := c.with(func(h *C.tokenclient_client) *C.tokenclient_error {
		return set(h, unsafe.Pointer(slot))
	})
	if err != nil {
		releaseHook(slot)
		return err
	}
	// Wait for calls in flight, which may be running the old callback.
	c.mu.Lock()
	old := *field
	*field = slot
	c.mu.Unlock()
	releaseHook(old)
	c.cache.drop(false)
	return nil
}

// newHookSlot is a callback's user_data: C memory (no Go pointer crosses
// into C) holding a new cgo.Handle of value; releaseHook frees both.
func newHookSlot(value any) *C.uintptr_t {
	slot := (*C.uintptr_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0)))))
	*slot = C.uintptr_t(cgo.NewHandle(value))
	return slot
}

func releaseHook(slot *C.uintptr_t) {
	if slot != nil {
		cgo.Handle(*slot).Delete()
		C.free(unsafe.Pointer(slot))
	}
}

// GetToken returns a valid access token for scope ("" for the server's
// default) from the client's cache; when none is fresh, one request is
// made however many goroutines ask at once, and all share its result.
// Tokens come from the refresh token (SetRefreshToken, following
// rotation) or from client credentials.
//
// The binding keeps, per scope, the token it last got for as long as the
// library's cache will keep handing out that same token
// (tokenclient_token_fresh_for_ms), judged by both the monotonic and the
// wall clock, and returns it without calling into the library: a cached
// GetToken costs a map lookup and a clock reading, and is not counted in
// Counters().CacheHits nor logged as cache.hit. That copy is dropped by
// InvalidateToken, by every setter (SetClientSecret, SetRefreshPolicy,
// SetLogger, ...), when an OnToken callback sees a new token, and by
// Close. While a logger enabled for debug records is set (SetLogger),
// every GetToken goes to the library, so that each hit is logged.
//
// The *Token returned from the cache is shared by every caller that gets
// it until it is refreshed: read it, do not modify it.
func (c *Client) GetToken(scope string) (*Token, error) {
	if t := c.cache.get(scope); t != nil {
		return t, nil
	}
	return c.getToken(context.Background(), scope)
}

// GetTokenContext is GetToken bounded by ctx: its deadline (rounded up to
// the millisecond) replaces the client's total timeout, and when ctx is
// done the call returns within a few milliseconds with an error that
// satisfies errors.Is(err, ctx.Err()) and errors.As with an *Error (of
// KindCancelled, or KindTransport when the library's deadline ran out
// first). A ctx already done returns such an error at once, even when a
// token is cached.
//
// A token request this call has to start runs on a thread of the
// library's own (bounded by the client's total timeout): ctx ends only
// this caller's wait, never the request that other callers share, whose
// token lands in the cache for them. A caller that finds the old token
// still usable while it is being refreshed gets it at once.
func (c *Client) GetTokenContext(ctx context.Context, scope string) (*Token, error) {
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			return nil, notStarted(ctx.Err())
		default:
		}
	}
	if t := c.cache.get(scope); t != nil {
		return t, nil
	}
	return c.getToken(ctx, scope)
}

// getToken asks the library's cache, and keeps what it answers in the
// binding's snapshot for as long as the library says it holds.
func (c *Client) getToken(ctx context.Context, scope string) (*Token, error) {
	gen := c.cache.generation()
	s := cStringOrNil(scope)
	defer freeCString(s)
	out, err := c.call(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.tokenclient_token) *C.tokenclient_error {
		return C.tokenclient_client_get_token_ex(h, s, o, out)
	})
	if err != nil {
		return nil, err
	}
	defer C.tokenclient_token_free(out)
	// The clock is read before the library is asked how long the token
	// stays fresh, so the snapshot expires no later than the library's cache.
	now := time.Now()
	ms := int64(C.tokenclient_token_fresh_for_ms(out))
	t, err := copyToken(out)
	if err == nil && ms > 0 {
		const maxMillis = int64(1<<63-1) / int64(time.Millisecond)
		c.cache.put(gen, scope, t, now.Add(time.Duration(min(ms, maxMillis))*time.Millisecond))
	}
	return t, err
}

// SetRefreshToken makes GetToken use the refresh_token grant, starting
// from refreshToken and following rotation; "" goes back to client credentials.
func (c *Client) SetRefreshToken(refreshToken string) error {
	return c.setString(refreshToken, true, func(h *C.tokenclient_client, s *C.char) *C.tokenclient_error {
		return C.tokenclient_client_set_refresh_token(h, s)
	})
}

// InvalidateToken drops the cached token of scope, e.g. after an API rejected it.
func (c *Client) InvalidateToken(scope string) error {
	return c.setString(scope, true, func(h *C.tokenclient_client, s *C.char) *C.tokenclient_error {
		return C.tokenclient_client_invalidate_token(h, s)
	})
}

// OnToken calls f with every token GetToken obtains (new access tokens and
// rotated refresh tokens), on the goroutine that made the request (for
// GetTokenContext with a cancellable context, on the library's thread that
// made it); nil removes it. f must return quickly and must not call
// GetToken. Each new token also drops the binding's snapshot of tokens
// (see GetToken).
func (c *Client) OnToken(f func(*Token)) error {
	var value any
	if f != nil {
		value = &tokenHook{f: f, cache: c.cache}
	}
	return c.setHook(&c.hook, value, func(h *C.tokenclient_client, userData unsafe.Pointer) *C.tokenclient_error {
		return C.tokenclient_go_set_callback(h, userData)
	})
}

// SetRetryPolicy sets how failures are retried: up to maxRetries (0 to 10)
// with exponential backoff and full jitter from base, no wait over max.
// Transport failures, 5xx and 429 are retried; OAuth errors never.
func (c *Client) SetRetryPolicy(maxRetries int, base, max time.Duration) error {
	if maxRetries < 0 {
		return invalidArgument("maxRetries is negative")
	}
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_retry_policy(h, C.uint32_t(min(maxRetries, 1<<20)),
			C.uint32_t(clampMillis(base)), C.uint32_t(clampMillis(max)))
	})
}

// SetRefreshPolicy sets when GetToken refreshes: after percent (1 to 100)
// of a token's lifetime, or margin before its expiry.
func (c *Client) SetRefreshPolicy(percent int, margin time.Duration) error {
	if percent < 0 {
		return invalidArgument("percent is negative")
	}
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_refresh_policy(h, C.uint32_t(min(percent, 1<<20)), C.uint32_t(clampSeconds(margin)))
	})
}

// with runs f with the live handle, or fails if the client is closed.
func (c *Client) with(f func(h *C.tokenclient_client) *C.tokenclient_error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return invalidArgument("the client is closed")
	}
	err := toError(f(c.h))
	runtime.KeepAlive(c)
	return err
}

// set runs a setter with the live handle, then drops the binding's
// snapshot of tokens (after the library has the new setting, so that no
// GetToken can store a token it got before it).
func (c *Client) set(f func(h *C.tokenclient_client) *C.tokenclient_error) error {
	err := c.with(f)
	c.cache.drop(false)
	return err
}

// SetClientSecret authenticates with a client secret by method
// (AuthClientSecretBasic, AuthClientSecretPost or AuthClientSecretJWT).
func (c *Client) SetClientSecret(secret string, method AuthMethod) error {
	s := cString(secret)
	defer freeCString(s)
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_client_secret(h, s, C.tokenclient_auth_method(method))
	})
}

// KeyOption configures SetPrivateKey.
type KeyOption func(*keyConfig)

type keyConfig struct{ kid, alg string }

// KeyID sets the JOSE kid of assertions.
func KeyID(kid string) KeyOption { return func(k *keyConfig) { k.kid = kid } }

// Algorithm sets the JWS algorithm (default: inferred from the key).
func Algorithm(alg string) KeyOption { return func(k *keyConfig) { k.alg = alg } }

// SetPrivateKey authenticates with private_key_jwt. key is PEM, one-line
// PEM, bare base64 DER or a private JWK; or the PKCS#11 URI (RFC 7512) of
// a key inside a token, such as
// "pkcs11:token=LABEL;object=KEY-LABEL?module-path=/path/module.so&pin-value=PIN"
// (or pin-source=file:PATH), which the token then signs with: the library
// loads the module, logs in and finds the key now (a refused login, no
// such key or several are KindKey; a module that cannot be loaded,
// KindConfig), and no message shows the PIN. For a key behind another API
// see SetSigner.
func (c *Client) SetPrivateKey(key string, opts ...KeyOption) error {
	var cfg keyConfig
	for _, o := range opts {
		o(&cfg)
	}
	k, kid, alg := cString(key), cStringOrNil(cfg.kid), cStringOrNil(cfg.alg)
	defer freeCString(k)
	defer freeCString(kid)
	defer freeCString(alg)
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_private_key(h, k, kid, alg)
	})
}

// SetPublic makes this a public client (auth method none).
func (c *Client) SetPublic() error {
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_public(h)
	})
}

// setString calls a one-string setter.
func (c *Client) setString(value string, optional bool, set func(*C.tokenclient_client, *C.char) *C.tokenclient_error) error {
	var s *C.char
	if !optional || value != "" {
		s = cString(value)
	}
	defer freeCString(s)
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error { return set(h, s) })
}

// SetHMACAlgorithm chooses HS256 (default), HS384 or HS512 for client_secret_jwt.
func (c *Client) SetHMACAlgorithm(alg string) error {
	return c.setString(alg, false, func(h *C.tokenclient_client, s *C.char) *C.tokenclient_error {
		return C.tokenclient_client_set_hmac_alg(h, s)
	})
}

// SetAudience sets the assertion aud (default: the token URL).
func (c *Client) SetAudience(aud string) error {
	return c.setString(aud, false, func(h *C.tokenclient_client, s *C.char) *C.tokenclient_error {
		return C.tokenclient_client_set_audience(h, s)
	})
}

// AddAudience adds an audience; with several, aud is an array.
func (c *Client) AddAudience(aud string) error {
	return c.setString(aud, false, func(h *C.tokenclient_client, s *C.char) *C.tokenclient_error {
		return C.tokenclient_client_add_audience(h, s)
	})
}

// SetAssertionLifetime sets exp = now + d (1 s to 1 h; default 300 s).
func (c *Client) SetAssertionLifetime(d time.Duration) error {
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_assertion_lifetime(h, C.uint32_t(clampSeconds(d)))
	})
}

// SetClockSkew backdates iat by d (0 to 10 min; default 5 s).
func (c *Client) SetClockSkew(d time.Duration) error {
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_clock_skew(h, C.uint32_t(clampSeconds(d)))
	})
}

// SetTimeout sets the connect and total timeouts (defaults 10 s, 30 s). The
// total is one deadline for a whole call, retries and backoff included.
func (c *Client) SetTimeout(connect, total time.Duration) error {
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_timeout_ms(h, C.uint32_t(clampMillis(connect)), C.uint32_t(clampMillis(total)))
	})
}

// SetCAFile trusts the CAs in a PEM file instead of the system's ("" restores them).
func (c *Client) SetCAFile(path string) error {
	return c.setString(path, true, func(h *C.tokenclient_client, s *C.char) *C.tokenclient_error {
		return C.tokenclient_client_set_ca_file(h, s)
	})
}

// SetClientCert presents a client certificate in the TLS handshake
// (mutual TLS, RFC 8705): cert and key are each a PEM file's path or PEM
// text (the library tells them apart by "-----BEGIN"; both of the same
// kind, the key unencrypted). The certificate is read now; PEM text is
// kept in the library's memory and wiped when replaced or on Close. Both
// "" stops presenting one. For a client made by FromIssuer whose metadata
// has mtls_endpoint_aliases, requests then go to the aliases. To
// authenticate with the certificate, call SetTLSClientAuth too; tokens
// bound to it report its thumbprint in Token.Cnf.X5TS256.
//
// Only one of the two "", a file that cannot be opened or a certificate
// that is not PEM is KindInvalidArgument; PEM text whose key is not a PEM
// private key is KindKey.
func (c *Client) SetClientCert(cert, key string) error {
	cp, kp := cStringOrNil(cert), cStringOrNil(key)
	defer freeCString(cp)
	defer freeCString(kp)
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_client_cert(h, cp, kp)
	})
}

// SetProxy sends requests through proxy; "" restores the environment's
// proxy settings (use NoProxy for none).
func (c *Client) SetProxy(proxy string) error {
	return c.setString(proxy, true, func(h *C.tokenclient_client, s *C.char) *C.tokenclient_error {
		return C.tokenclient_client_set_proxy(h, s)
	})
}

// NoProxy disables proxies, whatever the environment says.
func (c *Client) NoProxy() error {
	return c.setString("", false, func(h *C.tokenclient_client, s *C.char) *C.tokenclient_error {
		return C.tokenclient_client_set_proxy(h, s)
	})
}

// SetMaxResponseBytes caps response bodies (1 KiB to 64 MiB; default 1 MiB).
func (c *Client) SetMaxResponseBytes(n int) error {
	if n < 0 {
		return invalidArgument("the response limit is negative")
	}
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_max_response_bytes(h, C.size_t(n))
	})
}

// SetTokenStore shares the tokens GetToken obtains with the other
// processes that use the same store and credentials, so that one token
// request serves every process of the store for a token's lifetime. url is
// "default" (a 0700 directory of this user's on this host), "file:///dir"
// (the same in dir, made 0700 if missing), "redis://[user:password@]host[:port][/db]"
// or "rediss://..." (TLS), with ?prefix=P and ?timeout_ms=N for Redis;
// several separated by spaces are tiers, nearest first ("default
// redis://cache:6379": the host's store in front of the fleet's);
// "" removes the store. An unknown URL is KindInvalidArgument; a store
// that cannot work (a directory open to others, a Redis that refuses the
// password) is KindConfig. A store that fails later is gone around.
func (c *Client) SetTokenStore(url string) error {
	return c.setString(url, true, func(h *C.tokenclient_client, s *C.char) *C.tokenclient_error {
		return C.tokenclient_client_set_token_store(h, s)
	})
}

// SetTokenStoreKey seals the store's entries with key (16 to 1024 bytes,
// else KindInvalidArgument; the library keeps a copy) instead of a key
// derived from the client's credential: for public clients, TLS client
// authentication, signers and PKCS#11 keys, or clients with different
// copies of a credential. Every process that shares the tokens sets the
// same key; nil goes back to the derived key. Call after SetTokenStore
// (else KindConfig).
func (c *Client) SetTokenStoreKey(key []byte) error {
	// nil is NULL; a non-nil empty slice is a non-NULL pointer of length 0,
	// which the library refuses.
	p := (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(key)))
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_token_store_key(h, p, C.size_t(len(key)))
	})
}

// AddHeader adds a header to every request.
func (c *Client) AddHeader(name, value string) error {
	n, v := cString(name), cString(value)
	defer freeCString(n)
	defer freeCString(v)
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_add_header(h, n, v)
	})
}

func clampSeconds(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d / time.Second)
}

func clampMillis(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	ms := uint64(d / time.Millisecond)
	if ms > 1<<32-1 {
		return 1<<32 - 1
	}
	return ms
}

// CreateAssertion returns a new signed client assertion (a credential: do
// not log it).
func (c *Client) CreateAssertion() (string, error) {
	var out *C.char
	err := c.with(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_create_assertion(h, &out)
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}

// ExchangeOption configures ExchangeCode.
type ExchangeOption func(*exchangeConfig)

type exchangeConfig struct{ verifier string }

// CodeVerifier sends the PKCE code_verifier.
func CodeVerifier(v string) ExchangeOption { return func(e *exchangeConfig) { e.verifier = v } }

// callFunc makes one _ex call with options o (nil: the defaults).
type callFunc func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.tokenclient_token) *C.tokenclient_error

// withOptions runs f with the call options ctx implies, for every _ex
// function of the library. A context that can never be done
// (context.Background) costs nothing: f gets NULL options. Otherwise f gets
// the ctx's deadline, rounded up to the ms, and a cancel handle of its own
// that context.AfterFunc fires when ctx is done; the handle is freed only
// once f has returned and the AfterFunc, if it started, has finished. A
// ctx already done makes no call (notStarted); an error of a call that its
// ctx ended carries ctx.Err() beside it (ended).
func withOptions(ctx context.Context, f func(o *C.tokenclient_call_options) error) error {
	if ctx.Done() == nil {
		return f(nil)
	}
	if err := ctx.Err(); err != nil {
		return notStarted(err)
	}
	var o C.tokenclient_call_options
	o.struct_size = C.uint32_t(unsafe.Sizeof(o))
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return notStarted(context.DeadlineExceeded)
		}
		o.deadline_ms = C.uint32_t(min((left+time.Millisecond-1)/time.Millisecond, 1<<32-1))
	}
	var cancel *C.tokenclient_cancel
	if err := toError(C.tokenclient_cancel_new(&cancel)); err != nil {
		return err
	}
	o.cancel = cancel
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		C.tokenclient_cancel_cancel(cancel)
		close(fired)
	})
	err := f(&o)
	if !stop() {
		<-fired // it started: let it finish with the handle
	}
	C.tokenclient_cancel_free(cancel)
	if err != nil {
		return ended(ctx, err)
	}
	return nil
}

// do runs f with the live handle (with) and the options ctx implies
// (withOptions): every I/O call of a Client goes through it.
func (c *Client) do(ctx context.Context, f func(h *C.tokenclient_client, o *C.tokenclient_call_options) *C.tokenclient_error) error {
	return withOptions(ctx, func(o *C.tokenclient_call_options) error {
		return c.with(func(h *C.tokenclient_client) *C.tokenclient_error { return f(h, o) })
	})
}

// call is do for a function that writes a token, and returns it (to free
// with tokenclient_token_free).
func (c *Client) call(ctx context.Context, f callFunc) (*C.tokenclient_token, error) {
	var out *C.tokenclient_token
	err := c.do(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options) *C.tokenclient_error {
		return f(h, o, &out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// token runs an exchange and copies the token out of C.
func (c *Client) token(ctx context.Context, f callFunc) (*Token, error) {
	out, err := c.call(ctx, f)
	if err != nil {
		return nil, err
	}
	defer C.tokenclient_token_free(out)
	return copyToken(out)
}

// ExchangeCode exchanges an authorization code (with PKCE via CodeVerifier).
func (c *Client) ExchangeCode(code, redirectURI string, opts ...ExchangeOption) (*Token, error) {
	return c.ExchangeCodeContext(context.Background(), code, redirectURI, opts...)
}

// ExchangeCodeContext is ExchangeCode bounded by ctx: its deadline
// (rounded up to the millisecond) replaces the client's total timeout,
// retries included, and when ctx is done the request under way is
// abandoned (its connection closed) and the call returns within a few
// milliseconds with an error that satisfies errors.Is(err, ctx.Err())
// and errors.As with an *Error (of KindCancelled, or KindTransport when
// the library's deadline ran out first). A ctx already done returns such
// an error at once. The same holds for every ...Context method.
func (c *Client) ExchangeCodeContext(ctx context.Context, code, redirectURI string, opts ...ExchangeOption) (*Token, error) {
	var cfg exchangeConfig
	for _, o := range opts {
		o(&cfg)
	}
	cc, ru, v := cString(code), cString(redirectURI), cStringOrNil(cfg.verifier)
	defer freeCString(cc)
	defer freeCString(ru)
	defer freeCString(v)
	return c.token(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.tokenclient_token) *C.tokenclient_error {
		return C.tokenclient_client_exchange_code_ex(h, cc, ru, v, o, out)
	})
}

// Refresh uses a refresh token; scope "" keeps the original scope.
func (c *Client) Refresh(refreshToken, scope string) (*Token, error) {
	return c.RefreshContext(context.Background(), refreshToken, scope)
}

// RefreshContext is Refresh bounded by ctx (see ExchangeCodeContext).
func (c *Client) RefreshContext(ctx context.Context, refreshToken, scope string) (*Token, error) {
	rt, s := cString(refreshToken), cStringOrNil(scope)
	defer freeCString(rt)
	defer freeCString(s)
	return c.token(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.tokenclient_token) *C.tokenclient_error {
		return C.tokenclient_client_refresh_ex(h, rt, s, o, out)
	})
}

// ClientCredentials requests a token for the client itself; scope "" for
// the server's default.
func (c *Client) ClientCredentials(scope string) (*Token, error) {
	return c.ClientCredentialsContext(context.Background(), scope)
}

// ClientCredentialsContext is ClientCredentials bounded by ctx (see
// ExchangeCodeContext).
func (c *Client) ClientCredentialsContext(ctx context.Context, scope string) (*Token, error) {
	s := cStringOrNil(scope)
	defer freeCString(s)
	return c.token(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.tokenclient_token) *C.tokenclient_error {
		return C.tokenclient_client_client_credentials_ex(h, s, o, out)
	})
}

// Grant sends any grant type with params (a name may repeat).
func (c *Client) Grant(grantType string, params url.Values) (*Token, error) {
	return c.GrantContext(context.Background(), grantType, params)
}

// GrantContext is Grant bounded by ctx (see ExchangeCodeContext).
func (c *Client) GrantContext(ctx context.Context, grantType string, params url.Values) (*Token, error) {
	arr, free := cParams(params)
	defer free()
	gt := cString(grantType)
	defer freeCString(gt)
	return c.token(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.tokenclient_token) *C.tokenclient_error {
		return C.tokenclient_client_grant_ex(h, gt, arr, o, out)
	})
}

// TokenExchange is TokenExchangeContext with context.Background().
func (c *Client) TokenExchange(subjectToken, subjectTokenType string, params url.Values) (*Token, error) {
	return c.TokenExchangeContext(context.Background(), subjectToken, subjectTokenType, params)
}

// TokenExchangeContext trades subjectToken, of type subjectTokenType (e.g.
// "urn:ietf:params:oauth:token-type:access_token"), for a token of this
// client (RFC 8693), with params such as audience, resource, scope,
// requested_token_type, actor_token and actor_token_type. The answer's
// issued_token_type is Token.Extra("issued_token_type").
func (c *Client) TokenExchangeContext(ctx context.Context, subjectToken, subjectTokenType string, params url.Values) (*Token, error) {
	arr, free := cParams(params)
	defer free()
	st, stt := cString(subjectToken), cString(subjectTokenType)
	defer freeCString(st)
	defer freeCString(stt)
	return c.token(ctx, func(h *C.tokenclient_client, o *C.tokenclient_call_options, out **C.tokenclient_token) *C.tokenclient_error {
		return C.tokenclient_client_token_exchange_ex(h, st, stt, arr, o, out)
	})
}

// cParams is params as the NULL-terminated name, value, ... array the C
// functions take, in C memory (so no Go pointer crosses into C), names in
// order; free releases it.
func cParams(params url.Values) (arr **C.char, free func()) {
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	var strs []*C.char
	for _, name := range names {
		for _, v := range params[name] {
			strs = append(strs, cString(name), cString(v))
		}
	}
	n := len(strs) + 1
	slots := (*[1 << 20]*C.char)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:n:n]
	copy(slots, strs)
	slots[n-1] = nil
	return (**C.char)(unsafe.Pointer(&slots[0])), func() {
		for _, s := range strs {
			freeCString(s)
		}
		C.free(unsafe.Pointer(&slots[0]))
	}
}

// Token is a successful token response, copied out of C.
type Token struct {
	AccessToken  string
	TokenType    string
	ExpiresIn    int64     // seconds; -1 when the server did not say
	Expiry       time.Time // when the access token expires; zero when unknown
	Scope        string
	RefreshToken string
	IDToken      string
	Raw          json.RawMessage // the whole response body
	// IDTokenClaims are the claims of IDToken as a JSON object, once the
	// library has validated it (signature, iss, aud, exp, nonce, at_hash,
	// ...): set for the tokens of (*Authorization).Finish, nil for every
	// other token, whose IDToken (if any) was not validated (see
	// ValidateIDToken).
	IDTokenClaims json.RawMessage
	// Cnf is what the access token is bound to (its RFC 7800 cnf, as the
	// library records it): the DPoP key's thumbprint (SetDPoPKey) or the
	// client certificate's (SetClientCert); zero for a bearer token.
	Cnf Confirmation
	// Authorization is the Authorization header value for a request to a
	// resource server with the token, as the library spells it: "DPoP
	// <access token>" for a DPoP token (send a DPoPProof with it), else
	// "Bearer <access token>". A secret, like AccessToken; Transport sends
	// it.
	Authorization string
}

// Confirmation is what a token is bound to (the cnf members the library
// reports); each member is "" when the token is not bound that way.
type Confirmation struct {
	// JKT is the SHA-256 JWK thumbprint (RFC 7638, base64url) of the DPoP
	// key the token is bound to (RFC 9449 §6): (*Client).DPoPThumbprint.
	JKT string `json:"jkt,omitempty"`
	// X5TS256 is the base64url SHA-256 thumbprint of the DER client
	// certificate the token is bound to ("x5t#S256", RFC 8705 §3.1).
	X5TS256 string `json:"x5t#S256,omitempty"`
}

// Extra returns any other string member of the response, e.g. "sid"; ""
// when there is none or it is not a string. It reads Raw on each call (the
// typed fields above are all most callers need, so no exchange pays for
// parsing the body in Go).
func (t *Token) Extra(name string) string {
	var members map[string]json.RawMessage
	if json.Unmarshal(t.Raw, &members) != nil {
		return ""
	}
	var value string
	if json.Unmarshal(members[name], &value) != nil {
		return ""
	}
	return value
}

// String never shows token values.
func (t *Token) String() string {
	return "Token{type=" + t.TokenType + ", scope=" + t.Scope + "}"
}

func copyToken(p *C.tokenclient_token) (*Token, error) {
	raw := goString(C.tokenclient_token_json(p))
	t := &Token{
		AccessToken:  goString(C.tokenclient_token_access_token(p)),
		TokenType:    goString(C.tokenclient_token_token_type(p)),
		ExpiresIn:    int64(C.tokenclient_token_expires_in(p)),
		Scope:        goString(C.tokenclient_token_scope(p)),
		RefreshToken: goString(C.tokenclient_token_refresh_token(p)),
		IDToken:      goString(C.tokenclient_token_id_token(p)),
		Raw:          json.RawMessage(raw),
	}
	if claims := C.tokenclient_token_id_token_claims(p); claims != nil {
		t.IDTokenClaims = json.RawMessage(C.GoString(claims))
	}
	t.Authorization = goString(C.tokenclient_token_authorization(p))
	if cnf := C.tokenclient_token_cnf(p); cnf != nil {
		if err := json.Unmarshal([]byte(C.GoString(cnf)), &t.Cnf); err != nil {
			return nil, &Error{Kind: KindResponse, Message: "the library returned a cnf that is not a JSON object"}
		}
	}
	if t.ExpiresIn >= 0 {
		const maxSeconds = int64(1<<63-1) / int64(time.Second)
		t.Expiry = time.Now().Add(time.Duration(min(t.ExpiresIn, maxSeconds)) * time.Second)
	}
	return t, nil
}
