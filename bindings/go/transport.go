package tokenclient

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/oauth2"
)

// Transport is an http.RoundTripper that sends requests to the origins in
// Origins with the client's access token for Scope, as
// "Authorization: " + Token.Authorization ("Bearer <token>", or "DPoP
// <token>") from GetTokenContext(req.Context(), Scope), so the token is
// cached, refreshed and shared as GetToken's is.
//
// A DPoP token (SetDPoPKey) goes with a new proof in a DPoP header on
// every request (DPoPProof of the request's method and URL and the
// token, with the nonce the origin gave last). Every answer with a
// DPoP-Nonce, and every 401, goes to DPoPAnswer, which keeps the nonce;
// when it says the answer is a nonce challenge (401, DPoP
// error="use_dpop_nonce"), the request is sent once more with a new proof,
// if its body can be sent again (see below): at most once per request.
//
// The token goes only to Origins: a request to any other origin (scheme,
// host and port), such as the next hop of a redirect that http.Client
// follows (it runs the Transport again for each hop), goes out through
// Base exactly as it came, with no token added. There is no default:
// with no valid origin every request fails.
//
// When a request that carried the token is answered 401 with a
// WWW-Authenticate challenge holding error="invalid_token" (RFC 6750 §3),
// the token is dropped (InvalidateToken, unless another request has
// already replaced it) and the request is sent once more with a new
// token, if its body can be sent again: no body, http.NoBody, or
// req.GetBody set (http.NewRequest sets it for bytes, strings and
// bytes.Buffer bodies). Otherwise, or if no different token can be had,
// the 401 is returned as it came. A request is sent three times at most:
// once, once more with a new token, and once more for a nonce challenge.
// An answer's body is closed before the request is sent again.
//
// RoundTrip never modifies the caller's request: it sends a copy with its
// own header map. Its errors getting a token are the *Error (or
// *OAuthError) of GetTokenContext, and those making a proof DPoPProof's;
// http.Client wraps them in a *url.Error,
// through which errors.As and errors.Is see them.
//
// Set the fields before the first request and do not change them after.
type Transport struct {
	// Client gets the tokens (required).
	Client *Client
	// Scope is the scope asked for ("" for the server's default).
	Scope string
	// Origins are where the token may be sent, each an absolute URL of
	// which only the scheme, host and port count (a path is ignored: the
	// token goes to every path of the origin), e.g. "https://api.example.com"
	// (port 443 implied). https only, or http:// to a loopback host
	// (localhost, 127.0.0.0/8, [::1]), as for the token endpoint.
	Origins []string
	// Base sends the requests; nil: http.DefaultTransport.
	Base http.RoundTripper

	once    sync.Once
	allowed []origin
	invalid error
	// The Authorization value of the token GetToken last returned (the
	// snapshot hands out the same *Token while it is fresh).
	header atomic.Pointer[authHeader]
}

type origin struct{ scheme, host, port string }

type authHeader struct {
	token *Token
	value string
	dpop  bool // a DPoP token: each request carries a new proof
}

// Transport returns a Transport over base (nil: http.DefaultTransport)
// that attaches the token for scope to requests to origin and the more
// origins only (see Transport.Origins); e.g.
// c.Transport(nil, "read", "https://api.example.com").
func (c *Client) Transport(base http.RoundTripper, scope, origin string, more ...string) *Transport {
	return &Transport{Client: c, Scope: scope, Origins: append([]string{origin}, more...), Base: base}
}

// HTTPClient returns an *http.Client whose Transport is
// c.Transport(base, scope, origin, more...). As in oauth2.NewClient, ctx
// only supplies the base: the Transport of an *http.Client stored in it
// under oauth2.HTTPClient, else http.DefaultTransport. Each request's own
// context bounds the token request it may have to wait for.
func (c *Client) HTTPClient(ctx context.Context, scope, origin string, more ...string) *http.Client {
	var base http.RoundTripper
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		base = hc.Transport
	}
	return &http.Client{Transport: c.Transport(base, scope, origin, more...)}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// setup parses Origins, once.
