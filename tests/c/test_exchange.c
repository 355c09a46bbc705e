/*
 * Token exchanges from C against the real OpenID Connect test server, for
 * every client authentication method. Run by tests/c/run_exchange.py, which
 * starts the server, fetches authorization codes and passes everything in
 * the environment: TC_CLIENTS (names), and per client TC_<NAME>_URL, _ID,
 * _METHOD, _SECRET or _KEY/_KID/_ALG, _CODE; TC_REDIRECT_URI;
 * TC_PUBLIC_CLIENT_VERIFIER for the PKCE client.
 */
#define _POSIX_C_SOURCE 200809L
#define _GNU_SOURCE /* strncasecmp, memmem */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tokenclient.h"
#include "check.h"


/* Checks that `err` is NULL; if not, reports it and frees it. */
#define OK(call)                                                             \
  do {                                                                       \
    tokenclient_error *e_ = (call);                                          \
    if (e_) {                                                                \
      failed++;                                                              \
      fprintf(stderr, "%s:%d: %s failed (kind %d): %s\n", __FILE__, __LINE__, \
              #call, (int)tokenclient_error_get_kind(e_),                    \
              tokenclient_error_message(e_));                                \
      tokenclient_error_free(e_);                                            \
    } else {                                                                 \
      passed++;                                                              \
    }                                                                        \
  } while (0)

static const char *var(const char *client, const char *field) {
  char name[256];
  size_t n = (size_t)snprintf(name, sizeof name, "TC_%s_%s", client, field);
  for (size_t i = 0; i < n && i < sizeof name; i++) {
    if (name[i] == '-') name[i] = '_';
    if (name[i] >= 'a' && name[i] <= 'z') name[i] = (char)(name[i] - 'a' + 'A');
  }
  return getenv(name);
}

static tokenclient_client *make_client(const char *name) {
  tokenclient_client *c = NULL;
  const char *method = var(name, "METHOD");
  OK(tokenclient_client_new(var(name, "URL"), var(name, "ID"), &c));
  if (!c || !method) return c;
  if (strcmp(method, "private_key_jwt") == 0) {
    OK(tokenclient_client_set_private_key(c, var(name, "KEY"), var(name, "KID"), var(name, "ALG")));
  } else if (strcmp(method, "none") == 0) {
    OK(tokenclient_client_set_public(c));
  } else {
    tokenclient_auth_method m = strcmp(method, "client_secret_basic") == 0 ? TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC
                                : strcmp(method, "client_secret_post") == 0 ? TOKENCLIENT_AUTH_CLIENT_SECRET_POST
                                                                            : TOKENCLIENT_AUTH_CLIENT_SECRET_JWT;
    OK(tokenclient_client_set_client_secret(c, var(name, "SECRET"), m));
  }
  return c;
}

static int nonempty(const char *s) { return s != NULL && s[0] != '\0'; }

/* authorization_code -> refresh_token -> client_credentials. */
static void full_flow(const char *name, const char *redirect_uri) {
  tokenclient_client *c = make_client(name);
  tokenclient_token *tok = NULL, *refreshed = NULL, *cc = NULL;
  const char *verifier = var(name, "VERIFIER");
  if (!c) return;
  OK(tokenclient_client_exchange_code(c, var(name, "CODE"), redirect_uri, verifier, &tok));
  if (tok) {
    CHECK(nonempty(tokenclient_token_access_token(tok)));
    CHECK(nonempty(tokenclient_token_token_type(tok)));
    CHECK(tokenclient_token_expires_in(tok) > 0);
    CHECK(nonempty(tokenclient_token_id_token(tok)));
    CHECK(nonempty(tokenclient_token_refresh_token(tok)));
    CHECK(strstr(tokenclient_token_json(tok), "\"access_token\"") != NULL);
    CHECK(tokenclient_token_get(tok, "no_such_member") == NULL);
    OK(tokenclient_client_refresh(c, tokenclient_token_refresh_token(tok), NULL, &refreshed));
    if (refreshed) {
      CHECK(nonempty(tokenclient_token_access_token(refreshed)));
      CHECK(strcmp(tokenclient_token_access_token(refreshed), tokenclient_token_access_token(tok)) != 0);
    }
  }
  if (!verifier) { /* public clients have no client_credentials grant */
    OK(tokenclient_client_client_credentials(c, "read", &cc));
    if (cc) CHECK(tokenclient_token_scope(cc) && strcmp(tokenclient_token_scope(cc), "read") == 0);
  }
  printf("%-16s authorization_code, refresh_token%s: %s\n", name, verifier ? "" : ", client_credentials",
         (tok && refreshed && (verifier || cc)) ? "ok" : "FAILED");
  tokenclient_token_free(cc);
  tokenclient_token_free(refreshed);
  tokenclient_token_free(tok);
  tokenclient_client_free(c);
}

