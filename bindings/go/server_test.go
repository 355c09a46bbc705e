package tokenclient_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testServer is the oidc-provider test server (tests/server), started once
// for the package's tests.
type testServer struct {
	BaseURL      string `json:"base_url"`
	TokenURL     string `json:"token_url"`
	CodeURL      string `json:"code_url"`
	ProtectedURL string `json:"protected_url"`
	StatsURL     string `json:"stats_url"`
	RedirectURI  string `json:"redirect_uri"`
	// POST a client's metadata (JSON): open dynamic registration (RFC
	// 7591) on the main issuer; 201 {"client_id": ...}.
	RegistrationURL string `json:"registration_url"`
	// The main issuer (FromIssuer), and its test user's sub.
	Issuer   string `json:"issuer"`
	TestUser string `json:"test_user"`
	// GET ?url=<an authorization URL>: the test user logs in at the real
	// authorization endpoint; {"callback": the URL the browser comes back to}.
	AuthorizeURL string `json:"authorize_url"`
	// GET ?user_code=X[&deny=1]: the test user approves (denies) a device code.
	DeviceURL string `json:"device_url"`
	// POST token=...&client_id=post-client&client_secret=... revokes a token.
	RevocationURL string `json:"revocation_url"`
	// GET ?to=URL: a 302 to URL.
	RedirectURL string `json:"redirect_url"`
	// Another origin (the server's second listener): it records whether a
	// request came with an Authorization header, which SeenURL tells.
	ElsewhereURL string `json:"elsewhere_url"`
	SeenURL      string `json:"seen_url"`
	PingOne      struct {
		EnvID    string `json:"env_id"`
		AuthBase string `json:"auth_base"`
		TokenURL string `json:"token_url"`
	} `json:"pingone"`
	// DPoP (RFC 9449): GET NonceRotateURL gives the protected resource a
	// new nonce, so that the one a client kept goes stale.
	DPoP struct {
		NonceRotateURL string `json:"nonce_rotate_url"`
	} `json:"dpop"`
	// The mTLS alias origin of the main issuer (RFC 8705) and its PKI.
	MTLS struct {
		BaseURL          string              `json:"base_url"`
		TokenURL         string              `json:"token_url"`
		ProtectedURL     string              `json:"protected_url"`
		IntrospectionURL string              `json:"introspection_url"`
		CAFile           string              `json:"ca_file"`
		CAPEM            string              `json:"ca_pem"`
		Certs            map[string]mtlsCert `json:"certs"`
	} `json:"mtls"`
	Clients map[string]clientInfo `json:"clients"`
}

// mtlsCert is a client certificate of the mTLS PKI, as files and as PEM
// text, with its x5t#S256 thumbprint.
type mtlsCert struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	CertPEM  string `json:"cert_pem"`
	KeyPEM   string `json:"key_pem"`
	X5TS256  string `json:"x5t_s256"`
}

type clientInfo struct {
	Issuer        string `json:"issuer"`
	ClientID      string `json:"client_id"`
	AuthMethod    string `json:"auth_method"`
	ClientSecret  string `json:"client_secret"`
	Alg           string `json:"alg"`
	Kid           string `json:"kid"`
	PrivateKeyPEM string `json:"private_key_pem"`
	PrivateKeyB64 string `json:"private_key_b64"`
}

var server *testServer

// testDir is a directory that lives as long as the test binary (the
// SoftHSM2 token is made in it); it is removed at exit.
var testDir string

func TestMain(m *testing.M) {
	os.Exit(runWithServer(m))
}

func runWithServer(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tokenclient-go-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	testDir = dir
	manifest := filepath.Join(dir, "manifest.json")
	cmd := exec.Command("node", "../../tests/server/server.mjs", "--manifest", manifest,
		"--parent-pid", strconv.Itoa(os.Getpid()))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot start the test server (node):", err)
		return 1
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				ready <- true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "the test server did not start within 60 s")
		return 1
	}
	data, err := os.ReadFile(manifest)
	if err != nil {
		panic(err)
	}
	server = &testServer{}
	if err := json.Unmarshal(data, server); err != nil {
		panic(err)
	}
	return m.Run()
}

func (s *testServer) tokenURL(name string) string {
	if s.Clients[name].Issuer == "pingone" {
		return s.PingOne.TokenURL
	}
	return s.TokenURL
}

// code gets a fresh authorization code for client name.
func (s *testServer) code(t *testing.T, name, challenge string) string {
	t.Helper()
	c := s.Clients[name]
	q := url.Values{"issuer": {c.Issuer}, "client_id": {c.ClientID}, "redirect_uri": {s.RedirectURI},
		"scope": {"openid offline_access"}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	resp, err := http.Get(s.CodeURL + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct{ Code string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil || out.Code == "" {
		t.Fatalf("code endpoint: %d %s", resp.StatusCode, body)
	}
	return out.Code
}
