/*
 * The raw OpenSSL limit of signing a JWS: the signing input (a file holding
 * a real assertion's "header.payload", ~300 bytes) signed with the EVP API
 * and a key loaded once, as a careful C program would: per signature
 * EVP_MD_CTX_new, EVP_DigestSignInit (with the padding for PS256),
 * EVP_DigestSign, EVP_MD_CTX_free. No base64, no DER-to-JOSE conversion.
 *
 * Usage: raw_sign ALG KEYFILE INPUTFILE SECONDS dup|init
 *   ALG: ES256 ES384 RS256 PS256 EdDSA HS256. KEYFILE: a PEM private key, or
 *   for HS256 the secret itself. Prints "raw_sign_<ALG> <signatures/s>".
 *   dup: each signature on a copy of a context set up once; init: a context
 *   set up per signature.
 * Usage: raw_sign ALG KEYFILE INPUTFILE REPS setkey
 *   The raw side of tokenclient's key set-up figures: REPS times, the key
 *   loaded with PEM_read_bio_PrivateKey and the first signature with it;
 *   the first rep (the process's first key and signature: OpenSSL's
 *   one-time start-up) as "..._cold_us", then the medians.
 */
#define _POSIX_C_SOURCE 200809L
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

static void die(const char *what) {
  fprintf(stderr, "raw_sign: %s failed\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

struct alg {
  const char *name;
  const EVP_MD *(*md)(void); /* NULL: no digest (EdDSA) */
  int pss;
};

static const EVP_MD *no_md(void) { return NULL; }

static const struct alg ALGS[] = {
    {"ES256", EVP_sha256, 0}, {"ES384", EVP_sha384, 0}, {"RS256", EVP_sha256, 0},
    {"PS256", EVP_sha256, 1}, {"EdDSA", no_md, 0},      {"HS256", EVP_sha256, 0},
};

/* A context ready to sign with `key`. */
static EVP_MD_CTX *init_ctx(const struct alg *a, EVP_PKEY *key) {
  EVP_PKEY_CTX *pctx = NULL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) die("EVP_MD_CTX_new");
  if (EVP_DigestSignInit(ctx, &pctx, a->md(), NULL, key) != 1) die("EVP_DigestSignInit");
  if (a->pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                 EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, a->md()) != 1))
    die("PSS parameters");
  return ctx;
}

/* One signature: with `template` NULL, a context set up for it alone;
 * otherwise a copy of `template`, set up once. */
static void sign_once(const struct alg *a, EVP_PKEY *key, const EVP_MD_CTX *template, const unsigned char *in,
                      size_t in_len) {
  unsigned char sig[1024];
  size_t sig_len = sizeof sig;
  EVP_MD_CTX *ctx;
  if (template) {
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_MD_CTX_copy_ex(ctx, template) != 1) die("EVP_MD_CTX_copy_ex");
  } else {
    ctx = init_ctx(a, key);
  }
  if (EVP_DigestSign(ctx, sig, &sig_len, in, in_len) != 1) die("EVP_DigestSign");
  EVP_MD_CTX_free(ctx);
}

static EVP_PKEY *load_key(const struct alg *a, char *key_text, size_t key_len) {
  EVP_PKEY *key;
  if (strcmp(a->name, "HS256") == 0) {
    key = EVP_PKEY_new_raw_private_key(EVP_PKEY_HMAC, NULL, (unsigned char *)key_text, key_len);
  } else {
    BIO *bio = BIO_new_mem_buf(key_text, (int)key_len);
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
  }
  if (!key) die("loading the key");
  return key;
}

static int run_setkey(const struct alg *a, char *key_text, size_t key_len, const unsigned char *in, size_t in_len,
                      int reps) {
  double *load = calloc((size_t)reps, sizeof *load), *first = calloc((size_t)reps, sizeof *first);
  if (reps < 1 || !load || !first) return 2;
  for (int i = 0; i < reps; i++) {
    double t0 = now_s();
    EVP_PKEY *key = load_key(a, key_text, key_len);
    double t1 = now_s();
    sign_once(a, key, NULL, in, in_len);
    double t2 = now_s();
    load[i] = (t1 - t0) * 1e6;
    first[i] = (t2 - t1) * 1e6;
    EVP_PKEY_free(key);
  }
  printf("raw_setkey_%s_cold_us %.1f\nraw_first_sign_%s_cold_us %.1f\n", a->name, load[0], a->name, first[0]);
  qsort(load, (size_t)reps, sizeof *load, cmp_double);
  qsort(first, (size_t)reps, sizeof *first, cmp_double);
  printf("raw_setkey_%s_us %.1f\nraw_first_sign_%s_us %.1f\n", a->name, load[reps / 2], a->name, first[reps / 2]);
  free(load);
  free(first);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 6 || (strcmp(argv[5], "dup") != 0 && strcmp(argv[5], "init") != 0 && strcmp(argv[5], "setkey") != 0)) {
    fprintf(stderr, "usage: %s ALG KEYFILE INPUTFILE SECONDS dup|init, or %s ALG KEYFILE INPUTFILE REPS setkey\n",
            argv[0], argv[0]);
    return 2;
  }
  int dup = strcmp(argv[5], "dup") == 0;
  const struct alg *a = NULL;
  for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
    if (strcmp(argv[1], ALGS[i].name) == 0) a = &ALGS[i];
  if (!a) {
    fprintf(stderr, "raw_sign: unknown algorithm %s\n", argv[1]);
    return 2;
  }
  size_t key_len, in_len;
  char *key_text = slurp(argv[2], &key_len);
  char *input = slurp(argv[3], &in_len);
  const unsigned char *in = (const unsigned char *)input;
  if (strcmp(argv[5], "setkey") == 0) return run_setkey(a, key_text, key_len, in, in_len, atoi(argv[4]));
  double seconds = atof(argv[4]);
  EVP_PKEY *key = load_key(a, key_text, key_len);

  EVP_MD_CTX *template = dup ? init_ctx(a, key) : NULL;
  for (int i = 0; i < 20; i++) sign_once(a, key, template, in, in_len); /* warm-up */
  long n = 0;
  double start = now_s(), deadline = start + seconds, t;
  do { /* the clock is read every 8 signatures: HMAC takes ~1 µs */
    for (int i = 0; i < 8; i++) sign_once(a, key, template, in, in_len);
    n += 8;
  } while ((t = now_s()) < deadline);
  printf("raw_sign_%s%s %.1f\n", dup ? "" : "init_", a->name, (double)n / (t - start));
  EVP_MD_CTX_free(template);
  EVP_PKEY_free(key);
  free(key_text);
  free(input);
  return 0;
}