static void error_paths(const char *redirect_uri) {
  tokenclient_client *c = NULL;
  tokenclient_token *tok = NULL;
  tokenclient_error *err;

  /* Wrong secret: invalid_client, HTTP 401. */
  OK(tokenclient_client_new(var("basic-client", "URL"), var("basic-client", "ID"), &c));
  OK(tokenclient_client_set_client_secret(c, "wrong-secret", TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC));
  err = tokenclient_client_client_credentials(c, NULL, &tok);
  CHECK(err != NULL && tok == NULL);
  CHECK(tokenclient_error_get_kind(err) == TOKENCLIENT_ERROR_OAUTH);
  CHECK(tokenclient_error_http_status(err) == 401);
  CHECK(tokenclient_error_oauth_code(err) && strcmp(tokenclient_error_oauth_code(err), "invalid_client") == 0);
  CHECK(strstr(tokenclient_error_message(err), "wrong-secret") == NULL);
  tokenclient_error_free(err);
  tokenclient_client_free(c);

  /* A code used twice: invalid_grant the second time. */
  c = make_client("post-client");
  OK(tokenclient_client_exchange_code(c, var("post-client", "CODE2"), redirect_uri, NULL, &tok));
  tokenclient_token_free(tok);
  tok = NULL;
  err = tokenclient_client_exchange_code(c, var("post-client", "CODE2"), redirect_uri, NULL, &tok);
  CHECK(tokenclient_error_get_kind(err) == TOKENCLIENT_ERROR_OAUTH);
  CHECK(tokenclient_error_oauth_code(err) && strcmp(tokenclient_error_oauth_code(err), "invalid_grant") == 0);
  CHECK(tokenclient_error_http_status(err) == 400);
  CHECK(tok == NULL);
  tokenclient_error_free(err);

  /* The generic grant, with extra parameters, and malformed parameter lists. */
  {
    const char *params[] = {"scope", "read", NULL};
    const char *odd[] = {"scope", NULL};
    const char *reserved[] = {"client_secret", "x", NULL};
    OK(tokenclient_client_grant(c, "client_credentials", params, &tok));
    if (tok) CHECK(strcmp(tokenclient_token_scope(tok), "read") == 0);
    tokenclient_token_free(tok);
    tok = NULL;
    err = tokenclient_client_grant(c, "client_credentials", odd, &tok);
    CHECK(tokenclient_error_get_kind(err) == TOKENCLIENT_ERROR_INVALID_ARGUMENT && tok == NULL);
    tokenclient_error_free(err);
    err = tokenclient_client_grant(c, "client_credentials", reserved, &tok);
    CHECK(tokenclient_error_get_kind(err) == TOKENCLIENT_ERROR_INVALID_ARGUMENT && tok == NULL);
    tokenclient_error_free(err);
    err = tokenclient_client_grant(c, "urn:example:unknown-grant", NULL, &tok);
    CHECK(tokenclient_error_get_kind(err) == TOKENCLIENT_ERROR_OAUTH);
    CHECK(tokenclient_error_oauth_code(err) && strcmp(tokenclient_error_oauth_code(err), "unsupported_grant_type") == 0);
    tokenclient_error_free(err);
  }
  tokenclient_client_free(c);
  printf("error paths: %s\n", failed ? "FAILED" : "ok");
}

/* Collects a small HTTP body. */
static size_t collect(char *data, size_t size, size_t n, void *out) {
  size_t have = strlen((char *)out), add = size * n;
  if (have + add < 255) {
    memcpy((char *)out + have, data, add);
    ((char *)out)[have + add] = '\0';
  }
  return add;
}

/* Token requests the test server has seen from `client_id` (GET /test/stats). */
static long token_requests(const char *client_id) {
  char url[1024], body[256] = "";
  long n = -1;
  snprintf(url, sizeof url, "%s?client_id=%s", getenv("TC_STATS_URL"), client_id);
  CURL *curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
  if (curl_easy_perform(curl) == CURLE_OK) sscanf(body, "{\"token_requests\":%ld", &n);
  curl_easy_cleanup(curl);
  return n;
}

struct body {
  char text[8192];
  size_t len;
};

static size_t collect_big(char *data, size_t size, size_t n, void *out) {
  struct body *b = out;
  size_t add = size * n;
  if (b->len + add < sizeof b->text) {
    memcpy(b->text + b->len, data, add);
    b->len += add;
    b->text[b->len] = '\0';
  }
  return add;
}

/* The callback URL the test user's browser comes back to after logging in
 * at `authorization_url` (GET /test/authorize), in `out`; 0 on failure. */
