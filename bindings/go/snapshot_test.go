package tokenclient_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// The binding's snapshot of GetToken's tokens: while the library says a
// token stays fresh, GetToken returns it without a call into the library
// (the library's counters, which count every get_token it serves, do not
// move), and every event that may change the answer drops it.

func counters(t *testing.T, c *tokenclient.Client) tokenclient.Counters {
	t.Helper()
	n, err := c.Counters()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// cacheCalls is how many get_token calls the library served (hits and misses).
func cacheCalls(t *testing.T, c *tokenclient.Client) uint64 {
	t.Helper()
	n := counters(t, c)
	return n.CacheHits + n.CacheMisses
}

func TestSnapshotServesWithoutCallingTheLibrary(t *testing.T) {
	c := newClient(t, "hs256-client")
	requests := tokenRequests(t, "hs256-client")
	first, err := c.GetToken("read")
	if err != nil {
		t.Fatal(err)
	}
	if n := cacheCalls(t, c); n != 1 {
		t.Fatalf("the first GetToken made %d library calls, want 1", n)
	}
	for i := 0; i < 1000; i++ {
		tok, err := c.GetTokenContext(t.Context(), "read")
		if err != nil || tok != first {
			t.Fatalf("call %d: %v, same token %v", i, err, tok == first)
		}
	}
	if n := cacheCalls(t, c); n != 1 {
		t.Fatalf("1000 cached GetTokens made %d library calls", n-1)
	}
	// Another scope is its own entry.
	if _, err := c.GetToken("write"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetToken("write"); err != nil {
		t.Fatal(err)
	}
	if n := cacheCalls(t, c); n != 2 {
		t.Fatalf("two GetToken(write) made %d library calls, want 1", n-1)
	}

	// InvalidateToken drops it: a new token from the server.
	if err := c.InvalidateToken("read"); err != nil {
		t.Fatal(err)
	}
	second, err := c.GetToken("read")
	if err != nil || second.AccessToken == first.AccessToken {
		t.Fatalf("after InvalidateToken: %v, same token %v", err, second != nil && second.AccessToken == first.AccessToken)
	}
	if n := tokenRequests(t, "hs256-client") - requests; n != 3 {
		t.Fatalf("%d token requests, want 3 (read, write, read again)", n)
	}

	// Every setter drops it: the next GetToken asks the library (which
	// still has the token: a hit there).
	info := server.Clients["hs256-client"]
	setters := map[string]func() error{
		"SetTimeout":           func() error { return c.SetTimeout(10*time.Second, 30*time.Second) },
		"SetRefreshPolicy":     func() error { return c.SetRefreshPolicy(80, 10*time.Second) },
		"SetRetryPolicy":       func() error { return c.SetRetryPolicy(2, 100*time.Millisecond, time.Second) },
		"AddHeader":            func() error { return c.AddHeader("X-Test", "1") },
		"SetMaxResponseBytes":  func() error { return c.SetMaxResponseBytes(1 << 20) },
		"NoProxy":              func() error { return c.NoProxy() },
		"SetAssertionLifetime": func() error { return c.SetAssertionLifetime(300 * time.Second) },
		"SetLogger":            func() error { return c.SetLogger(nil) },
		"OnToken":              func() error { return c.OnToken(nil) },
		"SetClientSecret": func() error {
			return c.SetClientSecret(info.ClientSecret, tokenclient.AuthClientSecretJWT)
		},
	}
	for name, set := range setters {
		if _, err := c.GetToken("read"); err != nil { // in the snapshot again
			t.Fatal(err)
		}
		before := cacheCalls(t, c)
		if _, err := c.GetToken("read"); err != nil {
			t.Fatal(err)
		}
		if n := cacheCalls(t, c) - before; n != 0 {
			t.Fatalf("before %s: %d library calls", name, n)
		}
		if err := set(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := c.GetToken("read"); err != nil {
			t.Fatal(err)
		}
		if n := cacheCalls(t, c) - before; n != 1 {
			t.Fatalf("GetToken after %s made %d library calls, want 1", name, n)
		}
	}

	// Close drops it: a closed client gives no token.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var e *tokenclient.Error
	if tok, err := c.GetToken("read"); !errors.As(err, &e) || e.Kind != tokenclient.KindInvalidArgument {
		t.Fatalf("GetToken of a closed client: %v %v", tok, err)
	}
}

// A new token seen by the OnToken trampoline drops what the snapshot holds
// for every scope; a logger enabled for debug records turns it off.
func TestSnapshotDroppedByNewTokensAndDebugLogger(t *testing.T) {
	c := newClient(t, "post-client")
	var seen atomic.Int32
	if err := c.OnToken(func(*tokenclient.Token) { seen.Add(1) }); err != nil {
		t.Fatal(err)
	}
	// The request's own new token dropped the snapshot while the call ran,
	// so the next call asks the library once more, then the snapshot serves.
	for i := 0; i < 3; i++ {
		if _, err := c.GetToken("read"); err != nil {
			t.Fatal(err)
		}
	}
	if n := cacheCalls(t, c); n != 2 || seen.Load() != 1 {
		t.Fatalf("%d library calls, %d tokens seen; want 2 and 1", n, seen.Load())
	}
	// A new token for another scope.
	if _, err := c.GetToken("write"); err != nil || seen.Load() != 2 {
		t.Fatalf("write: %v, %d tokens seen", err, seen.Load())
	}
	before := cacheCalls(t, c)
	if _, err := c.GetToken("read"); err != nil {
		t.Fatal(err)
	}
	if n := cacheCalls(t, c) - before; n != 1 {
		t.Fatalf("GetToken(read) after a new token for write made %d library calls, want 1", n)
	}

	// With a debug logger, each GetToken is a library call (and a cache.hit record).
	rec := newRecorder(t, c, slog.LevelDebug)
	before = cacheCalls(t, c)
	for i := 0; i < 5; i++ {
		if _, err := c.GetToken("read"); err != nil {
			t.Fatal(err)
		}
	}
	hits := 0
	for _, line := range rec.take() {
		if strings.HasPrefix(line, "DEBUG cache.hit ") {
			hits++
		}
	}
	if n := cacheCalls(t, c) - before; n != 5 || hits != 5 {
		t.Fatalf("5 GetTokens with a debug logger: %d library calls, %d cache.hit records", n, hits)
	}
	// An info logger does not need them: the snapshot serves again.
	newRecorder(t, c, slog.LevelInfo)
	for i := 0; i < 3; i++ {
		if _, err := c.GetToken("read"); err != nil {
			t.Fatal(err)
		}
	}
	if n := cacheCalls(t, c) - before - 5; n != 1 {
		t.Fatalf("3 GetTokens with an info logger made %d library calls, want 1", n)
	}
}

// The snapshot lasts as long as the library says (tokenclient_token_fresh_for_ms),
// then GetToken asks the library, which refreshes.
func TestSnapshotExpiresWithTheLibrarysFreshness(t *testing.T) {
	var issued atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		// 2 s: the default policy (80%, 10 s margin capped at half the
		// lifetime) refreshes after 1 s.
		fmt.Fprintf(w, `{"access_token":"short-%d","token_type":"Bearer","expires_in":2}`, n)
	}))
	defer srv.Close()
	c := clientOf(t, srv.URL+"/token")
	first, err := c.GetToken("")
	if err != nil || first.AccessToken != "short-1" {
		t.Fatalf("%v %v", first, err)
	}
	start := time.Now()
	calls := 0
	for time.Since(start) < 700*time.Millisecond {
		tok, err := c.GetToken("")
		if err != nil || tok != first {
			t.Fatalf("within the fresh time: %v, same %v", err, tok == first)
		}
		calls++
		time.Sleep(time.Millisecond)
	}
	if n := cacheCalls(t, c); n != 1 {
		t.Fatalf("%d GetTokens within the fresh time made %d library calls", calls, n-1)
	}
	time.Sleep(time.Until(start.Add(1100 * time.Millisecond)))
	var next *tokenclient.Token
	deadline := time.Now().Add(5 * time.Second)
	for next == nil || next.AccessToken == "short-1" {
		if next, err = c.GetToken(""); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no new token 5 s after the first one's fresh time")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := cacheCalls(t, c); n < 2 {
		t.Fatalf("the refresh made no library call (%d)", n)
	}
	t.Logf("%d cached calls in 700 ms; then %s after %v, %d library calls", calls, next.AccessToken,
		time.Since(start).Round(time.Millisecond), cacheCalls(t, c))
}

// Many goroutines read the snapshot while others invalidate it: no reader
// ever gets a token that an InvalidateToken which returned before the read
// began had dropped (-race checks the copy on write).
func TestSnapshotInvalidateUnderConcurrentReads(t *testing.T) {
	var issued atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	defer srv.Close()
	c := clientOf(t, srv.URL+"/token")
	var invalidated atomic.Value // the access token last invalidated (after InvalidateToken returned)
	invalidated.Store("")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				dropped := invalidated.Load().(string)
				tok, err := c.GetTokenContext(context.Background(), "s")
				if err != nil {
					errs <- err
					return
				}
				if dropped != "" && tok.AccessToken == dropped {
					errs <- fmt.Errorf("got %s after its InvalidateToken returned", dropped)
					return
				}
			}
		}()
	}
	for i := 0; i < 25; i++ {
		tok, err := c.GetToken("s")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.InvalidateToken("s"); err != nil {
			t.Fatal(err)
		}
		invalidated.Store(tok.AccessToken)
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