func (t *Transport) setup() error {
	t.once.Do(func() {
		if t.Client == nil {
			t.invalid = invalidArgument("Transport.Client is nil")
			return
		}
		for _, o := range t.Origins {
			parsed, err := parseOrigin(o)
			if err != nil {
				t.invalid = err
				return
			}
			t.allowed = append(t.allowed, parsed)
		}
		if len(t.allowed) == 0 {
			t.invalid = invalidArgument("Transport.Origins is empty: say where the token may be sent")
		}
	})
	return t.invalid
}

func parseOrigin(s string) (origin, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return origin{}, invalidArgument("Transport origin " + strconv.Quote(s) + " is not an absolute URL")
	}
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	switch {
	case o.host == "":
		return origin{}, invalidArgument("Transport origin " + strconv.Quote(s) + " has no host")
	case o.scheme == "https":
	case o.scheme == "http" && isLoopback(o.host):
	case o.scheme == "http":
		return origin{}, invalidArgument("Transport origin " + strconv.Quote(s) +
			": plain http:// is refused except to a loopback host; use https://")
	default:
		return origin{}, invalidArgument("Transport origin " + strconv.Quote(s) + " is not http(s)")
	}
	if o.port == "" {
		o.port = defaultPort(o.scheme)
	}
	return o, nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// isLoopback is the rule the library applies to http:// token URLs:
// localhost, a name under .localhost, ::1, or an IPv4 address in 127/8.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || host == "::1" {
		return true
	}
	if strings.Contains(host, ":") {
		return false // IPv6 other than ::1 (e.g. ::ffff:127.0.0.1)
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sendsTokenTo says whether u is one of the origins.
func (t *Transport) sendsTokenTo(u *url.URL) bool {
	if u == nil {
		return false
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(strings.ToLower(u.Scheme))
	}
	host := u.Hostname()
	for _, o := range t.allowed {
		if strings.EqualFold(u.Scheme, o.scheme) && strings.EqualFold(host, o.host) && port == o.port {
			return true
		}
	}
	return false
}

// RoundTrip implements http.RoundTripper (see Transport).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.setup(); err != nil {
		closeBody(req)
		return nil, err
	}
	if !t.sendsTokenTo(req.URL) {
		return t.base().RoundTrip(req)
	}
	ctx := req.Context()
	tok, err := t.Client.GetTokenContext(ctx, t.Scope)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	body := req.Body
	nonceRetried, renewed := false, false
	for {
		r, err := t.authorized(req, tok, body)
		if err != nil {
			if body != nil {
				_ = body.Close()
			}
			return nil, err
		}
		resp, err := t.base().RoundTrip(r)
		if err != nil {
			return nil, err
		}
		// A DPoP server's nonce challenge: once more with a new proof,
		// carrying its nonce (kept by DPoPAnswer for the origin), at most
		// once per request.
		nonceChallenge := t.answered(req, tok, resp) && !nonceRetried
		switch {
		case nonceChallenge:
			nonceRetried = true
		case renewed || resp.StatusCode != http.StatusUnauthorized || !invalidTokenChallenge(resp.Header):
			return resp, nil
		}
		// Sent again only if the body can be.
		if !replayable {
			return resp, nil
		}
		if !nonceChallenge {
			// The token was refused: once more with a new one.
			fresh, err := t.renew(ctx, tok)
			if err != nil || fresh.AccessToken == tok.AccessToken {
				return resp, nil
			}
			tok, renewed = fresh, true
		}
		body = req.Body
		if body != nil && body != http.NoBody {
			if body, err = req.GetBody(); err != nil {
				return resp, nil
			}
		}
		// Read a little of the answer so that its connection can be
		// reused, and close it before the request goes again.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
	}
}

