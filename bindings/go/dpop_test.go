package tokenclient_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// Sender-constrained tokens (issue 19) against the real test server: DPoP
// (RFC 9449) for dpop-client, whose every token must be DPoP-bound, and
// mutual-TLS client authentication (RFC 8705) on the main issuer's mTLS
// alias origin. The proofs the library makes are checked here with the
// standard library alone.

var b64 = base64.RawURLEncoding

// dpopClient is dpop-client of the main issuer, made from the issuer, with
// a DPoP key the library generates.
func dpopClient(t *testing.T) *tokenclient.Client {
	t.Helper()
	c, err := tokenclient.FromIssuer(callCtx(t, 10*time.Second), server.Issuer, "dpop-client")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetClientSecret(server.Clients["dpop-client"].ClientSecret, tokenclient.AuthClientSecretPost); err != nil {
		t.Fatal(err)
	}
	if err := c.SetDPoPKey("", ""); err != nil {
		t.Fatal(err)
	}
	return c
}

func thumbprintOf(t *testing.T, c *tokenclient.Client) string {
	t.Helper()
	jkt, err := c.DPoPThumbprint()
	if err != nil || jkt == "" {
		t.Fatalf("DPoPThumbprint: %q %v", jkt, err)
	}
	return jkt
}

// checkDPoPToken checks a token bound to the DPoP key of thumbprint jkt.
func checkDPoPToken(t *testing.T, what string, tok *tokenclient.Token, jkt string) {
	t.Helper()
	if tok == nil || tok.AccessToken == "" {
		t.Fatalf("%s: no token", what)
	}
	if tok.TokenType != "DPoP" || tok.Cnf.JKT != jkt || tok.Cnf.X5TS256 != "" ||
		!strings.HasPrefix(tok.Authorization, "DPoP ") || tok.Authorization != "DPoP "+tok.AccessToken {
		t.Fatalf("%s: type %q, cnf %+v (want jkt %q), Authorization with the right scheme and token: %v",
			what, tok.TokenType, tok.Cnf, jkt, tok.Authorization == "DPoP "+tok.AccessToken)
	}
	if strings.Contains(tok.String(), tok.AccessToken) {
		t.Fatalf("%s: String shows the token", what)
	}
}

// dpopProof is a DPoP proof taken apart and verified: its header, its
// claims and the RFC 7638 thumbprint of its JWK, computed here.
type dpopProof struct {
	Typ, Alg   string
	JWK        map[string]any
	Claims     map[string]any
	Thumbprint string
}

// jwkMember is a base64url member of a JWK, decoded; it must be n bytes
// and in canonical form.
func jwkMember(jwk map[string]any, name string, n int) ([]byte, error) {
	s, _ := jwk[name].(string)
	raw, err := b64.DecodeString(s)
	if err != nil || len(raw) != n || b64.EncodeToString(raw) != s {
		return nil, fmt.Errorf("jwk %s = %q: %d bytes, %v", name, s, len(raw), err)
	}
	return raw, nil
}

// thumbprint is the RFC 7638 thumbprint of the required members, in
// lexicographic order, without spaces (as §3.3 spells them).
func thumbprint(members ...[2]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", m[0], m[1])
	}
	b.WriteByte('}')
	sum := sha256.Sum256([]byte(b.String()))
	return b64.EncodeToString(sum[:])
}

// verifyProof parses a compact JWS DPoP proof, verifies its signature with
// the JWK in its header (ES256 with P-256, or EdDSA with Ed25519), and
// computes that JWK's thumbprint.
func verifyProof(t *testing.T, proof string) dpopProof {
	t.Helper()
	p, err := parseProof(proof)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func parseProof(proof string) (dpopProof, error) {
	var p dpopProof
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return p, fmt.Errorf("a proof of %d parts", len(parts))
	}
	var header struct {
		Typ string         `json:"typ"`
		Alg string         `json:"alg"`
		JWK map[string]any `json:"jwk"`
	}
	for i, v := range []any{&header, &p.Claims} {
		raw, err := b64.DecodeString(parts[i])
		if err != nil {
			return p, fmt.Errorf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return p, fmt.Errorf("%s: %v", raw, err)
		}
	}
	p.Typ, p.Alg, p.JWK = header.Typ, header.Alg, header.JWK
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return p, fmt.Errorf("the signature: %v", err)
	}
	if p.Typ != "dpop+jwt" {
		return p, fmt.Errorf("typ %q", p.Typ)
	}
	if _, private := p.JWK["d"]; private || p.JWK == nil {
		return p, fmt.Errorf("the proof's jwk has a private part, or is missing")
	}
	signed := []byte(parts[0] + "." + parts[1])
	switch {
	case p.Alg == "ES256" && p.JWK["kty"] == "EC" && p.JWK["crv"] == "P-256" && len(p.JWK) == 4:
		x, err := jwkMember(p.JWK, "x", 32)
		if err != nil {
			return p, err
		}
		y, err := jwkMember(p.JWK, "y", 32)
		if err != nil {
			return p, err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return p, fmt.Errorf("the proof's jwk is no P-256 point: %v", err)
		}
		digest := sha256.Sum256(signed)
		if len(sig) != 64 || !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return p, fmt.Errorf("the ES256 signature (%d bytes, r||s) does not verify", len(sig))
		}
		p.Thumbprint = thumbprint([2]string{"crv", "P-256"}, [2]string{"kty", "EC"},
			[2]string{"x", b64.EncodeToString(x)}, [2]string{"y", b64.EncodeToString(y)})
	case (p.Alg == "EdDSA" || p.Alg == "Ed25519") && p.JWK["kty"] == "OKP" && p.JWK["crv"] == "Ed25519" && len(p.JWK) == 3:
		x, err := jwkMember(p.JWK, "x", ed25519.PublicKeySize)
		if err != nil {
			return p, err
		}
		if !ed25519.Verify(ed25519.PublicKey(x), signed, sig) {
			return p, fmt.Errorf("the Ed25519 signature does not verify")
		}
		p.Thumbprint = thumbprint([2]string{"crv", "Ed25519"}, [2]string{"kty", "OKP"}, [2]string{"x", b64.EncodeToString(x)})
	default:
		return p, fmt.Errorf("alg %q with jwk %v", p.Alg, p.JWK)
	}
	return p, nil
}

