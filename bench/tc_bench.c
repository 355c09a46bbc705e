/*
 * tokenclient through its C ABI: one measurement per invocation, printed as
 * lines "name value" (rates in operations per second, times in µs).
 *
 *   tc_bench assert URL ALG KEYFILE SECONDS
 *       tokenclient_client_create_assertion + tokenclient_string_free.
 *       ALG: ES256 ES384 RS256 PS256 EdDSA (KEYFILE a PEM key), or HS256
 *       (KEYFILE holds the 32-byte client secret; client_secret_jwt).
 *   tc_bench setkey URL ALG KEYFILE REPS
 *       REPS fresh clients: the time of tokenclient_client_set_private_key
 *       and of the first assertion after it; medians, and the first rep
 *       (the process's first use of the key type) as "..._cold_us".
 *   tc_bench exchange URL KEYFILE THREADS SECONDS
 *       tokenclient_client_client_credentials + tokenclient_token_free with
 *       an ES256 key, THREADS threads sharing one client; total rate.
 *   tc_bench paired URL KEYFILE INPUTFILE SECONDS
 *       five measurements in turns of SLICE_S each in one process, in an
 *       order shuffled every cycle, so that all see the same conditions
 *       (other load, how awake the CPUs are): the 1-thread ES256 exchange;
 *       from raw_exchange.h, the raw signature then the raw POST (the
 *       composed limit, measured), the raw POST alone and the raw signature
 *       alone (the composed limit's terms); and a spin as long as a
 *       signature that touches no memory, then the raw POST (what any work
 *       between POSTs costs, beside what the signature costs). Prints each
 *       rate as "<name>_paired", the CPU time this thread spent per
 *       operation (user and kernel: on loopback the kernel also runs the
 *       receiving side's TCP work on the sending thread) as
 *       "<name>_paired_cpu_us", and how long each spin lasted as
 *       "spin_paired_us".
 *   tc_bench dpop URL KEYFILE INPUTFILE SECONDS
 *       DPoP, in turns as for paired: tokenclient_client_dpop_proof (a
 *       resource request's proof, ES256) beside the raw ES256 signature
 *       of a proof's signing input; a DPoP exchange (ES256 assertion and
 *       ES256 proof, one POST) beside the raw limit: two raw signatures
 *       (of that input), then the raw POST. Prints
 *       "dpop_proof_paired", "dpop_raw_sign_paired", "dpop_exchange_paired",
 *       "dpop_raw_exchange_paired" (rates) and each "_cpu_us".
 *   tc_bench signer URL KEYFILE INPUTFILE PKCS11_URI MODULE PIN SECONDS
 *       signers, in turns as for paired: the built-in ES256 assertion; the
 *       same key behind a tokenclient_sign_fn callback; an assertion by the
 *       P-256 key of a SoftHSM2 token (PKCS11_URI, SOFTHSM2_CONF set); and
 *       SoftHSM2's own rate through its C API (C_SignInit + C_Sign on a
 *       session of its own). Prints "signer_builtin_paired",
 *       "signer_callback_paired", "signer_pkcs11_paired",
 *       "signer_raw_pkcs11_paired" (rates) and each "_cpu_us".
 *   tc_bench cached URL SECONDS
 *       a cached tokenclient_client_get_token + tokenclient_token_free
 *       (client_secret_post; the cache is filled first).
 *   tc_bench observed URL KEYFILE SECONDS
 *       what events cost, in turns of SLICE_S in one process: a cached
 *       get_token on a client without a log callback and on one whose
 *       callback is set at TOKENCLIENT_LOG_WARN (cache hits are debug: it
 *       is never called); a 1-thread ES256 exchange without a callback and
 *       with one at TOKENCLIENT_LOG_DEBUG (called twice per exchange).
 *       Prints "cached_plain_obs", "cached_warn_obs", "exchange_plain_obs"
 *       and "exchange_debug_obs" (rates), and "debug_events_per_exchange".
 *   tc_bench store URL DIR REDIS_URL SECONDS
 *       the shared token store (clients like `cached`'s: client_secret_post,
 *       the same credentials, so the same entry). In turns of SLICE_S in one
 *       process: a cached get_token on a client with the file store in DIR
 *       and on one without ("cached_store_on", "cached_store_off": the
 *       in-process cache serves both). Then, in turns: a fresh client
 *       (tokenclient_client_new, the client secret, set_token_store,
 *       get_token, free: what a new process does) whose store already holds
 *       the token, file ("store_hit_file") and Redis ("store_hit_redis", when
 *       REDIS_URL is not "-"); the same without a store, which POSTs to URL
 *       on a new connection ("fresh_request"); and a fresh client made and
 *       freed without get_token ("fresh_client", the set-up all three pay).
 *       Rates, each fresh op's "_cpu_us", and "store_hit_*_requests": the
 *       token requests of a fresh client of each store afterwards (0).
 *   tc_bench store_cold URL STORE_URL START
 *       one of many processes sharing STORE_URL: a client set up at once,
 *       then one get_token at START (wall-clock seconds since the epoch).
 *       Prints "ok 1", "requested" (the tokens it obtained from URL itself),
 *       "fallbacks" (store.fallback events, each also written to stderr),
 *       "ready_ms" (before START; negative when late) and "get_token_ms".
 *   tc_bench cancel ROUNDS
 *       how long a cancelled call takes to return: ROUNDS times, a
 *       client_credentials_ex to a loopback socket that never accepts (the
 *       request sits unanswered), then get_token_ex waiting on it, each
 *       cancelled from another thread 20-25 ms in. Prints "cancel_exchange_ms"
 *       and "cancel_get_token_ms" (median from the cancel to the return),
 *       and "_max_ms" of each.
 *   tc_bench baseline SECONDS
 *       a mutex lock/unlock and a malloc/free pair, for scale beside cached.
 *   tc_bench input URL KEYFILE
 *       prints the signing input ("header.payload") of an ES256 assertion.
 *   tc_bench version
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "raw_exchange.h"
#include "tokenclient.h"

static const char CLIENT_ID[] = "bench-client";
static const char KEY_ID[] = "bench-key";

static void check(tokenclient_error *err, const char *what) {
  if (err) {
    fprintf(stderr, "tc_bench: %s failed: %s\n", what, tokenclient_error_message(err));
    exit(1);
  }
}

static tokenclient_client *new_client(const char *url) {
  tokenclient_client *c = NULL;
  check(tokenclient_client_new(url, CLIENT_ID, &c), "tokenclient_client_new");
  check(tokenclient_client_set_proxy(c, ""), "tokenclient_client_set_proxy");
  return c;
}

/* Sets the credentials of `alg` from the text of KEYFILE. */
static void set_credentials(tokenclient_client *c, const char *alg, const char *key) {
  if (strcmp(alg, "HS256") == 0) {
    check(tokenclient_client_set_client_secret(c, key, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT),
          "tokenclient_client_set_client_secret");
    check(tokenclient_client_set_hmac_alg(c, "HS256"), "tokenclient_client_set_hmac_alg");
  } else {
    check(tokenclient_client_set_private_key(c, key, KEY_ID, alg), "tokenclient_client_set_private_key");
  }
}

