package tokenclient

// Events and counters (issue 24): SetLogger hands the library's events to
// a *slog.Logger, Counters reads the client's counters. Both only carry
// what the library gives out, which never holds a secret.

/*
#include "tokenclient.h"

extern void tokenclientGoLogCallback(void *user_data, tokenclient_event *event);
static void tokenclient_go_log_shim(void *user_data, const tokenclient_event *event) {
	tokenclientGoLogCallback(user_data, (tokenclient_event *)event);
}
static tokenclient_error *tokenclient_go_set_log_callback(tokenclient_client *c, tokenclient_log_level level, void *user_data) {
	return tokenclient_client_set_log_callback(c, level, user_data ? tokenclient_go_log_shim : NULL, user_data);
}
*/
import "C"

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"unsafe"
)

// logLevels pairs the library's levels with slog's, most verbose first.
var logLevels = [...]struct {
	c    C.tokenclient_log_level
	slog slog.Level
}{
	{C.TOKENCLIENT_LOG_DEBUG, slog.LevelDebug},
	{C.TOKENCLIENT_LOG_INFO, slog.LevelInfo},
	{C.TOKENCLIENT_LOG_WARN, slog.LevelWarn},
	{C.TOKENCLIENT_LOG_ERROR, slog.LevelError},
}

// SetLogger sends the client's events to l, one record each: the message
// is the event's stable name (request.sent, request.done, request.failed,
// retry.scheduled, cache.hit, cache.miss, singleflight.wait,
// cache.refresh.started, cache.refresh.failed_kept_old), the level its
// level, and the attributes its fields ("endpoint", "grant_type",
// "auth_method", "scope", "oauth_error", "error_kind" as strings;
// "attempt", "http_status", "duration_us", "delay_ms" as int64). No event
// holds a secret. nil removes the logger; there is none by default.
//
// The library is asked only for the events at the most verbose level l is
// enabled for when SetLogger is called, so the others cost nothing; call
// SetLogger again after making l's handler more verbose. A record is
// logged on the goroutine of the call that caused it, so from many at once
// when the client is shared. The handler must return quickly and must not
// call this client's setters (SetLogger, OnToken, ...); a handler that
// panics loses that record and nothing else. While l is enabled for debug
// records, GetToken does not serve tokens from the binding's snapshot (see
// GetToken), so that every cache hit reaches l as cache.hit.
func (c *Client) SetLogger(l *slog.Logger) error {
	level := C.tokenclient_log_level(C.TOKENCLIENT_LOG_ERROR)
	var value any
	if l != nil {
		for _, m := range logLevels {
			if l.Enabled(context.Background(), m.slog) {
				level, value = m.c, l
				break
			}
		}
	}
	// A logger that reads debug records reads every cache.hit: GetToken
	// then asks the library each time instead of its snapshot (setHook
	// drops the snapshot after this, so nothing stored before stays).
	c.cache.bypass(value != nil && level == C.TOKENCLIENT_LOG_DEBUG)
	return c.setHook(&c.logger, value, func(h *C.tokenclient_client, userData unsafe.Pointer) *C.tokenclient_error {
		return C.tokenclient_go_set_log_callback(h, level, userData)
	})
}

// logEvent logs one event (valid only during the callback) to l.
func logEvent(l *slog.Logger, event *C.tokenclient_event) {
	level, got := slog.LevelDebug, C.tokenclient_event_level(event)
	for _, m := range logLevels {
		if m.c == got {
			level = m.slog
		}
	}
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return // the handler's level was raised since SetLogger: skip the JSON
	}
	l.LogAttrs(ctx, level, goString(C.tokenclient_event_name(event)), eventAttrs(event)...)
}

// eventAttrs reads the event's fields from its JSON form, in the library's
// order, numbers as int64; "level" and "event" are the record's own.
func eventAttrs(event *C.tokenclient_event) []slog.Attr {
	dec := json.NewDecoder(strings.NewReader(goString(C.tokenclient_event_json(event))))
	dec.UseNumber()
	if open, err := dec.Token(); err != nil || open != json.Delim('{') {
		return nil
	}
	var attrs []slog.Attr
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			break
		}
		value, err := dec.Token()
		if err != nil {
			break
		}
		name, _ := key.(string)
		if name == "level" || name == "event" {
			continue
		}
		switch v := value.(type) {
		case string:
			attrs = append(attrs, slog.String(name, v))
		case json.Number:
			if n, err := v.Int64(); err == nil {
				attrs = append(attrs, slog.Int64(name, n))
			} else {
				attrs = append(attrs, slog.String(name, v.String()))
			}
		default:
			return attrs // fields are flat; stop at anything else
		}
	}
	return attrs
}

// Counters is a snapshot of a client's counters (Client.Counters). The
// library counts always, at the cost of a relaxed atomic increment.
type Counters struct {
	// Requests sent to the token endpoint, every attempt, by grant:
	// "authorization_code", "refresh_token", "client_credentials", the
	// device grant, "other".
	Requests map[string]uint64 `json:"requests"`
	// Calls that ended in an error, by kind: "transport", "oauth", "http", ...
	Errors  map[string]uint64 `json:"errors"`
	Retries uint64            `json:"retries"`
	// GetToken calls the library served from its cache, and those it did
	// not. Calls the binding's snapshot answered without asking the
	// library (see GetToken) are in neither.
	CacheHits   uint64 `json:"cache_hits"`
	CacheMisses uint64 `json:"cache_misses"`
	// Token requests the cache started (misses and early refreshes), and
	// refreshes that failed while the old token was kept.
	Refreshes              uint64 `json:"refreshes"`
	RefreshFailuresKeptOld uint64 `json:"refresh_failures_kept_old"`
	// GetToken callers that waited for another caller's request.
	SingleflightWaits uint64 `json:"singleflight_waits"`
	// Token endpoint requests by duration in µs: "le_1000" ... "le_5000000", "inf".
	LatencyUS map[string]uint64 `json:"latency_us"`
}

// Counters returns the client's counters.
func (c *Client) Counters() (Counters, error) {
	var out *C.char
	err := c.with(func(h *C.tokenclient_client) *C.tokenclient_error {
		return C.tokenclient_client_counters(h, &out)
	})
	if err != nil {
		return Counters{}, err
	}
	var counters Counters
	if err := json.Unmarshal([]byte(takeString(out)), &counters); err != nil {
		return Counters{}, &Error{Kind: KindPanic, Message: "the library's counters are not valid JSON: " + err.Error()}
	}
	return counters, nil
}