// ath is base64url(SHA-256(accessToken)) (RFC 9449 §4.2).
func ath(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return b64.EncodeToString(sum[:])
}

// checkClaims checks a proof's claims: a jti, htm, htu, a recent iat, ath
// exactly when accessToken is not "", nonce exactly when nonce is not "".
func checkClaims(t *testing.T, p dpopProof, method, htu, accessToken, nonce string) {
	t.Helper()
	c := p.Claims
	if jti, _ := c["jti"].(string); len(jti) < 16 {
		t.Fatalf("jti %v", c["jti"])
	}
	if c["htm"] != method || c["htu"] != htu {
		t.Fatalf("htm %v htu %v, want %s %s", c["htm"], c["htu"], method, htu)
	}
	iat, _ := c["iat"].(float64)
	if d := time.Since(time.Unix(int64(iat), 0)); d < -time.Minute || d > time.Minute {
		t.Fatalf("iat %v is %v from now", c["iat"], d)
	}
	if got, has := c["ath"]; has != (accessToken != "") || (has && got != ath(accessToken)) {
		t.Fatalf("ath %v (has %v), want %q", got, has, map[bool]string{true: ath(accessToken)}[accessToken != ""])
	}
	if got, has := c["nonce"]; has != (nonce != "") || (has && got != nonce) {
		t.Fatalf("nonce %v (has %v), want %q", got, has, nonce)
	}
}

// presentDPoP sends a GET to the protected resource with a DPoP token and
// a proof of c, answering a nonce challenge once (DPoPAnswer), by hand.
func presentDPoP(t *testing.T, c *tokenclient.Client, tok *tokenclient.Token) (int, protectedAnswer) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		proof, err := c.DPoPProof("GET", server.ProtectedURL, tok.AccessToken, "")
		if err != nil {
			t.Fatal(err)
		}
		status, www, nonce, out := presentByHand(t, tok.Authorization, proof)
		retry, err := c.DPoPAnswer(server.ProtectedURL, status, www, nonce)
		if err != nil {
			t.Fatal(err)
		}
		if !retry || attempt > 0 {
			return status, out
		}
	}
}