static void assertion(const tokenclient_client *c) {
  char *jwt = NULL;
  check(tokenclient_client_create_assertion(c, &jwt), "tokenclient_client_create_assertion");
  tokenclient_string_free(jwt);
}

static void exchange(const tokenclient_client *c) {
  tokenclient_token *t = NULL;
  check(tokenclient_client_client_credentials(c, NULL, &t), "tokenclient_client_client_credentials");
  tokenclient_token_free(t);
}

static int run_assert(const char *url, const char *alg, const char *keyfile, double seconds) {
  char *key = slurp(keyfile, NULL);
  tokenclient_client *c = new_client(url);
  set_credentials(c, alg, key);
  for (int i = 0; i < 20; i++) assertion(c); /* warm-up */
  long n = 0;
  double start = now_s(), deadline = start + seconds, t;
  do { /* the clock is read every 8 assertions: HS256 takes ~1 µs */
    for (int i = 0; i < 8; i++) assertion(c);
    n += 8;
  } while ((t = now_s()) < deadline);
  printf("tc_assert_%s %.1f\n", alg, (double)n / (t - start));
  tokenclient_client_free(c);
  free(key);
  return 0;
}

static int run_setkey(const char *url, const char *alg, const char *keyfile, int reps) {
  char *key = slurp(keyfile, NULL);
  double *set = calloc((size_t)reps, sizeof *set), *first = calloc((size_t)reps, sizeof *first);
  if (reps < 1 || !set || !first) return 2;
  for (int i = 0; i < reps; i++) {
    tokenclient_client *c = new_client(url);
    double t0 = now_s();
    set_credentials(c, alg, key);
    double t1 = now_s();
    assertion(c);
    double t2 = now_s();
    set[i] = (t1 - t0) * 1e6;
    first[i] = (t2 - t1) * 1e6;
    tokenclient_client_free(c);
  }
  printf("setkey_%s_cold_us %.1f\nfirst_assertion_%s_cold_us %.1f\n", alg, set[0], alg, first[0]);
  qsort(set, (size_t)reps, sizeof *set, cmp_double);
  qsort(first, (size_t)reps, sizeof *first, cmp_double);
  printf("setkey_%s_us %.1f\nfirst_assertion_%s_us %.1f\n", alg, set[reps / 2], alg, first[reps / 2]);
  free(set);
  free(first);
  free(key);
  return 0;
}

struct worker {
  pthread_t thread;
  const tokenclient_client *client;
  pthread_barrier_t *barrier;
  const double *deadline;
  long ops;
  double end;
};

static void *work(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < 20; i++) exchange(w->client); /* connect and warm up */
  pthread_barrier_wait(w->barrier);                  /* all warmed up */
  pthread_barrier_wait(w->barrier);                  /* the deadline is set */
  long n = 0;
  double t;
  do {
    exchange(w->client);
    n++;
  } while ((t = now_s()) < *w->deadline);
  w->ops = n;
  w->end = t;
  return NULL;
}

