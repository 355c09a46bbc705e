package tokenclient

// External signers (issue 20): keys that never leave their vault. A
// crypto.Signer (an HSM, a cloud KMS client library, a key in memory)
// signs client assertions (SetSigner) or DPoP proofs (SetDPoPSigner)
// through the library's tokenclient_sign_fn callback. The library builds
// the JWS, checks the signature's length and converts DER ECDSA
// signatures; this file only hashes the signing input as the algorithm
// says and hands over what the signer returns. PKCS#11 keys need none of
// it: SetPrivateKey and SetDPoPKey take pkcs11: URIs, and the library
// talks to the module itself.

/*
#include <stdint.h>
#include <stdlib.h>
#include "tokenclient.h"

extern int tokenclientGoSign(void *user_data, uint8_t *input, size_t input_len, uint8_t *out_sig, size_t out_cap, size_t *out_len, char *err_msg, size_t err_cap);
extern void tokenclientGoFreeSigner(void *user_data);
static int tokenclient_go_sign_shim(void *user_data, const uint8_t *input, size_t input_len, uint8_t *out_sig, size_t out_cap, size_t *out_len, char *err_msg, size_t err_cap) {
	return tokenclientGoSign(user_data, (uint8_t *)input, input_len, out_sig, out_cap, out_len, err_msg, err_cap);
}
static void tokenclient_go_free_signer_shim(void *user_data) {
	tokenclientGoFreeSigner(user_data);
}
static tokenclient_error *tokenclient_go_set_signer(tokenclient_client *c, const char *alg, const char *key_id, void *user_data) {
	return tokenclient_client_set_signer(c, alg, key_id, tokenclient_go_sign_shim, user_data, tokenclient_go_free_signer_shim);
}
static tokenclient_error *tokenclient_go_set_dpop_signer(tokenclient_client *c, const char *alg, const char *public_key, void *user_data) {
	return tokenclient_client_set_dpop_signer(c, alg, public_key, tokenclient_go_sign_shim, user_data, tokenclient_go_free_signer_shim);
}
*/
import "C"

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // the hashes of the algorithms, for crypto.SignMessage
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// signerHook is what a signer callback's handle holds: the caller's
// signer and the options of the algorithm it signs with.
type signerHook struct {
	signer crypto.Signer
	opts   crypto.SignerOpts // the hash (crypto.Hash(0) for EdDSA), or *rsa.PSSOptions
}

// sign signs the JWS signing input: hashed with the algorithm's hash,
// unless the signer hashes itself (crypto.MessageSigner) or the algorithm
// signs the message as it is (EdDSA).
func (s *signerHook) sign(input []byte) ([]byte, error) {
	return crypto.SignMessage(s.signer, rand.Reader, input, s.opts)
}

// liveSigners counts the signer handles the library holds: made by
// SetSigner and SetDPoPSigner, released by the library's free_user_data.
var liveSigners atomic.Int64

// signerAlgorithms are the JWS algorithms a crypto.Signer signs with: the
// hash of each, and whether it is RSASSA-PSS.
var signerAlgorithms = map[string]struct {
	hash crypto.Hash
	pss  bool
}{
	"RS256": {crypto.SHA256, false}, "RS384": {crypto.SHA384, false}, "RS512": {crypto.SHA512, false},
	"PS256": {crypto.SHA256, true}, "PS384": {crypto.SHA384, true}, "PS512": {crypto.SHA512, true},
	"ES256": {crypto.SHA256, false}, "ES384": {crypto.SHA384, false}, "ES512": {crypto.SHA512, false},
	"EdDSA": {0, false},
}

// ecAlgorithms is the algorithm of each curve (RFC 7518 §3.4).
var ecAlgorithms = map[elliptic.Curve]string{
	elliptic.P256(): "ES256", elliptic.P384(): "ES384", elliptic.P521(): "ES512",
}

// defaultAlgorithm is the algorithm the library infers for a private key
// of pub's type: ES256/ES384/ES512 by curve, RS256 for RSA, EdDSA for
// Ed25519; "" for another type.
func defaultAlgorithm(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecAlgorithms[k.Curve]
	case *rsa.PublicKey:
		return "RS256"
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

// describeKey names pub's type for an error message.
func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "an EC " + k.Curve.Params().Name + " key"
	case *rsa.PublicKey:
		return fmt.Sprintf("an RSA-%d key", k.N.BitLen())
	case ed25519.PublicKey:
		return "an Ed25519 key"
	case nil:
		return "no public key"
	}
	return fmt.Sprintf("a public key of type %T", pub)
}

