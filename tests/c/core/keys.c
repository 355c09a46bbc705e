/*
 * tests/c/core/keys.c: private keys of every format the header names (made
 * by run.sh with the openssl CLI), the keys it refuses, algorithm checks,
 * JWKs, and client secrets for client_secret_jwt.
 */
#include "core.h"

void test_keys(void) {
    tokenclient_client *c = new_client();
    char *jwt;

    /* No credentials, then credentials that do not sign: CONFIG. */
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);
    EXPECT_INVALID_OUT(tokenclient_client_create_assertion(NULL, &jwt), jwt);
    EXPECT_INVALID(tokenclient_client_create_assertion(c, NULL));
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC));
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);
    EXPECT_OK(tokenclient_client_set_client_secret(c, "s3cret", TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);
    EXPECT_OK(tokenclient_client_set_public(c));
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);

    /* Every format, with the algorithm inferred. */
    static const struct {
        const char *file, *alg;
    } good[] = {
        {"p256.pem", "ES256"},          /* PKCS#8 PEM */
        {"p256-sec1.pem", "ES256"},     /* SEC1 PEM */
        {"p256.b64", "ES256"},          /* bare base64 of PKCS#8 DER */
        {"p256-sec1.b64", "ES256"},     /* bare base64 of SEC1 DER */
        {"p384.pem", "ES384"},
        {"p521.pem", "ES512"},
        {"rsa2048.pem", "RS256"},       /* PKCS#8 */
        {"rsa2048-pkcs1.pem", "RS256"}, /* PKCS#1 PEM */
        {"ed25519.pem", "EdDSA"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (quick && strcmp(good[i].file, "rsa2048.pem") == 0) {
            continue; /* signed with PS384 below */
        }
        char *key = read_key(good[i].file);
        char what[256];
        snprintf(what, sizeof what, "set_private_key(%s)", good[i].file);
        if (expect_ok_at(tokenclient_client_set_private_key(c, key, NULL, NULL), what, __FILE__, __LINE__)) {
            CHECK_ASSERTION(c, good[i].alg, NULL, DEFAULT_AUD);
        }
        free(key);
    }

    /* The same P-256 key squeezed: CRLF, literal "\n", one line. */
    char *pem = read_key("p256.pem");
    char *crlf = replace_all(pem, "\n", "\r\n");
    char *escaped = replace_all(pem, "\n", "\\n");
    char *spaced = replace_all(pem, "\n", " ");
    char *escaped_crlf = replace_all(pem, "\n", "\\r\\n");
    /* The bare base64 wrapped at 64 columns, and in the URL-safe alphabet. */
    char *b64 = read_key("p256.b64");
    size_t b64_len = strlen(b64);
    char *wrapped = malloc(b64_len + b64_len / 64 + 2), *w = wrapped;
    for (size_t i = 0; i < b64_len; i++) {
        *w++ = b64[i];
        if (i % 64 == 63) {
            *w++ = '\n';
        }
    }
    *w = '\0';
    char *plus = replace_all(b64, "+", "-"), *slash = replace_all(plus, "/", "_");
    char *url_safe = replace_all(slash, "=", "");
    const char *variants[] = {crlf, escaped, spaced, escaped_crlf, wrapped, url_safe};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        if (EXPECT_OK(tokenclient_client_set_private_key(c, variants[i], "kid-v", NULL))) {
            CHECK_ASSERTION(c, "ES256", "kid-v", DEFAULT_AUD);
        }
    }
    free(crlf);
    free(escaped);
    free(spaced);
    free(escaped_crlf);
    free(b64);
    free(wrapped);
    free(plus);
    free(slash);
    free(url_safe);

    /* kid and explicit algorithms */
    char *rsa = read_key("rsa2048.pem");
    char *ed = read_key("ed25519.pem");
    char *p384 = read_key("p384.pem");
    static const char *const rsa_algs[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
    for (size_t i = 0; i < 6; i++) {
        if (quick && strcmp(rsa_algs[i], "PS384") != 0) {
            continue;
        }
        if (EXPECT_OK(tokenclient_client_set_private_key(c, rsa, "rsa-kid", rsa_algs[i]))) {
            CHECK_ASSERTION(c, rsa_algs[i], "rsa-kid", DEFAULT_AUD);
        }
    }
    if (EXPECT_OK(tokenclient_client_set_private_key(c, pem, "ec-kid", "ES256"))) {
        CHECK_ASSERTION(c, "ES256", "ec-kid", DEFAULT_AUD);
    }
    if (EXPECT_OK(tokenclient_client_set_private_key(c, ed, NULL, "EdDSA"))) {
        CHECK_ASSERTION(c, "EdDSA", NULL, DEFAULT_AUD);
    }

    /* Algorithm mismatches: KEY, and the earlier key stays in use. */
    EXPECT_OK(tokenclient_client_set_private_key(c, pem, "keep-me", NULL));
    EXPECT_ERR(tokenclient_client_set_private_key(c, pem, NULL, "ES384"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, pem, NULL, "ES512"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, pem, NULL, "RS256"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, pem, NULL, "EdDSA"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, p384, NULL, "ES256"), TOKENCLIENT_ERROR_KEY);
    if (!quick) {
        EXPECT_ERR(tokenclient_client_set_private_key(c, rsa, NULL, "ES256"), TOKENCLIENT_ERROR_KEY);
    }
    EXPECT_ERR(tokenclient_client_set_private_key(c, ed, NULL, "PS256"), TOKENCLIENT_ERROR_KEY);
    /* Unknown or HMAC algorithm names: INVALID_ARGUMENT. */
    EXPECT_INVALID(tokenclient_client_set_private_key(c, pem, NULL, "XX999"));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, pem, NULL, "es256"));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, pem, NULL, ""));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, pem, NULL, "none"));
    EXPECT_INVALID(tokenclient_client_set_private_key(c, pem, NULL, "HS256"));
    CHECK_ASSERTION(c, "ES256", "keep-me", DEFAULT_AUD);

    /* Keys that cannot be used: KEY, with a message that says why. */
    static const struct {
        const char *file, *needle;
    } bad[] = {
        {"encrypted.pem", "encrypted"},
        {"encrypted.b64", "encrypted"},
        {"encrypted-sec1.pem", "encrypted"}, /* legacy PEM encryption (Proc-Type) */
        {"rsa-pss.pem", "PSS"},
        {"secp256k1.pem", "curve"},
        {"ed448.pem", NULL},
        {"public.pem", "public"},
        {"public.b64", "public"},
        {"rsa1024.pem", "2048"},
        {"cert.pem", "certificate"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *key = read_key(bad[i].file);
        char what[256];
        snprintf(what, sizeof what, "set_private_key(%s)", bad[i].file);
        expect_error_at(tokenclient_client_set_private_key(c, key, NULL, NULL), TOKENCLIENT_ERROR_KEY,
                        bad[i].needle, what, __FILE__, __LINE__);
        free(key);
    }
    static const char *const garbage[] = {
        "",
        "   \n",
        "not a key at all!",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n",
        "-----BEGIN NONSENSE-----\nAAAA\n-----END NONSENSE-----\n",
        "{\"kty\":\"EC\"}",
        "{not json",
        "QUJD",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        EXPECT_ERR(tokenclient_client_set_private_key(c, garbage[i], NULL, NULL), TOKENCLIENT_ERROR_KEY);
    }
    /* The message never quotes the key. */
    tokenclient_error *e =
        tokenclient_client_set_private_key(c, "TOPSECRETKEYMATERIALxyz0123456789", NULL, NULL);
    CHECK(e != NULL && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_KEY);
    CHECK(e != NULL && strstr(tokenclient_error_message(e), "TOPSECRET") == NULL);
    tokenclient_error_free(e);
    /* After all those failures the last good key still signs. */
    CHECK_ASSERTION(c, "ES256", "keep-me", DEFAULT_AUD);

    free(pem);
    free(rsa);
    free(ed);
    free(p384);
    tokenclient_client_free(c);
}