static int browse(const char *authorization_url, char *out, size_t cap) {
  struct body b = {.len = 0};
  b.text[0] = '\0';
  CURL *curl = curl_easy_init();
  char *escaped = curl_easy_escape(curl, authorization_url, 0);
  char url[8192];
  snprintf(url, sizeof url, "%s?url=%s", getenv("TC_AUTHORIZE_URL"), escaped);
  curl_free(escaped);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_big);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  const char *start = strstr(b.text, "\"callback\":\"");
  if (rc != CURLE_OK || !start) return 0;
  start += strlen("\"callback\":\"");
  const char *end = strchr(start, '"');
  if (!end || (size_t)(end - start) >= cap) return 0;
  memcpy(out, start, (size_t)(end - start));
  out[end - start] = '\0';
  return 1;
}

/* The authorization code flow through a tokenclient_authorization: URL,
 * the real authorization endpoint, export/import, finish with the ID token
 * validated. */
static void authorization_flow(tokenclient_client *c) {
  for (int par = 0; par <= 1; par++) {
    tokenclient_authorization *a = NULL;
    OK(tokenclient_authorization_new(c, getenv("TC_REDIRECT_URI"), "openid offline_access", &a));
    if (!a) return;
    OK(tokenclient_authorization_set_param(a, "prompt", "consent"));
    OK(tokenclient_authorization_set_par(a, par));
    tokenclient_error *e = tokenclient_authorization_set_param(a, "state", "mine");
    CHECK(e != NULL && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
    tokenclient_error_free(e);
    char *url = NULL, *kept = NULL;
    OK(tokenclient_authorization_url(a, &url));
    CHECK(url && strstr(url, par ? "request_uri=" : "code_challenge_method=S256") != NULL);
    OK(tokenclient_authorization_export(a, &kept));
    tokenclient_authorization_free(a);
    a = NULL;
    OK(tokenclient_authorization_import(c, kept ? kept : "", &a));
    tokenclient_string_free(kept);
    char callback[4096];
    CHECK(url && browse(url, callback, sizeof callback));
    tokenclient_string_free(url);
    tokenclient_token *t = NULL;
    OK(tokenclient_authorization_finish(a, callback, &t));
    const char *claims = tokenclient_token_id_token_claims(t);
    CHECK(claims && strstr(claims, "\"sub\":") != NULL && strstr(claims, "\"nonce\":") != NULL);
    CHECK(tokenclient_token_refresh_token(t) != NULL);
    tokenclient_token_free(t);
    /* the same callback again: the code is spent */
    t = NULL;
    e = tokenclient_authorization_finish(a, callback, &t);
    CHECK(e != NULL && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_OAUTH && t == NULL);
    tokenclient_error_free(e);
    tokenclient_authorization_free(a);
  }
  tokenclient_authorization_free(NULL);
}

/* The device grant: started, approved by the test user (GET /test/device),
 * polled to its token; the accessors' NULL cases. */
static void device_flow(tokenclient_client *c) {
  tokenclient_device *d = NULL;
  OK(tokenclient_client_device_authorize(c, "openid", &d));
  if (!d) return;
  const char *user_code = tokenclient_device_user_code(d);
  CHECK(user_code && user_code[0] && tokenclient_device_expires_in(d) > 0);
  CHECK(strncmp(tokenclient_device_verification_uri(d), "http", 4) == 0);
  CHECK(strstr(tokenclient_device_verification_uri_complete(d), "user_code=") != NULL);
  char url[1024];
  struct body b = {.len = 0};
  b.text[0] = '\0';
  CURL *curl = curl_easy_init();
  char *escaped = curl_easy_escape(curl, user_code, 0);
  snprintf(url, sizeof url, "%s?user_code=%s", getenv("TC_DEVICE_URL"), escaped);
  curl_free(escaped);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_big);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
  CHECK(curl_easy_perform(curl) == CURLE_OK && strstr(b.text, "\"approved\":true") != NULL);
  curl_easy_cleanup(curl);
  tokenclient_call_options o = {.struct_size = sizeof o, .deadline_ms = 20000};
  tokenclient_token *t = NULL;
  OK(tokenclient_client_device_poll_ex(c, d, &o, &t));
  CHECK(t && tokenclient_token_access_token(t) && tokenclient_token_refresh_token(t));
  tokenclient_token_free(t);
  tokenclient_device_free(d);
  tokenclient_device_free(NULL);
  CHECK(tokenclient_device_user_code(NULL) == NULL && tokenclient_device_verification_uri(NULL) == NULL &&
        tokenclient_device_verification_uri_complete(NULL) == NULL && tokenclient_device_expires_in(NULL) == -1);
}

static tokenclient_client *cache_client;
static pthread_barrier_t cache_start;

