package tokenclient_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// Cancellation and deadlines through context.Context (issue 23).

// silentServer is a socket that takes connections (the kernel completes
// the handshake) but never accepts them, so no request is ever answered.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return "http://" + l.Addr().String() + "/token"
}

func clientOf(t *testing.T, tokenURL string) *tokenclient.Client {
	t.Helper()
	c, err := tokenclient.New(tokenURL, "ctx-client")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Bounds what the library's own thread for a shared GetToken request
	// may spend after its waiters have gone (Close stops it anyway).
	for _, err := range []error{c.SetClientSecret("ctx-client-secret", tokenclient.AuthClientSecretPost),
		c.SetTimeout(5*time.Second, 10*time.Second), c.SetRetryPolicy(0, 0, 0)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// ctxCalls are the ...Context methods, each with arguments that make a request.
var ctxCalls = []struct {
	name string
	call func(ctx context.Context, c *tokenclient.Client) (*tokenclient.Token, error)
}{
	{"ClientCredentialsContext", func(ctx context.Context, c *tokenclient.Client) (*tokenclient.Token, error) {
		return c.ClientCredentialsContext(ctx, "read")
	}},
	{"GetTokenContext", func(ctx context.Context, c *tokenclient.Client) (*tokenclient.Token, error) {
		return c.GetTokenContext(ctx, "read")
	}},
	{"ExchangeCodeContext", func(ctx context.Context, c *tokenclient.Client) (*tokenclient.Token, error) {
		return c.ExchangeCodeContext(ctx, "a-code", "https://client.example.test/callback")
	}},
	{"RefreshContext", func(ctx context.Context, c *tokenclient.Client) (*tokenclient.Token, error) {
		return c.RefreshContext(ctx, "a-refresh-token", "")
	}},
	{"GrantContext", func(ctx context.Context, c *tokenclient.Client) (*tokenclient.Token, error) {
		return c.GrantContext(ctx, "client_credentials", url.Values{"scope": {"read"}})
	}},
}

// A call to a server that never answers ends within a few ms of its
// context's cancel, with an error that is both KindCancelled and
// context.Canceled.
func TestCancelStopsACallTheServerNeverAnswers(t *testing.T) {
	c := clientOf(t, silentServer(t))
	for _, tc := range ctxCalls {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			var cancelledAt atomic.Int64
			time.AfterFunc(100*time.Millisecond, func() {
				cancelledAt.Store(time.Now().UnixNano())
				cancel()
			})
			start := time.Now()
			tok, err := tc.call(ctx, c)
			end := time.Now()
			if tok != nil || err == nil {
				t.Fatalf("got a token from a server that never answers: %v", tok)
			}
			after := end.Sub(time.Unix(0, cancelledAt.Load()))
			t.Logf("%s: returned %v after the cancel (%v after the call began): %v",
				tc.name, after.Round(time.Microsecond), end.Sub(start).Round(time.Millisecond), err)
			if cancelledAt.Load() == 0 {
				t.Fatalf("returned before the cancel: %v", err)
			}
			var e *tokenclient.Error
			if !errors.Is(err, context.Canceled) || !errors.As(err, &e) || e.Kind != tokenclient.KindCancelled {
				t.Fatalf("want context.Canceled and KindCancelled, got %#v", err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("a cancel reported as a deadline")
			}
			if after >= 150*time.Millisecond {
				t.Fatalf("returned %v after the cancel (bound 150 ms)", after)
			}
		})
	}
}

// A 300 ms deadline ends the call after ~300 ms with context.DeadlineExceeded.
func TestDeadlineEndsACallTheServerNeverAnswers(t *testing.T) {
	c := clientOf(t, silentServer(t))
	for _, tc := range ctxCalls[:2] {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := tc.call(ctx, c)
			took := time.Since(start)
			var e *tokenclient.Error
			if !errors.As(err, &e) {
				t.Fatalf("want an *Error, got %#v", err)
			}
			t.Logf("%s: ended after %v, kind %v: %v", tc.name, took.Round(time.Microsecond), e.Kind, err)
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Fatalf("want context.DeadlineExceeded, got %#v", err)
			}
			if e.Kind != tokenclient.KindCancelled && e.Kind != tokenclient.KindTransport {
				t.Fatalf("kind %v", e.Kind)
			}
			if took < 300*time.Millisecond || took > 450*time.Millisecond {
				t.Fatalf("a 300 ms deadline ended the call after %v", took)
			}
		})
	}
}