// presentByHand sends a GET to the protected resource with the given
// Authorization and DPoP header values ("" for none), and returns the
// answer's status, WWW-Authenticate and DPoP-Nonce values and its 200 body.
func presentByHand(t *testing.T, authorization, proof string) (status int, www, nonce string, out protectedAnswer) {
	t.Helper()
	req := newRequest(t, "GET", server.ProtectedURL, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.Header.Get("DPoP-Nonce"), out
}

func TestDPoPEveryGrant(t *testing.T) {
	c := dpopClient(t)
	jkt := thumbprintOf(t, c)
	ctx := callCtx(t, 30*time.Second)
	presented := func(what string, tok *tokenclient.Token) {
		t.Helper()
		checkDPoPToken(t, what, tok, jkt)
		status, out := presentDPoP(t, c, tok)
		if status != 200 || out.TokenType != "DPoP" || out.JKT != jkt || out.ClientID != "dpop-client" || out.X5TS256 != "" {
			t.Fatalf("%s at the resource: %d %+v", what, status, out)
		}
	}

	tok, err := c.ClientCredentialsContext(ctx, "read")
	if err != nil {
		t.Fatal(err)
	}
	presented("ClientCredentials", tok)
	info, err := c.Introspect(ctx, tok.AccessToken, "access_token")
	if err != nil {
		t.Fatal(err)
	}
	if cnf, _ := info["cnf"].(map[string]any); info["active"] != true || info["token_type"] != "DPoP" || cnf["jkt"] != jkt {
		t.Fatalf("introspection: %v", info)
	}

	tok, err = c.ExchangeCodeContext(ctx, server.code(t, "dpop-client", ""), server.RedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	presented("ExchangeCode", tok)
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	refreshed, err := c.RefreshContext(ctx, tok.RefreshToken, "")
	if err != nil {
		t.Fatal(err)
	}
	presented("Refresh", refreshed)
	if refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatal("the refresh gave the same tokens")
	}

	a, err := c.Authorization(server.RedirectURI, "openid offline_access", tokenclient.WithParam("prompt", "consent"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	authURL, err := a.URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok, err = a.Finish(ctx, browse(t, authURL))
	if err != nil {
		t.Fatal(err)
	}
	presented("Authorization.Finish", tok)

	d, err := c.DeviceAuthorize(ctx, "openid")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := approve(d.UserCode, false); err != nil {
		t.Fatal(err)
	}
	tok, err = d.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	presented("device grant", tok)

	tok, err = c.GrantContext(ctx, "client_credentials", url.Values{"scope": {"write"}})
	if err != nil {
		t.Fatal(err)
	}
	presented("Grant", tok)

	// GetToken: the snapshot hands out the same token, Cnf and
	// Authorization included.
	tok, err = c.GetTokenContext(ctx, "read")
	if err != nil {
		t.Fatal(err)
	}
	presented("GetToken", tok)
	again, err := c.GetToken("read")
	if err != nil || again != tok || again.Cnf != tok.Cnf || again.Authorization != tok.Authorization {
		t.Fatalf("GetToken again: %v, the same token %v", err, again == tok)
	}

	// A new key: tokens of the old one are not handed out, and the new
	// ones are bound to it.
	if err := c.SetDPoPKey("", "ES256"); err != nil {
		t.Fatal(err)
	}
	jkt2 := thumbprintOf(t, c)
	if jkt2 == jkt {
		t.Fatal("a new key has the old thumbprint")
	}
	fresh, err := c.GetTokenContext(ctx, "read")
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken {
		t.Fatal("GetToken handed out a token of the old key")
	}
	jkt = jkt2
	presented("GetToken with a new key", fresh)
}

// A key of Go's own crypto (SetDPoPPrivateKey): the thumbprint is that of
// its public key, computed here, and the server binds tokens to it.
func TestDPoPPrivateKeyFromGo(t *testing.T) {
	c := dpopClient(t)
	ctx := callCtx(t, 10*time.Second)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, err := ec.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		name string
		key  any
		alg  string
		jkt  string
	}{
		{"P-256", ec, "", thumbprint([2]string{"crv", "P-256"}, [2]string{"kty", "EC"},
			[2]string{"x", b64.EncodeToString(point[1:33])}, [2]string{"y", b64.EncodeToString(point[33:])})},
		{"Ed25519", ed, "EdDSA", thumbprint([2]string{"crv", "Ed25519"}, [2]string{"kty", "OKP"},
			[2]string{"x", b64.EncodeToString(ed.Public().(ed25519.PublicKey))})},
	} {
		if err := c.SetDPoPPrivateKey(k.key, k.alg); err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		if got := thumbprintOf(t, c); got != k.jkt {
			t.Fatalf("%s: thumbprint %q, computed %q", k.name, got, k.jkt)
		}
		proof, err := c.DPoPProof("GET", server.ProtectedURL, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if p := verifyProof(t, proof); p.Thumbprint != k.jkt {
			t.Fatalf("%s: the proof's key has thumbprint %q", k.name, p.Thumbprint)
		}
		tok, err := c.ClientCredentialsContext(ctx, "read")
		if err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		checkDPoPToken(t, k.name, tok, k.jkt)
		if status, out := presentDPoP(t, c, tok); status != 200 || out.JKT != k.jkt {
			t.Fatalf("%s at the resource: %d %+v", k.name, status, out)
		}
	}
	if err := c.SetDPoPPrivateKey(struct{}{}, ""); kindOf(err) != tokenclient.KindKey {
		t.Fatalf("a key x509 cannot marshal: %#v", err)
	}
}

func TestDPoPProofsVerifiedInGo(t *testing.T) {
	c := dpopClient(t)
	jkt := thumbprintOf(t, c)

	// For a token endpoint: no ath, and no nonce before the origin gave one.
	proof, err := c.DPoPProof("POST", server.TokenURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	p := verifyProof(t, proof)
	if p.Alg != "ES256" || p.Thumbprint != jkt {
		t.Fatalf("alg %q, thumbprint %q, DPoPThumbprint %q", p.Alg, p.Thumbprint, jkt)
	}
	checkClaims(t, p, "POST", server.TokenURL, "", "")
	// The check can fail: a changed claim, signature or key is refused.
	parts := strings.Split(proof, ".")
	claims, _ := b64.DecodeString(parts[1])
	otherKey, err := dpopClient(t).DPoPProof("POST", server.TokenURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := b64.DecodeString(parts[2])
	sig[10] ^= 1
	for what, bad := range map[string]string{
		"another htm":       parts[0] + "." + b64.EncodeToString(bytes.Replace(claims, []byte(`"POST"`), []byte(`"GET"`), 1)) + "." + parts[2],
		"another signature": parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig),
		"another key":       strings.Split(otherKey, ".")[0] + "." + parts[1] + "." + parts[2],
		"two parts":         parts[0] + "." + parts[1],
	} {
		if _, err := parseProof(bad); err == nil {
			t.Fatalf("a proof with %s verifies", what)
		}
	}

	// For a resource: ath, the nonce given, htu without query and fragment.
	const at = "an-access-token-value"
	proof, err = c.DPoPProof("GET", server.ProtectedURL+"?page=2#top", at, "nonce-1")
	if err != nil {
		t.Fatal(err)
	}
	p = verifyProof(t, proof)
	checkClaims(t, p, "GET", server.ProtectedURL, at, "nonce-1")
	again, err := c.DPoPProof("GET", server.ProtectedURL, at, "nonce-1")
	if err != nil {
		t.Fatal(err)
	}
	if q := verifyProof(t, again); q.Claims["jti"] == p.Claims["jti"] || again == proof {
		t.Fatal("two proofs with the same jti")
	}

	// DPoPAnswer keeps an origin's nonce for its next proofs, and says
	// retry for a nonce challenge only.
	for _, a := range []struct {
		status      int
		www, nonce  string
		retry       bool
		kept        string // the nonce of the next proof to the origin
		description string
	}{
		{401, `DPoP error="use_dpop_nonce", error_description="fresh one needed"`, "n-1", true, "n-1", "a nonce challenge"},
		{200, "", "n-2", false, "n-2", "a new nonce with a 200"},
		{401, `Bearer error="invalid_token"`, "n-3", false, "n-3", "a 401 that is not a nonce challenge"},
		{401, `DPoP error="use_dpop_nonce"`, "", false, "n-3", "a challenge without a nonce"},
		{400, `DPoP error="use_dpop_nonce"`, "n-4", false, "n-4", "not a 401"},
		{401, `Basic realm="x", DPoP error="use_dpop_nonce"`, "n-5", true, "n-5", "among other challenges"},
	} {
		retry, err := c.DPoPAnswer(server.ProtectedURL, a.status, a.www, a.nonce)
		if err != nil || retry != a.retry {
			t.Fatalf("%s: retry %v %v", a.description, retry, err)
		}
		// Any path of the origin, and the nonce is that origin's only.
		proof, err := c.DPoPProof("PUT", server.BaseURL+"/elsewhere/on/the/origin", at, "")
		if err != nil {
			t.Fatal(err)
		}
		checkClaims(t, verifyProof(t, proof), "PUT", server.BaseURL+"/elsewhere/on/the/origin", at, a.kept)
		other, err := c.DPoPProof("GET", "https://api.example.test/x", at, "")
		if err != nil {
			t.Fatal(err)
		}
		checkClaims(t, verifyProof(t, other), "GET", "https://api.example.test/x", at, "")
	}
	// An explicit nonce wins over the kept one.
	proof, err = c.DPoPProof("GET", server.ProtectedURL, at, "mine")
	if err != nil {
		t.Fatal(err)
	}
	checkClaims(t, verifyProof(t, proof), "GET", server.ProtectedURL, at, "mine")
}

// recordingTransport records what a Transport sent and what came back,
// and whether each answer's body was closed.
type recordingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen []*sent
}

type sent struct {
	method, url, authorization, proof string
	status                            int
	www, nonce                        string
	closed                            atomic.Bool
}

type closeTracker struct {
	io.ReadCloser
	closed *atomic.Bool
}

func (c closeTracker) Close() error { c.closed.Store(true); return c.ReadCloser.Close() }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := &sent{method: req.Method, url: req.URL.String(), authorization: req.Header.Get("Authorization"),
		proof: req.Header.Get("DPoP")}
	if vs := req.Header.Values("DPoP"); len(vs) > 1 {
		s.proof = "more than one DPoP header"
	}
	resp, err := r.base.RoundTrip(req)
	if err == nil {
		s.status, s.www, s.nonce = resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.Header.Get("DPoP-Nonce")
		resp.Body = closeTracker{resp.Body, &s.closed}
	}
	r.mu.Lock()
	r.seen = append(r.seen, s)
	r.mu.Unlock()
	return resp, err
}

// take returns what was sent since the last take; every answer's body
// must have been closed.
func (r *recordingTransport) take(t *testing.T) []*sent {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := r.seen
	r.seen = nil
	for i, s := range seen {
		if !s.closed.Load() {
			t.Fatalf("answer %d (%d) was not closed", i, s.status)
		}
	}
	return seen
}

func rotateResourceNonce(t *testing.T) {
	t.Helper()
	var out struct{ OK bool }
	if err := getJSON(server.DPoP.NonceRotateURL, &out); err != nil || !out.OK {
		t.Fatalf("rotate: %v", err)
	}
}

func TestDPoPTransport(t *testing.T) {
	c := dpopClient(t)
	jkt := thumbprintOf(t, c)
	rec := &recordingTransport{base: http.DefaultTransport}
	hc := &http.Client{Transport: c.Transport(rec, "read", server.BaseURL)}
	_, pr := stats(t, "dpop-client")
	protected := func(what string, want int) {
		t.Helper()
		_, now := stats(t, "dpop-client")
		if now-pr != want {
			t.Fatalf("%s: %d requests to the resource, want %d", what, now-pr, want)
		}
		pr = now
	}
	// kept is the resource's nonce the client should have kept from the
	// last challenge; "" when the last nonce the origin gave may be the
	// issuer's (at the token endpoint, on the same origin).
	kept := ""
	// checkSent checks the requests one call sent: each with the token's
	// Authorization and a new proof of the key for it, answered with
	// statuses, a 401 being a nonce challenge whose nonce the next proof
	// carries.
	checkSent := func(what, method string, tok *tokenclient.Token, seen []*sent, statuses ...int) {
		t.Helper()
		if len(seen) != len(statuses) {
			t.Fatalf("%s: %d requests sent, want %d", what, len(seen), len(statuses))
		}
		jtis := map[any]bool{}
		for i, s := range seen {
			if s.status != statuses[i] || s.method != method || s.authorization != tok.Authorization {
				t.Fatalf("%s: request %d: %s answered %d (want %s, %d), with the token's Authorization %v",
					what, i, s.method, s.status, method, statuses[i], s.authorization == tok.Authorization)
			}
			p := verifyProof(t, s.proof)
			if p.Thumbprint != jkt || jtis[p.Claims["jti"]] {
				t.Fatalf("%s: request %d: a proof of %q, jti seen before %v", what, i, p.Thumbprint, jtis[p.Claims["jti"]])
			}
			jtis[p.Claims["jti"]] = true
			// The first proof carries the nonce kept (whatever it is when
			// it may be the issuer's); a resend the one of the challenge.
			nonce, _ := p.Claims["nonce"].(string)
			switch {
			case i > 0:
				nonce = seen[i-1].nonce
			case kept != "":
				nonce = kept
			}
			checkClaims(t, p, method, server.ProtectedURL, tok.AccessToken, nonce)
			if s.status == 401 && (!strings.Contains(s.www, `error="use_dpop_nonce"`) || s.nonce == "" || s.nonce == nonce) {
				t.Fatalf("%s: request %d: a 401 that is no nonce challenge: %q, nonce %q", what, i, s.www, s.nonce)
			}
			if s.nonce != "" {
				kept = s.nonce
			}
		}
	}
	ok := func(what string, status int, out protectedAnswer) {
		t.Helper()
		if status != 200 || out.TokenType != "DPoP" || out.JKT != jkt || out.ClientID != "dpop-client" {
			t.Fatalf("%s: %d %+v", what, status, out)
		}
	}
	token := func() *tokenclient.Token {
		t.Helper()
		tok, err := c.GetToken("read")
		if err != nil {
			t.Fatal(err)
		}
		checkDPoPToken(t, "the Transport's token", tok, jkt)
		return tok
	}

	// The first request: the nonce the origin gave last is the issuer's
	// (at the token endpoint, on the same origin), not the resource's: one
	// challenge, answered once.
	req := newRequest(t, "GET", server.ProtectedURL+"?q=1", nil)
	status, _, out := do(t, hc, req)
	ok("the first GET", status, out)
	if req.Header.Get("Authorization") != "" || req.Header.Get("DPoP") != "" {
		t.Fatal("the caller's request was modified")
	}
	tok := token()
	checkSent("the first GET", "GET", tok, rec.take(t), 401, 200)
	protected("the first GET", 2)

	// Then the resource's nonce is kept: no challenge.
	status, _, out = do(t, hc, newRequest(t, "GET", server.ProtectedURL, nil))
	ok("the second GET", status, out)
	checkSent("the second GET", "GET", tok, rec.take(t), 200)
	protected("the second GET", 1)
	status, _, out = do(t, hc, newRequest(t, "POST", server.ProtectedURL, strings.NewReader("hello")))
	ok("POST", status, out)
	if out.Method != "POST" || out.Body != "hello" {
		t.Fatalf("POST: %+v", out)
	}
	checkSent("POST", "POST", tok, rec.take(t), 200)
	protected("POST", 1)

	// A stale nonce: one challenge, then 200; a body that can be sent
	// again is.
	rotateResourceNonce(t)
	status, _, out = do(t, hc, newRequest(t, "POST", server.ProtectedURL, strings.NewReader("again")))
	ok("POST after the rotation", status, out)
	if out.Body != "again" {
		t.Fatalf("POST after the rotation: %+v", out)
	}
	checkSent("POST after the rotation", "POST", tok, rec.take(t), 401, 200)
	protected("POST after the rotation", 2)
	status, _, out = do(t, hc, newRequest(t, "GET", server.ProtectedURL, nil))
	ok("GET after the rotation", status, out)
	checkSent("GET after the rotation", "GET", tok, rec.take(t), 200)
	protected("GET after the rotation", 1)

	// One that cannot: the challenge comes back; its nonce is kept anyway.
	rotateResourceNonce(t)
	req = newRequest(t, "POST", server.ProtectedURL, io.NopCloser(onlyReader{strings.NewReader("once")}))
	status, challenge, _ := do(t, hc, req)
	if status != 401 || !strings.Contains(challenge, `error="use_dpop_nonce"`) {
		t.Fatalf("POST of a body that cannot be replayed: %d %q", status, challenge)
	}
	checkSent("POST of a body that cannot be replayed", "POST", tok, rec.take(t), 401)
	protected("POST of a body that cannot be replayed", 1)
	status, _, out = do(t, hc, newRequest(t, "GET", server.ProtectedURL, nil))
	ok("GET after the 401", status, out)
	checkSent("GET after the 401", "GET", tok, rec.take(t), 200)
	protected("GET after the 401", 1)

	// A nonce that goes stale between the two sends is not chased: at
	// most one nonce retry per request.
	rotateAll := &rotatingTransport{base: rec}
	hc2 := &http.Client{Transport: c.Transport(rotateAll, "read", server.BaseURL)}
	status, challenge, _ = do(t, hc2, newRequest(t, "GET", server.ProtectedURL, nil))
	if status != 401 || !strings.Contains(challenge, `error="use_dpop_nonce"`) {
		t.Fatalf("a nonce stale at every send: %d %q", status, challenge)
	}
	checkSent("a nonce stale at every send", "GET", tok, rec.take(t), 401, 401)
	protected("a nonce stale at every send", 2)

	// The token revoked: DPoP error="invalid_token", a new token (with a
	// new proof), whose first proof carries the issuer's nonce: one
	// challenge more. Three sends, no more.
	if err := c.Revoke(callCtx(t, 10*time.Second), tok.AccessToken, "access_token"); err != nil {
		t.Fatal(err)
	}
	status, _, out = do(t, hc, newRequest(t, "GET", server.ProtectedURL, nil))
	ok("GET after the revocation", status, out)
	seen := rec.take(t)
	fresh := token()
	if fresh.AccessToken == tok.AccessToken {
		t.Fatal("the revoked token is still handed out")
	}
	if len(seen) != 3 || seen[0].authorization != tok.Authorization || seen[0].status != 401 ||
		!strings.Contains(seen[0].www, `error="invalid_token"`) {
		t.Fatalf("after the revocation: %d requests sent", len(seen))
	}
	p := verifyProof(t, seen[0].proof)
	checkClaims(t, p, "GET", server.ProtectedURL, tok.AccessToken, kept)
	kept = "" // the new token's request gave the origin the issuer's nonce
	checkSent("GET after the revocation", "GET", fresh, seen[1:], 401, 200)
	protected("GET after the revocation", 3)
	tok = fresh

	// What the resource refuses, by hand: a DPoP token as a bearer token,
	// without a proof, or with another key's proof (even with the right
	// nonce). The same request with the token's own key passes.
	resourceNonce := lastSeenNonce(t, c, tok)
	other := dpopClient(t)
	otherProof, err := other.DPoPProof("GET", server.ProtectedURL, tok.AccessToken, resourceNonce)
	if err != nil {
		t.Fatal(err)
	}
	ownProof := func() string {
		p, err := c.DPoPProof("GET", server.ProtectedURL, tok.AccessToken, resourceNonce)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, r := range []struct{ what, authorization, proof string }{
		{"as a bearer token", "Bearer " + tok.AccessToken, ""},
		{"as a bearer token with a proof", "Bearer " + tok.AccessToken, ownProof()},
		{"without a proof", tok.Authorization, ""},
		{"with another key's proof", tok.Authorization, otherProof},
	} {
		status, www, _, _ := presentByHand(t, r.authorization, r.proof)
		if status != 401 || !strings.HasPrefix(www, "DPoP ") || !strings.Contains(www, `error="invalid_token"`) {
			t.Fatalf("%s: %d %q", r.what, status, www)
		}
	}
	if status, _, _, out := presentByHand(t, tok.Authorization, ownProof()); status != 200 || out.JKT != jkt {
		t.Fatalf("with the token's own proof: %d %+v", status, out)
	}
	protected("the requests by hand", 6)
}

// lastSeenNonce is the resource's current nonce, as a challenge gives it.
func lastSeenNonce(t *testing.T, c *tokenclient.Client, tok *tokenclient.Token) string {
	t.Helper()
	proof, err := c.DPoPProof("GET", server.ProtectedURL, tok.AccessToken, "not-the-nonce")
	if err != nil {
		t.Fatal(err)
	}
	status, www, nonce, _ := presentByHand(t, tok.Authorization, proof)
	if status != 401 || !strings.Contains(www, "use_dpop_nonce") || nonce == "" {
		t.Fatalf("no nonce challenge: %d %q", status, www)
	}
	return nonce
}

// rotatingTransport makes the resource's nonce stale before every request.
type rotatingTransport struct{ base http.RoundTripper }

func (r *rotatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.Get(server.DPoP.NonceRotateURL)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return r.base.RoundTrip(req)
}

// A server that does not bind tokens (a local token endpoint): a bearer
// answer to a request with a proof is refused, unless SetDPoPAllowBearer.
// The proof it got is checked here too.
func TestDPoPAllowBearer(t *testing.T) {
	var mu sync.Mutex
	var proofs []string
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proofs = append(proofs, r.Header.Get("DPoP"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"unbound-at","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tokens.Close()
	c := clientOf(t, tokens.URL+"/token")
	if err := c.SetDPoPKey("", ""); err != nil {
		t.Fatal(err)
	}
	jkt := thumbprintOf(t, c)
	_, err := c.ClientCredentials("read")
	var e *tokenclient.Error
	if !errors.As(err, &e) || e.Kind != tokenclient.KindResponse || !strings.Contains(e.Message, "DPoP") {
		t.Fatalf("a bearer token for a proof: %#v", err)
	}
	if err := c.SetDPoPAllowBearer(true); err != nil {
		t.Fatal(err)
	}
	tok, err := c.ClientCredentials("read")
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.Cnf != (tokenclient.Confirmation{}) || tok.Authorization != "Bearer unbound-at" {
		t.Fatalf("an unbound token: %q %+v", tok.TokenType, tok.Cnf)
	}
	mu.Lock()
	got := proofs
	proofs = nil
	mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d token requests", len(got))
	}
	for _, proof := range got {
		p := verifyProof(t, proof)
		if p.Thumbprint != jkt {
			t.Fatalf("the token request's proof is of %q", p.Thumbprint)
		}
		checkClaims(t, p, "POST", tokens.URL+"/token", "", "")
	}
	if err := c.SetDPoPAllowBearer(false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClientCredentials("read"); kindOf(err) != tokenclient.KindResponse {
		t.Fatalf("refused again: %#v", err)
	}
}

func TestDPoPErrors(t *testing.T) {
	c := issuerClient(t) // post-client, no DPoP key
	if _, err := c.DPoPThumbprint(); kindOf(err) != tokenclient.KindConfig {
		t.Fatalf("thumbprint without a key: %#v", err)
	}
	if _, err := c.DPoPProof("GET", server.ProtectedURL, "", ""); kindOf(err) != tokenclient.KindConfig {
		t.Fatalf("proof without a key: %#v", err)
	}
	for _, k := range []struct {
		what, key, alg string
		kind           tokenclient.ErrorKind
	}{
		{"not a key", "not a key at all", "", tokenclient.KindKey},
		{"an EC key for RS256", server.Clients["es256-client"].PrivateKeyPEM, "RS256", tokenclient.KindKey},
		{"an HMAC algorithm", server.Clients["es256-client"].PrivateKeyPEM, "HS256", tokenclient.KindKey},
		{"an unknown algorithm", "", "XY512", tokenclient.KindInvalidArgument},
		{"a generated key for RS256", "", "RS256", tokenclient.KindInvalidArgument},
	} {
		err := c.SetDPoPKey(k.key, k.alg)
		if kindOf(err) != k.kind {
			t.Fatalf("%s: %#v", k.what, err)
		}
		if strings.Contains(err.Error(), "BEGIN") {
			t.Fatalf("%s: the message shows the key: %v", k.what, err)
		}
	}
	if _, err := c.DPoPThumbprint(); kindOf(err) != tokenclient.KindConfig {
		t.Fatalf("a key refused was set: %#v", err)
	}
	// The key of es256-client is a P-256 key: ES256.
	if err := c.SetDPoPKey(server.Clients["es256-client"].PrivateKeyPEM, ""); err != nil {
		t.Fatal(err)
	}
	thumbprintOf(t, c)

	for _, n := range []string{"a b", `a"b`, "a\\b", strings.Repeat("n", 513)} {
		if _, err := c.DPoPProof("GET", server.ProtectedURL, "at", n); kindOf(err) != tokenclient.KindResponse {
			t.Fatalf("a proof with the nonce %.20q: %#v", n, err)
		}
		retry, err := c.DPoPAnswer(server.ProtectedURL, 401, `DPoP error="use_dpop_nonce"`, n)
		if retry || kindOf(err) != tokenclient.KindResponse {
			t.Fatalf("an answer with the nonce %.20q: %v %#v", n, retry, err)
		}
	}
	for _, a := range []struct{ what, method, url string }{
		{"a method that is none", "G ET", server.ProtectedURL},
		{"plain http elsewhere", "GET", "http://api.example.test/x"},
		{"not a URL", "GET", "api.example.test/x"},
	} {
		if _, err := c.DPoPProof(a.method, a.url, "at", ""); kindOf(err) != tokenclient.KindInvalidArgument {
			t.Fatalf("%s: %#v", a.what, err)
		}
	}
	if _, err := c.DPoPAnswer(server.ProtectedURL, -1, "", ""); kindOf(err) != tokenclient.KindInvalidArgument {
		t.Fatalf("a negative status: %#v", err)
	}

	// dpop-client without a proof: the server's refusal.
	ctx := callCtx(t, 10*time.Second)
	plain, err := tokenclient.FromIssuer(ctx, server.Issuer, "dpop-client")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.SetClientSecret(server.Clients["dpop-client"].ClientSecret, tokenclient.AuthClientSecretPost); err != nil {
		t.Fatal(err)
	}
	_, err = plain.ClientCredentialsContext(ctx, "read")
	var oe *tokenclient.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" || kindOf(err) != tokenclient.KindOAuth {
		t.Fatalf("dpop-client without a proof: %#v", err)
	}

	// A closed client.
	c.Close()
	for what, err := range map[string]error{
		"SetDPoPKey":         c.SetDPoPKey("", ""),
		"SetDPoPAllowBearer": c.SetDPoPAllowBearer(true),
		"SetTLSClientAuth":   c.SetTLSClientAuth(tokenclient.AuthTLSClientAuth),
		"DPoPThumbprint":     second(c.DPoPThumbprint()),
		"DPoPProof":          second(c.DPoPProof("GET", server.ProtectedURL, "", "")),
		"DPoPAnswer":         second(c.DPoPAnswer(server.ProtectedURL, 401, "", "")),
	} {
		if kindOf(err) != tokenclient.KindInvalidArgument || !strings.Contains(err.Error(), "closed") {
			t.Fatalf("%s of a closed client: %#v", what, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// mtlsIssuerClient is the client name of the main issuer, made from the
// issuer, trusting the mTLS origin's CA.
func mtlsIssuerClient(t *testing.T, name string) *tokenclient.Client {
	t.Helper()
	c, err := tokenclient.FromIssuer(callCtx(t, 10*time.Second), server.Issuer, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetCAFile(server.MTLS.CAFile); err != nil {
		t.Fatal(err)
	}
	return c
}

// mtlsHTTP is an http.Transport to the mTLS origin that trusts its CA and
// presents cert (none when nil).
func mtlsHTTP(t *testing.T, cert *mtlsCert) *http.Transport {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(server.MTLS.CAPEM)) {
		t.Fatal("ca_pem holds no certificate")
	}
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		pair, err := tls.X509KeyPair([]byte(cert.CertPEM), []byte(cert.KeyPEM))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func TestMTLSClientAuthentication(t *testing.T) {
	ctx := callCtx(t, 30*time.Second)
	for _, m := range []struct {
		name   string
		method tokenclient.AuthMethod
		pem    bool // the certificate and key as PEM text, else as files
	}{
		{"mtls-client", tokenclient.AuthTLSClientAuth, false},
		{"selfsigned-client", tokenclient.AuthSelfSignedTLSClientAuth, true},
	} {
		t.Run(m.name, func(t *testing.T) {
			cert := server.MTLS.Certs[m.name]
			if cert.X5TS256 == "" {
				t.Fatalf("no certificate for %s in the manifest", m.name)
			}
			c := mtlsIssuerClient(t, m.name)
			meta, err := c.Metadata(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if aliases, _ := meta["mtls_endpoint_aliases"].(map[string]any); aliases["token_endpoint"] != server.MTLS.TokenURL ||
				meta["token_endpoint"] != server.TokenURL {
				t.Fatalf("metadata: token_endpoint %v, aliases %v", meta["token_endpoint"], meta["mtls_endpoint_aliases"])
			}
			// Without a certificate: no request can authenticate.
			if err := c.SetTLSClientAuth(m.method); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ClientCredentialsContext(ctx, "read"); kindOf(err) != tokenclient.KindConfig {
				t.Fatalf("without a certificate: %#v", err)
			}
			if m.pem {
				err = c.SetClientCert(cert.CertPEM, cert.KeyPEM)
			} else {
				err = c.SetClientCert(cert.CertFile, cert.KeyFile)
			}
			if err != nil {
				t.Fatal(err)
			}
			// To the alias: the token endpoint itself would refuse the client.
			tok, err := c.ClientCredentialsContext(ctx, "read")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.EqualFold(tok.TokenType, "Bearer") || tok.Cnf.X5TS256 != cert.X5TS256 || tok.Cnf.JKT != "" ||
				tok.Authorization != "Bearer "+tok.AccessToken {
				t.Fatalf("a certificate-bound token: type %q, cnf %+v, want x5t#S256 %q", tok.TokenType, tok.Cnf, cert.X5TS256)
			}
			info, err := c.Introspect(ctx, tok.AccessToken, "access_token")
			if err != nil {
				t.Fatal(err)
			}
			if cnf, _ := info["cnf"].(map[string]any); info["active"] != true || info["client_id"] != m.name ||
				cnf["x5t#S256"] != cert.X5TS256 {
				t.Fatalf("introspection: %v", info)
			}
			// GetToken keeps the binding in the snapshot.
			got, err := c.GetTokenContext(ctx, "read")
			if err != nil {
				t.Fatal(err)
			}
			if again, err := c.GetToken("read"); err != nil || again != got || again.Cnf.X5TS256 != cert.X5TS256 {
				t.Fatalf("GetToken: %v %+v", err, again)
			}

			// At the resource on the mTLS origin through Transport, whose
			// Base presents the certificate: 200; without it: 401.
			hc := &http.Client{Transport: c.Transport(mtlsHTTP(t, &cert), "read", server.MTLS.BaseURL)}
			status, _, out := do(t, hc, newRequest(t, "GET", server.MTLS.ProtectedURL, nil))
			if status != 200 || out.TokenType != "Bearer" || out.X5TS256 != cert.X5TS256 || out.ClientID != m.name {
				t.Fatalf("at the resource with the certificate: %d %+v", status, out)
			}
			bare := &http.Client{Transport: c.Transport(mtlsHTTP(t, nil), "read", server.MTLS.BaseURL)}
			if status, www, _ := do(t, bare, newRequest(t, "GET", server.MTLS.ProtectedURL, nil)); status != 401 ||
				!strings.Contains(www, "invalid_token") {
				t.Fatalf("at the resource without the certificate: %d %q", status, www)
			}
		})
	}

	// Another client's certificate (from the same CA): invalid_client.
	c := mtlsIssuerClient(t, "mtls-client")
	other := server.MTLS.Certs["other-client"]
	if err := c.SetClientCert(other.CertFile, other.KeyFile); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTLSClientAuth(tokenclient.AuthTLSClientAuth); err != nil {
		t.Fatal(err)
	}
	tok, err := c.ClientCredentialsContext(ctx, "read")
	var oe *tokenclient.OAuthError
	var e *tokenclient.Error
	if tok != nil || !errors.As(err, &oe) || oe.Code != "invalid_client" || oe.Status != 401 ||
		!errors.As(err, &e) || e.Kind != tokenclient.KindOAuth {
		t.Fatalf("another client's certificate: %v %#v", tok, err)
	}

	// DPoP and mTLS on one token: the server refuses.
	mine := server.MTLS.Certs["mtls-client"]
	if err := c.SetClientCert(mine.CertPEM, mine.KeyPEM); err != nil {
		t.Fatal(err)
	}
	if err := c.SetDPoPKey("", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClientCredentialsContext(ctx, "read"); !errors.As(err, &oe) || oe.Code != "invalid_request" {
		t.Fatalf("DPoP with mTLS: %#v", err)
	}

	// A client made by New, at the mTLS token URL: the binding too.
	direct, err := tokenclient.New(server.MTLS.TokenURL, "mtls-client")
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	for _, err := range []error{direct.SetCAFile(server.MTLS.CAFile), direct.SetClientCert(mine.CertFile, mine.KeyFile),
		direct.SetTLSClientAuth(tokenclient.AuthTLSClientAuth)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if tok, err := direct.ClientCredentialsContext(ctx, "read"); err != nil || tok.Cnf.X5TS256 != mine.X5TS256 {
		t.Fatalf("New at the mTLS token URL: %v %v", tok, err)
	}
}

func TestMTLSSetterErrors(t *testing.T) {
	c := newClient(t, "post-client")
	cert := server.MTLS.Certs["mtls-client"]
	for _, m := range []tokenclient.AuthMethod{tokenclient.AuthClientSecretPost, tokenclient.AuthNone, 99} {
		if err := c.SetTLSClientAuth(m); kindOf(err) != tokenclient.KindInvalidArgument {
			t.Fatalf("SetTLSClientAuth(%d): %#v", m, err)
		}
	}
	badKey := "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
	for _, a := range []struct {
		what, cert, key string
		kind            tokenclient.ErrorKind
	}{
		{"a certificate without a key", cert.CertFile, "", tokenclient.KindInvalidArgument},
		{"a file that is not there", cert.CertFile + ".missing", cert.KeyFile, tokenclient.KindInvalidArgument},
		{"a certificate that is not PEM", "-----BEGIN CERTIFICATE-----\nnope", cert.KeyPEM, tokenclient.KindInvalidArgument},
		{"PEM text whose key is a certificate", cert.CertPEM, cert.CertPEM, tokenclient.KindKey},
	} {
		err := c.SetClientCert(a.cert, a.key)
		if kindOf(err) != a.kind {
			t.Fatalf("%s: %#v", a.what, err)
		}
		for _, line := range strings.Split(a.cert+"\n"+a.key, "\n") {
			// A path may be shown; a line of PEM text not (but its armour).
			if len(line) > 8 && !strings.HasPrefix(line, "-----") && !strings.HasPrefix(line, "/") &&
				strings.Contains(err.Error(), line) {
				t.Fatalf("%s: the message shows the PEM text: %v", a.what, err)
			}
		}
	}
	// Both "" stops presenting one.
	if err := c.SetClientCert("", ""); err != nil {
		t.Fatal(err)
	}
	// A PEM private key block whose content is no key, or another
	// certificate's key, is refused when set.
	m, err := tokenclient.New(server.MTLS.TokenURL, "mtls-client")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.SetClientCert(cert.CertPEM, badKey)
	if kindOf(err) != tokenclient.KindKey {
		t.Fatalf("a key block that holds no key: %#v", err)
	}
	other := server.MTLS.Certs["other-client"]
	if err := m.SetClientCert(cert.CertPEM, other.KeyPEM); kindOf(err) != tokenclient.KindKey {
		t.Fatalf("another certificate's key: %#v", err)
	}
}
