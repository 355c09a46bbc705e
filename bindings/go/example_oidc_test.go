package tokenclient_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// Compiled, not run: the README's OpenID Connect recipes.

// An OpenID Connect login: /login sends the browser to the issuer, the
// request kept server-side; /callback finishes it with the validated ID
// token.
func ExampleClient_Authorization() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tokenclient.FromIssuer(ctx, "https://login.example.com", "my-web-app")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SetClientSecret(os.Getenv("CLIENT_SECRET"), tokenclient.AuthClientSecretBasic); err != nil {
		log.Fatal(err)
	}
	const redirectURI = "https://app.example.com/callback"
	var (
		mu      sync.Mutex
		pending = map[string]string{} // session id -> exported request: a secret, kept server-side
	)

	http.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		auth, err := c.Authorization(redirectURI, "openid", tokenclient.WithParam("prompt", "login"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer auth.Close()
		to, err := auth.URL(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		kept, err := auth.Export()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		id := rand.Text()
		mu.Lock()
		pending[id] = kept
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "login", Value: id, Path: "/callback", Secure: true, HttpOnly: true,
			SameSite: http.SameSiteLaxMode, MaxAge: 600})
		http.Redirect(w, r, to, http.StatusFound)
	})

	http.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		cookie, err := r.Cookie("login")
		if err != nil {
			http.Error(w, "no login in progress", http.StatusBadRequest)
			return
		}
		mu.Lock()
		kept, ok := pending[cookie.Value]
		delete(pending, cookie.Value) // a request is finished once
		mu.Unlock()
		if !ok {
			http.Error(w, "no login in progress", http.StatusBadRequest)
			return
		}
		auth, err := c.ImportAuthorization(kept)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer auth.Close()
		// The full URL the browser came back to: state, iss and code are checked.
		tok, err := auth.Finish(r.Context(), redirectURI+"?"+r.URL.RawQuery)
		var oe *tokenclient.OAuthError
		switch {
		case errors.As(err, &oe): // e.g. access_denied: the user said no
			http.Error(w, "login refused: "+oe.Code, http.StatusForbidden)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var claims struct {
			Sub string `json:"sub"`
		}
		if err := json.Unmarshal(tok.IDTokenClaims, &claims); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "hello, %s\n", claims.Sub)
	})
}

// The device flow: the user approves on another device while the program
// polls.
func ExampleClient_DeviceAuthorize() {
	ctx := context.Background()
	c, err := tokenclient.FromIssuer(ctx, "https://login.example.com", "my-cli")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SetPublic(); err != nil {
		log.Fatal(err)
	}
	d, err := c.DeviceAuthorize(ctx, "openid offline_access")
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	fmt.Printf("Open %s and enter the code %s\n", d.VerificationURI, d.UserCode)
	// Give up after 5 minutes (or on ^C, with signal.NotifyContext).
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	tok, err := d.Poll(ctx)
	var oe *tokenclient.OAuthError
	switch {
	case errors.As(err, &oe) && oe.Code == "access_denied":
		log.Fatal("the user refused")
	case errors.Is(err, context.DeadlineExceeded):
		log.Fatal("nobody approved the code in time")
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println("signed in; scope", tok.Scope)
}
