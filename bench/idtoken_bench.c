/*
 * bench/idtoken_bench.c: ID token validation through the C ABI beside raw
 * OpenSSL verification of the same signature, and the issuer's metadata
 * served from the client's cache.
 *
 *   idtoken_bench KEYFILE ALG SECONDS     (ALG: ES256 or RS256; KEYFILE: its PEM key)
 *
 * A loopback issuer in this process serves the metadata and a JWKS with
 * the key's public half; an ID token is signed with the key. Then, in
 * turns of 50 ms until each has run SECONDS:
 *   - tokenclient_client_validate_id_token (JWKS cached) + tokenclient_string_free;
 *   - the raw verification: SHA-256 of the signing input and the signature
 *     check (ECDSA_do_verify on a parsed r,s / RSA PKCS#1 v1.5 on the digest),
 *     the least any validation must do;
 *   - tokenclient_client_metadata (a copy of the cached document) + free.
 * Prints "idtoken_ALG", "raw_verify_ALG" (per second) and
 * "metadata_cached_ns" (ns per call).
 */
#define _POSIX_C_SOURCE 200809L
/* ECDSA_do_verify on an EC_KEY is deprecated in OpenSSL 3, not removed:
 * it is the least work a P-256 verification can be (as raw_exchange.h's
 * ECDSA_do_sign is for signing), so the limit really bounds the library. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "tokenclient.h"

static void die(const char *what) {
  fprintf(stderr, "idtoken_bench: %s\n", what);
  exit(1);
}

static void b64url(const unsigned char *in, size_t n, char *out) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
    out[o++] = alphabet[v >> 18 & 63];
    out[o++] = alphabet[v >> 12 & 63];
    if (i + 1 < n) out[o++] = alphabet[v >> 6 & 63];
    if (i + 2 < n) out[o++] = alphabet[v & 63];
  }
  out[o] = '\0';
}

static void bn_b64(EVP_PKEY *key, const char *param, size_t pad, char *out) {
  BIGNUM *bn = NULL;
  if (!EVP_PKEY_get_bn_param(key, param, &bn)) die("EVP_PKEY_get_bn_param");
  unsigned char buf[1024];
  int n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
  b64url(buf, (size_t)n, out);
  BN_free(bn);
}

static char metadata[2048], jwks[4096];
static int listen_fd;

static void *serve(void *unused) {
  (void)unused;
  for (;;) {
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0) return NULL;
    char req[4096];
    ssize_t n = recv(fd, req, sizeof req - 1, 0);
    if (n > 0) {
      req[n] = '\0';
      const char *body = strncmp(req, "GET /jwks", 9) == 0 ? jwks : metadata;
      char head[256];
      int h = snprintf(head, sizeof head,
                       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n",
                       strlen(body));
      if (send(fd, head, (size_t)h, MSG_NOSIGNAL) < 0 || send(fd, body, strlen(body), MSG_NOSIGNAL) < 0) {
        /* the client went away: nothing to do */
      }
    }
    close(fd);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) die("usage: idtoken_bench KEYFILE ES256|RS256 SECONDS");
  const char *alg = argv[2];
  const double seconds = atof(argv[3]);
  const int ec = strcmp(alg, "ES256") == 0;
  if (!ec && strcmp(alg, "RS256") != 0) die("ALG is ES256 or RS256");
  FILE *f = fopen(argv[1], "r");
  EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
  if (f) fclose(f);
  if (!key) die("cannot read the key");

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof addr;
  listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) || listen(listen_fd, 16) ||
      getsockname(listen_fd, (struct sockaddr *)&addr, &alen))
    die("listen");
  char issuer[64];
  snprintf(issuer, sizeof issuer, "http://127.0.0.1:%d", ntohs(addr.sin_port));
  snprintf(metadata, sizeof metadata,
           "{\"issuer\":\"%s\",\"token_endpoint\":\"%s/token\",\"jwks_uri\":\"%s/jwks\","
           "\"authorization_endpoint\":\"%s/authorize\",\"id_token_signing_alg_values_supported\":[\"%s\"],"
           "\"token_endpoint_auth_methods_supported\":[\"private_key_jwt\",\"client_secret_basic\"]}",
           issuer, issuer, issuer, issuer, alg);
  char a[700], b[700];
  if (ec) {
    bn_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, 32, a);
    bn_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32, b);
    snprintf(jwks, sizeof jwks, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\",\"x\":\"%s\",\"y\":\"%s\"}]}",
             a, b);
  } else {
    bn_b64(key, OSSL_PKEY_PARAM_RSA_N, 0, a);
    bn_b64(key, OSSL_PKEY_PARAM_RSA_E, 0, b);
    snprintf(jwks, sizeof jwks, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":\"%s\",\"e\":\"%s\"}]}", a, b);
  }
  pthread_t server;
  pthread_create(&server, NULL, serve, NULL);

  /* The ID token. */
  char header[128], claims[512], enc_header[256], enc_claims[800], input[1200], sig64[800], token[2200];
  snprintf(header, sizeof header, "{\"alg\":\"%s\",\"kid\":\"k1\"}", alg);
  long now = (long)time(NULL);
  snprintf(claims, sizeof claims,
           "{\"iss\":\"%s\",\"sub\":\"user-1\",\"aud\":\"bench-client\",\"exp\":%ld,\"iat\":%ld,\"nonce\":\"n1\"}",
           issuer, now + 3600, now);
  b64url((const unsigned char *)header, strlen(header), enc_header);
  b64url((const unsigned char *)claims, strlen(claims), enc_claims);
  snprintf(input, sizeof input, "%s.%s", enc_header, enc_claims);
  unsigned char der[600], raw[600];
  size_t der_len = sizeof der, raw_len;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) ||
      !EVP_DigestSign(md, der, &der_len, (const unsigned char *)input, strlen(input)))
    die("sign");
  EVP_MD_CTX_free(md);
  ECDSA_SIG *ecsig = NULL;
  if (ec) {
    const unsigned char *p = der;
    ecsig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    BN_bn2binpad(ECDSA_SIG_get0_r(ecsig), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(ecsig), raw + 32, 32);
    raw_len = 64;
  } else {
    memcpy(raw, der, der_len);
    raw_len = der_len;
  }
  b64url(raw, raw_len, sig64);
  snprintf(token, sizeof token, "%s.%s", input, sig64);

  tokenclient_client *c = NULL;
  tokenclient_error *e = tokenclient_client_from_issuer(issuer, "bench-client", &c);
  if (e) die(tokenclient_error_message(e));
  char *out = NULL;
  e = tokenclient_client_validate_id_token(c, token, "n1", &out); /* fetches the JWKS */
  if (e) die(tokenclient_error_message(e));
  tokenclient_string_free(out);

  EC_KEY *eckey = NULL;
  if (ec) {
    /* The raw path's key, in the form ECDSA_do_verify takes, made once. */
    unsigned char pub[65];
    size_t pub_len = 0;
    if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &pub_len)) die("pub");
    eckey = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    const unsigned char *pp = pub;
    if (!o2i_ECPublicKey(&eckey, &pp, (long)pub_len)) die("o2i_ECPublicKey");
  }
  EVP_PKEY_CTX *rsa_ctx = NULL;
  if (!ec) {
    rsa_ctx = EVP_PKEY_CTX_new(key, NULL);
    if (!EVP_PKEY_verify_init(rsa_ctx) || EVP_PKEY_CTX_set_rsa_padding(rsa_ctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(rsa_ctx, EVP_sha256()) <= 0)
      die("rsa ctx");
  }

  /* In turns of 50 ms: validate, raw verify, metadata. */
  double spent[3] = {0, 0, 0};
  long ops[3] = {0, 0, 0};
  const size_t input_len = strlen(input);
  while (spent[0] < seconds || spent[1] < seconds || spent[2] < seconds / 4) {
    for (int which = 0; which < 3; which++) {
      double start = now_s(), end;
      long n = 0;
      do {
        for (int i = 0; i < 16; i++) {
          if (which == 0) {
            e = tokenclient_client_validate_id_token(c, token, "n1", &out);
            if (e) die(tokenclient_error_message(e));
            tokenclient_string_free(out);
          } else if (which == 1) {
            unsigned char digest[SHA256_DIGEST_LENGTH];
            SHA256((const unsigned char *)input, input_len, digest);
            int ok = ec ? ECDSA_do_verify(digest, sizeof digest, ecsig, eckey)
                        : EVP_PKEY_verify(rsa_ctx, raw, raw_len, digest, sizeof digest);
            if (ok != 1) die("raw verify failed");
          } else {
            e = tokenclient_client_metadata(c, &out);
            if (e) die(tokenclient_error_message(e));
            tokenclient_string_free(out);
          }
        }
        n += 16;
      } while ((end = now_s()) - start < 0.05);
      spent[which] += end - start;
      ops[which] += n;
    }
  }
  printf("idtoken_%s %.1f\nraw_verify_%s %.1f\nmetadata_cached_ns %.1f\n", alg, ops[0] / spent[0], alg,
         ops[1] / spent[1], spent[2] * 1e9 / ops[2]);
  tokenclient_client_free(c);
  EC_KEY_free(eckey);
  EVP_PKEY_CTX_free(rsa_ctx);
  ECDSA_SIG_free(ecsig);
  EVP_PKEY_free(key);
  return 0;
}
