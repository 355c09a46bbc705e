//go:build tokenclient_testhooks

package tokenclient

// Test-only: built with `-tags tokenclient_testhooks` (make test) against
// the test-hooks build of the library (target/hooks/release, loaded through
// LD_LIBRARY_PATH), which exports tokenclient_test_panic. The symbol is
// looked up at run time, so this file links against any build.

/*
#cgo LDFLAGS: -ldl -Wl,--enable-new-dtags
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include "tokenclient.h"

typedef tokenclient_error *(*tokenclient_test_panic_fn)(void);

static tokenclient_error *call_test_panic(void *fn) {
	return ((tokenclient_test_panic_fn)fn)();
}
*/
import "C"

import "unsafe"

// testPanic calls tokenclient_test_panic, which panics inside the library's
// panic boundary; found is false when the loaded library does not export it.
func testPanic() (err error, found bool) {
	name := C.CString("tokenclient_test_panic")
	defer C.free(unsafe.Pointer(name))
	fn := C.dlsym(C.RTLD_DEFAULT, name)
	if fn == nil {
		return nil, false
	}
	return toError(C.call_test_panic(fn)), true
}