static void *cache_caller(void *arg) {
  tokenclient_token *tok = NULL;
  (void)arg;
  pthread_barrier_wait(&cache_start);
  tokenclient_error *err = tokenclient_client_get_token(cache_client, "read", &tok);
  char *copy = tok ? strdup(tokenclient_token_access_token(tok)) : NULL;
  tokenclient_error_free(err);
  tokenclient_token_free(tok);
  return copy;
}

static int hook_calls;
static void count_hook(void *user_data, const tokenclient_token *token) {
  (void)user_data;
  if (tokenclient_token_access_token(token)) hook_calls++;
}

/* Many threads on an empty cache: exactly one request, one shared token. */
static void single_flight(void) {
  const char *name = "es384-client";
  int callers = getenv("TC_CALLERS") ? atoi(getenv("TC_CALLERS")) : 1000;
  pthread_t *threads = calloc((size_t)callers, sizeof *threads);
  cache_client = make_client(name);
  if (!cache_client) return;
  OK(tokenclient_client_set_token_callback(cache_client, count_hook, NULL));
  long before = token_requests(name);
  pthread_barrier_init(&cache_start, NULL, (unsigned)callers);
  for (int i = 0; i < callers; i++) pthread_create(&threads[i], NULL, cache_caller, NULL);
  char *first = NULL;
  int same = 1;
  for (int i = 0; i < callers; i++) {
    void *r;
    pthread_join(threads[i], &r);
    if (!r || (first && strcmp(first, r) != 0)) same = 0;
    if (!first) first = r; else free(r);
  }
  long after = token_requests(name);
  CHECK(same && first != NULL);
  CHECK(before >= 0 && after - before == 1);
  CHECK(hook_calls == 1);
  printf("get_token: %d concurrent callers, %ld request(s): %s\n", callers, after - before,
         same && after - before == 1 ? "ok" : "FAILED");
  free(first);
  free(threads);
  pthread_barrier_destroy(&cache_start);
  tokenclient_client_free(cache_client);
}

/* A client made from the issuer: its metadata, a token, then the token
 * introspected (active), revoked, introspected again (inactive). */
static void discovery(void) {
  const char *issuer = getenv("TC_ISSUER");
  tokenclient_client *c = NULL;
  OK(tokenclient_client_from_issuer(issuer, var("post-client", "ID"), &c));
  if (!c) return;
  char *json = NULL;
  OK(tokenclient_client_metadata(c, &json));
  CHECK(json && strstr(json, "\"revocation_endpoint\"") != NULL && strstr(json, issuer) != NULL);
  tokenclient_string_free(json);
  OK(tokenclient_client_set_client_secret(c, var("post-client", "SECRET"), TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
  tokenclient_token *t = NULL;
  OK(tokenclient_client_client_credentials(c, "read", &t));
  const char *at = t ? tokenclient_token_access_token(t) : "";
  json = NULL;
  OK(tokenclient_client_introspect(c, at, "access_token", &json));
  CHECK(json && strstr(json, "\"active\":true") != NULL);
  tokenclient_string_free(json);
  tokenclient_call_options o = {.struct_size = sizeof o, .deadline_ms = 5000};
  OK(tokenclient_client_revoke_ex(c, at, "access_token", &o));
  json = NULL;
  OK(tokenclient_client_introspect(c, at, NULL, &json));
  CHECK(json && strstr(json, "\"active\":false") != NULL);
  tokenclient_string_free(json);
  tokenclient_token_free(t);
  /* the ID token of a code flow with a nonce: validated, its claims read */
  t = NULL;
  OK(tokenclient_client_exchange_code(c, getenv("TC_NONCE_CODE"), getenv("TC_REDIRECT_URI"), NULL, &t));
  const char *id_token = t ? tokenclient_token_id_token(t) : NULL;
  CHECK(id_token != NULL);
  json = NULL;
  OK(tokenclient_client_validate_id_token(c, id_token ? id_token : "", "c-nonce-1", &json));
  CHECK(json && strstr(json, "\"nonce\":\"c-nonce-1\"") != NULL && strstr(json, "\"aud\":\"post-client\"") != NULL);
  tokenclient_string_free(json);
  json = NULL;
  tokenclient_error *e = tokenclient_client_validate_id_token(c, id_token ? id_token : "", "another-nonce", &json);
  CHECK(e != NULL && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_RESPONSE && json == NULL &&
        strstr(tokenclient_error_message(e), "nonce") != NULL);
  tokenclient_error_free(e);
  tokenclient_token_free(t);

  authorization_flow(c);
  device_flow(c);

  /* userinfo with a token that is not one: a typed error with the status */
  json = NULL;
  e = tokenclient_client_userinfo(c, "not-a-token", &json);
  CHECK(e != NULL && tokenclient_error_http_status(e) == 401 && json == NULL);
  tokenclient_error_free(e);
  tokenclient_client_free(c);

  /* an issuer that is not the one its document names */
  char wrong[512];
  snprintf(wrong, sizeof wrong, "%s/", issuer);
  c = NULL;
  e = tokenclient_client_from_issuer(wrong, "post-client", &c);
  CHECK(e != NULL && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_CONFIG && c == NULL);
  tokenclient_error_free(e);
}

/* Headers of one resource answer that DPoP needs. */
struct answer {
  long status;
  char www_authenticate[512];
  char dpop_nonce[600];
  struct body body;
};

static size_t collect_header(char *data, size_t size, size_t n, void *out) {
  struct answer *a = out;
  size_t len = size * n;
  const struct {
    const char *name;
    char *into;
    size_t cap;
  } wanted[] = {{"www-authenticate:", a->www_authenticate, sizeof a->www_authenticate},
                {"dpop-nonce:", a->dpop_nonce, sizeof a->dpop_nonce}};
  for (size_t i = 0; i < 2; i++) {
    size_t name_len = strlen(wanted[i].name);
    if (len > name_len && strncasecmp(data, wanted[i].name, name_len) == 0) {
      size_t value_len = len - name_len;
      const char *value = data + name_len;
      while (value_len && (*value == ' ')) value++, value_len--;
      while (value_len && (value[value_len - 1] == '\r' || value[value_len - 1] == '\n')) value_len--;
      if (value_len < wanted[i].cap) {
        memcpy(wanted[i].into, value, value_len);
        wanted[i].into[value_len] = '\0';
      }
    }
  }
  return len;
}

/* GET `url` with the token's Authorization value and, when given, a DPoP proof. */
static void resource_get(const char *url, const char *authorization, const char *proof, struct answer *a) {
  memset(a, 0, sizeof *a);
  CURL *curl = curl_easy_init();
  struct curl_slist *headers = NULL;
  char line[8192];
  snprintf(line, sizeof line, "Authorization: %s", authorization);
  headers = curl_slist_append(headers, line);
  if (proof) {
    snprintf(line, sizeof line, "DPoP: %s", proof);
    headers = curl_slist_append(headers, line);
  }
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_big);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a->body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, a);
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
}

