package tokenclient_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// Keys that never leave their vault (issue 20), against the real test
// server: keys generated inside a throwaway SoftHSM2 token
// (tests/softhsm.py), used through PKCS#11 URIs (the library talks to the
// module) and through a crypto.Signer over the same module
// (github.com/miekg/pkcs11, as a Go program holding an HSM would); and
// crypto.Signers over in-memory keys, which stand for a cloud KMS client.
// Every assertion is verified here with the standard library alone,
// against the public key the server was given.

// hsmKey is a key of the SoftHSM2 token, as tests/softhsm.py describes it.
type hsmKey struct {
	URI              string            `json:"uri"`
	URINoPIN         string            `json:"uri_no_pin"`
	Alg              string            `json:"alg"`
	JWK              map[string]string `json:"jwk"`
	Extractable      bool              `json:"extractable"`
	NeverExtractable bool              `json:"never_extractable"`
	Sensitive        bool              `json:"sensitive"`
}

type hsmManifest struct {
	Conf   string            `json:"conf"`
	Module string            `json:"module"`
	Token  string            `json:"token"`
	PIN    string            `json:"pin"`
	Keys   map[string]hsmKey `json:"keys"`
}

var (
	hsmOnce   sync.Once
	hsmInfo   *hsmManifest
	hsmFailed string
)

// softHSM makes the token once per test binary, in testDir (removed at
// exit), and sets SOFTHSM2_CONF before anything opens the module. Without
// softhsm2 and opensc the tests skip, unless TOKENCLIENT_REQUIRE_SERVER is set.
func softHSM(t *testing.T) *hsmManifest {
	t.Helper()
	hsmOnce.Do(func() {
		for _, tool := range []string{"softhsm2-util", "pkcs11-tool"} {
			if _, err := exec.LookPath(tool); err != nil {
				hsmFailed = "softhsm2 and opensc are not installed (apt-get install softhsm2 opensc): " + err.Error()
				return
			}
		}
		dir := filepath.Join(testDir, "softhsm")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			hsmFailed = err.Error()
			return
		}
		cmd := exec.Command("python3", "../../tests/softhsm.py", dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			hsmFailed = fmt.Sprintf("tests/softhsm.py: %v: %s", err, stderr.Bytes())
			return
		}
		m := &hsmManifest{}
		if err := json.Unmarshal(out, m); err != nil {
			hsmFailed = fmt.Sprintf("tests/softhsm.py printed %q: %v", out, err)
			return
		}
		// The module reads it when it is initialized, by the library or here.
		if err := os.Setenv("SOFTHSM2_CONF", m.Conf); err != nil {
			hsmFailed = err.Error()
			return
		}
		hsmInfo = m
	})
	if hsmInfo == nil {
		if os.Getenv("TOKENCLIENT_REQUIRE_SERVER") == "" && strings.Contains(hsmFailed, "not installed") {
			t.Skip(hsmFailed)
		}
		t.Fatal(hsmFailed)
	}
	return hsmInfo
}

