// Command gobench measures, from Go, the tokenclient binding beside what a
// Go user would otherwise pick (github.com/golang-jwt/jwt/v5 and net/http),
// against the benchmark server. One measurement per invocation; it prints
// "name ops_per_sec".
//
// raw_assert and raw_exchange are the binding's limits measured in this
// process (raw.go). tc_cached, oauth2_reuse_cached, rt_request and
// bare_request measure cached tokens and the RoundTripper (cached.go).
//
//	gobench -m tc_assert|tc_assert_locked|jwt_assert|raw_assert|tc_exchange|jwt_exchange|raw_exchange| \
//	  tc_cached|oauth2_reuse_cached|rt_request|bare_request \
//	  -url URL -key ES256.pem -input SIGNING-INPUT -seconds 1
package main

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

var (
	measurement = flag.String("m", "", "tc_assert, tc_assert_locked, jwt_assert, raw_assert, tc_exchange, jwt_exchange, raw_exchange, tc_cached, oauth2_reuse_cached, rt_request or bare_request (comma-separated: in turns)")
	tokenURL    = flag.String("url", "", "token endpoint")
	keyFile     = flag.String("key", "", "ES256 private key (PEM)")
	inputFile   = flag.String("input", "", "signing input of raw_assert and raw_exchange (an assertion's header.payload)")
	keyID       = flag.String("kid", "bench-key", "key id")
	clientID    = flag.String("client-id", "bench-client", "client id")
	seconds     = flag.Float64("seconds", 1, "how long to measure")
	warmup      = flag.Int("warmup", 20, "untimed operations first")
	sliceLen    = flag.Duration("slice", 50*time.Millisecond, "with several measurements, how long each runs in its turn")
	version     = flag.Bool("version", false, "print the golang-jwt and tokenclient versions")
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gobench: "+format+"\n", args...)
	os.Exit(1)
}

// uuid4 is a random (version 4) UUID, as tokenclient puts in jti.
func uuid4() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		fail("rand: %v", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// jwtSigner makes the same assertions as tokenclient with golang-jwt: header
// alg, typ, kid; claims iss, sub, aud, jti, iat (backdated 5 s), exp (+300 s).
type jwtSigner struct{ key *ecdsa.PrivateKey }

func (s jwtSigner) assertion() string {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{
		Issuer:    *clientID,
		Subject:   *clientID,
		Audience:  jwt.ClaimStrings{*tokenURL},
		ID:        uuid4(),
		IssuedAt:  jwt.NewNumericDate(now.Add(-5 * time.Second)),
		ExpiresAt: jwt.NewNumericDate(now.Add(300 * time.Second)),
	})
	tok.Header["kid"] = *keyID
	signed, err := tok.SignedString(s.key)
	if err != nil {
		fail("golang-jwt: %v", err)
	}
	return signed
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// jwtExchange is a client_credentials request with net/http: one
// http.Client (keep-alive), the body read and closed, the JSON decoded.
type jwtExchange struct {
	signer jwtSigner
	client *http.Client
}

func (e jwtExchange) exchange() {
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {*clientID},
		"client_assertion_type": {assertionType},
		"client_assertion":      {e.signer.assertion()},
	}
	req, err := http.NewRequest(http.MethodPost, *tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		fail("request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		fail("POST: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		fail("POST: HTTP %d, %v", resp.StatusCode, err)
	}
	var tok tokenResponse
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		fail("bad token response: %v", err)
	}
}

func newBindingClient(key []byte) *tokenclient.Client {
	c, err := tokenclient.New(*tokenURL, *clientID)
	if err != nil {
		fail("tokenclient.New: %v", err)
	}
	if err := c.NoProxy(); err != nil {
		fail("NoProxy: %v", err)
	}
	if err := c.SetPrivateKey(string(key), tokenclient.KeyID(*keyID), tokenclient.Algorithm("ES256")); err != nil {
		fail("SetPrivateKey: %v", err)
	}
	return c
}

// measure runs each op for warmup untimed calls, then all of them in turn,
// a slice of time each, until each has run for *seconds, and returns each
// one's calls per second. Taking turns in one process puts every op under
// the same conditions (other load, how awake the CPUs are), so their ratios
// are steadier than those of separate runs. The order of the turns is
// shuffled in every cycle: what an op leaves behind (net/http's goroutines,
// a garbage collection still running) speeds up whichever op comes next.
func measure(ops []func()) []float64 {
	for _, op := range ops {
		for i := 0; i < *warmup; i++ {
			op()
		}
	}
	total := time.Duration(*seconds * float64(time.Second))
	slice := *sliceLen
	if len(ops) == 1 || slice > total {
		slice = total
	}
	calls := make([]int, len(ops))
	spent := make([]time.Duration, len(ops))
	order := mathrand.Perm(len(ops))
	for slices.Min(spent) < total || slices.Min(calls) == 0 {
		mathrand.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, i := range order {
			start := time.Now()
			deadline := start.Add(slice)
			for {
				ops[i]()
				calls[i]++
				if time.Now().After(deadline) {
					break
				}
			}
			spent[i] += time.Since(start)
		}
	}
	rates := make([]float64, len(ops))
	for i := range ops {
		rates[i] = float64(calls[i]) / spent[i].Seconds()
	}
	return rates
}

func main() {
	flag.Parse()
	// "aud" as one string, as tokenclient (and PyJWT) send it.
	jwt.MarshalSingleStringAsArray = false
	if *version {
		fmt.Printf("tokenclient %s\n", tokenclient.Version())
		return
	}
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		fail("%v", err)
	}
	names := strings.Split(*measurement, ",")
	ops := make([]func(), len(names))
	for i, name := range names {
		ops[i] = newOp(name, key)
	}
	for i, rate := range measure(ops) {
		fmt.Printf("go_%s %.1f\n", names[i], rate)
	}
}

// newOp sets up measurement `name` and returns one operation of it.
func newOp(name string, key []byte) func() {
	var op func()
	switch name {
	case "tc_assert", "tc_assert_locked":
		if name == "tc_assert_locked" {
			// The same calls with the goroutine kept on one OS thread, so
			// the scheduler cannot move it (and its warm caches) between
			// threads: what part of the cgo overhead is the scheduler's.
			runtime.LockOSThread()
		}
		c := newBindingClient(key)
		op = func() {
			if _, err := c.CreateAssertion(); err != nil {
				fail("CreateAssertion: %v", err)
			}
		}
	case "tc_exchange":
		c := newBindingClient(key)
		op = func() {
			if _, err := c.ClientCredentials(""); err != nil {
				fail("ClientCredentials: %v", err)
			}
		}
	case "raw_assert", "raw_exchange":
		op = rawOp(name, *keyFile, *inputFile, *tokenURL)
	case "tc_cached", "oauth2_reuse_cached", "rt_request", "bare_request":
		op = cachedOp(name, key)
	case "jwt_assert", "jwt_exchange":
		k, err := jwt.ParseECPrivateKeyFromPEM(key) // loaded once
		if err != nil {
			fail("ParseECPrivateKeyFromPEM: %v", err)
		}
		s := jwtSigner{key: k}
		if name == "jwt_assert" {
			op = func() { _ = s.assertion() }
		} else {
			e := jwtExchange{signer: s, client: &http.Client{Timeout: 30 * time.Second}}
			op = e.exchange
		}
	default:
		fail("unknown measurement %q", name)
	}
	return op
}