/* A DPoP resource request as a client makes it: a proof with the origin's
 * last nonce; once more after a nonce challenge. Returns how many were sent. */
static int dpop_get(tokenclient_client *c, const char *url, const tokenclient_token *t, struct answer *a) {
  for (int sent = 1; sent <= 2; sent++) {
    char *proof = NULL;
    OK(tokenclient_client_dpop_proof(c, "GET", url, tokenclient_token_access_token(t), NULL, &proof));
    resource_get(url, tokenclient_token_authorization(t), proof, a);
    tokenclient_string_free(proof);
    int32_t retry = 0;
    OK(tokenclient_client_dpop_answer(c, url, (uint32_t)a->status, a->www_authenticate[0] ? a->www_authenticate : NULL,
                                      a->dpop_nonce[0] ? a->dpop_nonce : NULL, &retry));
    if (!retry) return sent;
  }
  return 3;
}

/* DPoP from C: every grant of dpop-client (whose tokens must be bound),
 * each token bound to the key; the resource's nonce challenge; the token
 * refused without its proof. */
static void dpop(void) {
  tokenclient_client *c = NULL;
  OK(tokenclient_client_from_issuer(getenv("TC_ISSUER"), "dpop-client", &c));
  if (!c) return;
  OK(tokenclient_client_set_client_secret(c, getenv("TC_DPOP_SECRET"), TOKENCLIENT_AUTH_CLIENT_SECRET_POST));
  OK(tokenclient_client_set_dpop_key(c, NULL, NULL));
  char *jkt = NULL;
  OK(tokenclient_client_dpop_thumbprint(c, &jkt));
  char expected_cnf[128];
  snprintf(expected_cnf, sizeof expected_cnf, "{\"jkt\":\"%s\"}", jkt ? jkt : "");
  tokenclient_string_free(jkt);
#define BOUND(t)                                                                                   \
  CHECK((t) && strcmp(tokenclient_token_token_type(t), "DPoP") == 0 &&                               \
        tokenclient_token_cnf(t) && strcmp(tokenclient_token_cnf(t), expected_cnf) == 0 &&           \
        strncmp(tokenclient_token_authorization(t), "DPoP ", 5) == 0)
  tokenclient_token *t = NULL, *code = NULL, *refreshed = NULL, *cached = NULL;
  OK(tokenclient_client_client_credentials(c, "read", &t));
  BOUND(t);
  OK(tokenclient_client_exchange_code(c, getenv("TC_DPOP_CODE"), getenv("TC_REDIRECT_URI"), NULL, &code));
  BOUND(code);
  if (code && tokenclient_token_refresh_token(code)) {
    OK(tokenclient_client_refresh(c, tokenclient_token_refresh_token(code), NULL, &refreshed));
    BOUND(refreshed);
  }
  const char *params[] = {"scope", "write", NULL};
  tokenclient_token *generic = NULL;
  OK(tokenclient_client_grant(c, "client_credentials", params, &generic));
  BOUND(generic);
  OK(tokenclient_client_get_token(c, "read write", &cached));
  BOUND(cached);
  device_flow(c); /* dpop-client's device token is bound too, or refused */

  const char *url = getenv("TC_PROTECTED_URL");
  struct answer a;
  if (t) {
    CHECK(dpop_get(c, url, t, &a) == 2 && a.status == 200 && strstr(a.body.text, "\"token_type\":\"DPoP\"") != NULL);
    CHECK(dpop_get(c, url, t, &a) == 1 && a.status == 200); /* the nonce is kept */
    resource_get(url, tokenclient_token_authorization(t), NULL, &a);
    CHECK(a.status == 401); /* no proof */
    char bearer[4096];
    snprintf(bearer, sizeof bearer, "Bearer %s", tokenclient_token_access_token(t));
    char *proof = NULL;
    OK(tokenclient_client_dpop_proof(c, "GET", url, tokenclient_token_access_token(t), NULL, &proof));
    resource_get(url, bearer, proof, &a);
    CHECK(a.status == 401); /* a bound token as a bearer token */
    tokenclient_string_free(proof);
  }
  tokenclient_token_free(t);
  tokenclient_token_free(code);
  tokenclient_token_free(refreshed);
  tokenclient_token_free(generic);
  tokenclient_token_free(cached);
  tokenclient_client_free(c);
#undef BOUND
}