// answered hands the answer to a request that carried a DPoP token to
// DPoPAnswer (which keeps its DPoP-Nonce), and says whether it is a nonce
// challenge to answer with a new proof. An answer without a nonce that is
// not a 401 cannot be one, and is not looked at; a malformed nonce is
// not kept, and the answer is returned as it came.
func (t *Transport) answered(req *http.Request, tok *Token, resp *http.Response) bool {
	nonce := resp.Header.Get("DPoP-Nonce")
	if !t.authOf(tok).dpop || (nonce == "" && resp.StatusCode != http.StatusUnauthorized) {
		return false
	}
	retry, err := t.Client.DPoPAnswer(req.URL.String(), resp.StatusCode,
		strings.Join(resp.Header.Values("Www-Authenticate"), ", "), nonce)
	return err == nil && retry
}

// renew returns a token other than refused: the current one if another
// request has already replaced it, else a new one after InvalidateToken.
func (t *Transport) renew(ctx context.Context, refused *Token) (*Token, error) {
	cur, err := t.Client.GetTokenContext(ctx, t.Scope)
	if err != nil || cur.AccessToken != refused.AccessToken {
		return cur, err
	}
	if err := t.Client.InvalidateToken(t.Scope); err != nil {
		return nil, err
	}
	return t.Client.GetTokenContext(ctx, t.Scope)
}

// authorized is a copy of req with body and the token's Authorization
// header, and for a DPoP token a new DPoP proof.
func (t *Transport) authorized(req *http.Request, tok *Token, body io.ReadCloser) (*http.Request, error) {
	h := t.authOf(tok)
	var proof string
	if h.dpop {
		method := req.Method
		if method == "" {
			method = http.MethodGet // as net/http reads ""
		}
		var err error
		if proof, err = t.Client.DPoPProof(method, req.URL.String(), tok.AccessToken, ""); err != nil {
			return nil, err
		}
	}
	r := new(http.Request)
	*r = *req // as x/oauth2's Transport does: a shallow copy...
	r.Body = body
	r.Header = req.Header.Clone() // ...with headers of its own
	if r.Header == nil {
		r.Header = make(http.Header, 2)
	}
	r.Header["Authorization"] = []string{h.value}
	if h.dpop {
		r.Header["Dpop"] = []string{proof}
	}
	return r, nil
}

// authOf is the Authorization value of tok, as the library spells it
// (Token.Authorization), kept for the token GetToken last returned.
func (t *Transport) authOf(tok *Token) *authHeader {
	if h := t.header.Load(); h != nil && h.token == tok {
		return h
	}
	h := &authHeader{token: tok, value: tok.Authorization, dpop: strings.HasPrefix(tok.Authorization, "DPoP ")}
	t.header.Store(h)
	return h
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// invalidTokenChallenge says whether a WWW-Authenticate field of h has an
// auth-param error="invalid_token" (quoted or not, RFC 9110 §11.2).
func invalidTokenChallenge(h http.Header) bool {
	for _, v := range h.Values("Www-Authenticate") {
		if hasInvalidToken(v) {
			return true
		}
	}
	return false
}

func hasInvalidToken(v string) bool {
	i := 0
	for i < len(v) {
		if !isTokenChar(v[i]) {
			i++ // spaces, commas, and whatever else separates
			continue
		}
		start := i
		for i < len(v) && isTokenChar(v[i]) {
			i++
		}
		name := v[start:i]
		j := skipSpaces(v, i)
		if j >= len(v) || v[j] != '=' {
			continue // an auth-scheme or a token68
		}
		j = skipSpaces(v, j+1)
		value, next := authParamValue(v, j)
		i = next
		if strings.EqualFold(name, "error") && value == "invalid_token" {
			return true
		}
	}
	return false
}

func skipSpaces(v string, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return i
}

// authParamValue reads a token or a quoted-string at i.
func authParamValue(v string, i int) (string, int) {
	if i < len(v) && v[i] == '"' {
		var b strings.Builder
		for i++; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				return b.String(), i + 1
			default:
				b.WriteByte(v[i])
			}
		}
		return b.String(), i
	}
	start := i
	for i < len(v) && isTokenChar(v[i]) {
		i++
	}
	return v[start:i], i
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

var _ http.RoundTripper = (*Transport)(nil)
