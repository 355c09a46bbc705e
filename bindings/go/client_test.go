package tokenclient_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

func newClient(t *testing.T, name string) *tokenclient.Client {
	t.Helper()
	info := server.Clients[name]
	c, err := tokenclient.New(server.tokenURL(name), info.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	switch info.AuthMethod {
	case "none":
		err = c.SetPublic()
	case "private_key_jwt":
		key := info.PrivateKeyB64
		if key == "" {
			key = info.PrivateKeyPEM
		}
		err = c.SetPrivateKey(key, tokenclient.KeyID(info.Kid), tokenclient.Algorithm(info.Alg))
	default:
		method := map[string]tokenclient.AuthMethod{
			"client_secret_basic": tokenclient.AuthClientSecretBasic,
			"client_secret_post":  tokenclient.AuthClientSecretPost,
			"client_secret_jwt":   tokenclient.AuthClientSecretJWT,
		}[info.AuthMethod]
		err = c.SetClientSecret(info.ClientSecret, method)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEveryAuthMethod(t *testing.T) {
	for _, name := range []string{"basic-client", "post-client", "hs256-client", "es256-client", "es384-client",
		"rs256-client", "ps256-client", "eddsa-client", "talkdesk-client", "pingone-pkjwt", "pingone-hs256", "pingone-basic"} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, name)
			tok, err := c.ExchangeCode(server.code(t, name, ""), server.RedirectURI)
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "bearer") || tok.IDToken == "" || tok.RefreshToken == "" {
				t.Fatalf("incomplete token: %v", tok)
			}
			if tok.ExpiresIn <= 0 || time.Until(tok.Expiry) <= 0 {
				t.Fatalf("expiry: %d %v", tok.ExpiresIn, tok.Expiry)
			}
			if server.Clients[name].Issuer == "main" && tok.Extra("sid") == "" {
				t.Fatal("no sid")
			}
			if strings.Contains(tok.String(), tok.AccessToken) {
				t.Fatal("String shows the token")
			}
			r, err := c.Refresh(tok.RefreshToken, "")
			if err != nil || r.AccessToken == tok.AccessToken {
				t.Fatalf("refresh: %v", err)
			}
			cc, err := c.ClientCredentials("read")
			if err != nil || cc.Scope != "read" {
				t.Fatalf("client_credentials: %v %v", err, cc)
			}
		})
	}
}

func TestPKCE(t *testing.T) {
	c := newClient(t, "public-client")
	verifier := base64.RawURLEncoding.EncodeToString([]byte("a verifier of at least 43 characters, long enough"))
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	tok, err := c.ExchangeCode(server.code(t, "public-client", challenge), server.RedirectURI, tokenclient.CodeVerifier(verifier))
	if err != nil || tok.IDToken == "" {
		t.Fatalf("PKCE exchange: %v", err)
	}
	_, err = c.ExchangeCode(server.code(t, "public-client", challenge), server.RedirectURI)
	var oe *tokenclient.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" {
		t.Fatalf("without verifier: %v", err)
	}
}