static int run_exchange(const char *url, const char *keyfile, int threads, double seconds) {
  char *key = slurp(keyfile, NULL);
  tokenclient_client *c = new_client(url);
  set_credentials(c, "ES256", key);
  struct worker *w = calloc((size_t)threads, sizeof *w);
  pthread_barrier_t barrier;
  double deadline = 0;
  if (threads < 1 || !w || pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1) != 0) return 2;
  for (int i = 0; i < threads; i++) {
    w[i] = (struct worker){.client = c, .barrier = &barrier, .deadline = &deadline};
    if (pthread_create(&w[i].thread, NULL, work, &w[i]) != 0) return 1;
  }
  pthread_barrier_wait(&barrier);
  double start = now_s();
  deadline = start + seconds;
  pthread_barrier_wait(&barrier);
  long total = 0;
  double end = start;
  for (int i = 0; i < threads; i++) {
    pthread_join(w[i].thread, NULL);
    total += w[i].ops;
    if (w[i].end > end) end = w[i].end;
  }
  printf("tc_exchange_%dt %.1f\n", threads, (double)total / (end - start));
  pthread_barrier_destroy(&barrier);
  free(w);
  tokenclient_client_free(c);
  free(key);
  return 0;
}

static const double SLICE_S = 0.05;

/* The operations of `paired`, in the order they take turns. */
enum { TC_EXCHANGE, RAW_EXCHANGE, RAW_POST, RAW_SIGN, SPIN_POST, PAIRED_OPS };
static const char *const PAIRED_NAMES[PAIRED_OPS] = {"tc_exchange_paired", "raw_exchange_paired", "raw_post_paired",
                                                     "raw_sign_paired", "spin_post_paired"};

/* Puts the `n` entries of `order` in a random order (Fisher-Yates). */
static void shuffle(int *order, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = rand() % (i + 1), k = order[i];
    order[i] = order[j];
    order[j] = k;
  }
}

/* Computes for `seconds` on registers alone, touching no memory; returns
 * the result so that the work is not optimized away. */