// signerOptions are the SignerOpts of alg: its hash (crypto.Hash(0) for
// EdDSA), or *rsa.PSSOptions for PS*. An algorithm that is not one of the
// asymmetric JWS algorithms is KindInvalidArgument (as the library says).
func signerOptions(alg string) (crypto.SignerOpts, error) {
	a, ok := signerAlgorithms[alg]
	switch {
	case !ok && (alg == "HS256" || alg == "HS384" || alg == "HS512"):
		return nil, invalidArgument(alg + " signs with a client secret, not with a signer")
	case !ok:
		return nil, invalidArgument(fmt.Sprintf("unknown algorithm %q for a signer: expected one of "+
			"RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA", alg))
	case a.pss:
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash}, nil
	}
	return a.hash, nil
}

// newSignerHook makes the hook that signs with signer by alg ("" for the
// default of the public key's type, which it returns).
func newSignerHook(signer crypto.Signer, alg string) (*signerHook, string, error) {
	if signer == nil {
		return nil, "", invalidArgument("the signer is nil")
	}
	if alg == "" {
		pub := signer.Public()
		if alg = defaultAlgorithm(pub); alg == "" {
			return nil, "", &Error{Kind: KindKey, Message: "no algorithm fits the signer's public key (" + describeKey(pub) +
				"): expected an ECDSA P-256, P-384 or P-521, RSA or Ed25519 key"}
		}
	}
	opts, err := signerOptions(alg)
	if err != nil {
		return nil, "", err
	}
	return &signerHook{signer: signer, opts: opts}, alg, nil
}

// minRSABits is the smallest RSA modulus the library takes (RFC 7518 §3.3).
const minRSABits = 2048

// checkFit is KindKey unless alg fits pub, by the library's rules for the
// keys it reads (RS* and PS* for RSA of at least 2048 bits,
// ES256/ES384/ES512 for its curve, EdDSA for Ed25519): for SetSigner,
// whose public key the library never sees, and which would otherwise
// refuse each of its signatures.
func checkFit(pub crypto.PublicKey, alg string) error {
	fits := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		fits = ecAlgorithms[k.Curve] == alg
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return &Error{Kind: KindKey, Message: fmt.Sprintf("the signer's RSA key has %d bits; at least %d are required", bits, minRSABits)}
		}
		fits = alg[0] == 'R' || alg[0] == 'P'
	case ed25519.PublicKey:
		fits = alg == "EdDSA"
	}
	if !fits {
		return &Error{Kind: KindKey, Message: fmt.Sprintf("algorithm %s does not fit the signer's public key (%s)", alg, describeKey(pub))}
	}
	return nil
}

// installSigner hands the library, through set, the user_data of a signer
// callback: C memory holding a cgo.Handle of hook. From then on the
// library owns it, and its free_user_data (tokenclientGoFreeSigner)
// releases it once the signer is no longer used; on error it is released
// here (the library does not call free_user_data then).
func (c *Client) installSigner(hook *signerHook, set func(h *C.tokenclient_client, userData unsafe.Pointer) *C.tokenclient_error) error {
	slot := newHookSlot(hook)
	liveSigners.Add(1)
	err := c.set(func(h *C.tokenclient_client) *C.tokenclient_error {
		return set(h, unsafe.Pointer(slot))
	})
	if err != nil {
		releaseSigner(slot)
	}
	return err
}

// releaseSigner deletes a signer's handle and frees its slot.
func releaseSigner(slot *C.uintptr_t) {
	releaseHook(slot)
	liveSigners.Add(-1)
}

