// The C++ wrapper: exchange an authorization code with private_key_jwt,
// refresh, and catch a typed OAuth error. Inputs from the environment, as
// for examples/c/demo.c (examples/run_demo.py and tests/install set them).
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "tokenclient.hpp"

static const char *env(const char *name) {
  const char *v = std::getenv(name);
  if (!v) throw std::runtime_error(std::string(name) + " is not set");
  return v;
}

int main() {
  try {
    tokenclient::Client client{env("TOKEN_URL"), env("CLIENT_ID")};
    client.set_private_key(env("CLIENT_KEY"), env("KEY_ID"));
    // What the library does, as events (never a secret).
    client.set_log_callback(TOKENCLIENT_LOG_INFO, [](const tokenclient::Event &e) {
      std::cout << "event " << e.name() << " " << e.field("grant_type").value_or("-") << "\n";
    });
    tokenclient::Token tok = client.exchange_code(env("AUTH_CODE"), env("REDIRECT_URI"));
    std::cout << "token_type " << tok.token_type << ", expires_in " << tok.expires_in.value_or(-1)
              << ", sid " << tok.get("sid").value_or("-") << "\n";
    tokenclient::Token refreshed = client.refresh(*tok.refresh_token);
    std::cout << "refreshed: " << (refreshed.access_token != tok.access_token ? "new access token" : "SAME") << "\n";
    std::cout << "counters " << client.counters() << "\n";

    // Per-call options: a deadline of the call's own, and a Cancel that
    // another thread (or a signal handler) fires.
    tokenclient::Token cc = client.client_credentials("read", {std::chrono::seconds(5)});
    std::cout << "client_credentials within 5 s: " << cc.token_type << "\n";
    tokenclient::Cancel stop;
    std::thread([&stop] { stop.cancel(); }).join();
    try {
      client.get_token("read", {std::chrono::seconds(5), &stop});
      std::cerr << "expected the call to be cancelled\n";
      return 1;
    } catch (const tokenclient::Error &e) {
      std::cout << "get_token with a fired Cancel: "
                << (e.kind() == TOKENCLIENT_ERROR_CANCELLED ? "cancelled" : e.what()) << "\n";
    }

    // A client made from the issuer: its metadata, then a token introspected,
    // revoked, and introspected again.
    tokenclient::Client oidc = tokenclient::Client::from_issuer(env("ISSUER"), env("CLIENT_ID"));
    oidc.set_private_key(env("CLIENT_KEY"), env("KEY_ID"));
    std::cout << "discovered: " << (oidc.metadata().find("revocation_endpoint") != std::string::npos ? "yes" : "no")
              << "\n";
    tokenclient::Token svc = oidc.client_credentials("read");
    const bool active = oidc.introspect(svc.access_token).find("\"active\":true") != std::string::npos;
    oidc.revoke(svc.access_token, "access_token");
    const bool revoked = oidc.introspect(svc.access_token).find("\"active\":false") != std::string::npos;
    std::cout << "introspected active, then revoked: " << (active && revoked ? "yes" : "no") << "\n";

    // DPoP: tokens bound to a key made in memory (RFC 9449).
    oidc.set_dpop_key();
    tokenclient::Token bound = oidc.client_credentials("read");
    std::cout << "dpop: " << bound.token_type << ", bound to the key: "
              << (bound.cnf && bound.cnf->find(oidc.dpop_thumbprint()) != std::string::npos ? "yes" : "no") << "\n";

    // A key held elsewhere: a signer callback (here one whose KMS is down).
    tokenclient::Client kms{env("TOKEN_URL"), env("CLIENT_ID")};
    kms.set_signer([](const std::uint8_t *, std::size_t) -> std::vector<std::uint8_t> {
      throw std::runtime_error("the KMS is unreachable (example)");
    }, "ES256", env("KEY_ID"));
    try {
      kms.create_assertion();
    } catch (const tokenclient::Error &e) {
      std::cout << "signer: " << (e.kind() == TOKENCLIENT_ERROR_KEY ? "key error" : "?") << ", "
                << (std::string(e.what()).find("the KMS is unreachable") != std::string::npos ? "its message" : "?")
                << "\n";
    }

    tokenclient::Client wrong{env("TOKEN_URL"), env("BASIC_CLIENT_ID")};
    wrong.set_client_secret("not-the-secret");
    try {
      wrong.client_credentials();
      std::cerr << "expected an OAuth error\n";
      return 1;
    } catch (const tokenclient::OAuthError &e) {
      std::cout << "wrong secret: HTTP " << e.http_status() << " " << e.code() << "\n";
    }
    return refreshed.access_token != tok.access_token ? 0 : 1;
  } catch (const tokenclient::Error &e) {
    std::cerr << "tokenclient error " << e.kind() << ": " << e.what() << "\n";
  } catch (const std::exception &e) {
    std::cerr << e.what() << "\n";
  }
  return 1;
}
