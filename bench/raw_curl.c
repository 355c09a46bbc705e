/*
 * The raw libcurl limit of a token request: a fixed 550-byte form body
 * POSTed over ONE reused easy handle (one keep-alive connection), with the
 * headers a token client sends; the answer is collected into a buffer and
 * not parsed.
 *
 * Usage: raw_curl URL SECONDS   prints "raw_curl <requests/s>"
 *        raw_curl URL SECONDS ES256-KEYFILE INPUTFILE
 *          also signs INPUTFILE with EVP_DigestSign (ES256, on a copy of a
 *          context set up once) before every POST: the measured composed
 *          limit of an exchange, printed as "raw_curl_sign <requests/s>"
 *        raw_curl --version     prints the libcurl version
 */
#define _POSIX_C_SOURCE 200809L
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

enum { BODY_LEN = 550 };

struct sink {
  char data[4096];
  size_t len;
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *user) {
  struct sink *s = user;
  size_t n = size * nmemb;
  if (s->len + n > sizeof s->data) return 0; /* too large: abort */
  memcpy(s->data + s->len, ptr, n);
  s->len += n;
  return n;
}

/* The raw signing step of the composed limit: a P-256 signature over the
 * input, as bench/raw_sign.c makes them ("dup"). */
struct signer {
  EVP_PKEY *key;
  EVP_MD_CTX *template;
  unsigned char *input;
  size_t input_len;
};

static int signer_load(struct signer *g, const char *keyfile, const char *inputfile) {
  FILE *f = fopen(keyfile, "r");
  if (!f) return 0;
  g->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  if (!g->key) return 0;
  g->input = (unsigned char *)slurp(inputfile, &g->input_len);
  g->template = EVP_MD_CTX_new();
  return g->input_len > 0 && g->template &&
         EVP_DigestSignInit(g->template, NULL, EVP_sha256(), NULL, g->key) == 1;
}

static void sign(const struct signer *g) {
  unsigned char sig[256];
  size_t sig_len = sizeof sig;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_MD_CTX_copy_ex(ctx, g->template) != 1 ||
      EVP_DigestSign(ctx, sig, &sig_len, g->input, g->input_len) != 1) {
    fprintf(stderr, "raw_curl: signing failed\n");
    exit(1);
  }
  EVP_MD_CTX_free(ctx);
}

static void post(CURL *h, struct sink *s) {
  s->len = 0;
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK || status != 200 || s->len == 0) {
    fprintf(stderr, "raw_curl: request failed: %s (HTTP %ld)\n", curl_easy_strerror(rc), status);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("%s\n", curl_version_info(CURLVERSION_NOW)->version);
    return 0;
  }
  if (argc != 3 && argc != 5) {
    fprintf(stderr, "usage: %s URL SECONDS [ES256-KEYFILE INPUTFILE] | --version\n", argv[0]);
    return 2;
  }
  double seconds = atof(argv[2]);
  struct signer g = {0};
  int signing = argc == 5;
  if (signing && !signer_load(&g, argv[3], argv[4])) {
    fprintf(stderr, "raw_curl: cannot load %s or %s\n", argv[3], argv[4]);
    return 1;
  }

  /* A client_credentials form of the size tokenclient sends with an ES256
   * assertion: the assertion part is filler of the same length. */
  char body[BODY_LEN + 1];
  int head = snprintf(body, sizeof body, "%s",
                      "grant_type=client_credentials&client_id=bench-client&client_assertion_type="
                      "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=");
  for (int i = head; i < BODY_LEN; i++) body[i] = (char)('A' + i % 26);
  body[BODY_LEN] = 0;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *h = curl_easy_init();
  struct sink *s = calloc(1, sizeof *s);
  struct curl_slist *headers = NULL;
  headers = curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:");
  if (!h || !s || !headers) return 1;
  curl_easy_setopt(h, CURLOPT_URL, argv[1]);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)BODY_LEN);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "raw_curl/1");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, s);

  for (int i = 0; i < 50; i++) post(h, s); /* connect and warm up */
  long n = 0;
  double start = now_s(), deadline = start + seconds, t;
  do {
    if (signing) sign(&g);
    post(h, s);
    n++;
  } while ((t = now_s()) < deadline);
  printf("%s %.1f\n", signing ? "raw_curl_sign" : "raw_curl", (double)n / (t - start));
  if (signing) {
    EVP_MD_CTX_free(g.template);
    EVP_PKEY_free(g.key);
    free(g.input);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  free(s);
  curl_global_cleanup();
  return 0;
}