// SetSigner authenticates with private_key_jwt, signing each client
// assertion with signer: any crypto.Signer, such as a cloud KMS client
// library's, a PKCS#11 wrapper's or an *ecdsa.PrivateKey. The library
// never sees the key; it builds the assertion and calls signer.Sign with
// the signing input hashed by alg's hash (SHA-256, -384 or -512; a
// crypto.MessageSigner gets it unhashed through SignMessage): opts the
// hash for RS* (PKCS #1 v1.5) and ES*, *rsa.PSSOptions with
// rsa.PSSSaltLengthEqualsHash for PS*, and the input itself with
// crypto.Hash(0) for EdDSA. ECDSA signatures may be ASN.1 DER (what
// crypto/ecdsa returns) or r||s.
//
// alg "" is chosen from signer.Public(): ES256, ES384 or ES512 by curve,
// RS256 for RSA, EdDSA for Ed25519. keyID is the assertions' kid ("" for
// none). It replaces other credentials.
//
// Sign is called on the goroutine (or library thread) of each request,
// concurrently: signer must be safe for that, and must not call this
// client's setters. An error it returns fails the request with KindKey
// and the error's text (as much as the library has room for: keep
// secrets out of it); a panic is recovered and fails it the same way; a
// Sign that returns after the call's deadline fails it with KindTransport
// (and context.DeadlineExceeded for a ...Context call) before anything
// is sent. Sign has no context: a signer that can block should bound
// itself.
// The binding keeps signer until the library lets it go: when it is
// replaced (and requests using it have ended) or on Close.
//
// A nil signer or an alg that is not one of RS256, RS384, RS512, PS256,
// PS384, PS512, ES256, ES384, ES512, EdDSA is KindInvalidArgument, as is
// a keyID with control characters (the library's check); a public key
// alg does not fit, an RSA key under 2048 bits, or a key no algorithm
// fits is KindKey (checked in Go: the library does not see the public
// key).
func (c *Client) SetSigner(signer crypto.Signer, alg, keyID string) error {
	hook, alg, err := newSignerHook(signer, alg)
	if err != nil {
		return err
	}
	if err := checkFit(signer.Public(), alg); err != nil {
		return err
	}
	a, kid := cString(alg), cStringOrNil(keyID)
	defer freeCString(a)
	defer freeCString(kid)
	return c.installSigner(hook, func(h *C.tokenclient_client, userData unsafe.Pointer) *C.tokenclient_error {
		return C.tokenclient_go_set_signer(h, a, kid, userData)
	})
}

// SetDPoPSigner is SetDPoPKey with a key behind signer (as for
// SetSigner): DPoP proofs are signed by signer.Sign, and the proofs' JWK
// is signer.Public(), handed to the library as PEM (x509's PKIX form);
// Token.Cnf.JKT is its thumbprint. alg "" is chosen from the public key
// as for SetSigner (RS256 for RSA; PS256 is allowed). It replaces the
// DPoP key.
//
// A nil signer or an unknown alg is KindInvalidArgument; a public key
// that x509 cannot marshal, or that alg does not fit, is KindKey (the
// library checks the fit).
func (c *Client) SetDPoPSigner(signer crypto.Signer, alg string) error {
	hook, alg, err := newSignerHook(signer, alg)
	if err != nil {
		return err
	}
	pub := signer.Public()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return &Error{Kind: KindKey, Message: "the signer's public key (" + describeKey(pub) + ") cannot be marshalled: " + err.Error()}
	}
	a := cString(alg)
	defer freeCString(a)
	pk := cString(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	defer freeCString(pk)
	return c.installSigner(hook, func(h *C.tokenclient_client, userData unsafe.Pointer) *C.tokenclient_error {
		return C.tokenclient_go_set_dpop_signer(h, a, pk, userData)
	})
}

// signerFailed writes msg to the callback's error buffer (NUL-terminated,
// at most errCap bytes, cut at a character boundary) and returns the
// callback's failure.
func signerFailed(errMsg *C.char, errCap C.size_t, msg string) C.int {
	if errMsg != nil && errCap > 0 {
		n := min(len(msg), int(min(errCap-1, 1<<16)))
		for n > 0 && n < len(msg) && !utf8.RuneStart(msg[n]) {
			n--
		}
		buf := unsafe.Slice((*byte)(unsafe.Pointer(errMsg)), n+1)
		copy(buf, msg[:n])
		for i := range n {
			if buf[i] == 0 {
				buf[i] = ' '
			}
		}
		buf[n] = 0
	}
	return 1
}
