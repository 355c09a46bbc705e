package tokenclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tokenclient "github.com/tokenclient/tokenclient/bindings/go"
)

// The events and counters (issue 24) from Go, against a loopback server
// whose answers each test scripts: the sequence of tests/c/core/events.c
// (a miss and an exchange, a cached hit, a refresh that fails with 503
// after one retry while the old token is kept, invalid_client) must reach
// a *slog.Logger as exactly the expected records.

const eventsSecret = "go-events-secret-value"

// scriptedServer answers every request with the answer last scripted, and
// keeps the forms it received.
type scriptedServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	ctype  string
	body   string
	forms  []url.Values
}

func newScriptedServer(t *testing.T) *scriptedServer {
	t.Helper()
	s := &scriptedServer{status: http.StatusInternalServerError, ctype: "text/plain", body: "nothing scripted"}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		s.mu.Lock()
		s.forms = append(s.forms, r.PostForm)
		status, ctype, body := s.status, s.ctype, s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scriptedServer) answer(status int, ctype, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.ctype, s.body = status, ctype, body
}

func (s *scriptedServer) tokenURL() string { return s.srv.URL + "/token" }

// eventsClient is a client of srv with the sequence's policies: one retry
// with little backoff, and a refresh after 10% of a token's life (a 4 s
// token is due, and still usable, after 0.6 s).
func eventsClient(t *testing.T, srv *scriptedServer) *tokenclient.Client {
	t.Helper()
	c, err := tokenclient.New(srv.tokenURL(), "ev-client")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, err := range []error{
		c.SetClientSecret(eventsSecret, tokenclient.AuthClientSecretPost),
		c.SetRetryPolicy(1, time.Millisecond, 10*time.Millisecond),
		c.SetRefreshPolicy(10, 0),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// record is one slog record a recorder received.
type record struct {
	level slog.Level
	msg   string
	attrs []slog.Attr
}

// String is "LEVEL name key=value ...": strings quoted, int64 values bare,
// and the timings, which vary, as <int64>; any other kind shows as such.
func (r record) String() string {
	var b strings.Builder
	b.WriteString(r.level.String() + " " + r.msg)
	for _, a := range r.attrs {
		b.WriteString(" " + a.Key + "=")
		switch kind := a.Value.Kind(); {
		case kind == slog.KindInt64 && (a.Key == "duration_us" || a.Key == "delay_ms"):
			b.WriteString("<int64>")
		case kind == slog.KindInt64:
			fmt.Fprint(&b, a.Value.Int64())
		case kind == slog.KindString:
			fmt.Fprintf(&b, "%q", a.Value.String())
		default:
			fmt.Fprintf(&b, "<%s %v>", kind, a.Value)
		}
	}
	return b.String()
}

// recorder is a slog.Handler enabled from min up that keeps its records,
// and every level it was asked about.
type recorder struct {
	min     slog.Level
	panics  bool // Handle panics (after recording)
	mu      sync.Mutex
	records []record
	asked   []slog.Level
}

func (r *recorder) Enabled(_ context.Context, level slog.Level) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, level)
	return level >= r.min
}

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	got := record{level: rec.Level, msg: rec.Message}
	rec.Attrs(func(a slog.Attr) bool {
		got.attrs = append(got.attrs, a)
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, got)
	r.mu.Unlock()
	if r.panics {
		panic("a handler that panics")
	}
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// take returns the records so far, rendered, and forgets them and the
// levels asked about.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	lines := make([]string, len(r.records))
	for i, rec := range r.records {
		lines[i] = rec.String()
	}
	r.records, r.asked = nil, nil
	return lines
}

// levelsAsked returns the levels Enabled was asked about since take.
func (r *recorder) levelsAsked() []slog.Level {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slog.Level(nil), r.asked...)
}

func newRecorder(t *testing.T, c *tokenclient.Client, min slog.Level) *recorder {
	t.Helper()
	r := &recorder{min: min}
	if err := c.SetLogger(slog.New(r)); err != nil {
		t.Fatal(err)
	}
	r.take()
	return r
}