static uint64_t spin(double seconds) {
  uint64_t x = 1;
  double end = now_s() + seconds;
  while (now_s() < end)
    for (int i = 0; i < 64; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
  return x;
}

/* Runs the `ops` operations of `step` in turns of SLICE_S each, in an
 * order shuffled every cycle (what one op leaves behind, warm caches or an
 * awake CPU, helps whichever op comes next), until each has run `seconds`
 * in all; counts each op's runs, wall time and this thread's CPU time. */
static void in_turns(int ops, void (*step)(int op, void *ctx), void *ctx, double seconds, long *n, double *spent,
                     double *cpu) {
  int order[8];
  for (int i = 0; i < ops; i++) order[i] = i, n[i] = 0, spent[i] = cpu[i] = 0;
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  for (;;) {
    int done = 1;
    for (int i = 0; i < ops; i++) done &= spent[i] >= seconds && n[i] > 0;
    if (done) break;
    shuffle(order, ops);
    for (int turn = 0; turn < ops; turn++) {
      int op = order[turn];
      double cpu0 = thread_cpu_s(), start = now_s(), deadline = start + SLICE_S, t;
      do {
        step(op, ctx);
        n[op]++;
      } while ((t = now_s()) < deadline);
      spent[op] += t - start;
      cpu[op] += thread_cpu_s() - cpu0;
    }
  }
}

/* Prints each op's rate as "<name>" and its CPU per run as "<name>_cpu_us". */
static void print_turns(int ops, const char *const *names, const long *n, const double *spent, const double *cpu) {
  for (int op = 0; op < ops; op++)
    printf("%s %.1f\n%s_cpu_us %.2f\n", names[op], (double)n[op] / spent[op], names[op], cpu[op] * 1e6 / (double)n[op]);
}

struct paired {
  tokenclient_client *c;
  struct raw_signer g;
  struct raw_poster *p;
  double sign_s;  /* how long SPIN_POST spins */
  uint64_t spun;
  double spun_s;  /* how long SPIN_POST spun, all turns together */
};

static void paired_step(int op, void *ctx) {
  struct paired *x = ctx;
  if (op == TC_EXCHANGE) exchange(x->c);
  if (op == RAW_EXCHANGE || op == RAW_SIGN) raw_sign(&x->g);
  if (op == SPIN_POST) {
    double s0 = now_s();
    x->spun ^= spin(x->sign_s);
    x->spun_s += now_s() - s0;
  }
  if (op == RAW_EXCHANGE || op == RAW_POST || op == SPIN_POST) raw_post(x->p);
}

static int run_paired(const char *url, const char *keyfile, const char *inputfile, double seconds) {
  char *key = slurp(keyfile, NULL);
  struct paired x = {.c = new_client(url)};
  set_credentials(x.c, "ES256", key);
  raw_signer_load(&x.g, keyfile, inputfile);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  x.p = raw_poster_new(url);
  for (int i = 0; i < 20; i++) { /* connect and warm up */
    exchange(x.c);
    raw_sign(&x.g);
    raw_post(x.p);
  }
  double t0 = now_s();
  for (int i = 0; i < 200; i++) raw_sign(&x.g);
  x.sign_s = (now_s() - t0) / 200;
  long n[PAIRED_OPS];
  double spent[PAIRED_OPS], cpu[PAIRED_OPS];
  in_turns(PAIRED_OPS, paired_step, &x, seconds, n, spent, cpu);
  print_turns(PAIRED_OPS, PAIRED_NAMES, n, spent, cpu);
  printf("spin_paired_us %.2f\n", x.spun_s * 1e6 / (double)n[SPIN_POST]);
  if (x.spun == 42) printf("(spun)\n"); /* uses the result: practically never printed */
  raw_poster_free(x.p);
  raw_signer_free(&x.g);
  curl_global_cleanup();
  tokenclient_client_free(x.c);
  free(key);
  return 0;
}

/* DPoP, in turns: a proof for a resource request beside the raw ES256
 * signature; a DPoP exchange (an ES256 assertion and an ES256 proof) beside
 * the raw limit of two signatures and a POST. The bench server answers
 * Bearer, so the client accepts it (set_dpop_allow_bearer): the check of the
 * type is one comparison either way. */
enum { DPOP_PROOF, DPOP_RAW_SIGN, DPOP_EXCHANGE, DPOP_RAW_EXCHANGE, DPOP_OPS };
static const char *const DPOP_NAMES[DPOP_OPS] = {"dpop_proof_paired", "dpop_raw_sign_paired",
                                                 "dpop_exchange_paired", "dpop_raw_exchange_paired"};

struct dpop_bench {
  tokenclient_client *c;
  const char *url;
  struct raw_signer g;
  struct raw_poster *p;
};

static void dpop_step(int op, void *ctx) {
  struct dpop_bench *x = ctx;
  if (op == DPOP_PROOF) {
    char *proof = NULL;
    check(tokenclient_client_dpop_proof(x->c, "GET", x->url, "bench-access-token-0123456789abcdefghijklmn", NULL,
                                        &proof),
          "tokenclient_client_dpop_proof");
    tokenclient_string_free(proof);
  }
  if (op == DPOP_EXCHANGE) exchange(x->c);
  if (op == DPOP_RAW_SIGN || op == DPOP_RAW_EXCHANGE) raw_sign(&x->g);
  if (op == DPOP_RAW_EXCHANGE) {
    raw_sign(&x->g);
    raw_post(x->p);
  }
}

static int run_dpop(const char *url, const char *keyfile, const char *inputfile, double seconds) {
  char *key = slurp(keyfile, NULL);
  struct dpop_bench x = {.c = new_client(url), .url = url};
  set_credentials(x.c, "ES256", key);
  check(tokenclient_client_set_dpop_key(x.c, key, "ES256"), "tokenclient_client_set_dpop_key");
  check(tokenclient_client_set_dpop_allow_bearer(x.c, 1), "tokenclient_client_set_dpop_allow_bearer");
  raw_signer_load(&x.g, keyfile, inputfile);
  /* The raw signatures sign what a proof signs: its header (with the JWK)
   * and claims, longer than an assertion's. */
  char *proof = NULL;
  check(tokenclient_client_dpop_proof(x.c, "GET", url, "bench-access-token-0123456789abcdefghijklmn", NULL, &proof),
        "tokenclient_client_dpop_proof");
  free(x.g.input);
  x.g.input_len = (size_t)(strrchr(proof, '.') - proof);
  x.g.input = malloc(x.g.input_len);
  memcpy(x.g.input, proof, x.g.input_len);
  tokenclient_string_free(proof);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  x.p = raw_poster_new(url);
  for (int i = 0; i < 20; i++)
    for (int op = 0; op < DPOP_OPS; op++) dpop_step(op, &x); /* connect and warm up */
  long n[DPOP_OPS];
  double spent[DPOP_OPS], cpu[DPOP_OPS];
  in_turns(DPOP_OPS, dpop_step, &x, seconds, n, spent, cpu);
  print_turns(DPOP_OPS, DPOP_NAMES, n, spent, cpu);
  raw_poster_free(x.p);
  raw_signer_free(&x.g);
  curl_global_cleanup();
  tokenclient_client_free(x.c);
  free(key);
  return 0;
}

/* Signers, in turns: the built-in ES256 assertion; the same key behind a
 * tokenclient_sign_fn callback (SHA-256 + ECDSA_do_sign, r||s: what the
 * library does inside); an assertion signed by a P-256 key inside a
 * SoftHSM2 token (a pkcs11: URI); and SoftHSM2's own rate through its C
 * API (C_SignInit + C_Sign, CKM_ECDSA over the SHA-256 digest of an
 * assertion's signing input), on a session of its own. */
enum { SIG_BUILTIN, SIG_CALLBACK, SIG_PKCS11, SIG_RAW_PKCS11, SIG_OPS };
static const char *const SIG_NAMES[SIG_OPS] = {"signer_builtin_paired", "signer_callback_paired",
                                               "signer_pkcs11_paired", "signer_raw_pkcs11_paired"};

struct signer_bench {
  tokenclient_client *builtin, *callback, *pkcs11;
  EC_KEY *key;
  CK_FUNCTION_LIST *p11;
  CK_SESSION_HANDLE session;
  CK_OBJECT_HANDLE object;
  unsigned char digest[32];
};

static int ec_sign(void *user_data, const uint8_t *input, size_t input_len, uint8_t *out, size_t out_cap,
                   size_t *out_len, char *err_msg, size_t err_cap) {
  (void)err_msg, (void)err_cap;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(input, input_len, digest);
  ECDSA_SIG *sig = ECDSA_do_sign(digest, sizeof digest, user_data);
  if (!sig || out_cap < 64) return 1;
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32);
  ECDSA_SIG_free(sig);
  *out_len = 64;
  return 0;
}

static void p11_check(CK_RV rv, const char *what) {
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED && rv != CKR_USER_ALREADY_LOGGED_IN) {
    fprintf(stderr, "tc_bench: %s: CKR 0x%lx\n", what, (unsigned long)rv);
    exit(1);
  }
}

/* Opens `module` as its own client would: token `label`, user `pin`, the
 * private key labelled `key_label`. */
