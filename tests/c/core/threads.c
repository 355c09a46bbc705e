/*
 * tests/c/core/threads.c: threads creating assertions while another swaps
 * the key and audience of the same client (run under ThreadSanitizer by
 * run.sh).
 */
#include "core.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define WORKERS 4
static const char *const SWAP_AUDS[2] = {"https://aud-one.example.com", "https://aud-two.example.com"};

static struct {
    tokenclient_client *client;
    int iterations;
    atomic_int finished;
    atomic_int errors;
    atomic_int swaps;
    atomic_int seen_ed25519; /* assertions signed with the second key */
    atomic_int seen_aud_two; /* assertions with the second audience */
    char *keys[2];
} shared;

static void *worker(void *unused) {
    (void)unused;
    /* Start once the swapper runs, and yield now and then, so that the two
     * interleave even under valgrind, which runs one thread at a time. */
    while (atomic_load(&shared.swaps) == 0) {
        sched_yield();
    }
    for (int i = 0; i < shared.iterations; i++) {
        if (i % 8 == 7) {
            sched_yield();
        }
        char *jwt = NULL;
        tokenclient_error *e = tokenclient_client_create_assertion(shared.client, &jwt);
        if (e) {
            fprintf(stderr, "worker: create_assertion: %s\n", tokenclient_error_message(e));
            tokenclient_error_free(e);
            atomic_fetch_add(&shared.errors, 1);
            continue;
        }
        struct jwt j;
        int ok = jwt_decode(jwt, &j) && strstr(j.payload, "\"iss\":\"" CLIENT_ID "\"") != NULL &&
                 (strstr(j.payload, "\"aud\":\"https://aud-one.example.com\"") != NULL ||
                  strstr(j.payload, "\"aud\":\"https://aud-two.example.com\"") != NULL) &&
                 (strstr(j.header, "\"alg\":\"ES256\"") != NULL || strstr(j.header, "\"alg\":\"EdDSA\"") != NULL);
        if (ok && strstr(j.header, "EdDSA") != NULL) {
            atomic_fetch_add(&shared.seen_ed25519, 1);
        }
        if (ok && strstr(j.payload, "aud-two") != NULL) {
            atomic_fetch_add(&shared.seen_aud_two, 1);
        }
        if (!ok) {
            fprintf(stderr, "worker: unexpected assertion: %s . %s\n", j.header ? j.header : "?",
                    j.payload ? j.payload : "?");
            atomic_fetch_add(&shared.errors, 1);
        }
        jwt_free(&j);
        tokenclient_string_free(jwt);
    }
    atomic_fetch_add(&shared.finished, 1);
    return NULL;
}

static void *swapper(void *unused) {
    (void)unused;
    /* At least a few swaps even when the workers are quick. */
    for (int i = 1; atomic_load(&shared.finished) < WORKERS || i <= 4; i++) {
        tokenclient_error *e = tokenclient_client_set_private_key(shared.client, shared.keys[i % 2], NULL, NULL);
        if (!e) {
            e = tokenclient_client_set_audience(shared.client, SWAP_AUDS[i % 2]);
        }
        if (e) {
            fprintf(stderr, "swapper: %s\n", tokenclient_error_message(e));
            tokenclient_error_free(e);
            atomic_fetch_add(&shared.errors, 1);
        }
        atomic_fetch_add(&shared.swaps, 1);
        sched_yield();
    }
    return NULL;
}

void test_threads(int iterations) {
    shared.client = new_client();
    shared.iterations = iterations;
    shared.keys[0] = read_key("p256.pem");
    shared.keys[1] = read_key("ed25519.pem");
    EXPECT_OK(tokenclient_client_set_private_key(shared.client, shared.keys[0], NULL, NULL));
    EXPECT_OK(tokenclient_client_set_audience(shared.client, SWAP_AUDS[0]));
    pthread_t threads[WORKERS + 1];
    int started = 0;
    for (int i = 0; i < WORKERS; i++) {
        started += pthread_create(&threads[i], NULL, worker, NULL) == 0;
    }
    started += pthread_create(&threads[WORKERS], NULL, swapper, NULL) == 0;
    CHECK(started == WORKERS + 1);
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
    }
    CHECK(atomic_load(&shared.errors) == 0);
    CHECK(atomic_load(&shared.swaps) >= 4);
    printf("threads: %d x %d assertions while %d key/audience swaps: %d errors; "
           "%d signed with the Ed25519 key, %d for the second audience\n",
           WORKERS, iterations, atomic_load(&shared.swaps), atomic_load(&shared.errors),
           atomic_load(&shared.seen_ed25519), atomic_load(&shared.seen_aud_two));
    tokenclient_client_free(shared.client);
    free(shared.keys[0]);
    free(shared.keys[1]);
}
