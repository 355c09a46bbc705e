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

//export tokenclientGoTokenCallback
func tokenclientGoTokenCallback(userData unsafe.Pointer, token *C.tokenclient_token) {
	// As for the log callback: a panic must not unwind into the library.
	defer func() { _ = recover() }()
	h := cgo.Handle(*(*C.uintptr_t)(userData))
	callback, ok := h.Value().(func(*Token))
	if !ok {
		return
	}
	if t, err := copyToken(token); err == nil {
		callback(t)
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
