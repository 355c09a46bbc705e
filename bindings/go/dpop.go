package tokenclient

// Sender-constrained tokens (issue 19): DPoP (RFC 9449) and mutual-TLS
// client authentication (RFC 8705). The C library makes and checks the
// proofs, keeps the servers' nonces and records what a token is bound to;
// this file only converts arguments and results. Transport (transport.go)
// presents DPoP tokens with a proof per request.

/*
#include <stdint.h>
#include "tokenclient.h"
*/
import "C"

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
)

// SetTLSClientAuth authenticates with the client certificate of
// SetClientCert, by method: AuthTLSClientAuth (a certificate from a CA the
// server trusts for this client, RFC 8705 §2.1) or
// AuthSelfSignedTLSClientAuth (a self-signed certificate registered with
// the server, §2.2). Requests carry client_id and no secret; it replaces
// other credentials. Another method is KindInvalidArgument; a request
// made without a certificate set is KindConfig.
func (c *Client) SetTLSClientAuth(method AuthMethod) error {
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_tls_client_auth(h, C.tokenclient_auth_method(method))
	})
}

// SetDPoPKey makes every token request carry a DPoP proof (RFC 9449) of
// key, so that the tokens are bound to it (token_type "DPoP", Token.Cnf.JKT
// its thumbprint): key in any format SetPrivateKey reads (a PKCS#11 URI
// too: its public key object is read for the proofs' JWK), or "" for a
// new P-256 key the library makes and keeps only in memory (wiped on
// Close); alg "" for the key's default (ES256 for P-256; RS256 for RSA,
// PS256 allowed). A key behind a crypto.Signer: SetDPoPSigner. A
// server's use_dpop_nonce answer is retried once at once with its nonce,
// nonces are kept per origin for the next proofs, and a token of another
// type than DPoP is KindResponse unless SetDPoPAllowBearer.
// Cached tokens are kept per key; replacing the key makes refresh tokens
// bound to the old one unusable.
//
// An unknown alg is KindInvalidArgument; a key that cannot be read or an
// alg that does not fit it (HMAC algorithms never do) is KindKey.
func (c *Client) SetDPoPKey(key, alg string) error {
	k, a := cStringOrNil(key), cStringOrNil(alg)
	defer freeCString(k)
	defer freeCString(a)
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_dpop_key(h, k, a)
	})
}

// SetDPoPPrivateKey is SetDPoPKey with a key of crypto/ecdsa, crypto/rsa or
// crypto/ed25519 (what x509.MarshalPKCS8PrivateKey takes), handed to the
// library as PKCS#8 PEM; the copies made on the way are wiped. A key
// x509 cannot marshal is KindKey.
func (c *Client) SetDPoPPrivateKey(key crypto.PrivateKey, alg string) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return &Error{Kind: KindKey, Message: "the DPoP key cannot be marshalled as PKCS#8: " + err.Error()}
	}
	text := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	k := cBytes(text)
	clear(text)
	defer freeCString(k)
	a := cStringOrNil(alg)
	defer freeCString(a)
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_dpop_key(h, k, a)
	})
}

// SetDPoPAllowBearer says whether a token of another type than DPoP is
// accepted although a DPoP proof was sent (allow), for a server that does
// not bind tokens; by default it is refused (KindResponse).
func (c *Client) SetDPoPAllowBearer(allow bool) error {
	var a C.int32_t
	if allow {
		a = 1
	}
	return c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_set_dpop_allow_bearer(h, a)
	})
}

// DPoPThumbprint returns the DPoP key's JWK SHA-256 thumbprint (RFC 7638,
// base64url): the Cnf.JKT of the tokens bound to it. A client without a
// DPoP key is KindConfig.
func (c *Client) DPoPThumbprint() (string, error) {
	var out *C.char
	err := c.with(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_dpop_thumbprint(h, &out)
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}

// DPoPProof returns a new DPoP proof (a credential: do not log it) for a
// request of method (e.g. "GET") to url, to send as its DPoP header. For a
// resource request pass the accessToken (the proof's ath is its hash) and
// send Token.Authorization ("DPoP <access token>") with it; "" for a token
// endpoint. nonce "" uses the nonce url's origin gave last (see
// DPoPAnswer), if any. The proof's htu is url without its query and
// fragment. Make a new proof for every request: servers refuse a reused
// one. Transport does all of this.
//
// A method that is not a method name, a url that is not https:// (or
// http:// to a loopback host) is KindInvalidArgument; a malformed nonce is
// KindResponse; a client without a DPoP key is KindConfig.
func (c *Client) DPoPProof(method, url, accessToken, nonce string) (string, error) {
	m, u, at, n := cString(method), cString(url), cStringOrNil(accessToken), cStringOrNil(nonce)
	defer freeCString(m)
	defer freeCString(u)
	defer freeCString(at)
	defer freeCString(n)
	var out *C.char
	err := c.with(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_dpop_proof(h, m, u, at, n, &out)
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}

// DPoPAnswer reads a resource server's answer to a DPoP request to url:
// its status, WWW-Authenticate value (the fields joined with ", "; "" when
// absent) and DPoP-Nonce value ("" when absent). The nonce is kept for
// url's origin, for the next DPoPProof; retry is true when the answer is
// a nonce challenge (401 with DPoP error="use_dpop_nonce" and a nonce):
// send the request once more with a new proof. A nonce that is malformed
// or longer than 512 bytes is KindResponse (not kept: do not retry); a
// negative status is KindInvalidArgument.
func (c *Client) DPoPAnswer(url string, status int, wwwAuthenticate, dpopNonce string) (retry bool, err error) {
	if status < 0 {
		return false, invalidArgument("the HTTP status is negative")
	}
	u, wa, dn := cString(url), cStringOrNil(wwwAuthenticate), cStringOrNil(dpopNonce)
	defer freeCString(u)
	defer freeCString(wa)
	defer freeCString(dn)
	var out C.int32_t
	err = c.with(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_dpop_answer(h, u, C.uint32_t(min(uint64(status), 1<<32-1)), wa, dn, &out)
	})
	if err != nil {
		return false, err
	}
	return out != 0, nil
}
