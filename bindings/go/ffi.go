package tokenclient

// The cgo flags that find tokenclient.h and link libtokenclient come from
// pkg-config, here only (cgo applies them to the whole package): the
// tokenclient.pc of an installed prefix (`make install`, then
// PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig unless the prefix is /usr), or the
// build tree's target/pkgconfig/tokenclient.pc that `make build` writes. Both
// put an rpath to their libdir in Libs, so programs run without
// LD_LIBRARY_PATH. Other files that use C names, such as the constants taken
// from the header, include tokenclient.h in a preamble of their own. String
// and error conversion live here too.

/*
#cgo pkg-config: tokenclient
#include <stdlib.h>
#include <string.h>
#include "tokenclient.h"
*/
import "C"

import (
	"unsafe"
)

// cString copies s into C memory; free it with freeCString, which wipes it
// first (arguments may be secrets).
func cString(s string) *C.char {
	return C.CString(s)
}

// cBytes is cString for text held in bytes, so that no Go string copy of
// a secret is made (the caller can clear b); free it with freeCString.
func cBytes(b []byte) *C.char {
	p := (*C.char)(C.malloc(C.size_t(len(b) + 1)))
	s := unsafe.Slice((*byte)(unsafe.Pointer(p)), len(b)+1)
	copy(s, b)
	s[len(b)] = 0
	return p
}

func freeCString(p *C.char) {
	if p != nil {
		C.memset(unsafe.Pointer(p), 0, C.strlen(p))
		C.free(unsafe.Pointer(p))
	}
}

// cStringOrNil is cString for an optional argument: "" becomes NULL.
func cStringOrNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return cString(s)
}

// goString copies a borrowed C string; NULL becomes "".
func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// takeString copies an owned C string and frees it with the library's free
// function (never C.free: Rust allocated it).
func takeString(p *C.char) string {
	defer C.tokenclient_string_free(p)
	return goString(p)
}

// toError converts a tokenclient_error (and frees it); nil for NULL.
func toError(e *C.tokenclient_error) error {
	if e == nil {
		return nil
	}
	defer C.tokenclient_error_free(e)
	base := &Error{
		Kind:       ErrorKind(C.tokenclient_error_get_kind(e)),
		Message:    goString(C.tokenclient_error_message(e)),
		HTTPStatus: int(C.tokenclient_error_http_status(e)),
	}
	if base.Kind == KindOAuth {
		return &OAuthError{
			Code:        goString(C.tokenclient_error_oauth_code(e)),
			Description: goString(C.tokenclient_error_oauth_description(e)),
			URI:         goString(C.tokenclient_error_oauth_uri(e)),
			Status:      base.HTTPStatus,
			err:         base,
		}
	}
	return base
}

// Version is the version of the linked libtokenclient.
func Version() string {
	return goString(C.tokenclient_version())
}