// expectLines fails unless got is want, in order; in want, $ep stands for
// the endpoint attribute and $cc for the client_credentials grant and its
// authentication.
func expectLines(t *testing.T, srv *scriptedServer, step string, got []string, want ...string) {
	t.Helper()
	expand := strings.NewReplacer("$ep", fmt.Sprintf("endpoint=%q", srv.tokenURL()),
		"$cc", `grant_type="client_credentials" auth_method="client_secret_post"`)
	for i := range want {
		want[i] = expand.Replace(want[i])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s: the logger got\n\t%s\nwant\n\t%s", step, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// expectSilent fails if r was handed anything since its last take.
func expectSilent(t *testing.T, r *recorder, who string) {
	t.Helper()
	if asked, got := r.levelsAsked(), r.take(); len(asked) != 0 || len(got) != 0 {
		t.Fatalf("%s was asked about %v and got %q", who, asked, got)
	}
}

// The sequence's steps.
const (
	stepMiss          = "a miss and an exchange"
	stepHit           = "a cached hit"
	stepKeptOld       = "a failed refresh that keeps the old token"
	stepInvalidClient = "invalid_client"
)

// playSequence runs the scripted sequence on c, calling after with each
// step's name once it has run.
func playSequence(t *testing.T, srv *scriptedServer, c *tokenclient.Client, after func(step string)) {
	t.Helper()
	srv.answer(200, "application/json", `{"access_token":"ev-1","token_type":"Bearer","expires_in":4}`)
	if tok, err := c.GetToken("read"); err != nil || tok.AccessToken != "ev-1" {
		t.Fatalf("%s: %v %v", stepMiss, tok, err)
	}
	after(stepMiss)
	if tok, err := c.GetToken("read"); err != nil || tok.AccessToken != "ev-1" {
		t.Fatalf("%s: %v %v", stepHit, tok, err)
	}
	after(stepHit)
	time.Sleep(600 * time.Millisecond)
	srv.answer(503, "text/plain", "busy")
	if tok, err := c.GetToken("read"); err != nil || tok.AccessToken != "ev-1" {
		t.Fatalf("%s: %v %v", stepKeptOld, tok, err)
	}
	after(stepKeptOld)
	srv.answer(401, "application/json", `{"error":"invalid_client"}`)
	var oe *tokenclient.OAuthError
	if _, err := c.ClientCredentials(""); !errors.As(err, &oe) || oe.Code != "invalid_client" {
		t.Fatalf("%s: %v", stepInvalidClient, err)
	}
	after(stepInvalidClient)
}

func TestLoggerGetsTheScriptedSequence(t *testing.T) {
	srv := newScriptedServer(t)
	c := eventsClient(t, srv)
	rec := newRecorder(t, c, slog.LevelDebug)
	want := map[string][]string{
		stepMiss: {
			`DEBUG cache.miss $ep scope="read"`,
			`INFO cache.refresh.started $ep scope="read"`,
			`DEBUG request.sent $ep $cc scope="read" attempt=1`,
			`INFO request.done $ep $cc scope="read" attempt=1 duration_us=<int64>`,
		},
		stepHit: {`DEBUG cache.hit $ep scope="read"`},
		stepKeptOld: {
			`INFO cache.refresh.started $ep scope="read"`,
			`DEBUG request.sent $ep $cc scope="read" attempt=1`,
			`WARN request.failed $ep $cc scope="read" error_kind="http" attempt=1 http_status=503 duration_us=<int64>`,
			`WARN retry.scheduled $ep $cc scope="read" attempt=2 delay_ms=<int64>`,
			`DEBUG request.sent $ep $cc scope="read" attempt=2`,
			`WARN request.failed $ep $cc scope="read" error_kind="http" attempt=2 http_status=503 duration_us=<int64>`,
			`WARN cache.refresh.failed_kept_old $ep scope="read" error_kind="http" http_status=503`,
		},
		stepInvalidClient: {
			`DEBUG request.sent $ep $cc attempt=1`,
			`WARN request.failed $ep $cc oauth_error="invalid_client" error_kind="oauth" attempt=1 http_status=401 duration_us=<int64>`,
		},
	}
	playSequence(t, srv, c, func(step string) { expectLines(t, srv, step, rec.take(), want[step]...) })

	got, err := c.Counters()
	if err != nil {
		t.Fatal(err)
	}
	var latencies uint64
	for _, n := range got.LatencyUS {
		latencies += n
	}
	_, first := got.LatencyUS["le_1000"]
	_, last := got.LatencyUS["inf"]
	if latencies != 4 || len(got.LatencyUS) != 9 || !first || !last {
		t.Errorf("latency buckets %v: want le_1000 ... inf, 9 buckets counting 4 requests", got.LatencyUS)
	}
	got.LatencyUS = nil
	want0 := tokenclient.Counters{
		Requests: map[string]uint64{"authorization_code": 0, "refresh_token": 0, "client_credentials": 4,
			"urn:ietf:params:oauth:grant-type:device_code": 0, "other": 0},
		Errors: map[string]uint64{"invalid_argument": 0, "key": 0, "config": 0, "transport": 0, "oauth": 1,
			"http": 1, "response": 0, "panic": 0, "cancelled": 0},
		Retries: 1, CacheHits: 1, CacheMisses: 1, Refreshes: 2, RefreshFailuresKeptOld: 1, SingleflightWaits: 0,
	}
	if !reflect.DeepEqual(got, want0) {
		t.Errorf("counters\n\t%+v\nwant\n\t%+v", got, want0)
	}
}

// The server is sent the secret, and echoes it back as an OAuth error;
// no record carries it, whole or in part.
func TestEventsNeverCarryTheSecret(t *testing.T) {
	srv := newScriptedServer(t)
	c := eventsClient(t, srv)
	rec := newRecorder(t, c, slog.LevelDebug)
	var lines []string
	playSequence(t, srv, c, func(string) { lines = append(lines, rec.take()...) })
	srv.answer(400, "application/json", `{"error":"`+eventsSecret+`","error_description":"bad `+eventsSecret+`"}`)
	if _, err := c.ClientCredentials(""); err == nil {
		t.Fatal("an echoed secret error was taken for a token")
	}
	lines = append(lines, rec.take()...)
	if len(lines) < 16 || !strings.Contains(strings.Join(lines, "\n"), `oauth_error=`) {
		t.Fatalf("too few records to tell: %q", lines)
	}
	srv.mu.Lock()
	for _, form := range srv.forms {
		if form.Get("client_secret") != eventsSecret {
			t.Errorf("the server was not sent the secret: %v", form)
		}
	}
	srv.mu.Unlock()
	for _, line := range lines {
		for i := 0; i+8 <= len(eventsSecret); i++ {
			if part := eventsSecret[i : i+8]; strings.Contains(line, part) {
				t.Errorf("a record carries %q of the secret: %s", part, line)
				break
			}
		}
	}
}

// A logger enabled from Warn gets the warnings only, and the library does
// not even hand Go the others; a logger enabled for nothing is not installed.
func TestLoggerGetsOnlyTheLevelsItIsEnabledFor(t *testing.T) {
	srv := newScriptedServer(t)
	c := eventsClient(t, srv)
	rec := newRecorder(t, c, slog.LevelWarn)
	var lines []string
	playSequence(t, srv, c, func(string) {
		for _, level := range rec.levelsAsked() {
			if level < slog.LevelWarn {
				t.Errorf("Go was handed an event at %v", level)
			}
		}
		lines = append(lines, rec.take()...)
	})
	expectLines(t, srv, "warnings", lines,
		`WARN request.failed $ep $cc scope="read" error_kind="http" attempt=1 http_status=503 duration_us=<int64>`,
		`WARN retry.scheduled $ep $cc scope="read" attempt=2 delay_ms=<int64>`,
		`WARN request.failed $ep $cc scope="read" error_kind="http" attempt=2 http_status=503 duration_us=<int64>`,
		`WARN cache.refresh.failed_kept_old $ep scope="read" error_kind="http" http_status=503`,
		`WARN request.failed $ep $cc oauth_error="invalid_client" error_kind="oauth" attempt=1 http_status=401 duration_us=<int64>`)

	none := newRecorder(t, c, slog.LevelError+1)
	if _, err := c.ClientCredentials(""); err == nil {
		t.Fatal("invalid_client was taken for a token")
	}
	expectSilent(t, none, "a logger enabled for nothing")
}

func TestSetLoggerNilStopsEvents(t *testing.T) {
	srv := newScriptedServer(t)
	c := eventsClient(t, srv)
	rec := newRecorder(t, c, slog.LevelDebug)
	srv.answer(401, "application/json", `{"error":"invalid_client"}`)
	if _, err := c.ClientCredentials(""); err == nil {
		t.Fatal("invalid_client was taken for a token")
	}
	if got := rec.take(); len(got) != 2 {
		t.Fatalf("before SetLogger(nil): %q, want request.sent and request.failed", got)
	}
	if err := c.SetLogger(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClientCredentials(""); err == nil {
		t.Fatal("invalid_client was taken for a token")
	}
	expectSilent(t, rec, "after SetLogger(nil), the logger")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var e *tokenclient.Error
	if err := c.SetLogger(slog.New(rec)); !errors.As(err, &e) || e.Kind != tokenclient.KindInvalidArgument {
		t.Fatalf("SetLogger on a closed client: %v", err)
	}
	if _, err := c.Counters(); !errors.As(err, &e) || e.Kind != tokenclient.KindInvalidArgument {
		t.Fatalf("Counters on a closed client: %v", err)
	}
}

// A handler that panics loses its record; the panic never reaches the
// library, and the call and the client go on.
func TestPanickingHandlerDoesNotBreakTheCall(t *testing.T) {
	srv := newScriptedServer(t)
	c := eventsClient(t, srv)
	rec := &recorder{min: slog.LevelDebug, panics: true}
	if err := c.SetLogger(slog.New(rec)); err != nil {
		t.Fatal(err)
	}
	srv.answer(200, "application/json", `{"access_token":"p-1","token_type":"Bearer","expires_in":60}`)
	for i := 0; i < 2; i++ {
		if tok, err := c.GetToken(""); err != nil || tok.AccessToken != "p-1" {
			t.Fatalf("with a panicking handler: %v %v", tok, err)
		}
	}
	if got := rec.take(); len(got) != 5 {
		t.Fatalf("the panicking handler got %q, want the 5 events of a miss and a hit", got)
	}
}

// Many goroutines (and so many C threads) log at once while the logger is
// replaced and the counters read; run with -race. A call hands all its
// events to the logger set when it started, so every call's request.sent
// and request.done reach one logger, however the loggers change meanwhile.
func TestLoggerUnderConcurrentUse(t *testing.T) {
	srv := newScriptedServer(t)
	c := eventsClient(t, srv)
	srv.answer(200, "application/json", `{"access_token":"cc-1","token_type":"Bearer","expires_in":60}`)
	loggers := []*recorder{{min: slog.LevelDebug}, {min: slog.LevelInfo}, {min: slog.LevelDebug}}
	if err := c.SetLogger(slog.New(loggers[0])); err != nil {
		t.Fatal(err)
	}
	const goroutines, calls = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*calls)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				if _, err := c.ClientCredentials("read"); err != nil {
					errs <- err
				}
			}
		}()
	}
	stop := make(chan struct{})
	swaps := make(chan int)
	go func() {
		n := 0
		for ; ; n++ {
			select {
			case <-stop:
				swaps <- n
				return
			default:
			}
			if err := c.SetLogger(slog.New(loggers[n%len(loggers)])); err != nil {
				t.Error(err)
			}
			if _, err := c.Counters(); err != nil {
				t.Error(err)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	if n := <-swaps; n < 10 {
		t.Errorf("the logger was replaced only %d times while calls ran", n)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	done := 0
	for i, r := range loggers {
		count := map[string]int{}
		for _, line := range r.take() {
			level, name, _ := strings.Cut(line, " ")
			name, _, _ = strings.Cut(name, " ")
			count[level+" "+name]++
		}
		wantSent := 0 // an Info logger is not handed request.sent
		if r.min == slog.LevelDebug {
			wantSent = count["INFO request.done"]
		}
		if count["DEBUG request.sent"] != wantSent || len(count) > 2 {
			t.Errorf("logger %d (from %v) got %v", i, r.min, count)
		}
		done += count["INFO request.done"]
	}
	if done != goroutines*calls {
		t.Errorf("the loggers got %d request.done, want one per call: %d", done, goroutines*calls)
	}
	counters, err := c.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if n := counters.Requests["client_credentials"]; n != goroutines*calls {
		t.Errorf("%d client_credentials requests counted, want %d", n, goroutines*calls)
	}
}
