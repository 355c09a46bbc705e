/*
 * tests/c/core/signer.c: tokenclient_client_set_signer. A callback signs
 * with an OpenSSL key held here (as an HSM or KMS would hold it), giving DER
 * or r||s; the assertions it makes verify with OpenSSL against the public
 * key. A failing callback, a wrong length, a slow one past the call's
 * deadline; free_user_data called once; 8 threads x TC_ITERATIONS through
 * one callback (run under ThreadSanitizer by run.sh).
 */
#include "core.h"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

enum mode { SIGN_DER, SIGN_RAW, SIGN_FAIL, SIGN_SHORT, SIGN_HUGE, SIGN_SLOW };

struct signer {
    EVP_PKEY *key;
    enum mode mode;
    atomic_int calls;
    atomic_int freed;
};

static int sign(void *user_data, const uint8_t *input, size_t input_len, uint8_t *out_sig, size_t out_cap,
                size_t *out_len, char *err_msg, size_t err_cap) {
    struct signer *s = user_data;
    atomic_fetch_add(&s->calls, 1);
    if (s->mode == SIGN_FAIL) {
        snprintf(err_msg, err_cap, "the HSM is offline (test)");
        return 42;
    }
    if (s->mode == SIGN_SLOW) sleep_ms(300);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char der[128];
    size_t der_len = sizeof der;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, s->key) == 1 &&
             EVP_DigestSign(ctx, der, &der_len, input, input_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return 1;
    if (s->mode == SIGN_DER || s->mode == SIGN_SLOW) {
        if (der_len > out_cap) return 2;
        memcpy(out_sig, der, der_len);
        *out_len = der_len;
        return 0;
    }
    if (s->mode == SIGN_SHORT) {
        *out_len = 10;
        return 0;
    }
    if (s->mode == SIGN_HUGE) {
        *out_len = out_cap + 1;
        return 0;
    }
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (!sig) return 3;
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), out_sig, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), out_sig + 32, 32);
    ECDSA_SIG_free(sig);
    *out_len = 64;
    return 0;
}

static void count_free(void *user_data) { atomic_fetch_add(&((struct signer *)user_data)->freed, 1); }

/* Whether the ES256 assertion `jwt` verifies with `key` (OpenSSL, over the
 * signing input, the signature converted from r||s to DER). */
static int verifies(const char *jwt, EVP_PKEY *key) {
    const char *last = strrchr(jwt, '.');
    if (!last) return 0;
    /* base64url -> bytes */
    size_t n = strlen(last + 1);
    char *b64 = malloc(n + 4);
    for (size_t i = 0; i < n; i++) b64[i] = last[1 + i] == '-' ? '+' : last[1 + i] == '_' ? '/' : last[1 + i];
    while (n % 4) b64[n++] = '=';
    unsigned char raw[96];
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    free(b64);
    if (len < 64) return 0;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, der, (size_t)der_len, (const unsigned char *)jwt, (size_t)(last - jwt)) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

static EVP_PKEY *load_p256(void) {
    char *pem = read_key("p256.pem");
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    free(pem);
    if (!key) abort();
    return key;
}

void test_signer_arguments(void) {
    struct signer s = {.key = NULL, .mode = SIGN_DER};
    tokenclient_client *c = new_client();
    EXPECT_INVALID(tokenclient_client_set_signer(NULL, "ES256", NULL, sign, &s, count_free));
    EXPECT_INVALID(tokenclient_client_set_signer(c, NULL, NULL, sign, &s, count_free));
    EXPECT_INVALID(tokenclient_client_set_signer(c, "ES256", NULL, NULL, &s, count_free));
    EXPECT_INVALID(tokenclient_client_set_signer(c, BAD_UTF8, NULL, sign, &s, count_free));
    EXPECT_INVALID(tokenclient_client_set_signer(c, "ES256", BAD_UTF8, sign, &s, count_free));
    EXPECT_INVALID(tokenclient_client_set_signer(c, "ES999", NULL, sign, &s, count_free));
    EXPECT_INVALID(tokenclient_client_set_signer(c, "HS256", NULL, sign, &s, count_free));
    EXPECT_INVALID(tokenclient_client_set_signer(c, "ES256", "kid\nwith newline", sign, &s, count_free));
    CHECK(atomic_load(&s.freed) == 0); /* nothing kept, nothing freed, on error */
    CHECK(atomic_load(&s.calls) == 0);
    tokenclient_client_free(c);
}

