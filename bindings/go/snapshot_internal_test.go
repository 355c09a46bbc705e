package tokenclient

import (
	"net/http"
	"testing"
	"time"
)

// The snapshot serves a token only while both clocks say it is fresh: Go's
// monotonic reading (immune to wall clock steps) and the wall clock (which
// moves on while a machine sleeps, when the monotonic clock may not).
func TestSnapshotJudgesByBothClocks(t *testing.T) {
	tok := &Token{AccessToken: "a"}
	now := time.Now()
	cases := []struct {
		name       string
		mono, wall time.Time
		fresh      bool
	}{
		{"both ahead", now.Add(time.Hour), now.Add(time.Hour).Round(0), true},
		{"monotonic past", now.Add(-time.Millisecond), now.Add(time.Hour).Round(0), false},
		// As after a suspend or a wall clock step forward: the monotonic
		// deadline is ahead, the wall clock's is behind.
		{"wall clock past", now.Add(time.Hour), now.Add(-time.Second).Round(0), false},
		{"both past", now.Add(-time.Second), now.Add(-time.Second).Round(0), false},
	}
	for _, c := range cases {
		tc := newTokenCache()
		tc.p.Store(&snapshot{tokens: map[string]*cachedToken{"s": {token: tok, mono: c.mono, wall: c.wall}}})
		if got := tc.get("s") != nil; got != c.fresh {
			t.Errorf("%s: served %v, want %v", c.name, got, c.fresh)
		}
	}
	// put strips the monotonic reading of the wall deadline itself.
	tc := newTokenCache()
	tc.put(tc.generation(), "s", tok, time.Now().Add(time.Hour))
	e := tc.p.Load().tokens["s"]
	if e == nil || e.wall != e.wall.Round(0) || e.mono == e.mono.Round(0) || tc.get("s") != tok {
		t.Fatalf("put: %+v", e)
	}
	// A put whose generation a drop has passed stores nothing; nor does one after Close.
	gen := tc.generation()
	tc.drop(false)
	tc.put(gen, "t", tok, time.Now().Add(time.Hour))
	if tc.get("t") != nil || tc.get("s") != nil {
		t.Fatal("a put from before a drop was stored, or the drop kept a token")
	}
	tc.drop(true)
	tc.put(tc.generation(), "t", tok, time.Now().Add(time.Hour))
	if tc.get("t") != nil {
		t.Fatal("a put after Close was stored")
	}
	var none *tokenCache
	if none.get("s") != nil {
		t.Fatal("a nil cache served")
	}
	none.put(0, "s", tok, time.Now().Add(time.Hour))
	none.drop(true)
}

func TestInvalidTokenChallenge(t *testing.T) {
	for v, want := range map[string]bool{
		`Bearer error="invalid_token"`:                                           true,
		`Bearer realm="api", error="invalid_token", error_description="expired"`: true,
		`Bearer error=invalid_token`:                                             true,
		`bearer ERROR = "invalid_token"`:                                         true,
		`Basic realm="x", Bearer error="invalid_token"`:                          true,
		`Bearer error="insufficient_scope"`:                                      false,
		`Bearer error_description="invalid_token"`:                               false,
		`Bearer realm="error=\"invalid_token\""`:                                 false,
		`Bearer realm="a\"b", error="invalid_token"`:                             true,
		`Bearer`:                         false,
		``:                               false,
		`Bearer error="invalid_token_x"`: false,
		`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`: false,
	} {
		h := http.Header{}
		h.Add("WWW-Authenticate", v)
		if got := invalidTokenChallenge(h); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
	h := http.Header{}
	h.Add("WWW-Authenticate", `Basic realm="x"`)
	h.Add("WWW-Authenticate", `Bearer error="invalid_token"`)
	if !invalidTokenChallenge(h) {
		t.Error("the second of two WWW-Authenticate fields is not read")
	}
}

func TestTransportOrigins(t *testing.T) {
	for origin, ok := range map[string]bool{
		"https://api.example.com":         true,
		"https://API.example.com:443/v1/": true,
		"http://127.0.0.1:8080":           true,
		"http://localhost":                true,
		"http://[::1]:9":                  true,
		"http://api.example.com":          false,
		"http://[::ffff:127.0.0.1]:80":    false,
		"ftp://api.example.com":           false,
		"api.example.com":                 false,
		"/relative":                       false,
		"":                                false,
	} {
		if _, err := parseOrigin(origin); (err == nil) != ok {
			t.Errorf("%q: accepted %v, want %v (%v)", origin, err == nil, ok, err)
		}
	}
	tr := &Transport{Client: &Client{}, Origins: []string{"https://API.example.com", "http://127.0.0.1:8080/base"}}
	if err := tr.setup(); err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]bool{
		"https://api.example.com/x":        true,
		"https://api.example.com:443/x":    true,
		"HTTPS://api.EXAMPLE.com/x":        true,
		"https://api.example.com:8443/x":   false,
		"http://api.example.com/x":         false,
		"https://api.example.com.evil/x":   false,
		"https://evil.com/api.example.com": false,
		"http://127.0.0.1:8080/other":      true,
		"http://127.0.0.1/":                false,
		"http://localhost:8080/":           false,
	} {
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.sendsTokenTo(req.URL); got != want {
			t.Errorf("%s: sends the token %v, want %v", u, got, want)
		}
	}
}
