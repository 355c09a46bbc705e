package main

// Cached tokens and the RoundTripper:
//
//   - tc_cached: GetToken + .AccessToken on a warmed client (the binding's
//     snapshot: no cgo call);
//   - oauth2_reuse_cached: x/oauth2's ReuseTokenSource(validToken, src).Token()
//     on a valid token, what a Go program would otherwise use;
//   - rt_request: a GET through an http.Client whose Transport is the
//     binding's (a cached token attached to each request);
//   - bare_request: the same GET through a bare http.Client setting a fixed
//     Authorization header.
//
// rt_request and bare_request go to one net/http/httptest server in this
// process that answers 200 with a tiny body, over keep-alive connections
// (one http.Transport each), so 1e6/rt - 1e6/bare is the RoundTripper's
// cost per request in µs.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// sink keeps what an operation returns alive, so that it is not optimised away.
var sink string

var (
	apiOnce sync.Once
	api     *httptest.Server
)

// apiServer is the in-process resource server of rt_request and bare_request.
func apiServer() *httptest.Server {
	apiOnce.Do(func() {
		api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" {
				http.Error(w, "no token", http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "ok")
		}))
	})
	return api
}

// get sends one GET with hc (hdr: a header to set, "" for none), reads
// the body and closes it.
func get(hc *http.Client, url, hdr string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		fail("request: %v", err)
	}
	if hdr != "" {
		req.Header.Set("Authorization", hdr)
	}
	resp, err := hc.Do(req)
	if err != nil {
		fail("GET: %v", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		fail("GET: HTTP %d, %v", resp.StatusCode, err)
	}
}

func keepAliveTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return t
}

func cachedOp(name string, key []byte) func() {
	switch name {
	case "tc_cached":
		c := newBindingClient(key)
		if _, err := c.GetToken(""); err != nil {
			fail("GetToken: %v", err)
		}
		return func() {
			tok, err := c.GetToken("")
			if err != nil {
				fail("GetToken: %v", err)
			}
			sink = tok.AccessToken
		}
	case "oauth2_reuse_cached":
		valid := &oauth2.Token{AccessToken: "bench-access-token-0123456789abcdefghijklmn", TokenType: "Bearer",
			Expiry: time.Now().Add(time.Hour)}
		src := oauth2.ReuseTokenSource(valid, oauth2.StaticTokenSource(valid))
		return func() {
			tok, err := src.Token()
			if err != nil {
				fail("Token: %v", err)
			}
			sink = tok.AccessToken
		}
	case "rt_request":
		c := newBindingClient(key)
		srv := apiServer()
		hc := &http.Client{Transport: c.Transport(keepAliveTransport(), "", srv.URL)}
		return func() { get(hc, srv.URL+"/x", "") }
	case "bare_request":
		srv := apiServer()
		hc := &http.Client{Transport: keepAliveTransport()}
		return func() { get(hc, srv.URL+"/x", "Bearer bench-access-token-0123456789abcdefghijklmn") }
	}
	fail("unknown measurement %q", name)
	return nil
}
