/* The C tests' check macro: counts passes and failures, says where.
 *
 * A program of one file (test_exchange.c, test_panic.c) includes this as it
 * is: CHECK is a statement and the counters are that file's own.
 *
 * The program of several files, test_core (tests/c/core/), defines
 * CHECK_SHARED_COUNTERS before including this (tests/c/core/core.h does it
 * for each of its files): the counters are atomic, shared by all its files
 * and defined once, in its main.c; CHECK is an expression whose value is
 * whether the check held, and check_at() checks a condition with a
 * description and a place of the caller's own. */
#ifndef TOKENCLIENT_TEST_CHECK_H
#define TOKENCLIENT_TEST_CHECK_H

#include <stdio.h>

#ifndef CHECK_SHARED_COUNTERS

static int passed, failed;

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (cond) {                                                               \
      passed++;                                                               \
    } else {                                                                  \
      failed++;                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                         \
  } while (0)

#else

#include <stdatomic.h>

extern atomic_int passed, failed;

static inline int check_at(int ok, const char *what, const char *file, int line) {
  if (ok) {
    atomic_fetch_add(&passed, 1);
  } else {
    atomic_fetch_add(&failed, 1);
    fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
  }
  return ok;
}

#define CHECK(cond) check_at((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

#endif

#endif
