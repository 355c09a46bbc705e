//go:build tokenclient_testhooks

package tokenclient

import (
	"errors"
	"strings"
	"testing"
)

// The panic boundary, from Go: a panic inside the library arrives as an
// *Error of KindPanic, and the library goes on working.
func TestPanicBecomesKindPanic(t *testing.T) {
	for i := 0; i < 3; i++ {
		err, found := testPanic()
		if !found {
			t.Fatal("the loaded libtokenclient is not the test-hooks build (make test sets LD_LIBRARY_PATH=target/hooks/release)")
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("got %T %v, want *Error", err, err)
		}
		if e.Kind != KindPanic || e.HTTPStatus != 0 {
			t.Fatalf("kind %v status %d, want panic and 0", e.Kind, e.HTTPStatus)
		}
		if !strings.Contains(e.Message, "tokenclient_test_panic was called") {
			t.Fatalf("message %q does not say what panicked", e.Message)
		}
	}
	c, err := New("https://as.example.com/token", "panic-test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetClientSecret("a-secret-of-32-bytes-for-hs256!!", AuthClientSecretJWT); err != nil {
		t.Fatal(err)
	}
	if jwt, err := c.CreateAssertion(); err != nil || !strings.HasPrefix(jwt, "eyJ") {
		t.Fatalf("after a panic: %q, %v", jwt, err)
	}
}
