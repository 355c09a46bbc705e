package tokenclient_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// Compiled, not run: the README's examples.

// A handler that gives up on the token when its caller goes away, or after 2 s.
func ExampleClient_ClientCredentialsContext() {
	c, err := tokenclient.New("https://auth.example.com/oauth/token", "my-service")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	handler := func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		tok, err := c.ClientCredentialsContext(ctx, "read")
		switch {
		case errors.Is(err, context.Canceled):
			return // the client left: nothing to answer
		case errors.Is(err, context.DeadlineExceeded):
			http.Error(w, "the authorization server is slow", http.StatusGatewayTimeout)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "token for %s\n", tok.Scope)
	}
	http.HandleFunc("/", handler)
}

// An http.Client that sends the token for "read" to https://api.example.com only.
func ExampleClient_HTTPClient() {
	c, err := tokenclient.New("https://auth.example.com/oauth/token", "my-service")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SetClientSecret(os.Getenv("CLIENT_SECRET"), tokenclient.AuthClientSecretBasic); err != nil {
		log.Fatal(err)
	}
	api := c.HTTPClient(context.Background(), "read", "https://api.example.com")
	api.Timeout = 10 * time.Second

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://api.example.com/things", nil)
	resp, err := api.Do(req) // the token request, if one is needed, is bounded by ctx too
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
}

// x/oauth2's http.Client over the client's cache.
func ExampleClient_TokenSourceContext() {
	c, err := tokenclient.New("https://auth.example.com/oauth/token", "my-service")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	httpClient := oauth2.NewClient(ctx, c.TokenSourceContext(ctx, tokenclient.WithScope("read")))
	_ = httpClient
}

// DPoP-bound tokens (RFC 9449), presented by HTTPClient with a new proof
// per request.
func ExampleClient_SetDPoPKey() {
	ctx := context.Background()
	c, err := tokenclient.FromIssuer(ctx, "https://login.example.com", "my-service")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SetClientSecret(os.Getenv("CLIENT_SECRET"), tokenclient.AuthClientSecretPost); err != nil {
		log.Fatal(err)
	}
	if err := c.SetDPoPKey("", ""); err != nil { // a P-256 key made in memory
		log.Fatal(err)
	}
	resp, err := c.HTTPClient(ctx, "read", "https://api.example.com").Get("https://api.example.com/things")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
}

// A DPoP request by hand, for an HTTP stack other than net/http's
// RoundTripper: a proof per send, the answer handed back to the library,
// and one more send when it is a nonce challenge.
func ExampleClient_DPoPProof() {
	c, err := tokenclient.New("https://auth.example.com/oauth/token", "my-service")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDPoPKey("", ""); err != nil {
		log.Fatal(err)
	}
	tok, err := c.GetToken("read")
	if err != nil {
		log.Fatal(err)
	}
	const u = "https://api.example.com/things"
	for attempt := 0; attempt < 2; attempt++ {
		proof, err := c.DPoPProof("GET", u, tok.AccessToken, "") // "": the origin's last nonce
		if err != nil {
			log.Fatal(err)
		}
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", tok.Authorization) // "DPoP <token>"
		req.Header.Set("DPoP", proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		retry, err := c.DPoPAnswer(u, resp.StatusCode,
			strings.Join(resp.Header.Values("WWW-Authenticate"), ", "), resp.Header.Get("DPoP-Nonce"))
		if err != nil || !retry {
			break
		}
	}
}
