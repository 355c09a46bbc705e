/*
 * tests/c/core/providers.c: the token URLs of the providers the header
 * names (Talkdesk, PingOne), accepted and refused.
 */
#include "core.h"

static void check_talkdesk_at(const char *account, tokenclient_talkdesk_region region,
                              const char *want, const char *file, int line) {
    char *url = SENTINEL;
    if (expect_ok_at(tokenclient_talkdesk_token_url(account, region, &url), "talkdesk_token_url", file, line)) {
        char what[512];
        snprintf(what, sizeof what, "talkdesk(%s, %u) = \"%s\", want \"%s\"", account,
                 (unsigned)region, url ? url : "(null)", want);
        check_at(url != NULL && url != SENTINEL && strcmp(url, want) == 0, what, file, line);
        tokenclient_string_free(url);
    }
}

void test_provider_urls(void) {
    check_talkdesk_at("acme", TOKENCLIENT_TALKDESK_US, "https://acme.talkdeskid.com/oauth/token", __FILE__, __LINE__);
    check_talkdesk_at("acme", TOKENCLIENT_TALKDESK_EU, "https://acme.talkdeskid.eu/oauth/token", __FILE__, __LINE__);
    check_talkdesk_at("acme", TOKENCLIENT_TALKDESK_CA, "https://acme.talkdeskidca.com/oauth/token", __FILE__, __LINE__);
    check_talkdesk_at("ACME-2", TOKENCLIENT_TALKDESK_US, "https://acme-2.talkdeskid.com/oauth/token",
                      __FILE__, __LINE__);
    char *label63 = repeat_char('a', 63), *label64 = repeat_char('a', 64);
    char want63[128];
    snprintf(want63, sizeof want63, "https://%s.talkdeskid.eu/oauth/token", label63);
    check_talkdesk_at(label63, TOKENCLIENT_TALKDESK_EU, want63, __FILE__, __LINE__);

    char *url;
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url(NULL, TOKENCLIENT_TALKDESK_US, &url), url);
    EXPECT_INVALID(tokenclient_talkdesk_token_url("acme", TOKENCLIENT_TALKDESK_US, NULL));
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url(BAD_UTF8, TOKENCLIENT_TALKDESK_US, &url), url);
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url("acme", 3, &url), url);
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url("acme", 7, &url), url);
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url("acme", UINT32_MAX, &url), url);
    static const char *const bad_accounts[] = {
        "a/b", "x@y", "", "-acme", "acme-", "a.b", "a b", "a:1", "a?x", "a#", "\xc3\xa4",
        "acme.evil.com/", "acme\r\n",
    };
    for (size_t i = 0; i < sizeof bad_accounts / sizeof bad_accounts[0]; i++) {
        EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url(bad_accounts[i], TOKENCLIENT_TALKDESK_US, &url), url);
    }
    EXPECT_INVALID_OUT(tokenclient_talkdesk_token_url(label64, TOKENCLIENT_TALKDESK_US, &url), url);
    free(label63);
    free(label64);

    /* PingOne */
    static const struct {
        const char *base, *env, *want;
    } good[] = {
        {"https://auth.pingone.com", "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
         "https://auth.pingone.com/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9/as/token"},
        {"https://auth.pingone.eu/", "env-1", "https://auth.pingone.eu/env-1/as/token"},
        {"http://127.0.0.1:3000", "env", "http://127.0.0.1:3000/env/as/token"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        url = SENTINEL;
        if (EXPECT_OK(tokenclient_pingone_token_url(good[i].base, good[i].env, &url))) {
            char what[512];
            snprintf(what, sizeof what, "pingone(%s, %s) = \"%s\", want \"%s\"", good[i].base,
                     good[i].env, url ? url : "(null)", good[i].want);
            check_at(url != NULL && url != SENTINEL && strcmp(url, good[i].want) == 0, what, __FILE__, __LINE__);
            tokenclient_string_free(url);
        }
    }
    EXPECT_INVALID_OUT(tokenclient_pingone_token_url(NULL, "env", &url), url);
    EXPECT_INVALID_OUT(tokenclient_pingone_token_url("https://auth.pingone.com", NULL, &url), url);
    EXPECT_INVALID(tokenclient_pingone_token_url("https://auth.pingone.com", "env", NULL));
    EXPECT_INVALID_OUT(tokenclient_pingone_token_url(BAD_UTF8, "env", &url), url);
    EXPECT_INVALID_OUT(tokenclient_pingone_token_url("https://auth.pingone.com", BAD_UTF8, &url), url);
    static const struct {
        const char *base, *env;
    } bad[] = {
        {"https://auth.pingone.com", "a/../b"},
        {"https://auth.pingone.com", "x@evil.com"},
        {"https://auth.pingone.com", ""},
        {"https://auth.pingone.com", "a b"},
        {"https://auth.pingone.com/path", "env"},
        {"https://auth.pingone.com?q", "env"},
        {"https://auth.pingone.com#f", "env"},
        {"http://auth.pingone.com", "env"},
        {"auth.pingone.com", "env"},
        {"", "env"},
        {"https://user@auth.pingone.com", "env"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        EXPECT_INVALID_OUT(tokenclient_pingone_token_url(bad[i].base, bad[i].env, &url), url);
    }
}
