package tokenclient

// The exported trampoline for token callbacks. A file with //export may
// only declare C functions in its preamble, so the shim that adapts its
// signature lives in client.go.

/*
#include <stdint.h>
#include "tokenclient.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

//export tokenclientGoTokenCallback
func tokenclientGoTokenCallback(userData unsafe.Pointer, token *C.tokenclient_token) {
	h := cgo.Handle(*(*C.uintptr_t)(userData))
	callback, ok := h.Value().(func(*Token))
	if !ok {
		return
	}
	if t, err := copyToken(token); err == nil {
		callback(t)
	}
}