static void raw_pkcs11_open(struct signer_bench *x, const char *module, const char *label, const char *key_label,
                            const char *pin) {
  void *lib = dlopen(module, RTLD_NOW);
  if (!lib) exit(1);
  CK_RV (*get)(CK_FUNCTION_LIST **) = (CK_RV(*)(CK_FUNCTION_LIST **))dlsym(lib, "C_GetFunctionList");
  p11_check(get(&x->p11), "C_GetFunctionList");
  p11_check(x->p11->C_Initialize(NULL), "C_Initialize");
  CK_SLOT_ID slots[16];
  CK_ULONG count = 16;
  p11_check(x->p11->C_GetSlotList(CK_TRUE, slots, &count), "C_GetSlotList");
  CK_SLOT_ID slot = (CK_SLOT_ID)-1;
  for (CK_ULONG i = 0; i < count; i++) {
    CK_TOKEN_INFO info;
    p11_check(x->p11->C_GetTokenInfo(slots[i], &info), "C_GetTokenInfo");
    if (strncmp((const char *)info.label, label, strlen(label)) == 0) slot = slots[i];
  }
  if (slot == (CK_SLOT_ID)-1) exit(1);
  p11_check(x->p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &x->session), "C_OpenSession");
  p11_check(x->p11->C_Login(x->session, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin)), "C_Login");
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)key_label, strlen(key_label)}};
  CK_ULONG found = 0;
  p11_check(x->p11->C_FindObjectsInit(x->session, t, 2), "C_FindObjectsInit");
  p11_check(x->p11->C_FindObjects(x->session, &x->object, 1, &found), "C_FindObjects");
  p11_check(x->p11->C_FindObjectsFinal(x->session), "C_FindObjectsFinal");
  if (found != 1) exit(1);
}

static void signer_step(int op, void *ctx) {
  struct signer_bench *x = ctx;
  if (op == SIG_BUILTIN) assertion(x->builtin);
  if (op == SIG_CALLBACK) assertion(x->callback);
  if (op == SIG_PKCS11) assertion(x->pkcs11);
  if (op == SIG_RAW_PKCS11) {
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    unsigned char sig[128];
    CK_ULONG len = sizeof sig;
    p11_check(x->p11->C_SignInit(x->session, &m, x->object), "C_SignInit");
    p11_check(x->p11->C_Sign(x->session, x->digest, sizeof x->digest, sig, &len), "C_Sign");
  }
}

static int run_signer(const char *url, const char *keyfile, const char *inputfile, const char *uri, const char *module,
                      const char *pin, double seconds) {
  char *key = slurp(keyfile, NULL);
  struct signer_bench x = {.builtin = new_client(url), .callback = new_client(url), .pkcs11 = new_client(url)};
  set_credentials(x.builtin, "ES256", key);
  struct raw_signer g = {0};
  raw_signer_load(&g, keyfile, inputfile);
  x.key = g.key;
  check(tokenclient_client_set_signer(x.callback, "ES256", KEY_ID, ec_sign, x.key, NULL),
        "tokenclient_client_set_signer");
  check(tokenclient_client_set_private_key(x.pkcs11, uri, KEY_ID, NULL), "tokenclient_client_set_private_key");
  SHA256(g.input, g.input_len, x.digest);
  raw_pkcs11_open(&x, module, "tokenclient-test", "p256", pin);
  for (int i = 0; i < 20; i++)
    for (int op = 0; op < SIG_OPS; op++) signer_step(op, &x); /* warm up */
  long n[SIG_OPS];
  double spent[SIG_OPS], cpu[SIG_OPS];
  in_turns(SIG_OPS, signer_step, &x, seconds, n, spent, cpu);
  print_turns(SIG_OPS, SIG_NAMES, n, spent, cpu);
  tokenclient_client_free(x.builtin);
  tokenclient_client_free(x.callback);
  tokenclient_client_free(x.pkcs11);
  raw_signer_free(&g);
  free(key);
  return 0;
}

enum { BATCH = 1000 };

static int run_cached(const char *url, double seconds) {
  tokenclient_client *c = new_client(url);
  tokenclient_token *t = NULL;
  check(tokenclient_client_set_client_secret(c, "bench-secret", TOKENCLIENT_AUTH_CLIENT_SECRET_POST),
        "tokenclient_client_set_client_secret");
  check(tokenclient_client_get_token(c, "read", &t), "tokenclient_client_get_token"); /* fills the cache */
  tokenclient_token_free(t);
  long n = 0;
  double start = now_s(), deadline = start + seconds, end;
  do {
    for (int i = 0; i < BATCH; i++) {
      tokenclient_client_get_token(c, "read", &t);
      tokenclient_token_free(t);
    }
    n += BATCH;
  } while ((end = now_s()) < deadline);
  printf("cached_get_token %.1f\n", (double)n / (end - start));
  tokenclient_client_free(c);
  return 0;
}

/* A log callback that only counts (a real one would format and write). */
static void count_event(void *user_data, const tokenclient_event *event) {
  (void)event;
  __atomic_fetch_add((long *)user_data, 1, __ATOMIC_RELAXED);
}

enum { CACHED_PLAIN, CACHED_WARN, EXCHANGE_PLAIN, EXCHANGE_DEBUG, OBSERVED_OPS };
static const char *const OBSERVED_NAMES[OBSERVED_OPS] = {"cached_plain_obs", "cached_warn_obs",
                                                         "exchange_plain_obs", "exchange_debug_obs"};