func TestPingOneAndTalkdeskConstructors(t *testing.T) {
	info := server.Clients["pingone-pkjwt"]
	c, err := tokenclient.PingOne(server.PingOne.EnvID, info.ClientID, tokenclient.AuthBase(server.PingOne.AuthBase))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetPrivateKey(info.PrivateKeyPEM, tokenclient.KeyID(info.Kid)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClientCredentials("read"); err != nil {
		t.Fatal(err)
	}
	td, err := tokenclient.Talkdesk("acme", "x", tokenclient.RegionCA)
	if err != nil {
		t.Fatal(err)
	}
	td.Close()
	_, err = tokenclient.Talkdesk("acme.evil.com/x", "x", tokenclient.RegionUS)
	var e *tokenclient.Error
	if !errors.As(err, &e) || e.Kind != tokenclient.KindInvalidArgument {
		t.Fatalf("bad account: %v", err)
	}
}

func TestTypedErrors(t *testing.T) {
	info := server.Clients["basic-client"]
	c, _ := tokenclient.New(server.TokenURL, info.ClientID)
	defer c.Close()
	if err := c.SetClientSecret("wrong-secret", tokenclient.AuthClientSecretBasic); err != nil {
		t.Fatal(err)
	}
	_, err := c.ClientCredentials("")
	var oe *tokenclient.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_client" || oe.Status != 401 || oe.Description == "" {
		t.Fatalf("wrong secret: %#v", err)
	}
	var base *tokenclient.Error
	if !errors.As(err, &base) || base.Kind != tokenclient.KindOAuth || base.HTTPStatus != 401 {
		t.Fatalf("the OAuth error does not wrap an *Error: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Fatal("the message holds the secret")
	}
	if err := c.SetPrivateKey("not a key"); !errors.As(err, &base) || base.Kind != tokenclient.KindKey {
		t.Fatalf("bad key: %v", err)
	}
	if _, err := tokenclient.New("http://example.com/token", "x"); !errors.As(err, &base) || base.Kind != tokenclient.KindInvalidArgument {
		t.Fatalf("http URL: %v", err)
	}
	fresh, _ := tokenclient.New(server.TokenURL, "x")
	defer fresh.Close()
	if _, err := fresh.ClientCredentials(""); !errors.As(err, &base) || base.Kind != tokenclient.KindConfig {
		t.Fatalf("no credentials: %v", err)
	}
	tr, _ := tokenclient.New("http://127.0.0.1:9/token", "x")
	defer tr.Close()
	_ = tr.SetPublic()
	if _, err := tr.ClientCredentials(""); !errors.As(err, &base) || base.Kind != tokenclient.KindTransport {
		t.Fatalf("refused connection: %v", err)
	}
}

func TestClosedClient(t *testing.T) {
	c := newClient(t, "es256-client")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal("Close is not idempotent")
	}
	_, err := c.CreateAssertion()
	var e *tokenclient.Error
	if !errors.As(err, &e) || e.Kind != tokenclient.KindInvalidArgument {
		t.Fatalf("closed client: %v", err)
	}
}

