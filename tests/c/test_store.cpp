// tests/c/test_store.cpp: the shared token store through the C++ wrapper
// (include/tokenclient.hpp) against the real OpenID Connect test server.
// Run by tests/c/run_exchange.py, which passes in the environment:
// TC_STORE_TOKEN_URL, TC_STORE_CLIENT_ID and TC_STORE_SECRET (a
// client_secret_basic client), TC_STATS_URL, TC_STORE_DIR (a directory
// whose "store" subdirectory is the file store; made by the library) and
// TC_STORE_FRESH: 1 when the store is new (each group of clients below
// makes exactly one token request), 0 when an earlier process filled it
// (no request at all: every token comes from the store).
// Prints "N passed, N failed" last; exits non-zero on any failure.
#include <curl/curl.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "tokenclient.hpp"

#include "check.h"

static std::string env(const char *name) {
  const char *v = std::getenv(name);
  if (!v) {
    std::fprintf(stderr, "%s is not set: run me through tests/c/run_exchange.py\n", name);
    std::exit(2);
  }
  return v;
}

static size_t collect(char *data, size_t size, size_t n, void *out) {
  static_cast<std::string *>(out)->append(data, size * n);
  return size * n;
}

// Token requests the test server has seen from the client (GET /test/stats).
static long token_requests() {
  const std::string url = env("TC_STATS_URL") + "?client_id=" + env("TC_STORE_CLIENT_ID");
  std::string body;
  long n = -1;
  CURL *curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  if (curl_easy_perform(curl) == CURLE_OK) std::sscanf(body.c_str(), "{\"token_requests\":%ld", &n);
  curl_easy_cleanup(curl);
  return n;
}

static tokenclient::Client make_client() {
  tokenclient::Client c{env("TC_STORE_TOKEN_URL"), env("TC_STORE_CLIENT_ID")};
  c.set_client_secret(env("TC_STORE_SECRET"), tokenclient::AuthMethod::ClientSecretBasic);
  return c;
}

// The kind of the tokenclient::Error that f throws; 0 when it throws none.
static int kind_thrown(const std::function<void()> &f) {
  try {
    f();
  } catch (const tokenclient::Error &e) {
    return e.kind();
  }
  return 0;
}

static void errors(const std::string &store) {
  tokenclient::Client c = make_client();
  CHECK(kind_thrown([&] { c.set_token_store("memcached://localhost:11211"); }) ==
        TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(kind_thrown([&] { c.set_token_store("file://relative/dir"); }) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  const std::vector<std::uint8_t> key(32, 0x11);
  // No store yet: a key has nothing to seal.
  CHECK(kind_thrown([&] { c.set_token_store_key(key); }) == TOKENCLIENT_ERROR_CONFIG);
  CHECK(kind_thrown([&] { c.set_token_store(store); }) == 0);
  const std::uint8_t short_key[15] = {1};
  CHECK(kind_thrown([&] { c.set_token_store_key(short_key, sizeof short_key); }) ==
        TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(kind_thrown([&] { c.set_token_store_key(std::vector<std::uint8_t>{}); }) ==
        TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(kind_thrown([&] { c.set_token_store_key(nullptr, 16); }) == TOKENCLIENT_ERROR_INVALID_ARGUMENT);
  CHECK(kind_thrown([&] { c.set_token_store_key(key); }) == 0);
  CHECK(kind_thrown([&] { c.clear_token_store_key(); }) == 0);
  CHECK(kind_thrown([&] { c.clear_token_store(); }) == 0);
  CHECK(kind_thrown([&] { c.set_token_store_key(key); }) == TOKENCLIENT_ERROR_CONFIG);
}

// Two clients of one store: one request between them (none when an earlier
// process filled the store), the same token.
static void sharing(const std::string &store, long want) {
  const long before = token_requests();
  tokenclient::Client a = make_client(), b = make_client();
  a.set_token_store(store);
  b.set_token_store(store);
  const std::string first = a.get_token().access_token;
  const std::string second = b.get_token().access_token;
  CHECK(!first.empty());
  CHECK(first == second);
  CHECK(before >= 0 && token_requests() - before == want);
}

// Clients with the same set key share; one with another key does not see
// their entry.
static void keys(const std::string &store, long want) {
  const std::vector<std::uint8_t> key(32, 0x22), other(32, 0x33);
  const long before = token_requests();
  tokenclient::Client a = make_client(), b = make_client(), c = make_client();
  for (tokenclient::Client *x : {&a, &b, &c}) x->set_token_store(store);
  a.set_token_store_key(key);
  b.set_token_store_key(key.data(), key.size());
  c.set_token_store_key(other);
  const std::string first = a.get_token().access_token;
  CHECK(b.get_token().access_token == first);
  CHECK(before >= 0 && token_requests() - before == want);
  CHECK(c.get_token().access_token != first);
  CHECK(token_requests() - before == 2 * want);
}

int main() {
  const std::string store = "file://" + env("TC_STORE_DIR") + "/store";
  const long want = env("TC_STORE_FRESH") == "1" ? 1 : 0;
  try {
    errors(store);
    sharing(store, want);
    keys(store, want);
  } catch (const tokenclient::Error &e) {
    ++failed;
    std::fprintf(stderr, "unexpected tokenclient::Error (kind %d): %s\n", e.kind(), e.what());
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
