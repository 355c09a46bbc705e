/*
 * What a Talkdesk or PingOne integration does with tokenclient:
 * load the bare base64 EC key it was handed, exchange an authorization code
 * with private_key_jwt, refresh, and handle a typed OAuth error.
 *
 * Inputs come from the environment (examples/run_demo.py sets them from the
 * local test server): TOKEN_URL, CLIENT_ID, CLIENT_KEY (bare base64 PKCS#8
 * DER), KEY_ID, AUTH_CODE, REDIRECT_URI, and BASIC_CLIENT_ID for the error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenclient.h"

static const char *env(const char *name) {
  const char *v = getenv(name);
  if (!v) {
    fprintf(stderr, "demo: %s is not set\n", name);
    exit(2);
  }
  return v;
}

static const char *or_dash(const char *s) { return s ? s : "-"; }

/* Prints and frees an error. */
static int fail(const char *what, tokenclient_error *err) {
  fprintf(stderr, "%s failed (kind %d): %s\n", what, (int)tokenclient_error_get_kind(err),
          tokenclient_error_message(err));
  tokenclient_error_free(err);
  return 1;
}

static void print_token(const char *label, const tokenclient_token *tok) {
  /* Tokens are credentials: print their length, not their value. */
  printf("%s\n", label);
  printf("  token_type     %s\n", tokenclient_token_token_type(tok));
  printf("  expires_in     %lld s\n", (long long)tokenclient_token_expires_in(tok));
  printf("  scope          %s\n", or_dash(tokenclient_token_scope(tok)));
  printf("  access_token   %zu chars\n", strlen(tokenclient_token_access_token(tok)));
  printf("  refresh_token  %s\n", tokenclient_token_refresh_token(tok) ? "present" : "-");
  printf("  id_token       %s\n", tokenclient_token_id_token(tok) ? "present" : "-");
  printf("  sid            %s\n", or_dash(tokenclient_token_get(tok, "sid")));
}

int main(void) {
  tokenclient_client *client = NULL;
  tokenclient_token *tok = NULL, *refreshed = NULL;
  tokenclient_error *err;
  int rc = 1;

  printf("tokenclient %s\n", tokenclient_version());
  err = tokenclient_client_new(env("TOKEN_URL"), env("CLIENT_ID"), &client);
  if (err) return fail("tokenclient_client_new", err);

  /* The key as Talkdesk hands it out: bare base64 of PKCS#8 DER; ES256 is inferred. */
  err = tokenclient_client_set_private_key(client, env("CLIENT_KEY"), env("KEY_ID"), NULL);
  if (err) { rc = fail("set_private_key", err); goto out; }

  err = tokenclient_client_exchange_code(client, env("AUTH_CODE"), env("REDIRECT_URI"), NULL, &tok);
  if (err) { rc = fail("exchange_code", err); goto out; }
  print_token("authorization_code with private_key_jwt:", tok);

  err = tokenclient_client_refresh(client, tokenclient_token_refresh_token(tok), NULL, &refreshed);
  if (err) { rc = fail("refresh", err); goto out; }
  print_token("refresh_token:", refreshed);

  /* A wrong credential gives a typed OAuth error, with the server's words. */
  {
    tokenclient_client *wrong = NULL;
    tokenclient_token *none = NULL;
    err = tokenclient_client_new(env("TOKEN_URL"), env("BASIC_CLIENT_ID"), &wrong);
    if (err) { rc = fail("tokenclient_client_new", err); goto out; }
    err = tokenclient_client_set_client_secret(wrong, "not-the-secret",
                                               TOKENCLIENT_AUTH_CLIENT_SECRET_BASIC);
    if (!err) err = tokenclient_client_client_credentials(wrong, NULL, &none);
    if (err && tokenclient_error_get_kind(err) == TOKENCLIENT_ERROR_OAUTH) {
      printf("wrong secret:\n  HTTP %d, error \"%s\": %s\n", tokenclient_error_http_status(err),
             tokenclient_error_oauth_code(err), or_dash(tokenclient_error_oauth_description(err)));
      rc = 0;
    } else {
      fprintf(stderr, "expected TOKENCLIENT_ERROR_OAUTH for a wrong secret\n");
    }
    tokenclient_error_free(err);
    tokenclient_token_free(none);
    tokenclient_client_free(wrong);
  }

out:
  tokenclient_token_free(refreshed);
  tokenclient_token_free(tok);
  tokenclient_client_free(client);
  return rc;
}