func TestGrantWithParams(t *testing.T) {
	c := newClient(t, "post-client")
	tok, err := c.Grant("client_credentials", url.Values{"scope": {"read write"}})
	if err != nil || tok.Scope == "" {
		t.Fatalf("grant: %v", err)
	}
	_, err = c.Grant("client_credentials", url.Values{"client_secret": {"x"}})
	var e *tokenclient.Error
	if !errors.As(err, &e) || e.Kind != tokenclient.KindInvalidArgument {
		t.Fatalf("reserved parameter: %v", err)
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	c := newClient(t, "es256-client")
	var wg sync.WaitGroup
	errs := make(chan error, 32*100)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if _, err := c.ClientCredentials("read"); err != nil {
					errs <- err
				}
			}
		}()
	}
	// Credential rotation while exchanges run.
	info := server.Clients["es256-client"]
	for i := 0; i < 20; i++ {
		if err := c.SetPrivateKey(info.PrivateKeyPEM, tokenclient.KeyID(info.Kid)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestTokenSourceWithOAuth2Client(t *testing.T) {
	c := newClient(t, "basic-client")
	httpClient := oauth2.NewClient(t.Context(), c.TokenSource(tokenclient.WithScope("read")))
	for i := 0; i < 3; i++ {
		resp, err := httpClient.Get(server.ProtectedURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"client_id":"basic-client"`) {
			t.Fatalf("protected resource: %d %s", resp.StatusCode, body)
		}
	}
	// A plain request without the token is refused: the check can fail.
	resp, err := http.Get(server.ProtectedURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unauthenticated request: %d", resp.StatusCode)
	}
	// Backed by a refresh token, following rotation.
	tok, err := c.ExchangeCode(server.code(t, "basic-client", ""), server.RedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	src := c.TokenSource(tokenclient.WithRefreshToken(tok.RefreshToken))
	ot, err := src.Token()
	if err != nil || ot.AccessToken == "" || ot.AccessToken == tok.AccessToken {
		t.Fatalf("refresh-token source: %v", err)
	}
}

func TestAssertionsVerifiedByGolangJWT(t *testing.T) {
	for _, name := range []string{"es256-client", "rs256-client", "ps256-client", "eddsa-client", "hs256-client"} {
		t.Run(name, func(t *testing.T) {
			info := server.Clients[name]
			c := newClient(t, name)
			raw, err := c.CreateAssertion()
			if err != nil {
				t.Fatal(err)
			}
			var key any
			if info.AuthMethod == "client_secret_jwt" {
				key = []byte(info.ClientSecret)
			} else {
				priv, err := parsePrivatePEM(info.PrivateKeyPEM)
				if err != nil {
					t.Fatal(err)
				}
				key = priv.Public()
			}
			claims := jwt.MapClaims{}
			parsed, err := jwt.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) { return key, nil },
				jwt.WithValidMethods([]string{algOf(info)}), jwt.WithAudience(server.TokenURL),
				jwt.WithIssuer(info.ClientID), jwt.WithSubject(info.ClientID), jwt.WithIssuedAt(), jwt.WithExpirationRequired())
			if err != nil || !parsed.Valid {
				t.Fatalf("golang-jwt rejects our assertion: %v", err)
			}
			if info.Kid != "" && parsed.Header["kid"] != info.Kid {
				t.Fatalf("kid %v", parsed.Header["kid"])
			}
			if claims["jti"] == "" || parsed.Header["typ"] != "JWT" {
				t.Fatal("jti or typ missing")
			}
		})
	}
}

func algOf(info clientInfo) string {
	if info.AuthMethod == "client_secret_jwt" {
		return "HS256"
	}
	return info.Alg
}

func tokenRequests(t *testing.T, clientID string) int {
	t.Helper()
	resp, err := http.Get(server.StatsURL + "?client_id=" + url.QueryEscape(clientID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		TokenRequests int `json:"token_requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.TokenRequests
}

func TestGetTokenSingleFlight(t *testing.T) {
	c := newClient(t, "ps256-client")
	before := tokenRequests(t, "ps256-client")
	var wg sync.WaitGroup
	start := make(chan struct{})
	tokens := make([]string, 1000)
	errs := make([]error, 1000)
	for i := range tokens {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			tok, err := c.GetToken("read")
			errs[i] = err
			if err == nil {
				tokens[i] = tok.AccessToken
			}
		}(i)
	}
	close(start)
	wg.Wait()
	for i := range tokens {
		if errs[i] != nil || tokens[i] == "" || tokens[i] != tokens[0] {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
	}
	if n := tokenRequests(t, "ps256-client") - before; n != 1 {
		t.Fatalf("%d token requests for 1000 callers", n)
	}
	if err := c.InvalidateToken("read"); err != nil {
		t.Fatal(err)
	}
	again, err := c.GetToken("read")
	if err != nil || again.AccessToken == tokens[0] {
		t.Fatalf("after invalidate: %v", err)
	}
}

func TestOnTokenSeesRotatedRefreshTokens(t *testing.T) {
	c := newClient(t, "eddsa-client")
	first, err := c.ExchangeCode(server.code(t, "eddsa-client", ""), server.RedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	if err := c.OnToken(func(tok *tokenclient.Token) {
		mu.Lock()
		seen = append(seen, tok.RefreshToken)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRefreshToken(first.RefreshToken); err != nil {
		t.Fatal(err)
	}
	tok, err := c.GetToken("")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != tok.RefreshToken || tok.RefreshToken == first.RefreshToken {
		t.Fatalf("hook saw %v", seen)
	}
	if err := c.SetRetryPolicy(11, time.Millisecond, time.Second); err == nil {
		t.Fatal("11 retries accepted")
	}
	if err := c.SetRefreshPolicy(0, time.Second); err == nil {
		t.Fatal("0 percent accepted")
	}
}

func TestTokenExtraReadsStringMembersOfRaw(t *testing.T) {
	tok := &tokenclient.Token{Raw: json.RawMessage(`{"sid":"s-1","n":5,"nil":null,"obj":{"sid":"inner"}}`)}
	for name, want := range map[string]string{"sid": "s-1", "n": "", "nil": "", "obj": "", "absent": ""} {
		if got := tok.Extra(name); got != want {
			t.Errorf("Extra(%q) = %q, want %q", name, got, want)
		}
	}
	if got := (&tokenclient.Token{}).Extra("sid"); got != "" {
		t.Errorf("Extra on a token without Raw = %q", got)
	}
}