static int run_observed(const char *url, const char *keyfile, double seconds) {
  char *key = slurp(keyfile, NULL);
  long events = 0;
  tokenclient_client *clients[OBSERVED_OPS];
  for (int op = 0; op < OBSERVED_OPS; op++) {
    clients[op] = new_client(url);
    set_credentials(clients[op], "ES256", key);
  }
  check(tokenclient_client_set_log_callback(clients[CACHED_WARN], TOKENCLIENT_LOG_WARN, count_event, &events),
        "tokenclient_client_set_log_callback");
  check(tokenclient_client_set_log_callback(clients[EXCHANGE_DEBUG], TOKENCLIENT_LOG_DEBUG, count_event, &events),
        "tokenclient_client_set_log_callback");
  tokenclient_token *t = NULL;
  for (int op = 0; op < OBSERVED_OPS; op++) { /* fills the caches, connects */
    check(tokenclient_client_get_token(clients[op], "read", &t), "tokenclient_client_get_token");
    tokenclient_token_free(t);
    exchange(clients[op]);
  }
  long n[OBSERVED_OPS] = {0}, debug_events = 0;
  double spent[OBSERVED_OPS] = {0};
  int order[OBSERVED_OPS];
  for (int i = 0; i < OBSERVED_OPS; i++) order[i] = i;
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  for (;;) {
    int done = 1;
    for (int i = 0; i < OBSERVED_OPS; i++) done &= spent[i] >= seconds && n[i] > 0;
    if (done) break;
    shuffle(order, OBSERVED_OPS);
    for (int turn = 0; turn < OBSERVED_OPS; turn++) {
      int op = order[turn];
      long before = events;
      double start = now_s(), deadline = start + SLICE_S, end;
      do {
        if (op == CACHED_PLAIN || op == CACHED_WARN) {
          for (int i = 0; i < BATCH; i++) {
            tokenclient_client_get_token(clients[op], "read", &t);
            tokenclient_token_free(t);
          }
          n[op] += BATCH;
        } else {
          exchange(clients[op]);
          n[op]++;
        }
      } while ((end = now_s()) < deadline);
      spent[op] += end - start;
      if (op == EXCHANGE_DEBUG) debug_events += events - before;
    }
  }
  for (int op = 0; op < OBSERVED_OPS; op++) printf("%s %.1f\n", OBSERVED_NAMES[op], (double)n[op] / spent[op]);
  printf("debug_events_per_exchange %.2f\n", (double)debug_events / (double)n[EXCHANGE_DEBUG]);
  for (int op = 0; op < OBSERVED_OPS; op++) tokenclient_client_free(clients[op]);
  free(key);
  return 0;
}

/* The shared token store. A client like `cached`'s (client_secret_post,
 * scope "read"): every client here has the same credentials, so the same
 * entry name and sealing key. */
static tokenclient_client *secret_client(const char *url, const char *store) {
  tokenclient_client *c = new_client(url);
  check(tokenclient_client_set_client_secret(c, "bench-secret", TOKENCLIENT_AUTH_CLIENT_SECRET_POST),
        "tokenclient_client_set_client_secret");
  if (store) check(tokenclient_client_set_token_store(c, store), "tokenclient_client_set_token_store");
  return c;
}

static void get_read_token(const tokenclient_client *c) {
  tokenclient_token *t = NULL;
  check(tokenclient_client_get_token(c, "read", &t), "tokenclient_client_get_token");
  tokenclient_token_free(t);
}

/* A token callback that counts the tokens a client obtained from the token
 * endpoint (not those it read from the store). */
static void count_token(void *user_data, const tokenclient_token *token) {
  (void)token;
  __atomic_fetch_add((long *)user_data, 1, __ATOMIC_RELAXED);
}

/* How many token requests a fresh client of `store` makes for get_token:
 * 0 when the store served it. */
static long fresh_requests(const char *url, const char *store) {
  long obtained = 0;
  tokenclient_client *c = secret_client(url, store);
  check(tokenclient_client_set_token_callback(c, count_token, &obtained), "tokenclient_client_set_token_callback");
  get_read_token(c);
  tokenclient_client_free(c);
  return obtained;
}

enum { CACHED_STORE_ON, CACHED_STORE_OFF, STORE_CACHED_OPS };
static const char *const STORE_CACHED_NAMES[STORE_CACHED_OPS] = {"cached_store_on", "cached_store_off"};
enum { FRESH_HIT_FILE, FRESH_HIT_REDIS, FRESH_REQUEST, FRESH_CLIENT, FRESH_OPS };
static const char *const FRESH_NAMES[FRESH_OPS] = {"store_hit_file", "store_hit_redis", "fresh_request",
                                                   "fresh_client"};

struct store_bench {
  const char *url, *file, *redis;
  tokenclient_client *cached[STORE_CACHED_OPS];
  int fresh[FRESH_OPS]; /* the FRESH_* op of each turn index */
};

static void store_cached_step(int op, void *ctx) {
  const tokenclient_client *c = ((struct store_bench *)ctx)->cached[op];
  tokenclient_token *t = NULL;
  for (int i = 0; i < BATCH; i++) {
    tokenclient_client_get_token(c, "read", &t);
    tokenclient_token_free(t);
  }
}