/* mTLS from C: both methods through the discovery document's aliases, the
 * certificate as files and as PEM text, the token bound to it. */
static void mtls(void) {
  const struct {
    const char *id, *prefix;
    tokenclient_auth_method method;
    int pem_text;
  } cases[] = {{"mtls-client", "TC_MTLS_CLIENT_", TOKENCLIENT_AUTH_TLS_CLIENT_AUTH, 0},
               {"selfsigned-client", "TC_SELFSIGNED_CLIENT_", TOKENCLIENT_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH, 1}};
  for (size_t i = 0; i < 2; i++) {
    char cert_var[64], key_var[64], x5t_var[64];
    snprintf(cert_var, sizeof cert_var, "%sCERT%s", cases[i].prefix, cases[i].pem_text ? "_PEM" : "");
    snprintf(key_var, sizeof key_var, "%sKEY%s", cases[i].prefix, cases[i].pem_text ? "_PEM" : "");
    snprintf(x5t_var, sizeof x5t_var, "%sX5T", cases[i].prefix);
    tokenclient_client *c = NULL;
    OK(tokenclient_client_from_issuer(getenv("TC_ISSUER"), cases[i].id, &c));
    if (!c) continue;
    OK(tokenclient_client_set_ca_file(c, getenv("TC_MTLS_CA")));
    OK(tokenclient_client_set_client_cert(c, getenv(cert_var), getenv(key_var)));
    OK(tokenclient_client_set_tls_client_auth(c, cases[i].method));
    tokenclient_token *t = NULL;
    OK(tokenclient_client_client_credentials(c, "read", &t));
    char expected[128];
    snprintf(expected, sizeof expected, "{\"x5t#S256\":\"%s\"}", getenv(x5t_var));
    CHECK(t && tokenclient_token_cnf(t) && strcmp(tokenclient_token_cnf(t), expected) == 0);
    char *json = NULL;
    OK(tokenclient_client_introspect(c, t ? tokenclient_token_access_token(t) : "x", NULL, &json));
    CHECK(json && strstr(json, getenv(x5t_var)) != NULL);
    tokenclient_string_free(json);
    tokenclient_token_free(t);
    tokenclient_client_free(c);
  }
}

/* Signs with an OpenSSL key held by this program, as a KMS would (DER). */
static int evp_sign(void *user_data, const uint8_t *input, size_t input_len, uint8_t *out_sig, size_t out_cap,
                    size_t *out_len, char *err_msg, size_t err_cap) {
  (void)err_msg, (void)err_cap;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t len = out_cap;
  int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, user_data) == 1 &&
           EVP_DigestSign(ctx, out_sig, &len, input, input_len) == 1;
  EVP_MD_CTX_free(ctx);
  *out_len = len;
  return ok ? 0 : 1;
}

/* Keys the library never sees: es256-client's key behind a callback, and
 * (plain run) a P-256 key inside a SoftHSM2 token through its PKCS#11 URI,
 * for a client registered for it; its assertion is left for PyJWT. */
