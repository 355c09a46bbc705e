/*
 * Cached tokenclient_client_get_token latency, side by side with a baseline
 * of comparable bookkeeping (a mutex lock/unlock and a malloc/free pair).
 * Inputs: TOKEN_URL, CLIENT_ID, CLIENT_SECRET (client_secret_post).
 * Prints one line per measurement: name, median ns/op, min, max.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tokenclient.h"

enum { ROUNDS = 7, ITERATIONS = 200000 };

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void report(const char *name, double *ns) {
  qsort(ns, ROUNDS, sizeof *ns, cmp);
  printf("%s %.1f %.1f %.1f\n", name, ns[ROUNDS / 2], ns[0], ns[ROUNDS - 1]);
}

int main(void) {
  tokenclient_client *c = NULL;
  tokenclient_token *t = NULL;
  tokenclient_error *err = tokenclient_client_new(getenv("TOKEN_URL"), getenv("CLIENT_ID"), &c);
  if (!err) err = tokenclient_client_set_client_secret(c, getenv("CLIENT_SECRET"), TOKENCLIENT_AUTH_CLIENT_SECRET_POST);
  if (!err) err = tokenclient_client_get_token(c, "read", &t); /* fills the cache */
  if (err) {
    fprintf(stderr, "setup failed: %s\n", tokenclient_error_message(err));
    return 1;
  }
  tokenclient_token_free(t);

  double cached[ROUNDS], baseline[ROUNDS];
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  volatile void *sink;
  for (int r = 0; r < ROUNDS; r++) { /* interleaved rounds */
    double start = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
      tokenclient_client_get_token(c, "read", &t);
      tokenclient_token_free(t);
    }
    cached[r] = (now_ns() - start) / ITERATIONS;
    start = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
      pthread_mutex_lock(&m);
      void *p = malloc(16);
      sink = p;
      pthread_mutex_unlock(&m);
      free(p);
    }
    baseline[r] = (now_ns() - start) / ITERATIONS;
  }
  (void)sink;
  report("cached_get_token", cached);
  report("baseline_mutex_malloc", baseline);
  tokenclient_client_free(c);
  return 0;
}
