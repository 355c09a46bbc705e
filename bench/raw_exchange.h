/*
 * The raw parts of a token exchange, with nothing of tokenclient's: an ES256
 * signature over an assertion's signing input, made the fastest way OpenSSL
 * offers (a one-shot SHA-256, then ECDSA_do_sign on a key set up once: the
 * calls tokenclient makes, without encoding anything), and a fixed 550-byte
 * form POSTed over one reused libcurl easy handle, the answer collected into
 * a buffer and not parsed. These are limits: anything that signs with
 * OpenSSL and POSTs with libcurl does at least this work. bench/raw_curl.c
 * and tc_bench time them from C; bench/go times them from Go, one cgo call
 * per operation as the Go binding makes, which gives the binding's limits in
 * the Go process itself.
 *
 * Errors end the process: this is benchmark code. Includers define
 * _POSIX_C_SOURCE 200809L (clock_gettime) before any header.
 */
#ifndef TOKENCLIENT_BENCH_RAW_EXCHANGE_H
#define TOKENCLIENT_BENCH_RAW_EXCHANGE_H

/* ECDSA_do_sign and EVP_PKEY_get1_EC_KEY are deprecated in OpenSSL 3, not
 * removed: they are what tokenclient calls. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <curl/curl.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

enum { RAW_BODY_LEN = 550 };

struct raw_sink {
  char data[4096];
  size_t len;
};

struct raw_signer {
  EC_KEY *key;
  unsigned char *input;
  size_t input_len;
};

struct raw_poster {
  CURL *handle;
  struct curl_slist *headers;
  struct raw_sink sink;
  char body[RAW_BODY_LEN + 1];
};

static inline void raw_die(const char *what) {
  fprintf(stderr, "raw exchange: %s failed\n", what);
  exit(1);
}

static size_t raw_on_write(char *ptr, size_t size, size_t nmemb, void *user) {
  struct raw_sink *s = user;
  size_t n = size * nmemb;
  if (s->len + n > sizeof s->data) return 0; /* too large: abort */
  memcpy(s->data + s->len, ptr, n);
  s->len += n;
  return n;
}

/* Loads the ES256 key (PEM) and the signing input (an assertion's
 * header.payload). */
static inline void raw_signer_load(struct raw_signer *g, const char *keyfile, const char *inputfile) {
  FILE *f = fopen(keyfile, "r");
  if (!f) raw_die(keyfile);
  EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  if (!pkey) raw_die("loading the key");
  g->key = EVP_PKEY_get1_EC_KEY(pkey);
  EVP_PKEY_free(pkey);
  if (!g->key) raw_die("EVP_PKEY_get1_EC_KEY");
  g->input = (unsigned char *)slurp(inputfile, &g->input_len);
  if (g->input_len == 0) raw_die(inputfile);
}

static inline void raw_sign(const struct raw_signer *g) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(g->input, g->input_len, digest);
  ECDSA_SIG *sig = ECDSA_do_sign(digest, sizeof digest, g->key);
  if (!sig) raw_die("signing");
  ECDSA_SIG_free(sig);
}

static inline void raw_signer_free(struct raw_signer *g) {
  EC_KEY_free(g->key);
  free(g->input);
}

/* One easy handle for `url` with the headers a token client sends, and a
 * client_credentials form of the length tokenclient sends with an ES256
 * assertion (the assertion part is filler). Call curl_global_init first. */
static inline struct raw_poster *raw_poster_new(const char *url) {
  struct raw_poster *p = calloc(1, sizeof *p);
  if (!p) raw_die("calloc");
  int head = snprintf(p->body, sizeof p->body, "%s",
                      "grant_type=client_credentials&client_id=bench-client&client_assertion_type="
                      "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=");
  for (int i = head; i < RAW_BODY_LEN; i++) p->body[i] = (char)('A' + i % 26);
  p->body[RAW_BODY_LEN] = 0;
  p->handle = curl_easy_init();
  p->headers = curl_slist_append(p->headers, "Content-Type: application/x-www-form-urlencoded");
  p->headers = curl_slist_append(p->headers, "Accept: application/json");
  p->headers = curl_slist_append(p->headers, "Expect:");
  if (!p->handle || !p->headers) raw_die("curl_easy_init");
  CURL *h = p->handle;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, p->body);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)RAW_BODY_LEN);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, p->headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "raw_curl/1");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, raw_on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &p->sink);
  return p;
}

static inline void raw_post(struct raw_poster *p) {
  p->sink.len = 0;
  CURLcode rc = curl_easy_perform(p->handle);
  long status = 0;
  curl_easy_getinfo(p->handle, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK || status != 200 || p->sink.len == 0) {
    fprintf(stderr, "raw exchange: request failed: %s (HTTP %ld)\n", curl_easy_strerror(rc), status);
    exit(1);
  }
}

static inline void raw_poster_free(struct raw_poster *p) {
  curl_slist_free_all(p->headers);
  curl_easy_cleanup(p->handle);
  free(p);
}

#endif
