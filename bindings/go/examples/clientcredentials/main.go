// Command clientcredentials gets a token with private_key_jwt and calls an
// API through golang.org/x/oauth2 with it.
//
//	TOKEN_URL=... CLIENT_ID=... CLIENT_KEY=... KEY_ID=... API_URL=... go run ./examples/clientcredentials
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"golang.org/x/oauth2"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

func main() {
	c, err := tokenclient.New(os.Getenv("TOKEN_URL"), os.Getenv("CLIENT_ID"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// PEM, bare base64 DER (as Talkdesk hands it out) or a JWK; algorithm inferred.
	if err := c.SetPrivateKey(os.Getenv("CLIENT_KEY"), tokenclient.KeyID(os.Getenv("KEY_ID"))); err != nil {
		log.Fatal(err)
	}
	tok, err := c.ClientCredentials("read")
	var oe *tokenclient.OAuthError
	if errors.As(err, &oe) {
		log.Fatalf("the server said %s (HTTP %d): %s", oe.Code, oe.Status, oe.Description)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s token, scope %q, expires %s\n", tok.TokenType, tok.Scope, tok.Expiry.Format("15:04:05"))

	if api := os.Getenv("API_URL"); api != "" {
		httpClient := oauth2.NewClient(context.Background(), c.TokenSource(tokenclient.WithScope("read")))
		resp, err := httpClient.Get(api)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("GET %s: %d %s\n", api, resp.StatusCode, body)
	}
}