// A context already done makes no call at all; a deadline already past
// neither. A call that fails for another reason is not blamed on its
// context.
func TestDoneContextReturnsAtOnce(t *testing.T) {
	srv := newScriptedServer(t)
	c := eventsClient(t, srv)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, tc := range ctxCalls {
		for _, ctx := range []context.Context{done, past} {
			start := time.Now()
			_, err := tc.call(ctx, c)
			var e *tokenclient.Error
			if !errors.Is(err, ctx.Err()) || !errors.As(err, &e) || e.Kind != tokenclient.KindCancelled {
				t.Fatalf("%s with %v: %#v", tc.name, ctx.Err(), err)
			}
			if took := time.Since(start); took > 50*time.Millisecond {
				t.Fatalf("%s took %v with a done context", tc.name, took)
			}
		}
	}
	srv.mu.Lock()
	sent := len(srv.forms)
	srv.mu.Unlock()
	if sent != 0 {
		t.Fatalf("%d requests sent with done contexts", sent)
	}
	// An OAuth error under a live context stays an OAuth error.
	srv.answer(401, "application/json", `{"error":"invalid_client"}`)
	ctx, cancel3 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel3()
	_, err := c.ClientCredentialsContext(ctx, "")
	var oe *tokenclient.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_client" || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("OAuth error: %#v", err)
	}
	// And a success under a cancellable context is a success.
	srv.answer(200, "application/json", `{"access_token":"ctx-1","token_type":"Bearer","expires_in":60}`)
	if tok, err := c.GetTokenContext(ctx, "x"); err != nil || tok.AccessToken != "ctx-1" {
		t.Fatalf("GetTokenContext: %v %v", tok, err)
	}
	if tok, err := c.ClientCredentialsContext(ctx, "x"); err != nil || tok.AccessToken != "ctx-1" {
		t.Fatalf("ClientCredentialsContext: %v %v", tok, err)
	}
}

// 1,000 goroutines wait in single flight for one slow token request; half
// of them (the one whose call started the request among them) have their
// contexts cancelled while they wait. Those return at once with
// context.Canceled; the request goes on, and the others get its token: the
// server sees exactly one request.
func TestSingleFlightWaitersCancelledMidWait(t *testing.T) {
	const callers, cancelled = 1000, 500
	var requests atomic.Int32
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		once.Do(func() { close(arrived) })
		select {
		case <-release:
		case <-time.After(15 * time.Second):
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"slow-1","token_type":"Bearer","expires_in":3600}`)
	}))
	defer srv.Close()
	c := clientOf(t, srv.URL+"/token")
	before, err := c.Counters()
	if err != nil {
		t.Fatal(err)
	}

	parent, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	type result struct {
		token string
		err   error
		at    time.Time
	}
	results := make([]result, callers)
	var wg sync.WaitGroup
	var cancelledDone sync.WaitGroup
	run := func(i int) {
		var ctx context.Context
		var cancel context.CancelFunc
		if i < cancelled {
			ctx, cancel = context.WithCancel(parent)
		} else {
			ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
		}
		wg.Add(1)
		if i < cancelled {
			cancelledDone.Add(1)
		}
		go func() {
			defer wg.Done()
			defer cancel()
			tok, err := c.GetTokenContext(ctx, "slow")
			results[i] = result{err: err, at: time.Now()}
			if err == nil {
				results[i].token = tok.AccessToken
			}
			if i < cancelled {
				cancelledDone.Done()
			}
		}()
	}
	run(0) // its call starts the request, on the library's thread
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the token request never came")
	}
	arrival := time.Now()
	for i := 1; i < callers; i++ {
		run(i)
	}
	// Every other caller waits for the request in flight.
	for {
		n, err := c.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if n.SingleflightWaits-before.SingleflightWaits >= callers-1 {
			break
		}
		if time.Since(arrival) > 20*time.Second {
			t.Fatalf("only %d callers wait", n.SingleflightWaits-before.SingleflightWaits)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := 200*time.Millisecond - time.Since(arrival); d > 0 {
		time.Sleep(d)
	}
	cancelAt := time.Now()
	cancelAll()
	waited := make(chan struct{})
	go func() { cancelledDone.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled callers still wait 5 s after the cancel")
	}
	var slowest time.Duration
	for i := 0; i < cancelled; i++ {
		r := results[i]
		var e *tokenclient.Error
		if !errors.Is(r.err, context.Canceled) || !errors.As(r.err, &e) || e.Kind != tokenclient.KindCancelled {
			t.Fatalf("cancelled caller %d: %v %#v", i, r.token, r.err)
		}
		slowest = max(slowest, r.at.Sub(cancelAt))
	}
	// The token request is still in flight: the server answers when released.
	if d := 500*time.Millisecond - time.Since(arrival); d > 0 {
		time.Sleep(d)
	}
	answered := time.Now()
	close(release)
	wg.Wait()
	var lastToken time.Duration
	for i := cancelled; i < callers; i++ {
		if r := results[i]; r.err != nil || r.token != "slow-1" {
			t.Fatalf("waiting caller %d: %q %v", i, r.token, r.err)
		}
		lastToken = max(lastToken, results[i].at.Sub(answered))
	}
	t.Logf("%d callers: the cancel came %v after the request reached the server; the %d cancelled returned "+
		"within %v of it; the server answered after %v and the last of the %d others had the token %v later; %d request(s)",
		callers, cancelAt.Sub(arrival).Round(time.Millisecond), cancelled, slowest.Round(time.Microsecond),
		answered.Sub(arrival).Round(time.Millisecond), callers-cancelled, lastToken.Round(time.Microsecond), requests.Load())
	if n := requests.Load(); n != 1 {
		t.Fatalf("the server saw %d token requests for %d callers", n, callers)
	}
	if slowest >= 250*time.Millisecond {
		t.Fatalf("the slowest cancelled caller returned %v after the cancel (bound 250 ms)", slowest)
	}
}