/* JWKs built from the P-256 key's numbers (p256.txt, `openssl pkey -text`). */
void test_jwk(void) {
    char *text = read_key("p256.txt");
    unsigned char priv[80], pub[80];
    size_t priv_len = hex_block(text, "priv:", priv, sizeof priv);
    size_t pub_len = hex_block(text, "pub:", pub, sizeof pub);
    free(text);
    if (!CHECK(priv_len >= 32 && priv_len <= 33 && pub_len == 65 && pub[0] == 4)) {
        return;
    }
    char *d = b64url_encode(priv + priv_len - 32, 32);
    char *x = b64url_encode(pub + 1, 32);
    char *y = b64url_encode(pub + 33, 32);
    char full[512], bare[512], public_only[512], set[600], wrong_alg[512], wrong_crv[512], bad_d[512];
    snprintf(full, sizeof full,
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\",\"kid\":\"jwk-kid\",\"alg\":\"ES256\"}",
             x, y, d);
    snprintf(bare, sizeof bare, "\n  {\"kty\": \"EC\", \"crv\": \"P-256\",\n   \"x\": \"%s\", \"y\": \"%s\", \"d\": \"%s\"}\n", x, y, d);
    snprintf(public_only, sizeof public_only, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    snprintf(set, sizeof set, "{\"keys\":[%s]}", full);
    snprintf(wrong_alg, sizeof wrong_alg,
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\",\"alg\":\"ES384\"}", x, y, d);
    snprintf(wrong_crv, sizeof wrong_crv, "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}", x,
             y, d);
    snprintf(bad_d, sizeof bad_d, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"AAAA\"}", x, y);

    tokenclient_client *c = new_client();
    /* kid and alg from the JWK; an explicit key_id wins; no kid without one. */
    if (EXPECT_OK(tokenclient_client_set_private_key(c, full, NULL, NULL))) {
        CHECK_ASSERTION(c, "ES256", "jwk-kid", DEFAULT_AUD);
    }
    if (EXPECT_OK(tokenclient_client_set_private_key(c, full, "mine", "ES256"))) {
        CHECK_ASSERTION(c, "ES256", "mine", DEFAULT_AUD);
    }
    if (EXPECT_OK(tokenclient_client_set_private_key(c, bare, NULL, NULL))) {
        CHECK_ASSERTION(c, "ES256", NULL, DEFAULT_AUD);
    }
    EXPECT_ERR(tokenclient_client_set_private_key(c, full, NULL, "ES384"), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, wrong_alg, NULL, NULL), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR_MSG(tokenclient_client_set_private_key(c, public_only, NULL, NULL), TOKENCLIENT_ERROR_KEY, "public");
    EXPECT_ERR(tokenclient_client_set_private_key(c, set, NULL, NULL), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, wrong_crv, NULL, NULL), TOKENCLIENT_ERROR_KEY);
    EXPECT_ERR(tokenclient_client_set_private_key(c, bad_d, NULL, NULL), TOKENCLIENT_ERROR_KEY);
    CHECK_ASSERTION(c, "ES256", NULL, DEFAULT_AUD);
    tokenclient_client_free(c);
    free(d);
    free(x);
    free(y);
}