// register registers a private_key_jwt client of the main issuer for the
// public jwk (RFC 7591) and returns its client_id.
func register(t *testing.T, jwk map[string]string, alg, kid string) string {
	t.Helper()
	key := map[string]string{"kid": kid, "alg": alg, "use": "sig"}
	for k, v := range jwk {
		key[k] = v
	}
	body, err := json.Marshal(map[string]any{
		"token_endpoint_auth_method":      "private_key_jwt",
		"token_endpoint_auth_signing_alg": alg,
		"jwks":                            map[string]any{"keys": []any{key}},
		"grant_types":                     []string{"client_credentials"},
		"response_types":                  []string{},
		"redirect_uris":                   []string{},
		"scope":                           "read",
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(server.RegistrationURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	var out struct {
		ClientID string `json:"client_id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(answer, &out) != nil || out.ClientID == "" {
		t.Fatalf("registration: %d %s", resp.StatusCode, answer)
	}
	return out.ClientID
}

// jwkPublicKey is the public key of an RSA or EC JWK.
func jwkPublicKey(t *testing.T, jwk map[string]string) crypto.PublicKey {
	t.Helper()
	member := func(name string) []byte {
		raw, err := b64.DecodeString(jwk[name])
		if err != nil || len(raw) == 0 {
			t.Fatalf("jwk %s = %q: %v", name, jwk[name], err)
		}
		return raw
	}
	switch jwk["kty"] {
	case "RSA":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(member("n")), E: int(new(big.Int).SetBytes(member("e")).Int64())}
	case "EC":
		curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384()}[jwk["crv"]]
		if curve == nil {
			t.Fatalf("jwk crv %q", jwk["crv"])
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, member("x")...), member("y")...))
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}
	t.Fatalf("jwk kty %q", jwk["kty"])
	return nil
}

// jwkThumbprint is the RFC 7638 thumbprint of an EC JWK.
func jwkThumbprint(jwk map[string]string) string {
	return thumbprint([2]string{"crv", jwk["crv"]}, [2]string{"kty", "EC"}, [2]string{"x", jwk["x"]}, [2]string{"y", jwk["y"]})
}

var jwsHashes = map[string]crypto.Hash{
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
	"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512,
	"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512,
}

// verifyJWS verifies a compact JWS signed by alg with the key of pub
// (ECDSA as JOSE's r||s, RFC 7518 §3.4) and returns its header and claims.
func verifyJWS(jws string, pub crypto.PublicKey, alg string) (header, claims map[string]any, err error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("a JWS of %d parts", len(parts))
	}
	for i, v := range []*map[string]any{&header, &claims} {
		raw, err := b64.DecodeString(parts[i])
		if err != nil {
			return nil, nil, fmt.Errorf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return nil, nil, fmt.Errorf("part %d: %v", i, err)
		}
	}
	if header["alg"] != alg {
		return nil, nil, fmt.Errorf("header alg %v, want %s", header["alg"], alg)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, nil, err
	}
	input := []byte(parts[0] + "." + parts[1])
	if alg == "EdDSA" {
		k, ok := pub.(ed25519.PublicKey)
		if !ok || !ed25519.Verify(k, input, sig) {
			return nil, nil, errors.New("the EdDSA signature does not verify")
		}
		return header, claims, nil
	}
	hash := jwsHashes[alg]
	h := hash.New()
	h.Write(input)
	digest := h.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg[0] == 'P' {
			err = rsa.VerifyPSS(k, hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(k, hash, digest, sig)
		}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return nil, nil, fmt.Errorf("an %s signature of %d bytes, not r||s of %d", alg, len(sig), 2*size)
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			err = errors.New("the ECDSA signature does not verify")
		}
	default:
		err = fmt.Errorf("no verifier for %T", pub)
	}
	return header, claims, err
}

// checkAssertion makes an assertion with c and verifies it against pub:
// signature, alg, kid and the client's claims.
func checkAssertion(t *testing.T, c *tokenclient.Client, pub crypto.PublicKey, alg, kid, clientID string) {
	t.Helper()
	jws, err := c.CreateAssertion()
	if err != nil {
		t.Fatal(err)
	}
	header, claims, err := verifyJWS(jws, pub, alg)
	if err != nil {
		t.Fatal(err)
	}
	if header["kid"] != kid || header["typ"] != "JWT" {
		t.Fatalf("header %v, want kid %q and typ JWT", header, kid)
	}
	if claims["iss"] != clientID || claims["sub"] != clientID || claims["jti"] == "" || claims["exp"] == nil {
		t.Fatalf("claims %v of client %q", claims, clientID)
	}
}

func checkKind(t *testing.T, what string, err error, kind tokenclient.ErrorKind, contains ...string) *tokenclient.Error {
	t.Helper()
	var e *tokenclient.Error
	if !errors.As(err, &e) || e.Kind != kind {
		t.Fatalf("%s: %T %v, want an *Error of kind %v", what, err, err, kind)
	}
	for _, s := range contains {
		if !strings.Contains(e.Message, s) {
			t.Fatalf("%s: message %q does not say %q", what, e.Message, s)
		}
	}
	return e
}

func newKeyClient(t *testing.T, clientID string) *tokenclient.Client {
	t.Helper()
	c, err := tokenclient.New(server.TokenURL, clientID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Keys generated in the token, never extractable, used through their URIs:
// the assertions verify against the public keys the server was given, and
// the server accepts them.
func TestSoftHSMKeysThroughURIs(t *testing.T) {
	hsm := softHSM(t)
	for _, name := range []string{"rsa2048", "p256", "p384"} {
		t.Run(name, func(t *testing.T) {
			key := hsm.Keys[name]
			if !key.NeverExtractable || !key.Sensitive || key.Extractable {
				t.Fatalf("the token's key is not kept in it: %+v", key)
			}
			kid := "hsm-uri-" + name
			id := register(t, key.JWK, key.Alg, kid)
			c := newKeyClient(t, id)
			if err := c.SetPrivateKey(key.URI, tokenclient.KeyID(kid)); err != nil { // alg from the key's type
				t.Fatal(err)
			}
			checkAssertion(t, c, jwkPublicKey(t, key.JWK), key.Alg, kid, id)
			tok, err := c.ClientCredentials("read")
			if err != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" {
				t.Fatalf("client credentials: %v %v", tok, err)
			}
		})
	}
	// A wrong PIN is a key error that does not show the PIN. PKCS#11 logs
	// in the whole process, not a session: while the session this file's
	// crypto.Signer keeps is open, any PIN is taken as already logged in.
	if p11Ctx != nil {
		return
	}
	c := newKeyClient(t, "hsm-wrong-pin")
	const wrongPIN = "0000-not-the-pin"
	err := c.SetPrivateKey(hsm.Keys["p256"].URINoPIN + "&pin-value=" + wrongPIN)
	if e := checkKind(t, "a wrong PIN", err, tokenclient.KindKey); strings.Contains(e.Message, wrongPIN) {
		t.Fatalf("the message shows the PIN: %q", e.Message)
	}
}

// The token's P-256 key as dpop-client's DPoP key: the token is bound to
// the thumbprint of the public key softhsm.py read from the token.
func TestSoftHSMDPoPKey(t *testing.T) {
	hsm := softHSM(t)
	key := hsm.Keys["p256"]
	c := dpopClient(t)
	if err := c.SetDPoPKey(key.URI, ""); err != nil {
		t.Fatal(err)
	}
	jkt := jwkThumbprint(key.JWK)
	if got := thumbprintOf(t, c); got != jkt {
		t.Fatalf("DPoPThumbprint %q, want %q", got, jkt)
	}
	tok, err := c.ClientCredentialsContext(callCtx(t, 30*time.Second), "")
	if err != nil {
		t.Fatal(err)
	}
	checkDPoPToken(t, "the token of the HSM's DPoP key", tok, jkt)
}

// hsmSigner is a crypto.Signer over a key of the SoftHSM2 token, through
// github.com/miekg/pkcs11: what a Go program that holds an HSM key hands
// to SetSigner. One session, used under a lock (a PKCS#11 session signs
// one thing at a time). ECDSA signatures come back as the token gives
// them (r||s) when raw is set, else as ASN.1 DER like crypto/ecdsa's.
type hsmSigner struct {
	ctx     *pkcs11.Ctx
	mu      sync.Mutex
	session pkcs11.SessionHandle
	key     pkcs11.ObjectHandle
	pub     crypto.PublicKey
	raw     bool
	signs   atomic.Int64
}

var (
	p11Once    sync.Once
	p11Ctx     *pkcs11.Ctx
	p11Session pkcs11.SessionHandle
	p11Err     error
)

// p11 opens the module (initialized already if the library opened it
// first: PKCS#11 allows one initialization per process) and one logged-in
// session, kept for the test binary's life: closing an application's last
// session logs it out, the library's sessions too.
func p11(t *testing.T, hsm *hsmManifest) (*pkcs11.Ctx, pkcs11.SessionHandle) {
	t.Helper()
	p11Once.Do(func() {
		ctx := pkcs11.New(hsm.Module)
		if ctx == nil {
			p11Err = fmt.Errorf("cannot load %s", hsm.Module)
			return
		}
		if err := ctx.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
			p11Err = err
			return
		}
		slots, err := ctx.GetSlotList(true)
		if err != nil {
			p11Err = err
			return
		}
		for _, slot := range slots {
			info, err := ctx.GetTokenInfo(slot)
			if err != nil || strings.TrimRight(info.Label, " \x00") != hsm.Token {
				continue
			}
			s, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
			if err != nil {
				p11Err = err
				return
			}
			if err := ctx.Login(s, pkcs11.CKU_USER, hsm.PIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
				p11Err = err
				return
			}
			p11Ctx, p11Session = ctx, s
			return
		}
		p11Err = fmt.Errorf("no token labelled %q", hsm.Token)
	})
	if p11Err != nil {
		t.Fatal(p11Err)
	}
	return p11Ctx, p11Session
}

func newHSMSigner(t *testing.T, hsm *hsmManifest, name string) *hsmSigner {
	t.Helper()
	ctx, session := p11(t, hsm)
	template := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, name),
	}
	if err := ctx.FindObjectsInit(session, template); err != nil {
		t.Fatal(err)
	}
	found, _, err := ctx.FindObjects(session, 2)
	if ferr := ctx.FindObjectsFinal(session); err == nil {
		err = ferr
	}
	if err != nil || len(found) != 1 {
		t.Fatalf("the private key %q: %d found, %v", name, len(found), err)
	}
	// The token says the key cannot leave it.
	attrs, err := ctx.GetAttributeValue(session, found[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil)})
	if err != nil || len(attrs) != 2 || !bytes.Equal(attrs[0].Value, []byte{0}) || !bytes.Equal(attrs[1].Value, []byte{1}) {
		t.Fatalf("CKA_EXTRACTABLE, CKA_SENSITIVE of %q: %v %v", name, attrs, err)
	}
	return &hsmSigner{ctx: ctx, session: session, key: found[0], pub: jwkPublicKey(t, hsm.Keys[name].JWK)}
}

func (s *hsmSigner) Public() crypto.PublicKey { return s.pub }

// digestInfo is the DER prefix of a PKCS #1 v1.5 DigestInfo (RFC 8017 §9.2).
var digestInfo = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
}

func (s *hsmSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.signs.Add(1)
	var mech *pkcs11.Mechanism
	input := digest
	switch s.pub.(type) {
	case *ecdsa.PublicKey:
		mech = pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			if pss.Hash != crypto.SHA256 || pss.SaltLength != rsa.PSSSaltLengthEqualsHash {
				return nil, fmt.Errorf("hsmSigner: PSS with %v and salt %d", pss.Hash, pss.SaltLength)
			}
			mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, 32))
		} else {
			prefix, ok := digestInfo[opts.HashFunc()]
			if !ok {
				return nil, fmt.Errorf("hsmSigner: PKCS #1 v1.5 with %v", opts.HashFunc())
			}
			mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)
			input = append(append([]byte{}, prefix...), digest...)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ctx.SignInit(s.session, []*pkcs11.Mechanism{mech}, s.key); err != nil {
		return nil, err
	}
	sig, err := s.ctx.Sign(s.session, input)
	if err != nil || s.raw {
		return sig, err
	}
	if _, ok := s.pub.(*ecdsa.PublicKey); ok {
		half := len(sig) / 2
		return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])})
	}
	return sig, nil
}

// The same keys through SetSigner, by a crypto.Signer over the module:
// RS256 and PS256 with the RSA key, ES256 (DER) and ES384 (r||s); and
// the P-256 key signing dpop-client's proofs through SetDPoPSigner.
func TestSoftHSMKeysThroughACryptoSigner(t *testing.T) {
	hsm := softHSM(t)
	for _, tc := range []struct {
		name, key, alg string
		raw            bool
	}{
		{"rsa2048-RS256", "rsa2048", "", false},
		{"rsa2048-PS256", "rsa2048", "PS256", false},
		{"p256-DER", "p256", "", false},
		{"p384-r||s", "p384", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := hsm.Keys[tc.key]
			signer := newHSMSigner(t, hsm, tc.key)
			signer.raw = tc.raw
			alg := tc.alg
			if alg == "" {
				alg = key.Alg // what SetSigner chooses from the public key
			}
			kid := "hsm-signer-" + tc.name
			id := register(t, key.JWK, alg, kid)
			c := newKeyClient(t, id)
			if err := c.SetSigner(signer, tc.alg, kid); err != nil {
				t.Fatal(err)
			}
			checkAssertion(t, c, signer.pub, alg, kid, id)
			tok, err := c.ClientCredentials("read")
			if err != nil || tok.AccessToken == "" {
				t.Fatalf("client credentials: %v %v", tok, err)
			}
			if n := signer.signs.Load(); n != 2 {
				t.Fatalf("%d signatures by the token, want 2", n)
			}
		})
	}
	t.Run("DPoP", func(t *testing.T) {
		key := hsm.Keys["p256"]
		signer := newHSMSigner(t, hsm, "p256")
		c := dpopClient(t)
		if err := c.SetDPoPSigner(signer, ""); err != nil {
			t.Fatal(err)
		}
		jkt := jwkThumbprint(key.JWK)
		if got := thumbprintOf(t, c); got != jkt {
			t.Fatalf("DPoPThumbprint %q, want %q", got, jkt)
		}
		tok, err := c.ClientCredentialsContext(callCtx(t, 30*time.Second), "")
		if err != nil {
			t.Fatal(err)
		}
		checkDPoPToken(t, "the token of the HSM signer", tok, jkt)
		if signer.signs.Load() < 1 {
			t.Fatal("the token signed no proof")
		}
	})
}

// countingSigner counts the Sign calls of the signer it wraps.
type countingSigner struct {
	crypto.Signer
	n atomic.Int64
}

func (s *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.n.Add(1)
	return s.Signer.Sign(r, digest, opts)
}

// crypto.Signers over in-memory keys (a KMS client stands in the same
// place) for the manifest's private_key_jwt clients: assertions verified
// here, and real exchanges.
func TestSignerOverInMemoryKeys(t *testing.T) {
	for _, tc := range []struct{ client, alg string }{
		{"es256-client", ""}, {"es384-client", ""}, {"rs256-client", ""},
		{"ps256-client", "PS256"}, {"eddsa-client", ""},
	} {
		t.Run(tc.client, func(t *testing.T) {
			info := server.Clients[tc.client]
			key, err := parsePrivatePEM(info.PrivateKeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			signer := &countingSigner{Signer: key}
			c := newKeyClient(t, info.ClientID)
			if err := c.SetSigner(signer, tc.alg, info.Kid); err != nil {
				t.Fatal(err)
			}
			checkAssertion(t, c, key.Public(), info.Alg, info.Kid, info.ClientID)
			tok, err := c.ClientCredentials("")
			if err != nil || tok.AccessToken == "" {
				t.Fatalf("client credentials: %v %v", tok, err)
			}
			if tok, err = c.GetToken(""); err != nil || tok.AccessToken == "" {
				t.Fatalf("GetToken: %v %v", tok, err)
			}
			// With a context that can end, the request runs on a thread of
			// the library's own, which calls the signer.
			if err := c.InvalidateToken(""); err != nil {
				t.Fatal(err)
			}
			if tok, err = c.GetTokenContext(callCtx(t, 30*time.Second), ""); err != nil || tok.AccessToken == "" {
				t.Fatalf("GetTokenContext: %v %v", tok, err)
			}
			if n := signer.n.Load(); n != 4 {
				t.Fatalf("%d Sign calls, want 4", n)
			}
		})
	}
	t.Run("DPoP", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signer := &countingSigner{Signer: key}
		c := dpopClient(t)
		if err := c.SetDPoPSigner(signer, ""); err != nil {
			t.Fatal(err)
		}
		size := 32
		jkt := thumbprint([2]string{"crv", "P-256"}, [2]string{"kty", "EC"},
			[2]string{"x", b64.EncodeToString(key.X.FillBytes(make([]byte, size)))},
			[2]string{"y", b64.EncodeToString(key.Y.FillBytes(make([]byte, size)))})
		tok, err := c.ClientCredentialsContext(callCtx(t, 30*time.Second), "")
		if err != nil {
			t.Fatal(err)
		}
		checkDPoPToken(t, "the token of the DPoP signer", tok, jkt)
		proof, err := c.DPoPProof("GET", server.ProtectedURL, tok.AccessToken, "")
		if err != nil {
			t.Fatal(err)
		}
		if p := verifyProof(t, proof); p.Thumbprint != jkt || p.Alg != "ES256" {
			t.Fatalf("proof of alg %s and thumbprint %s, want ES256 and %s", p.Alg, p.Thumbprint, jkt)
		}
		status, out := presentDPoP(t, c, tok)
		if status != 200 || out.JKT != jkt {
			t.Fatalf("the protected resource: %d %+v", status, out)
		}
		if signer.n.Load() < 2 {
			t.Fatal("the signer signed no proof")
		}
	})
}

// badSigner fails in the way its func says.
type badSigner struct {
	crypto.Signer
	sign func(digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

func (s badSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.sign(digest, opts)
}

// A signer that fails, returns a signature of the wrong length, panics or
// is slower than the call's deadline: the call fails with the right kind,
// nothing is sent, and the process and the client go on.
func TestSignerFailures(t *testing.T) {
	info := server.Clients["es256-client"]
	key, err := parsePrivatePEM(info.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := newKeyClient(t, info.ClientID)
	use := func(sign func(digest []byte, opts crypto.SignerOpts) ([]byte, error)) {
		t.Helper()
		if err := c.SetSigner(badSigner{key, sign}, "", info.Kid); err != nil {
			t.Fatal(err)
		}
	}
	before := tokenRequests(t, info.ClientID)
	fail := func(what string, kind tokenclient.ErrorKind, contains ...string) {
		t.Helper()
		_, err := c.CreateAssertion()
		checkKind(t, what+" (CreateAssertion)", err, kind, contains...)
		_, err = c.ClientCredentials("")
		checkKind(t, what+" (ClientCredentials)", err, kind, contains...)
	}

	use(func([]byte, crypto.SignerOpts) ([]byte, error) {
		return nil, errors.New("kms: permission denied on key projects/p/keys/k")
	})
	fail("a failing signer", tokenclient.KindKey, "kms: permission denied on key projects/p/keys/k")

	use(func(digest []byte, opts crypto.SignerOpts) ([]byte, error) {
		sig, err := key.Sign(rand.Reader, digest, opts)
		return sig[:10], err
	})
	fail("a signature of 10 bytes", tokenclient.KindKey)
	use(func([]byte, crypto.SignerOpts) ([]byte, error) { return make([]byte, 65), nil })
	fail("an ES256 signature of 65 bytes", tokenclient.KindKey)
	use(func([]byte, crypto.SignerOpts) ([]byte, error) { return make([]byte, 4096), nil })
	fail("a signature larger than the library's room", tokenclient.KindKey, "4096 bytes")

	use(func([]byte, crypto.SignerOpts) ([]byte, error) { panic("boom in the signer") })
	fail("a panicking signer", tokenclient.KindKey, "panicked", "boom in the signer")
	use(func(digest []byte, _ crypto.SignerOpts) ([]byte, error) {
		return []byte{digest[len(digest)]}, nil // a runtime error: index out of range
	})
	fail("a signer with a runtime error", tokenclient.KindKey, "panicked")
	use(func([]byte, crypto.SignerOpts) ([]byte, error) { panic(badStringer{}) })
	fail("a panic whose value panics when printed", tokenclient.KindKey, "panicked")

	long := strings.Repeat("é", 400) // 800 bytes: cut at a character boundary
	use(func([]byte, crypto.SignerOpts) ([]byte, error) { return nil, errors.New(long) })
	_, err = c.CreateAssertion()
	if e := checkKind(t, "a long message", err, tokenclient.KindKey, "éé"); strings.ContainsRune(e.Message, '\uFFFD') {
		t.Fatalf("the message was cut inside a character: %q", e.Message)
	}

	// Slower than the call's deadline: the signature comes too late, and
	// nothing is sent.
	use(func(digest []byte, opts crypto.SignerOpts) ([]byte, error) {
		time.Sleep(300 * time.Millisecond)
		return key.Sign(rand.Reader, digest, opts)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.ClientCredentialsContext(ctx, "")
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("returned after %v, before the signer did", took)
	}
	checkKind(t, "a signer past the deadline", err, tokenclient.KindTransport)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v is not context.DeadlineExceeded", err)
	}
	if after := tokenRequests(t, info.ClientID); after != before {
		t.Fatalf("the server saw %d token requests of a client whose signer never signed in time", after-before)
	}

	// The process and the client go on.
	use(func(digest []byte, opts crypto.SignerOpts) ([]byte, error) {
		return key.Sign(rand.Reader, digest, opts)
	})
	checkAssertion(t, c, key.Public(), "ES256", info.Kid, info.ClientID)
	if _, err := c.ClientCredentials(""); err != nil {
		t.Fatal(err)
	}
}

// A DPoP signer that fails fails the token request with its message,
// before anything is sent.
func TestDPoPSignerFailure(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := dpopClient(t)
	before := tokenRequests(t, "dpop-client")
	failing := badSigner{key, func([]byte, crypto.SignerOpts) ([]byte, error) {
		return nil, errors.New("the HSM is unplugged")
	}}
	if err := c.SetDPoPSigner(failing, "ES256"); err != nil {
		t.Fatal(err)
	}
	_, err = c.ClientCredentials("")
	checkKind(t, "a failing DPoP signer", err, tokenclient.KindKey, "the HSM is unplugged")
	_, err = c.DPoPProof("GET", server.ProtectedURL, "", "")
	checkKind(t, "a failing DPoP signer's proof", err, tokenclient.KindKey, "the HSM is unplugged")
	if after := tokenRequests(t, "dpop-client"); after != before {
		t.Fatalf("the server saw %d token requests without a proof", after-before)
	}
}

// badStringer panics when it is printed.
type badStringer struct{}

func (badStringer) String() string { panic("and again") }

// The checks of SetSigner and SetDPoPSigner, before any signature.
func TestSetSignerErrors(t *testing.T) {
	c := newKeyClient(t, "signer-errors")
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	checkKind(t, "a nil signer", c.SetSigner(nil, "", ""), tokenclient.KindInvalidArgument)
	checkKind(t, "a nil DPoP signer", c.SetDPoPSigner(nil, ""), tokenclient.KindInvalidArgument)
	checkKind(t, "HS256", c.SetSigner(p256, "HS256", ""), tokenclient.KindInvalidArgument, "HS256")
	checkKind(t, "an unknown alg", c.SetSigner(p256, "ES999", ""), tokenclient.KindInvalidArgument, "ES999")
	checkKind(t, "an unknown DPoP alg", c.SetDPoPSigner(p256, "none"), tokenclient.KindInvalidArgument, "none")
	// Checked in Go for SetSigner (the library never sees the public key) ...
	checkKind(t, "ES384 for a P-256 key", c.SetSigner(p256, "ES384", ""), tokenclient.KindKey, "ES384", "P-256")
	checkKind(t, "RS256 for an Ed25519 key", c.SetSigner(ed, "RS256", ""), tokenclient.KindKey, "RS256", "Ed25519")
	checkKind(t, "a key of no JWS type", c.SetSigner(oddSigner{}, "", ""), tokenclient.KindKey)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	checkKind(t, "an RSA-1024 key", c.SetSigner(rsa1024, "", ""), tokenclient.KindKey, "1024", "2048")
	checkKind(t, "an RSA-1024 DPoP key", c.SetDPoPSigner(rsa1024, ""), tokenclient.KindKey, "1024", "2048")
	// ... and by the library for SetDPoPSigner, and for the kid.
	checkKind(t, "ES384 for a P-256 DPoP key", c.SetDPoPSigner(p256, "ES384"), tokenclient.KindKey, "ES384")
	checkKind(t, "a kid with a newline", c.SetSigner(p256, "", "a\nb"), tokenclient.KindInvalidArgument)
	// None of them was installed: the client has no credentials.
	if _, err := c.CreateAssertion(); err == nil {
		t.Fatal("a failed SetSigner left a signer")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	checkKind(t, "a closed client", c.SetSigner(p256, "", ""), tokenclient.KindInvalidArgument, "closed")
}

// oddSigner's public key is of no type a JWS algorithm fits.
type oddSigner struct{}

func (oddSigner) Public() crypto.PublicKey { return "not a key" }
func (oddSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("unused")
}

// One crypto.Signer for 8 goroutines' 8000 assertions (under -race in
// make test): every one signed once and verified.
func TestSignerConcurrentAssertions(t *testing.T) {
	info := server.Clients["es256-client"]
	key, err := parsePrivatePEM(info.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	signer := &countingSigner{Signer: key}
	c := newKeyClient(t, info.ClientID)
	if err := c.SetSigner(signer, "", info.Kid); err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 1000
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Go(func() {
			for range each {
				jws, err := c.CreateAssertion()
				if err == nil {
					_, _, err = verifyJWS(jws, key.Public(), "ES256")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := signer.n.Load(); n != goroutines*each {
		t.Fatalf("%d Sign calls, want %d", n, goroutines*each)
	}
}
