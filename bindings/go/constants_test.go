package tokenclient_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// The Go constants take their values from tokenclient.h through cgo, so a
// value cannot drift and a constant the header drops no longer compiles.
// What the compiler cannot see is a constant the header gained (a new error
// kind, auth method or region) that Go has no name for, or a Go constant
// given a literal instead of its C name. These tests read the header, the
// same file cgo includes, and compare.

// headerFile returns the tokenclient.h that cgo includes: the one in the
// includedir of the tokenclient.pc that pkg-config finds (the go command's
// $PKG_CONFIG, else pkg-config), as for `#cgo pkg-config: tokenclient`.
// Under make test-go that is the build tree's include/.
func headerFile(t *testing.T) string {
	t.Helper()
	tool := os.Getenv("PKG_CONFIG")
	if tool == "" {
		tool = "pkg-config"
	}
	out, err := exec.Command(tool, "--variable=includedir", "tokenclient").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("%s --variable=includedir tokenclient: %v (%q)", tool, err, out)
	}
	return filepath.Join(dir, "tokenclient.h")
}

// headerConstants returns the constants of one family in the header, by
// the name after their prefix; pattern captures the name and the value. It
// fails when there are none, so that a change of the header's format cannot
// make the tests pass without comparing anything.
func headerConstants(t *testing.T, pattern string) map[string]int64 {
	t.Helper()
	headerPath := headerFile(t)
	text, err := os.ReadFile(headerPath)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int64{}
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(string(text), -1) {
		v, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			t.Fatalf("%s: %s = %q: %v", headerPath, m[1], m[2], err)
		}
		found[m[1]] = v
	}
	if len(found) == 0 {
		t.Fatalf("%s: nothing matches %s (has the header's format changed?)", headerPath, pattern)
	}
	return found
}

const (
	errorKindPattern  = `(?m)^\s*TOKENCLIENT_ERROR_([A-Z0-9_]+)\s*=\s*([0-9]+),?\s*$`
	authMethodPattern = `(?m)^#define TOKENCLIENT_AUTH_([A-Z0-9_]+)\s+([0-9]+)\s*$`
	regionPattern     = `(?m)^#define TOKENCLIENT_TALKDESK_([A-Z0-9_]+)\s+([0-9]+)\s*$`
)

// sameConstants fails unless goConsts names exactly the header's constants
// of the family, with the header's values.
func sameConstants[T ~int | ~uint32](t *testing.T, family, pattern string, goConsts map[string]T) {
	t.Helper()
	header := headerConstants(t, pattern)
	for name, v := range header {
		g, ok := goConsts[name]
		if !ok {
			t.Errorf("%s%s = %d is in the header but has no Go constant", family, name, v)
		} else if int64(g) != v {
			t.Errorf("%s%s: Go has %d, the header %d", family, name, g, v)
		}
	}
	for name := range goConsts {
		if _, ok := header[name]; !ok {
			t.Errorf("the Go constant for %s%s is not in the header", family, name)
		}
	}
}

func TestConstantsMatchTheHeader(t *testing.T) {
	sameConstants(t, "TOKENCLIENT_ERROR_", errorKindPattern, map[string]tokenclient.ErrorKind{
		"INVALID_ARGUMENT": tokenclient.KindInvalidArgument,
		"KEY":              tokenclient.KindKey,
		"CONFIG":           tokenclient.KindConfig,
		"TRANSPORT":        tokenclient.KindTransport,
		"OAUTH":            tokenclient.KindOAuth,
		"HTTP":             tokenclient.KindHTTP,
		"RESPONSE":         tokenclient.KindResponse,
		"PANIC":            tokenclient.KindPanic,
		"CANCELLED":        tokenclient.KindCancelled,
	})
	sameConstants(t, "TOKENCLIENT_AUTH_", authMethodPattern, map[string]tokenclient.AuthMethod{
		"NONE":                        tokenclient.AuthNone,
		"CLIENT_SECRET_BASIC":         tokenclient.AuthClientSecretBasic,
		"CLIENT_SECRET_POST":          tokenclient.AuthClientSecretPost,
		"CLIENT_SECRET_JWT":           tokenclient.AuthClientSecretJWT,
		"PRIVATE_KEY_JWT":             tokenclient.AuthPrivateKeyJWT,
		"AUTO":                        tokenclient.AuthAuto,
		"TLS_CLIENT_AUTH":             tokenclient.AuthTLSClientAuth,
		"SELF_SIGNED_TLS_CLIENT_AUTH": tokenclient.AuthSelfSignedTLSClientAuth,
	})
	sameConstants(t, "TOKENCLIENT_TALKDESK_", regionPattern, map[string]tokenclient.Region{
		"US": tokenclient.RegionUS,
		"EU": tokenclient.RegionEU,
		"CA": tokenclient.RegionCA,
	})
}

// Every kind the header defines has its own name; other values say their number.
func TestErrorKindStringForEveryHeaderKind(t *testing.T) {
	want := map[tokenclient.ErrorKind]string{
		tokenclient.KindInvalidArgument: "invalid argument",
		tokenclient.KindKey:             "key",
		tokenclient.KindConfig:          "config",
		tokenclient.KindTransport:       "transport",
		tokenclient.KindOAuth:           "oauth",
		tokenclient.KindHTTP:            "http",
		tokenclient.KindResponse:        "response",
		tokenclient.KindPanic:           "internal",
		tokenclient.KindCancelled:       "cancelled",
	}
	header := headerConstants(t, errorKindPattern)
	seen := map[string]string{}
	defined := map[int64]bool{}
	var highest int64
	for name, v := range header {
		defined[v] = true
		highest = max(highest, v)
		k := tokenclient.ErrorKind(v)
		got := k.String()
		if got == fmt.Sprintf("kind %d", v) {
			t.Errorf("TOKENCLIENT_ERROR_%s (%d) has no String name", name, v)
			continue
		}
		if w, ok := want[k]; !ok || got != w {
			t.Errorf("TOKENCLIENT_ERROR_%s (%d).String() = %q, want %q", name, v, got, w)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("TOKENCLIENT_ERROR_%s and TOKENCLIENT_ERROR_%s both print %q", name, other, got)
		}
		seen[got] = name
	}
	for _, v := range []int64{-1, 0, highest + 1} {
		if defined[v] {
			continue
		}
		if got, w := tokenclient.ErrorKind(v).String(), fmt.Sprintf("kind %d", v); got != w {
			t.Errorf("ErrorKind(%d).String() = %q, want %q", v, got, w)
		}
	}
}