/* One fresh client (what a new process does before its first get_token):
 * with a store the token is in, without a store (a POST to the bench
 * server, on a new connection), or only made and freed. */
static void store_fresh_step(int i, void *ctx) {
  struct store_bench *x = ctx;
  int op = x->fresh[i];
  const char *store = op == FRESH_HIT_FILE ? x->file : op == FRESH_HIT_REDIS ? x->redis : NULL;
  tokenclient_client *c = secret_client(x->url, store);
  if (op != FRESH_CLIENT) get_read_token(c);
  tokenclient_client_free(c);
}

static int run_store(const char *url, const char *dir, const char *redis, double seconds) {
  char file[4096];
  snprintf(file, sizeof file, "file://%s", dir);
  struct store_bench x = {.url = url, .file = file, .redis = strcmp(redis, "-") == 0 ? NULL : redis};
  x.cached[CACHED_STORE_ON] = secret_client(url, file);
  x.cached[CACHED_STORE_OFF] = secret_client(url, NULL);
  /* Fills the caches, and the file store (the first get_token with it
   * asks the server and puts the token there). */
  for (int op = 0; op < STORE_CACHED_OPS; op++) get_read_token(x.cached[op]);
  long n[FRESH_OPS];
  double spent[FRESH_OPS], cpu[FRESH_OPS];
  in_turns(STORE_CACHED_OPS, store_cached_step, &x, seconds, n, spent, cpu);
  for (int op = 0; op < STORE_CACHED_OPS; op++)
    printf("%s %.1f\n", STORE_CACHED_NAMES[op], (double)n[op] * BATCH / spent[op]);

  int ops = 0;
  const char *names[FRESH_OPS];
  for (int op = 0; op < FRESH_OPS; op++) {
    if (op == FRESH_HIT_REDIS && !x.redis) continue;
    x.fresh[ops] = op;
    names[ops++] = FRESH_NAMES[op];
  }
  /* Puts the token in the Redis store, then warms up. */
  if (x.redis) fresh_requests(url, x.redis);
  for (int w = 0; w < 5; w++)
    for (int i = 0; i < ops; i++) store_fresh_step(i, &x);
  in_turns(ops, store_fresh_step, &x, seconds, n, spent, cpu);
  print_turns(ops, names, n, spent, cpu);
  /* What the hits were: a fresh client of each store, afterwards, asks
   * the server 0 times. */
  printf("store_hit_file_requests %ld\n", fresh_requests(url, file));
  if (x.redis) printf("store_hit_redis_requests %ld\n", fresh_requests(url, x.redis));
  for (int op = 0; op < STORE_CACHED_OPS; op++) tokenclient_client_free(x.cached[op]);
  return 0;
}

/* Counts the store.fallback events (the store gone around) and writes each
 * warning to stderr. */
static void store_warning(void *user_data, const tokenclient_event *event) {
  const char *name = tokenclient_event_name(event);
  if (name && strcmp(name, "store.fallback") == 0) __atomic_fetch_add((long *)user_data, 1, __ATOMIC_RELAXED);
  fprintf(stderr, "tc_bench store_cold: %s\n", tokenclient_event_json(event));
}

/* One process of many sharing `store` (empty at first): one client, made
 * and set up before START (wall-clock seconds since the epoch), then at
 * START one get_token. Prints "ok 1", "requested" (the tokens this process
 * obtained from the token endpoint: 0 when the store or another process's
 * request served it), "fallbacks" (store.fallback events: the store gone
 * around, each written to stderr), "ready_ms" (how long before START it
 * was ready: negative when late) and "get_token_ms". */
static int run_store_cold(const char *url, const char *store, double start) {
  long obtained = 0, fallbacks = 0;
  tokenclient_client *c = secret_client(url, store);
  check(tokenclient_client_set_token_callback(c, count_token, &obtained), "tokenclient_client_set_token_callback");
  check(tokenclient_client_set_log_callback(c, TOKENCLIENT_LOG_WARN, store_warning, &fallbacks),
        "tokenclient_client_set_log_callback");
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double ready = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
  struct timespec at = {(time_t)start, (long)((start - (double)(time_t)start) * 1e9)};
  while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) != 0) {
  }
  double t0 = now_s();
  get_read_token(c);
  double t1 = now_s();
  printf("ok 1\nrequested %ld\nfallbacks %ld\nready_ms %.1f\nget_token_ms %.2f\n", obtained, fallbacks,
         (start - ready) * 1e3, (t1 - t0) * 1e3);
  tokenclient_client_free(c);
  return 0;
}

static int run_baseline(double seconds) {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  void *volatile sink;
  long n = 0;
  double start = now_s(), deadline = start + seconds, end;
  do {
    for (int i = 0; i < BATCH; i++) {
      pthread_mutex_lock(&m);
      void *p = malloc(16);
      sink = p;
      pthread_mutex_unlock(&m);
      free(p);
    }
    n += BATCH;
  } while ((end = now_s()) < deadline);
  (void)sink;
  printf("baseline_mutex_malloc %.1f\n", (double)n / (end - start));
  return 0;
}

struct canceller {
  tokenclient_cancel *cancel;
  long delay_ns;
  double fired_at;
};

