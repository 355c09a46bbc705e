package tokenclient

// The exported trampolines for token, log and signer callbacks. A file
// with //export may only declare C functions in its preamble, so the shims
// that adapt their signatures live in client.go, events.go and signer.go.

/*
#include <stdint.h>
#include "tokenclient.h"
*/
import "C"

import (
	"fmt"
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

// tokenclientGoSign is the tokenclient_sign_fn of SetSigner and
// SetDPoPSigner: it runs the signer of its handle over a copy of the
// input, on the thread of the request that signs, possibly on many at
// once. Nothing may unwind into the library: a panic (the signer's, or a
// handle already deleted) is recovered and returned as a failure with its
// message, which the library turns into a KindKey error.
//
//export tokenclientGoSign
func tokenclientGoSign(userData unsafe.Pointer, input *C.uint8_t, inputLen C.size_t, outSig *C.uint8_t, outCap C.size_t,
	outLen *C.size_t, errMsg *C.char, errCap C.size_t) (rc C.int) {
	defer func() {
		if r := recover(); r != nil {
			// fmt recovers a panic of the value's String or Error method.
			rc = signerFailed(errMsg, errCap, fmt.Sprintf("the Go signer panicked: %v", r))
		}
	}()
	hook, ok := cgo.Handle(*(*C.uintptr_t)(userData)).Value().(*signerHook)
	if !ok || outSig == nil || outLen == nil || (input == nil && inputLen != 0) {
		return signerFailed(errMsg, errCap, "the Go signer was called without its arguments")
	}
	// A copy: the signer may keep what it is given, the input may not stay.
	msg := make([]byte, int(inputLen))
	if inputLen != 0 {
		copy(msg, unsafe.Slice((*byte)(unsafe.Pointer(input)), int(inputLen)))
	}
	sig, err := hook.sign(msg)
	switch {
	case err != nil:
		return signerFailed(errMsg, errCap, err.Error())
	case uint64(len(sig)) > uint64(outCap):
		return signerFailed(errMsg, errCap, fmt.Sprintf("the Go signer returned %d bytes, more than the %d the library has room for", len(sig), outCap))
	}
	if len(sig) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(outSig)), len(sig)), sig)
	}
	*outLen = C.size_t(len(sig))
	return 0
}

// tokenclientGoFreeSigner is the free_user_data of a signer: the library
// calls it once, on any thread, when no request can sign with it any more.
//
//export tokenclientGoFreeSigner
func tokenclientGoFreeSigner(userData unsafe.Pointer) {
	defer func() { _ = recover() }()
	releaseSigner((*C.uintptr_t)(userData))
}