static void signers(void) {
  BIO *bio = BIO_new_mem_buf(var("es256-client", "KEY"), -1);
  EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  CHECK(key != NULL);
  tokenclient_client *c = NULL;
  OK(tokenclient_client_new(var("es256-client", "URL"), var("es256-client", "ID"), &c));
  if (c && key) {
    OK(tokenclient_client_set_signer(c, "ES256", var("es256-client", "KID"), evp_sign, key, NULL));
    tokenclient_token *t = NULL;
    OK(tokenclient_client_client_credentials(c, "read", &t));
    CHECK(t && tokenclient_token_access_token(t)[0]);
    tokenclient_token_free(t);
  }
  tokenclient_client_free(c);
  EVP_PKEY_free(key);

  const char *uri = getenv("TC_HSM_URI");
  if (!uri) return;
  c = NULL;
  OK(tokenclient_client_new(var("es256-client", "URL"), getenv("TC_HSM_CLIENT"), &c));
  if (!c) return;
  OK(tokenclient_client_set_private_key(c, uri, getenv("TC_HSM_KID"), NULL));
  tokenclient_token *t = NULL;
  OK(tokenclient_client_client_credentials(c, "read", &t));
  CHECK(t && tokenclient_token_access_token(t)[0]);
  tokenclient_token_free(t);
  char *jwt = NULL;
  OK(tokenclient_client_create_assertion(c, &jwt));
  FILE *f = fopen(getenv("TC_HSM_ASSERTION"), "w");
  CHECK(f && jwt && fputs(jwt, f) >= 0);
  if (f) fclose(f);
  tokenclient_string_free(jwt);
  tokenclient_client_free(c);
  printf("signers (callback, PKCS#11): ok\n");
}

/* A store of the caller's: entries and leases in memory, behind a mutex, as
 * a C program would put them in memcached or a database. */
#define STORE_SLOTS 16
struct memory_store {
  pthread_mutex_t lock;
  char names[STORE_SLOTS][80];
  unsigned char *entries[STORE_SLOTS];
  size_t lens[STORE_SLOTS];
  char leases[STORE_SLOTS][80], owners[STORE_SLOTS][80];
  int gets, puts, leased, released, freed, fail;
};

static int slot_of(char (*names)[80], const char *name, int make) {
  for (int i = 0; i < STORE_SLOTS; i++)
    if (strcmp(names[i], name) == 0) return i;
  if (!make) return -1;
  for (int i = 0; i < STORE_SLOTS; i++)
    if (!names[i][0]) {
      snprintf(names[i], sizeof names[i], "%s", name);
      return i;
    }
  return -1;
}

static int mem_get(void *user_data, const char *name, uint8_t *out, size_t cap, size_t *out_len) {
  struct memory_store *m = user_data;
  pthread_mutex_lock(&m->lock);
  m->gets++;
  int i = m->fail ? -2 : slot_of(m->names, name, 0);
  int rc = i == -2 ? -1 : i < 0 || !m->entries[i] ? 0 : 1;
  if (rc == 1) {
    *out_len = m->lens[i];
    if (m->lens[i] <= cap) memcpy(out, m->entries[i], m->lens[i]);
  }
  pthread_mutex_unlock(&m->lock);
  return rc;
}

static int mem_put(void *user_data, const char *name, const uint8_t *entry, size_t len, uint64_t ttl_ms) {
  struct memory_store *m = user_data;
  pthread_mutex_lock(&m->lock);
  int i = m->fail || ttl_ms == 0 ? -1 : slot_of(m->names, name, 1);
  if (i >= 0) {
    free(m->entries[i]);
    m->entries[i] = malloc(len);
    memcpy(m->entries[i], entry, len);
    m->lens[i] = len;
    m->puts++;
  }
  pthread_mutex_unlock(&m->lock);
  return i >= 0 ? 0 : -1;
}

static int mem_lease(void *user_data, const char *name, const char *owner, uint64_t ttl_ms) {
  struct memory_store *m = user_data;
  (void)ttl_ms;
  pthread_mutex_lock(&m->lock);
  int rc = -1;
  if (!m->fail) {
    int i = slot_of(m->leases, name, 1);
    rc = i < 0 ? -1 : m->owners[i][0] ? 0 : 1;
    if (rc == 1) {
      snprintf(m->owners[i], sizeof m->owners[i], "%s", owner);
      m->leased++;
    }
  }
  pthread_mutex_unlock(&m->lock);
  return rc;
}

static void mem_release(void *user_data, const char *name, const char *owner) {
  struct memory_store *m = user_data;
  pthread_mutex_lock(&m->lock);
  int i = slot_of(m->leases, name, 0);
  if (i >= 0 && strcmp(m->owners[i], owner) == 0) {
    m->owners[i][0] = '\0';
    m->released++;
  }
  pthread_mutex_unlock(&m->lock);
}

static void mem_free(void *user_data) { ((struct memory_store *)user_data)->freed++; }

