package tokenclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// The RoundTripper and the x/oauth2 source, against the test server's
// protected resource (/test/protected: 200 for a valid token of the main
// issuer, else 401 with error="invalid_token").

type protectedAnswer struct {
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Method   string `json:"method"`
	Body     string `json:"body"`
	// The scheme the token came with, and what it is bound to (DPoP key,
	// client certificate): "" when unbound.
	TokenType string `json:"token_type"`
	JKT       string `json:"jkt"`
	X5TS256   string `json:"x5t#S256"`
}

// do sends req with hc and returns the status, the WWW-Authenticate field
// and the decoded 200 answer.
func do(t *testing.T, hc *http.Client, req *http.Request) (int, string, protectedAnswer) {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out protectedAnswer
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), out
}

func newRequest(t *testing.T, method, u string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// stats is the server's count of token requests by clientID and of
// protected resource requests (all clients).
func stats(t *testing.T, clientID string) (tokenRequests, protectedRequests int) {
	t.Helper()
	resp, err := http.Get(server.StatsURL + "?client_id=" + url.QueryEscape(clientID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		TokenRequests     int `json:"token_requests"`
		ProtectedRequests int `json:"protected_requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.TokenRequests, out.ProtectedRequests
}

// revoke makes the server forget an access token (RFC 7009), as
// post-client.
func revoke(t *testing.T, token string) {
	t.Helper()
	resp, err := http.PostForm(server.RevocationURL, url.Values{"token": {token}, "client_id": {"post-client"},
		"client_secret": {server.Clients["post-client"].ClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revocation: %d %s", resp.StatusCode, body)
	}
}

// delta checks how the server's counts moved since (tr, pr).
func delta(t *testing.T, what string, tr, pr, wantTokens, wantProtected int) (int, int) {
	t.Helper()
	tr2, pr2 := stats(t, "post-client")
	if tr2-tr != wantTokens || pr2-pr != wantProtected {
		t.Fatalf("%s: %d token requests and %d protected requests, want %d and %d", what, tr2-tr, pr2-pr,
			wantTokens, wantProtected)
	}
	return tr2, pr2
}

// onlyReader hides what http.NewRequest looks for to set GetBody.
type onlyReader struct{ io.Reader }

func TestTransportAttachesRenewsAndRetriesOnce(t *testing.T) {
	c := newClient(t, "post-client")
	hc := c.HTTPClient(t.Context(), "read", server.BaseURL)
	tr, pr := stats(t, "post-client")

	req := newRequest(t, "GET", server.ProtectedURL, nil)
	status, _, out := do(t, hc, req)
	if status != 200 || out.ClientID != "post-client" || out.Method != "GET" || !strings.Contains(out.Scope, "read") {
		t.Fatalf("GET: %d %+v", status, out)
	}
	if req.Header.Get("Authorization") != "" {
		t.Fatal("the caller's request was modified")
	}
	status, _, out = do(t, hc, newRequest(t, "POST", server.ProtectedURL, strings.NewReader("hello")))
	if status != 200 || out.Method != "POST" || out.Body != "hello" {
		t.Fatalf("POST: %d %+v", status, out)
	}
	tr, pr = delta(t, "two requests", tr, pr, 1, 2)

	// After InvalidateToken, a new token.
	if err := c.InvalidateToken("read"); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := do(t, hc, newRequest(t, "GET", server.ProtectedURL, nil)); status != 200 {
		t.Fatalf("after InvalidateToken: %d", status)
	}
	tr, pr = delta(t, "after InvalidateToken", tr, pr, 1, 1)

	// The server revokes the cached token: 401 invalid_token, then one
	// retry with a new token.
	current := func() string {
		tok, err := c.GetToken("read")
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	revoked := current()
	revoke(t, revoked)
	if status, _, out := do(t, hc, newRequest(t, "GET", server.ProtectedURL, nil)); status != 200 || out.ClientID != "post-client" {
		t.Fatalf("after revocation: %d", status)
	}
	tr, pr = delta(t, "GET after revocation", tr, pr, 1, 2)
	if current() == revoked {
		t.Fatal("the revoked token is still cached")
	}

	// A body that can be sent again (GetBody) is sent again.
	revoke(t, current())
	status, _, out = do(t, hc, newRequest(t, "POST", server.ProtectedURL, strings.NewReader("again")))
	if status != 200 || out.Body != "again" {
		t.Fatalf("POST after revocation: %d %+v", status, out)
	}
	tr, pr = delta(t, "POST after revocation", tr, pr, 1, 2)

	// One that cannot is not: the 401 comes back.
	revoke(t, current())
	req = newRequest(t, "POST", server.ProtectedURL, io.NopCloser(onlyReader{strings.NewReader("once")}))
	if req.GetBody != nil {
		t.Fatal("the body is replayable")
	}
	status, challenge, _ := do(t, hc, req)
	if status != 401 || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Fatalf("POST of a body that cannot be replayed: %d %q", status, challenge)
	}
	tr, pr = delta(t, "POST of a body that cannot be replayed", tr, pr, 0, 1)
	// The next request that can be retried is.
	if status, _, _ := do(t, hc, newRequest(t, "GET", server.ProtectedURL, nil)); status != 200 {
		t.Fatalf("GET: %d", status)
	}
	delta(t, "GET after the 401", tr, pr, 1, 2)
}

// What the other origin saw last: whether a request carried an Authorization header.
func seenElsewhere(t *testing.T) bool {
	t.Helper()
	resp, err := http.Get(server.SeenURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Elsewhere *struct {
			Authorization bool `json:"authorization"`
		} `json:"elsewhere"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Elsewhere == nil {
		t.Fatalf("seen: %v %+v", err, out)
	}
	return out.Elsewhere.Authorization
}

func TestTransportNeverSendsTheTokenToAnotherOrigin(t *testing.T) {
	c := newClient(t, "post-client")
	hc := c.HTTPClient(t.Context(), "read", server.BaseURL)
	get := func(hc *http.Client, u string) int {
		resp, err := hc.Do(newRequest(t, "GET", u, nil))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// The check can fail: a request that carries a header is seen carrying it.
	req := newRequest(t, "GET", server.ElsewhereURL, nil)
	req.Header.Set("Authorization", "Bearer x")
	if _, err := http.DefaultClient.Do(req); err != nil || !seenElsewhere(t) {
		t.Fatalf("the other origin did not see a header: %v", err)
	}
	// A redirect from the configured origin to another: no token there.
	if status := get(hc, server.RedirectURL+"?to="+url.QueryEscape(server.ElsewhereURL)); status != 200 {
		t.Fatalf("redirect: %d", status)
	}
	if seenElsewhere(t) {
		t.Fatal("the token went to another origin after a redirect")
	}
	// A redirect within the origin keeps it.
	status, _, out := do(t, hc, newRequest(t, "GET", server.RedirectURL+"?to="+url.QueryEscape(server.ProtectedURL), nil))
	if status != 200 || out.ClientID != "post-client" {
		t.Fatalf("redirect within the origin: %d", status)
	}
	// A request straight to the other origin: no token either.
	if status := get(hc, server.ElsewhereURL); status != 200 || seenElsewhere(t) {
		t.Fatalf("the token went to another origin (%d)", status)
	}
	// Configured for that origin, the Transport does send it there.
	if status := get(c.HTTPClient(t.Context(), "read", server.ElsewhereURL), server.ElsewhereURL); status != 200 || !seenElsewhere(t) {
		t.Fatalf("the token was not sent to its own origin (%d)", status)
	}
	// The same host on another port is another origin: no token, and none asked for.
	u, _ := url.Parse(server.BaseURL)
	other := &http.Client{Transport: c.Transport(nil, "write", "http://"+u.Hostname()+":1")}
	tr, pr := stats(t, "post-client")
	if status, _, _ := do(t, other, newRequest(t, "GET", server.ProtectedURL, nil)); status != 401 {
		t.Fatalf("a request to an origin not configured: %d", status)
	}
	delta(t, "a request to an origin not configured", tr, pr, 0, 1)
}

// closeRecorder records that the Transport closed a request body.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (r *closeRecorder) Close() error { r.closed.Store(true); return nil }

func TestTransportErrors(t *testing.T) {
	c := newClient(t, "post-client")
	for name, tr := range map[string]http.RoundTripper{
		"no origin":               &tokenclient.Transport{Client: c},
		"plain http to elsewhere": c.Transport(nil, "", "http://api.example.com"),
		"not a URL":               c.Transport(nil, "", "api.example.com"),
		"no client":               &tokenclient.Transport{Origins: []string{server.BaseURL}},
	} {
		body := &closeRecorder{Reader: strings.NewReader("x")}
		_, err := (&http.Client{Transport: tr}).Do(newRequest(t, "POST", server.ProtectedURL, body))
		var e *tokenclient.Error
		if !errors.As(err, &e) || e.Kind != tokenclient.KindInvalidArgument || !body.closed.Load() {
			t.Errorf("%s: %v, body closed %v", name, err, body.closed.Load())
		}
	}
	// No token can be had in time: the request's context bounds the wait,
	// and the error says so.
	silent := clientOf(t, silentServer(t))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, _ := http.NewRequestWithContext(ctx, "POST", server.ProtectedURL, body)
	start := time.Now()
	_, err := silent.HTTPClient(t.Context(), "", server.BaseURL).Do(req)
	var e *tokenclient.Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &e) || !body.closed.Load() {
		t.Fatalf("no token: %v, body closed %v", err, body.closed.Load())
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("took %v", took)
	}
}

// Tokens that expire: the Transport sends the new one once the library
// refreshes (a local token server and resource server).
func TestTransportAfterExpiry(t *testing.T) {
	var issued atomic.Int32
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// lower case "bearer", sent as "Bearer"; refreshed after 1 s
		fmt.Fprintf(w, `{"access_token":"exp-%d","token_type":"bearer","expires_in":2}`, issued.Add(1))
	}))
	defer tokens.Close()
	var mu sync.Mutex
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer api.Close()
	c := clientOf(t, tokens.URL+"/token")
	hc := c.HTTPClient(t.Context(), "", api.URL)
	get := func() {
		resp, err := hc.Do(newRequest(t, "GET", api.URL+"/x", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get()
	get()
	time.Sleep(1100 * time.Millisecond)
	get()
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"Bearer exp-1", "Bearer exp-1", "Bearer exp-2"}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("the API saw %q, want %q", seen, want)
	}
}

func TestTokenSourceContextWithOAuth2Client(t *testing.T) {
	c := newClient(t, "basic-client")
	before := tokenRequests(t, "basic-client")
	src := c.TokenSourceContext(t.Context(), tokenclient.WithScope("read"))
	httpClient := oauth2.NewClient(t.Context(), src)
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
	if n := tokenRequests(t, "basic-client") - before; n != 1 {
		t.Fatalf("%d token requests for 3 requests", n)
	}
	// It serves the client's cached token (one cache, not two).
	ot, err := src.Token()
	tok, err2 := c.GetToken("read")
	if err != nil || err2 != nil || ot.AccessToken != tok.AccessToken || ot.Type() != "Bearer" {
		t.Fatalf("source %v / client %v", err, err2)
	}
	if err := c.InvalidateToken("read"); err != nil {
		t.Fatal(err)
	}
	if again, err := src.Token(); err != nil || again.AccessToken == ot.AccessToken {
		t.Fatalf("after InvalidateToken: %v", err)
	}
	// Its context bounds it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.TokenSourceContext(ctx, tokenclient.WithScope("read")).Token(); !errors.Is(err, context.Canceled) {
		t.Fatalf("a done context: %v", err)
	}
	// With a refresh token of its own it follows rotation, as TokenSource does.
	first, err := c.ExchangeCode(server.code(t, "basic-client", ""), server.RedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	rs := c.TokenSourceContext(t.Context(), tokenclient.WithRefreshToken(first.RefreshToken))
	rt, err := rs.Token()
	if err != nil || rt.AccessToken == "" || rt.AccessToken == first.AccessToken || rt.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh-token source: %v", err)
	}
}
