/*
 * tests/c/core/main.c: test_core, every function of include/tokenclient.h,
 * without a network. Its files, each a concern (their tests are declared
 * in core.h and run here, in this order):
 *
 *  - accessors.c: the version string; the error and token accessors.
 *  - arguments.c: client creation and every setter's and exchange's
 *    arguments: NULL in each pointer argument gives
 *    TOKENCLIENT_ERROR_INVALID_ARGUMENT and leaves the out-parameter as it
 *    was; invalid UTF-8 in each string argument likewise; every setter's
 *    accepted and refused values. Every *_free and accessor accepts NULL
 *    (here and in accessors.c).
 *  - keys.c: private keys of every format the header names (made by run.sh
 *    with the openssl CLI), the keys it refuses, algorithm checks, JWKs,
 *    client secrets.
 *  - claims.c: the claims of assertions, decoded here (the signatures are
 *    verified elsewhere, with PyJWT).
 *  - providers.c: the providers' token URLs.
 *  - exchanges.c, exchange_errors.c, cache.c: token exchanges, the token
 *    cache and every token and error accessor, against a tiny HTTP server
 *    on 127.0.0.1 run by this program (server.c).
 *  - threads.c: threads creating assertions while another swaps the key and
 *    audience.
 *  - signer.c: an external signer (a C callback holding an OpenSSL key).
 *  - helpers.c, jwt.c: the checks and helpers the others share.
 *
 * Usage: test_core KEY_DIR
 * Environment: TC_ITERATIONS (assertions per thread, default 500; run.sh
 * lowers it under valgrind), TC_TIMING=1 (print how long each part takes), TC_QUICK=1
 * (fewer RSA key parses, for valgrind).
 * Prints "N passed, N failed" last; exits non-zero on any failure.
 */
#include "core.h"

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* The counters of check.h, for all the files. */
atomic_int passed;
atomic_int failed;

const char *key_dir;
int quick;

/* With TC_TIMING=1, prints how long each part took (to find what is slow
 * under valgrind). */
static int timing;

static void run_timed(const char *name, void (*fn)(void)) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (timing) {
        fprintf(stderr, "timing: %-28s %8.3f s\n", name,
                (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    }
}

#define RUN(fn) run_timed(#fn, fn)

static int iterations = 500;

static void test_threads_default(void) { test_threads(iterations); }
/* 8 threads x 1000 assertions through one callback signer by default. */
static void test_signer_threads_default(void) { test_signer_threads(2 * iterations); }

static void test_server(void) {
    if (CHECK(server_start())) {
        test_exchanges();
        test_exchange_errors();
        test_cache();
        test_events();
        test_cancel();
        test_signer();
        server_stop();
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s KEY_DIR\n", argv[0]);
        return 2;
    }
    key_dir = argv[1];
    const char *env = getenv("TC_ITERATIONS");
    if (env && atoi(env) > 0) {
        iterations = atoi(env);
    }
    env = getenv("TC_QUICK");
    quick = env != NULL && strcmp(env, "1") == 0;
    env = getenv("TC_TIMING");
    timing = env != NULL && strcmp(env, "1") == 0;
    setvbuf(stdout, NULL, _IONBF, 0);
    /* A hang (a deadlock in the library) ends the run instead of blocking it. */
    alarm(600);

    RUN(test_version);
    RUN(test_error_accessors);
    RUN(test_client_new);
    RUN(test_setter_arguments);
    RUN(test_exchange_arguments);
    RUN(test_token_accessors_null);
    RUN(test_keys);
    RUN(test_jwk);
    RUN(test_client_secret_jwt);
    RUN(test_claims);
    RUN(test_provider_urls);
    RUN(test_server);
    RUN(test_threads_default);
    RUN(test_signer_arguments);
    RUN(test_dpop_signer);
    RUN(test_signer_threads_default);

    int p = atomic_load(&passed), f = atomic_load(&failed);
    printf("%d passed, %d failed\n", p, f);
    return f == 0 ? 0 : 1;
}