static int store_events;
static void count_store_events(void *user_data, const tokenclient_event *event) {
  (void)user_data;
  if (strcmp(tokenclient_event_name(event), "store.fallback") == 0) store_events++;
}

/* Two clients (as two processes would) share tokens through callbacks that
 * never see one; a failing store is gone around; misuse is refused. */
static void callback_store(void) {
  const char *name = "basic-client";
  struct memory_store m = {.lock = PTHREAD_MUTEX_INITIALIZER};
  tokenclient_store_callbacks cb = {mem_get, mem_put, mem_lease, mem_release, &m, mem_free};
  tokenclient_client *a = make_client(name), *b = make_client(name);
  if (!a || !b) return;
  OK(tokenclient_client_set_token_store_callbacks(a, &cb));
  OK(tokenclient_client_set_token_store_callbacks(b, &cb));
  long before = token_requests(name);
  tokenclient_token *ta = NULL, *tb = NULL;
  OK(tokenclient_client_get_token(a, "read", &ta));
  OK(tokenclient_client_get_token(b, "read", &tb));
  CHECK(ta && tb && strcmp(tokenclient_token_access_token(ta), tokenclient_token_access_token(tb)) == 0);
  CHECK(token_requests(name) - before == 1);
  CHECK(m.puts == 1 && m.leased == 1 && m.released == 1 && m.gets >= 3);
  /* The store holds a sealed entry under a hashed name: neither the token
   * nor the client id in it. */
  int i = slot_of(m.names, m.names[0], 0);
  CHECK(i == 0 && strlen(m.names[0]) == 64 && strspn(m.names[0], "0123456789abcdef") == 64);
  /* A lease is named apart from its entry: one namespace can hold both. */
  CHECK(strncmp(m.leases[0], m.names[0], 64) == 0 && strcmp(m.leases[0] + 64, ".lease") == 0);
  if (ta && m.entries[0]) {
    const char *at = tokenclient_token_access_token(ta);
    CHECK(memmem(m.entries[0], m.lens[0], at, strlen(at)) == NULL);
    CHECK(memmem(m.entries[0], m.lens[0], var(name, "ID"), strlen(var(name, "ID"))) == NULL);
  }
  tokenclient_token_free(ta);
  tokenclient_token_free(tb);

  /* A store that fails: every call still gets a token, and says so once. */
  tokenclient_client *c = make_client(name);
  if (c) {
    OK(tokenclient_client_set_log_callback(c, TOKENCLIENT_LOG_WARN, count_store_events, NULL));
    OK(tokenclient_client_set_token_store_callbacks(c, &cb));
    pthread_mutex_lock(&m.lock);
    m.fail = 1;
    pthread_mutex_unlock(&m.lock);
    before = token_requests(name);
    tokenclient_token *t = NULL;
    OK(tokenclient_client_get_token(c, "write", &t));
    CHECK(t && tokenclient_token_access_token(t)[0]);
    CHECK(token_requests(name) - before == 1);
    CHECK(store_events == 1);
    tokenclient_token_free(t);
    tokenclient_client_free(c);
  }

  /* Misuse: refused, and the user data is neither kept nor freed. */
  tokenclient_store_callbacks partial = cb;
  partial.lease = NULL;
  tokenclient_error *e = tokenclient_client_set_token_store_callbacks(a, &partial);
  CHECK(e && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(e && strstr(tokenclient_error_message(e), "lease") != NULL);
  tokenclient_error_free(e);
  e = tokenclient_client_set_token_store_callbacks(a, NULL);
  CHECK(e && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  tokenclient_error_free(e);
  e = tokenclient_client_set_token_store_callbacks(NULL, &cb);
  CHECK(e && tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  tokenclient_error_free(e);
  CHECK(m.freed == 1); /* c's store, freed with c */

  /* Removing the store frees its user data; so does freeing the client. */
  OK(tokenclient_client_set_token_store(a, NULL));
  CHECK(m.freed == 2);
  tokenclient_client_free(a);
  tokenclient_client_free(b);
  CHECK(m.freed == 3);
  for (int j = 0; j < STORE_SLOTS; j++) free(m.entries[j]);
  printf("callback store: %s\n", failed ? "FAILED" : "ok");
}

int main(void) {
  const char *clients = getenv("TC_CLIENTS");
  const char *redirect_uri = getenv("TC_REDIRECT_URI");
  char names[2048];
  if (!clients || !redirect_uri) {
    fprintf(stderr, "run me through tests/c/run_exchange.py\n");
    return 2;
  }
  snprintf(names, sizeof names, "%s", clients);
  for (char *name = strtok(names, " "); name; name = strtok(NULL, " ")) full_flow(name, redirect_uri);
  error_paths(redirect_uri);
  single_flight();
  discovery();
  dpop();
  mtls();
  signers();
  callback_store();
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
