package main

// The limits of the Go binding in this process: the raw OpenSSL signature
// (SHA-256, then ECDSA_do_sign) and the raw libcurl POST of
// bench/raw_exchange.h, one cgo call per operation as the binding makes,
// with none of tokenclient's work.

/*
#cgo CFLAGS: -I${SRCDIR}/.. -O2
#cgo LDFLAGS: -lcurl -lcrypto
#include "raw_exchange.h"

static struct raw_signer signer;
static struct raw_poster *poster;

// Once per process: raw_assert and raw_exchange share the signer.
static void raw_setup(const char *keyfile, const char *inputfile, const char *url) {
  if (!signer.key) raw_signer_load(&signer, keyfile, inputfile);
  if (url && !poster) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    poster = raw_poster_new(url);
  }
}

static void raw_assert_once(void) { raw_sign(&signer); }

static void raw_exchange_once(void) {
  raw_sign(&signer);
  raw_post(poster);
}
*/
import "C"

import "unsafe"

// rawOp returns the raw operation of measurement "raw_assert" (one
// signature) or "raw_exchange" (a signature, then the POST).
func rawOp(name, keyFile, inputFile, url string) func() {
	k, in := C.CString(keyFile), C.CString(inputFile)
	defer C.free(unsafe.Pointer(k))
	defer C.free(unsafe.Pointer(in))
	if name == "raw_assert" {
		C.raw_setup(k, in, nil)
		return func() { C.raw_assert_once() }
	}
	u := C.CString(url)
	defer C.free(unsafe.Pointer(u))
	C.raw_setup(k, in, u)
	return func() { C.raw_exchange_once() }
}