void test_client_secret_jwt(void) {
    tokenclient_client *c = new_client();
    char *s31 = secret_of('a', 31), *s32 = secret_of('b', 32), *s47 = secret_of('c', 47),
         *s48 = secret_of('d', 48), *s64 = secret_of('e', 64);
    char *jwt;

    EXPECT_ERR_MSG(tokenclient_client_set_client_secret(c, s31, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT),
                   TOKENCLIENT_ERROR_KEY, "32");
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);
    if (EXPECT_OK(tokenclient_client_set_client_secret(c, s32, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT))) {
        CHECK_ASSERTION(c, "HS256", NULL, DEFAULT_AUD);
    }
    /* A longer hash needs a longer secret; nothing changes when refused. */
    EXPECT_ERR(tokenclient_client_set_hmac_alg(c, "HS384"), TOKENCLIENT_ERROR_KEY);
    CHECK_ASSERTION(c, "HS256", NULL, DEFAULT_AUD);
    EXPECT_OK(tokenclient_client_set_client_secret(c, s47, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT));
    EXPECT_ERR(tokenclient_client_set_hmac_alg(c, "HS384"), TOKENCLIENT_ERROR_KEY);
    EXPECT_OK(tokenclient_client_set_client_secret(c, s48, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT));
    if (EXPECT_OK(tokenclient_client_set_hmac_alg(c, "HS384"))) {
        CHECK_ASSERTION(c, "HS384", NULL, DEFAULT_AUD);
    }
    EXPECT_ERR(tokenclient_client_set_hmac_alg(c, "HS512"), TOKENCLIENT_ERROR_KEY);
    /* The algorithm chosen first applies to the secret set later. */
    EXPECT_ERR(tokenclient_client_set_client_secret(c, s47, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT),
               TOKENCLIENT_ERROR_KEY);
    CHECK_ASSERTION(c, "HS384", NULL, DEFAULT_AUD);
    EXPECT_OK(tokenclient_client_set_client_secret(c, s64, TOKENCLIENT_AUTH_CLIENT_SECRET_JWT));
    if (EXPECT_OK(tokenclient_client_set_hmac_alg(c, "HS512"))) {
        CHECK_ASSERTION(c, "HS512", NULL, DEFAULT_AUD);
    }
    /* A short secret is fine for the methods that send it. */
    EXPECT_OK(tokenclient_client_set_client_secret(c, "x", TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC));
    EXPECT_ERR_OUT(tokenclient_client_create_assertion(c, &jwt), TOKENCLIENT_ERROR_CONFIG, jwt);

    free(s31);
    free(s32);
    free(s47);
    free(s48);
    free(s64);
    tokenclient_client_free(c);
}
