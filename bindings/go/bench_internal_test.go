package tokenclient

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Cached GetToken beside x/oauth2's ReuseTokenSource on a valid token:
// go test -run - -bench Cached
func BenchmarkCachedGetToken(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"bench-token","token_type":"Bearer","expires_in":3600}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/token", "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.SetClientSecret("bench-secret", AuthClientSecretPost); err != nil {
		b.Fatal(err)
	}
	if _, err := c.GetToken(""); err != nil {
		b.Fatal(err)
	}
	var sink string
	b.Run("tokenclient", func(b *testing.B) {
		for b.Loop() {
			tok, err := c.GetToken("")
			if err != nil {
				b.Fatal(err)
			}
			sink = tok.AccessToken
		}
	})
	valid := &oauth2.Token{AccessToken: "bench-token", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
	src := oauth2.ReuseTokenSource(valid, oauth2.StaticTokenSource(valid))
	b.Run("oauth2_reuse", func(b *testing.B) {
		for b.Loop() {
			tok, err := src.Token()
			if err != nil {
				b.Fatal(err)
			}
			sink = tok.AccessToken
		}
	})
	b.Run("time_now", func(b *testing.B) {
		for b.Loop() {
			_ = time.Now()
		}
	})
	_ = sink
}
