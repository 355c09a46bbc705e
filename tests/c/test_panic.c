/* The panic boundary, from C: tokenclient_test_panic (exported only by the
 * test-hooks build, target/hooks/release) panics inside the library; the
 * caller must get a TOKENCLIENT_ERROR_PANIC error, not an abort, and the
 * library must go on working. Run by tests/c/run.sh, plainly and under
 * valgrind. */
#include <string.h>

#include "check.h"
#include "tokenclient.h"

/* Not in the header: test builds only. */
tokenclient_error *tokenclient_test_panic(void);

int main(void) {
  for (int round = 0; round < 3; round++) {
    tokenclient_error *err = tokenclient_test_panic();
    CHECK(err != NULL);
    if (err == NULL) break;
    CHECK(tokenclient_error_get_kind(err) == TOKENCLIENT_ERROR_PANIC);
    const char *message = tokenclient_error_message(err);
    CHECK(message != NULL && strstr(message, "internal error in tokenclient") != NULL);
    CHECK(message != NULL && strstr(message, "tokenclient_test_panic was called") != NULL);
    CHECK(tokenclient_error_http_status(err) == 0);
    CHECK(tokenclient_error_oauth_code(err) == NULL);
    tokenclient_error_free(err);
  }

  /* Still usable afterwards. */
  tokenclient_client *client = NULL;
  tokenclient_error *err = tokenclient_client_new("https://as.example.com/token", "panic-test", &client);
  CHECK(err == NULL && client != NULL);
  err = tokenclient_client_set_client_secret(client, "a-secret-of-32-bytes-for-hs256!!",
                                             TOKENCLIENT_AUTH_CLIENT_SECRET_JWT);
  CHECK(err == NULL);
  char *assertion = NULL;
  err = tokenclient_client_create_assertion(client, &assertion);
  CHECK(err == NULL && assertion != NULL && strncmp(assertion, "eyJ", 3) == 0);
  tokenclient_string_free(assertion);
  tokenclient_error_free(err);
  tokenclient_client_free(client);

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
