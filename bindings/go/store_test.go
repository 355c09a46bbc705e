package tokenclient_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// storeURL is a file store in a directory that does not exist yet, which
// the library makes 0700 (t.TempDir itself may be open to others).
func storeURL(t *testing.T) (url, dir string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "store")
	return "file://" + dir, dir
}

// storeClient is a basic-client (client_secret_basic) sharing the store at url.
func storeClient(t *testing.T, url string) *tokenclient.Client {
	t.Helper()
	c := newClient(t, "basic-client")
	if err := c.SetTokenStore(url); err != nil {
		t.Fatal(err)
	}
	return c
}

func getToken(t *testing.T, c *tokenclient.Client) string {
	t.Helper()
	tok, err := c.GetToken("")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" {
		t.Fatal("an empty access token")
	}
	return tok.AccessToken
}

func wantKind(t *testing.T, err error, kind tokenclient.ErrorKind) {
	t.Helper()
	var e *tokenclient.Error
	if !errors.As(err, &e) || e.Kind != kind {
		t.Fatalf("got %v, want an error of kind %v", err, kind)
	}
}

// Two clients of one file store get one token from one request; a client
// without the store asks for its own.
func TestTokenStoreSharesOneRequest(t *testing.T) {
	url, dir := storeURL(t)
	before := tokenRequests(t, "basic-client")
	first := getToken(t, storeClient(t, url))
	second := getToken(t, storeClient(t, url))
	if first != second {
		t.Error("the second client of the store did not get the first one's token")
	}
	if n := tokenRequests(t, "basic-client") - before; n != 1 {
		t.Errorf("%d token requests for two clients of one store, want 1", n)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("the store directory is %v, want a 0700 directory", fi.Mode())
	}

	alone := getToken(t, newClient(t, "basic-client"))
	if alone == first {
		t.Error("a client without the store got the store's token")
	}
	if n := tokenRequests(t, "basic-client") - before; n != 2 {
		t.Errorf("%d token requests after a client without the store, want 2", n)
	}
}

// Clients with the same SetTokenStoreKey share entries; one with another
// key does not find them and makes its own request.
func TestTokenStoreKey(t *testing.T) {
	url, _ := storeURL(t)
	key := bytes.Repeat([]byte{0x5a}, 32)
	keyed := func(k []byte) *tokenclient.Client {
		c := storeClient(t, url)
		if err := c.SetTokenStoreKey(k); err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := tokenRequests(t, "basic-client")
	first := getToken(t, keyed(key))
	second := getToken(t, keyed(bytes.Clone(key)))
	if first != second {
		t.Error("two clients with the same store key did not share the token")
	}
	if n := tokenRequests(t, "basic-client") - before; n != 1 {
		t.Errorf("%d token requests for two clients with one key, want 1", n)
	}
	other := getToken(t, keyed(bytes.Repeat([]byte{0xa5}, 32)))
	if other == first {
		t.Error("a client with another store key read the entry")
	}
	if n := tokenRequests(t, "basic-client") - before; n != 2 {
		t.Errorf("%d token requests after a client with another key, want 2", n)
	}
	// nil: the key derived from the secret again, which does not open the
	// entries sealed with key either.
	derived := keyed(key)
	if err := derived.SetTokenStoreKey(nil); err != nil {
		t.Fatal(err)
	}
	if tok := getToken(t, derived); tok == first || tok == other {
		t.Error("a client back on the derived key read an entry sealed with a set key")
	}
	if n := tokenRequests(t, "basic-client") - before; n != 3 {
		t.Errorf("%d token requests after a client on the derived key, want 3", n)
	}
}

func TestTokenStoreErrors(t *testing.T) {
	url, _ := storeURL(t)
	c := newClient(t, "basic-client")
	for _, bad := range []string{"memcached://localhost:11211", "file://relative/dir", "not a url"} {
		wantKind(t, c.SetTokenStore(bad), tokenclient.KindInvalidArgument)
	}
	// A key before any store is set: nothing to seal.
	wantKind(t, c.SetTokenStoreKey(make([]byte, 32)), tokenclient.KindConfig)
	if err := c.SetTokenStore(url); err != nil {
		t.Fatal(err)
	}
	wantKind(t, c.SetTokenStoreKey(make([]byte, 15)), tokenclient.KindInvalidArgument)
	wantKind(t, c.SetTokenStoreKey(make([]byte, 1025)), tokenclient.KindInvalidArgument)
	wantKind(t, c.SetTokenStoreKey([]byte{}), tokenclient.KindInvalidArgument)
	if err := c.SetTokenStoreKey(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	// "" removes the store, so a key is refused again.
	if err := c.SetTokenStore(""); err != nil {
		t.Fatal(err)
	}
	wantKind(t, c.SetTokenStoreKey(make([]byte, 32)), tokenclient.KindConfig)

	// A directory open to others is refused.
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	wantKind(t, c.SetTokenStore("file://"+open), tokenclient.KindConfig)
}
