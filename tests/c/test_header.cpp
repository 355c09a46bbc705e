// The generated C header is usable from C++17 (and so is the wrapper).
#include <cstdio>
#include <cstring>

#include "tokenclient.h"
#include "tokenclient.hpp"

int main() {
  int passed = 0, failed = 0;
  auto check = [&](bool ok, const char *what) {
    if (ok) {
      passed++;
    } else {
      failed++;
      std::fprintf(stderr, "CHECK failed: %s\n", what);
    }
  };
  check(std::strlen(tokenclient_version()) > 0, "version");
  tokenclient_client *c = nullptr;
  tokenclient_error *e = tokenclient_client_new("http://example.com/t", "x", &c);
  check(e != nullptr && c == nullptr, "http URL refused");
  check(tokenclient_error_get_kind(e) == TOKENCLIENT_ERROR_INVALID_ARGUMENT, "kind");
  tokenclient_error_free(e);
  try {
    tokenclient::Client bad{"ftp://x", "y"};
    check(false, "the wrapper throws");
  } catch (const tokenclient::Error &err) {
    check(err.kind() == TOKENCLIENT_ERROR_INVALID_ARGUMENT, "wrapper error kind");
  }
  tokenclient::Client ok{"https://acme.talkdeskid.com/oauth/token", "cid"};
  ok.set_client_secret("01234567890123456789012345678901", tokenclient::AuthMethod::ClientSecretJwt);
  check(!ok.create_assertion().empty(), "assertion");
  tokenclient::Client moved = std::move(ok);
  check(!moved.create_assertion().empty(), "moved-to client works");
  try {
    (void)ok.create_assertion();  // NOLINT: use after move is what is tested
    check(false, "a moved-from client throws");
  } catch (const tokenclient::Error &) {
    check(true, "moved-from");
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