void test_signer(void) {
    struct signer s = {.key = load_p256(), .mode = SIGN_DER};
    tokenclient_client *c = new_client();
    /* DER from the callback: converted to r||s; the assertion verifies. */
    EXPECT_OK(tokenclient_client_set_signer(c, "ES256", "hsm-key-1", sign, &s, count_free));
    char *jwt = NULL;
    EXPECT_OK(tokenclient_client_create_assertion(c, &jwt));
    CHECK(jwt && verifies(jwt, s.key));
    CHECK_ASSERTION(c, "ES256", "hsm-key-1", DEFAULT_AUD);
    tokenclient_string_free(jwt);
    /* r||s as is */
    s.mode = SIGN_RAW;
    jwt = NULL;
    EXPECT_OK(tokenclient_client_create_assertion(c, &jwt));
    CHECK(jwt && verifies(jwt, s.key));
    tokenclient_string_free(jwt);
    /* failures: the callback's message, typed */
    s.mode = SIGN_FAIL;
    jwt = SENTINEL;
    EXPECT_ERR_MSG(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_KEY, "the HSM is offline (test)");
    CHECK(jwt == SENTINEL);
    s.mode = SIGN_SHORT;
    EXPECT_ERR_MSG(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_KEY, "returned 10 bytes");
    s.mode = SIGN_HUGE;
    EXPECT_ERR_MSG(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_KEY, "more than the 1024");

    /* An exchange signed by the callback; one past the call's deadline is
     * a timeout, and nothing is sent. */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/token", server_port());
    tokenclient_client *x = NULL;
    EXPECT_OK(tokenclient_client_new(url, CLIENT_ID, &x));
    EXPECT_OK(tokenclient_client_set_proxy(x, ""));
    EXPECT_OK(tokenclient_client_set_retry_policy(x, 0, 0, 0));
    s.mode = SIGN_DER;
    EXPECT_OK(tokenclient_client_set_signer(x, "ES256", NULL, sign, &s, NULL));
    serve_json("{\"access_token\":\"AT-SIGNER\",\"token_type\":\"Bearer\"}");
    tokenclient_token *t = NULL;
    int before = requests();
    EXPECT_OK(tokenclient_client_client_credentials(x, NULL, &t));
    CHECK(t && strcmp(tokenclient_token_access_token(t), "AT-SIGNER") == 0 && requests() == before + 1);
    tokenclient_token_free(t);
    s.mode = SIGN_SLOW;
    tokenclient_call_options o = {.struct_size = sizeof o, .deadline_ms = 100};
    t = SENTINEL;
    before = requests();
    EXPECT_ERR_MSG(tokenclient_client_client_credentials_ex(x, NULL, &o, &t), TOKENCLIENT_ERROR_TRANSPORT, "deadline");
    CHECK(t == SENTINEL && requests() == before);
    tokenclient_client_free(x);

    /* free_user_data: once, when the signer is replaced (no request holds it). */
    CHECK(atomic_load(&s.freed) == 0);
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret-value", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    CHECK(atomic_load(&s.freed) == 1);
    EXPECT_OK(tokenclient_client_set_signer(c, "ES256", NULL, sign, &s, count_free));
    tokenclient_client_free(c);
    CHECK(atomic_load(&s.freed) == 2);
    EVP_PKEY_free(s.key);
}

/* DPoP proofs through a callback: the public key given as PEM; the proof
 * verifies with it; errors for a key the algorithm does not fit. */
void test_dpop_signer(void) {
    struct signer s = {.key = load_p256(), .mode = SIGN_DER};
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, s.key);
    char public_pem[1024] = "";
    BIO_read(bio, public_pem, sizeof public_pem - 1);
    BIO_free(bio);
    tokenclient_client *c = new_client();
    EXPECT_INVALID(tokenclient_client_set_dpop_signer(NULL, "ES256", public_pem, sign, &s, count_free));
    EXPECT_INVALID(tokenclient_client_set_dpop_signer(c, "ES256", NULL, sign, &s, count_free));
    EXPECT_INVALID(tokenclient_client_set_dpop_signer(c, "ES256", public_pem, NULL, &s, count_free));
    EXPECT_INVALID(tokenclient_client_set_dpop_signer(c, "HS256", public_pem, sign, &s, count_free));
    EXPECT_ERR(tokenclient_client_set_dpop_signer(c, "RS256", public_pem, sign, &s, count_free), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_dpop_signer(c, "ES256", "not a key", sign, &s, count_free), TOKENCLIENT_ERROR_KEY);
    CHECK(atomic_load(&s.freed) == 0);
    EXPECT_OK(tokenclient_client_set_dpop_signer(c, "ES256", public_pem, sign, &s, count_free));
    char *proof = NULL;
    EXPECT_OK(tokenclient_client_dpop_proof(c, "GET", "https://rs.example/api", "at-1", NULL, &proof));
    CHECK(proof && verifies(proof, s.key));
    struct jwt j = {0};
    CHECK(proof && jwt_decode(proof, &j) && strstr(j.header, "\"typ\":\"dpop+jwt\"") != NULL &&
          strstr(j.header, "\"crv\":\"P-256\"") != NULL && strstr(j.header, "\"d\"") == NULL);
    jwt_free(&j);
    tokenclient_string_free(proof);
    tokenclient_client_free(c);
    CHECK(atomic_load(&s.freed) == 1);
    EVP_PKEY_free(s.key);
}

struct worker {
    tokenclient_client *c;
    int iterations;
    atomic_int *errors;
};

static void *sign_many(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < w->iterations; i++) {
        char *jwt = NULL;
        tokenclient_error *e = tokenclient_client_create_assertion(w->c, &jwt);
        if (e || !jwt) atomic_fetch_add(w->errors, 1);
        tokenclient_error_free(e);
        tokenclient_string_free(jwt);
    }
    return NULL;
}

void test_signer_threads(int iterations) {
    struct signer s = {.key = load_p256(), .mode = SIGN_DER};
    tokenclient_client *c = new_client();
    EXPECT_OK(tokenclient_client_set_signer(c, "ES256", "k", sign, &s, count_free));
    atomic_int errors = 0;
    pthread_t threads[8];
    struct worker w = {.c = c, .iterations = iterations, .errors = &errors};
    for (int i = 0; i < 8; i++) pthread_create(&threads[i], NULL, sign_many, &w);
    for (int i = 0; i < 8; i++) pthread_join(threads[i], NULL);
    CHECK(atomic_load(&errors) == 0);
    CHECK(atomic_load(&s.calls) == 8 * iterations);
    tokenclient_client_free(c);
    CHECK(atomic_load(&s.freed) == 1);
    EVP_PKEY_free(s.key);
}
