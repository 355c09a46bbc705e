package tokenclient_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// TestTokenExchange: the RFC 8693 grant goes out with the subject token,
// its type and the extra parameters, and issued_token_type comes back.
func TestTokenExchange(t *testing.T) {
	forms := make(chan url.Values, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		forms <- r.PostForm
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"XT","token_type":"Bearer","expires_in":60,"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}`))
	}))
	defer srv.Close()
	c, err := tokenclient.New(srv.URL+"/token", "c")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.NoProxy(); err != nil {
		t.Fatal(err)
	}
	if err := c.SetClientSecret("s3cret-value", tokenclient.AuthClientSecretPost); err != nil {
		t.Fatal(err)
	}
	tok, err := c.TokenExchange("SUBJECT", "urn:ietf:params:oauth:token-type:access_token",
		url.Values{"audience": {"https://api.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "XT" || tok.Extra("issued_token_type") != "urn:ietf:params:oauth:token-type:access_token" {
		t.Fatalf("token %q, issued_token_type %q", tok.AccessToken, tok.Extra("issued_token_type"))
	}
	form := <-forms
	want := map[string]string{
		"grant_type":         "urn:ietf:params:oauth:grant-type:token-exchange",
		"subject_token":      "SUBJECT",
		"subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"audience":           "https://api.example.com",
		"client_id":          "c",
	}
	for k, v := range want {
		if form.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, form.Get(k), v)
		}
	}
	var e *tokenclient.Error
	if _, err := c.TokenExchange("", "t", nil); err == nil || !errors.As(err, &e) || e.Kind != tokenclient.KindInvalidArgument {
		t.Fatalf("empty subject token: %v", err)
	}
}
