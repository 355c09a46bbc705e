// tests/c/test_header.cpp: include/tokenclient.h is usable from C++17
// (compiled with -std=c++17 -Wall -Wextra -Werror): it compiles, is guarded
// against double inclusion, its functions link with C linkage, its constants
// are constant expressions of the right types, and a few calls behave.
// Prints "N passed, N failed" last; exits non-zero on any failure.
#include "tokenclient.h"
#include "tokenclient.h"  // the include guard

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>

#include "check.h"

// The C declarations, seen from C++.
static_assert(std::is_same_v<decltype(&tokenclient_version), const char *(*)()>);
static_assert(std::is_same_v<decltype(&tokenclient_error_free), void (*)(tokenclient_error *)>);
static_assert(std::is_same_v<decltype(&tokenclient_client_new),
                             tokenclient_error *(*)(const char *, const char *, tokenclient_client **)>);
static_assert(std::is_same_v<decltype(&tokenclient_client_set_max_response_bytes),
                             tokenclient_error *(*)(tokenclient_client *, std::size_t)>);
static_assert(std::is_same_v<tokenclient_auth_method, std::uint32_t>);
static_assert(std::is_same_v<tokenclient_talkdesk_region, std::uint32_t>);
static_assert(std::is_enum_v<tokenclient_error_kind>);
static_assert(sizeof(tokenclient_error_kind) == sizeof(int));
static_assert(TOKENCLIENT_ERROR_INVALID_ARGUMENT == 1 && TOKENCLIENT_ERROR_PANIC == 8);
static_assert(TOKENCLIENT_VERSION_MAJOR >= 0 && TOKENCLIENT_VERSION_MINOR >= 0 && TOKENCLIENT_VERSION_PATCH >= 0);
// The option macros initialise the integer types without narrowing.
constexpr tokenclient_auth_method kJwt{TOKENCLIENT_AUTH_CLIENT_SECRET_JWT};
constexpr tokenclient_talkdesk_region kEu{TOKENCLIENT_TALKDESK_EU};
static_assert(kJwt == 3 && kEu == 1);

// A token callback as a C++ function with C-compatible signature.
static void on_token(void *user_data, const tokenclient_token *token) {
  static_cast<std::string *>(user_data)->assign(tokenclient_token_access_token(token));
}

int main() {
  // The version, equal to the macros.
  const char *version = tokenclient_version();
  CHECK(version != nullptr);
  const std::string want = std::to_string(TOKENCLIENT_VERSION_MAJOR) + "." +
                           std::to_string(TOKENCLIENT_VERSION_MINOR) + "." +
                           std::to_string(TOKENCLIENT_VERSION_PATCH);
  CHECK(version != nullptr && want == version);

  // A bad URL: an error with a kind and a message; the out-param untouched.
  tokenclient_client *client = nullptr;
  tokenclient_error *error = tokenclient_client_new("http://example.com/token", "cpp-client", &client);
  CHECK(error != nullptr);
  CHECK(client == nullptr);
  CHECK(tokenclient_error_get_kind(error) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  const char *message = tokenclient_error_message(error);
  CHECK(message != nullptr && std::strlen(message) > 0);
  CHECK(tokenclient_error_http_status(error) == 0);
  CHECK(tokenclient_error_oauth_code(error) == nullptr);
  tokenclient_error_free(error);

  // NULL handling from C++ (nullptr).
  CHECK(tokenclient_error_get_kind(nullptr) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(tokenclient_error_message(nullptr) != nullptr);
  tokenclient_error_free(nullptr);
  tokenclient_client_free(nullptr);
  tokenclient_string_free(nullptr);
  tokenclient_token_free(nullptr);

  // A good client, a setter with an enum-like constant, a callback.
  error = tokenclient_client_new("https://idp.example.com/oauth/token", "cpp-client", &client);
  CHECK(error == nullptr);
  tokenclient_error_free(error);
  if (client != nullptr) {
    std::string seen;
    error = tokenclient_client_set_client_secret(client, "0123456789abcdef0123456789abcdef", kJwt);
    CHECK(error == nullptr);
    tokenclient_error_free(error);
    error = tokenclient_client_set_token_callback(client, on_token, &seen);
    CHECK(error == nullptr);
    tokenclient_error_free(error);
    char *jwt = nullptr;
    error = tokenclient_client_create_assertion(client, &jwt);
    CHECK(error == nullptr);
    CHECK(jwt != nullptr && std::strncmp(jwt, "eyJ", 3) == 0);
    tokenclient_error_free(error);
    tokenclient_string_free(jwt);
    tokenclient_client_free(client);
  }

  // A provider URL.
  char *url = nullptr;
  error = tokenclient_talkdesk_token_url("acme", kEu, &url);
  CHECK(error == nullptr);
  CHECK(url != nullptr && std::string(url) == "https://acme.talkdeskid.eu/oauth/token");
  tokenclient_error_free(error);
  tokenclient_string_free(url);

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
