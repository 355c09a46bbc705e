/* Helpers shared by the benchmark's C programs (each includes this once). */
#ifndef TOKENCLIENT_BENCH_COMMON_H
#define TOKENCLIENT_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Monotonic seconds. */
static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds used by the calling thread (user and kernel). */
static inline double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The whole file, NUL-terminated, without trailing CR/LF (a secret's or a
 * signing input's final newline is not part of it); its length goes to
 * *len when len is not NULL. Exits when the file cannot be read. */
static inline char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  char *data = NULL;
  size_t cap = 0, n = 0, r;
  do {
    if (n + 4096 > cap) {
      cap = cap * 2 + 4096;
      data = realloc(data, cap);
      if (!data) exit(1);
    }
    r = fread(data + n, 1, cap - n - 1, f);
    n += r;
  } while (r > 0);
  fclose(f);
  while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r')) n--;
  data[n] = 0;
  if (len) *len = n;
  return data;
}

/* For qsort of doubles, ascending. */
static inline int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#endif