static void *cancel_soon(void *arg) {
  struct canceller *k = arg;
  struct timespec wait = {0, k->delay_ns};
  nanosleep(&wait, NULL);
  k->fired_at = now_s();
  tokenclient_cancel_cancel(k->cancel);
  return NULL;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int run_cancel(int rounds) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof addr;
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 1024) != 0 ||
      getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
    perror("tc_bench cancel: listen");
    return 1;
  }
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/token", ntohs(addr.sin_port));
  const char *names[2] = {"cancel_exchange_ms", "cancel_get_token_ms"};
  double *took = calloc((size_t)rounds, sizeof *took);
  for (int kind = 0; kind < 2; kind++) {
    for (int i = 0; i < rounds; i++) {
      /* A client per round: each waits on a connection of its own. */
      tokenclient_client *c = new_client(url);
      check(tokenclient_client_set_client_secret(c, "bench-secret", TOKENCLIENT_AUTH_CLIENT_SECRET_POST),
            "tokenclient_client_set_client_secret");
      /* 20 ms in, and a different fraction of a ms each round, so that no
       * polling period of the library lines up with the cancel. */
      struct canceller k = {NULL, 20000000L + (long)(i % 16) * 313000L, 0};
      check(tokenclient_cancel_new(&k.cancel), "tokenclient_cancel_new");
      tokenclient_call_options o = {.struct_size = sizeof o, .cancel = k.cancel};
      pthread_t t;
      pthread_create(&t, NULL, cancel_soon, &k);
      tokenclient_token *tok = NULL;
      tokenclient_error *e = kind == 0 ? tokenclient_client_client_credentials_ex(c, NULL, &o, &tok)
                                       : tokenclient_client_get_token_ex(c, NULL, &o, &tok);
      double end = now_s();
      pthread_join(t, NULL);
      if (!e || tokenclient_error_get_kind(e) != TOKENCLIENT_ERROR_CANCELLED) {
        fprintf(stderr, "tc_bench cancel: the call was not cancelled\n");
        return 1;
      }
      tokenclient_error_free(e);
      took[i] = (end - k.fired_at) * 1e3;
      tokenclient_cancel_free(k.cancel);
      tokenclient_client_free(c);
    }
    qsort(took, (size_t)rounds, sizeof *took, by_value);
    printf("%s %.3f\n%s_max %.3f\n", names[kind], took[rounds / 2], names[kind], took[rounds - 1]);
  }
  free(took);
  return 0;
}

static int run_input(const char *url, const char *keyfile) {
  char *key = slurp(keyfile, NULL), *jwt = NULL;
  tokenclient_client *c = new_client(url);
  set_credentials(c, "ES256", key);
  check(tokenclient_client_create_assertion(c, &jwt), "tokenclient_client_create_assertion");
  char *dot = strrchr(jwt, '.');
  if (!dot) return 1;
  printf("%.*s\n", (int)(dot - jwt), jwt);
  tokenclient_string_free(jwt);
  tokenclient_client_free(c);
  free(key);
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: tc_bench assert URL ALG KEYFILE SECONDS | setkey URL ALG KEYFILE REPS |\n"
                  "       exchange URL KEYFILE THREADS SECONDS | paired URL KEYFILE INPUTFILE SECONDS |\n"
                  "       dpop URL KEYFILE INPUTFILE SECONDS |\n"
                  "       signer URL KEYFILE INPUTFILE PKCS11_URI MODULE PIN SECONDS |\n"
                  "       cached URL SECONDS | observed URL KEYFILE SECONDS | baseline SECONDS |\n"
                  "       store URL DIR REDIS_URL|- SECONDS | store_cold URL STORE_URL START |\n"
                  "       cancel ROUNDS | input URL KEYFILE | version\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  const char *m = argv[1];
  if (strcmp(m, "assert") == 0 && argc == 6) return run_assert(argv[2], argv[3], argv[4], atof(argv[5]));
  if (strcmp(m, "setkey") == 0 && argc == 6) return run_setkey(argv[2], argv[3], argv[4], atoi(argv[5]));
  if (strcmp(m, "exchange") == 0 && argc == 6)
    return run_exchange(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
  if (strcmp(m, "paired") == 0 && argc == 6) return run_paired(argv[2], argv[3], argv[4], atof(argv[5]));
  if (strcmp(m, "dpop") == 0 && argc == 6) return run_dpop(argv[2], argv[3], argv[4], atof(argv[5]));
  if (strcmp(m, "signer") == 0 && argc == 9)
    return run_signer(argv[2], argv[3], argv[4], argv[5], argv[6], argv[7], atof(argv[8]));
  if (strcmp(m, "cached") == 0 && argc == 4) return run_cached(argv[2], atof(argv[3]));
  if (strcmp(m, "observed") == 0 && argc == 5) return run_observed(argv[2], argv[3], atof(argv[4]));
  if (strcmp(m, "store") == 0 && argc == 6) return run_store(argv[2], argv[3], argv[4], atof(argv[5]));
  if (strcmp(m, "store_cold") == 0 && argc == 5) return run_store_cold(argv[2], argv[3], atof(argv[4]));
  if (strcmp(m, "baseline") == 0 && argc == 3) return run_baseline(atof(argv[2]));
  if (strcmp(m, "cancel") == 0 && argc == 3 && atoi(argv[2]) > 0) return run_cancel(atoi(argv[2]));
  if (strcmp(m, "input") == 0 && argc == 4) return run_input(argv[2], argv[3]);
  if (strcmp(m, "version") == 0 && argc == 2) {
    printf("%s\n", tokenclient_version());
    return 0;
  }
  return usage();
}
