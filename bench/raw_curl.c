/*
 * The raw libcurl limit of a token request: a fixed 550-byte form body
 * POSTed over ONE reused easy handle (one keep-alive connection), with the
 * headers a token client sends; the answer is collected into a buffer and
 * not parsed (bench/raw_exchange.h). tc_bench's `paired` mode measures the
 * same POST, with and without a signature before it, beside tokenclient's
 * exchanges in one process.
 *
 * Usage: raw_curl URL SECONDS   prints "raw_curl <requests/s>"
 *        raw_curl --version     prints the libcurl version
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raw_exchange.h"

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("%s\n", curl_version_info(CURLVERSION_NOW)->version);
    return 0;
  }
  if (argc != 3) {
    fprintf(stderr, "usage: %s URL SECONDS | --version\n", argv[0]);
    return 2;
  }
  double seconds = atof(argv[2]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct raw_poster *p = raw_poster_new(argv[1]);
  for (int i = 0; i < 50; i++) raw_post(p); /* connect and warm up */
  long n = 0;
  double start = now_s(), deadline = start + seconds, t;
  do {
    raw_post(p);
    n++;
  } while ((t = now_s()) < deadline);
  printf("raw_curl %.1f\n", (double)n / (t - start));
  raw_poster_free(p);
  curl_global_cleanup();
  return 0;
}
