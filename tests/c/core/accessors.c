/*
 * tests/c/core/accessors.c: the version string, and the error and token
 * accessors: what they give for NULL and for a local error.
 */
#include "core.h"

void test_version(void) {
    const char *v = tokenclient_version();
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", TOKENCLIENT_VERSION_MAJOR, TOKENCLIENT_VERSION_MINOR,
             TOKENCLIENT_VERSION_PATCH);
    CHECK(v != NULL);
    if (v) {
        CHECK(strcmp(v, want) == 0);
        CHECK(tokenclient_version() == v); /* static: the same string each time */
    }
}

void test_error_accessors(void) {
    /* NULL: what the header promises. */
    CHECK(tokenclient_error_get_kind(NULL) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
    const char *msg = tokenclient_error_message(NULL);
    CHECK(msg != NULL && msg[0] != '\0');
    CHECK(tokenclient_error_http_status(NULL) == 0);
    CHECK(tokenclient_error_oauth_code(NULL) == NULL);
    CHECK(tokenclient_error_oauth_description(NULL) == NULL);
    CHECK(tokenclient_error_oauth_uri(NULL) == NULL);
    tokenclient_error_free(NULL);

    /* A local error: no HTTP status, no OAuth fields; the message names the
     * argument. */
    tokenclient_client *c = SENTINEL;
    tokenclient_error *e = tokenclient_client_new(NULL, CLIENT_ID, &c);
    CHECK(e != NULL);
    CHECK(c == SENTINEL);
    if (e) {
        CHECK(tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(tokenclient_error_message(e), "token_url") != NULL);
        CHECK(tokenclient_error_message(e) == tokenclient_error_message(e));
        CHECK(tokenclient_error_http_status(e) == 0);
        CHECK(tokenclient_error_oauth_code(e) == NULL);
        CHECK(tokenclient_error_oauth_description(e) == NULL);
        CHECK(tokenclient_error_oauth_uri(e) == NULL);
        tokenclient_error_free(e);
    }
}

void test_token_accessors_null(void) {
    CHECK(tokenclient_token_access_token(NULL) == NULL);
    CHECK(tokenclient_token_token_type(NULL) == NULL);
    CHECK(tokenclient_token_expires_in(NULL) == -1);
    CHECK(tokenclient_token_scope(NULL) == NULL);
    CHECK(tokenclient_token_refresh_token(NULL) == NULL);
    CHECK(tokenclient_token_id_token(NULL) == NULL);
    CHECK(tokenclient_token_get(NULL, "sid") == NULL);
    CHECK(tokenclient_token_get(NULL, NULL) == NULL);
    CHECK(tokenclient_token_json(NULL) == NULL);
    CHECK(tokenclient_token_cnf(NULL) == NULL);
    CHECK(tokenclient_token_authorization(NULL) == NULL);
    tokenclient_token_free(NULL);
    tokenclient_string_free(NULL);
}
