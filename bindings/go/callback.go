package tokenclient

// The exported trampolines for token and log callbacks. A file with
// //export may only declare C functions in its preamble, so the shims that
// adapt their signatures live in client.go and events.go.

/*
#include <stdint.h>
#include "tokenclient.h"
*/
import "C"

import (
	"log/slog"
	"runtime/cgo"
	"unsafe"
)

// tokenHook is what the OnToken callback's handle holds: the user's func,
// and the client's snapshot of tokens, which a new token drops.
type tokenHook struct {
	f     func(*Token)
	cache *tokenCache
}

//export tokenclientGoTokenCallback
func tokenclientGoTokenCallback(userData unsafe.Pointer, token *C.tokenclient_token) {
	// As for the log callback: a panic must not unwind into the library.
	defer func() { _ = recover() }()
	h := cgo.Handle(*(*C.uintptr_t)(userData))
	hook, ok := h.Value().(*tokenHook)
	if !ok {
		return
	}
	// A new token: what the snapshot holds may be older.
	hook.cache.drop(false)
	if t, err := copyToken(token); err == nil {
		hook.f(t)
	}
}

// tokenclientGoLogCallback runs on the threads of the calls that cause
// events, possibly many at once; slog's handlers are safe for that.
//
//export tokenclientGoLogCallback
func tokenclientGoLogCallback(userData unsafe.Pointer, event *C.tokenclient_event) {
	// A panic must not unwind into the library's frames: a handler that
	// panics loses its event, and the call that caused it goes on.
	defer func() { _ = recover() }()
	logger, ok := cgo.Handle(*(*C.uintptr_t)(userData)).Value().(*slog.Logger)
	if !ok {
		return
	}
	logEvent(logger, event)
}
