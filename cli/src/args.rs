//! The command line (clap). Options that carry secrets name a file or an
//! environment variable, never the secret itself; the endpoint, client id,
//! scope, CA file and timeout fall back to `TOKENCLIENT_*` variables (the
//! credentials do not: a login made for a public client must not pick up a
//! secret meant for another client from the environment).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_STATUS: &str = "\
Exit status: 0 success, 2 usage, 3 bad argument, key or configuration, 4 transport or out of \
time (a deadline, or no login within --wait), 5 OAuth error from the server, 6 other HTTP error, \
7 invalid response, 8 login callback refused (wrong state or issuer), 70 internal error, \
130 cancelled.

Tokens go where --output says. Without it they are written to standard output when it is not a \
terminal (a pipe, a file, $(...)), and on a terminal only described, never shown in full.";

#[derive(Parser)]
#[command(
    name = "tokenclient",
    version,
    about = "OAuth 2.0 / OpenID Connect tokens: client credentials, code, refresh and any grant; \
             a user login through the browser or the device grant; RFC 7523 assertions; DPoP proofs",
    after_help = EXIT_STATUS,
    propagate_version = true
)]
pub struct Cli {
    /// What the library does, as JSON lines on stderr: -v requests and
    /// refreshes (info), -vv also cache hits and requests sent (debug)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

impl Command {
    /// The endpoint options, for the commands that have them.
    pub fn endpoint_mut(&mut self) -> Option<&mut EndpointArgs> {
        match self {
            Command::Token(a) => Some(&mut a.client.endpoint),
            Command::Login(a) => Some(&mut a.client.endpoint),
            Command::Assertion { client, .. } => Some(&mut client.endpoint),
            Command::Discover(a) => Some(&mut a.endpoint),
            Command::Revoke(a) | Command::Introspect(a) => Some(&mut a.client.endpoint),
            Command::Proof(_) | Command::Completions { .. } => None,
        }
    }

    /// The output options, for the commands that have them.
    pub fn output(&self) -> Option<&OutputArgs> {
        match self {
            Command::Token(a) => Some(&a.output),
            Command::Login(a) => Some(&a.output),
            Command::Assertion { output, .. } => Some(output),
            Command::Discover(a) => Some(&a.output),
            Command::Revoke(a) | Command::Introspect(a) => Some(&a.output),
            Command::Proof(_) | Command::Completions { .. } => None,
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Get a token from the token endpoint (default grant: client_credentials)
    Token(TokenArgs),
    /// Log a user in: the authorization code flow with PKCE through the
    /// system browser and a loopback redirect (RFC 8252), or --device
    Login(LoginArgs),
    /// Print a signed client assertion (RFC 7523) for the token endpoint
    Assertion {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print the issuer's metadata (JSON)
    Discover(DiscoverArgs),
    /// Revoke a token (RFC 7009)
    Revoke(TokenCommandArgs),
    /// Print the introspection answer for a token (RFC 7662, JSON)
    Introspect(TokenCommandArgs),
    /// Print a DPoP proof for a resource request (the DPoP header, RFC 9449)
    Proof(ProofArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// A secret's two sources, `--NAME-file` and `--NAME-env`.
pub struct Secret<'a> {
    pub name: &'static str,
    pub file: &'a Option<PathBuf>,
    pub env: &'a Option<String>,
}

#[derive(Clone, Copy, Default, ValueEnum)]
pub enum Region {
    #[default]
    Us,
    Eu,
    Ca,
}

#[derive(Args)]
#[command(next_help_heading = "Endpoint")]
pub struct EndpointArgs {
    /// An OpenID Connect / RFC 8414 issuer: its metadata names the endpoints
    #[arg(long, value_name = "URL", env = "TOKENCLIENT_ISSUER")]
    pub issuer: Option<String>,
    /// The token endpoint
    #[arg(long, value_name = "URL", env = "TOKENCLIENT_TOKEN_URL")]
    pub token_url: Option<String>,
    /// A Talkdesk account's token endpoint
    #[arg(long, value_name = "ACCOUNT")]
    pub talkdesk: Option<String>,
    /// The Talkdesk region (default us)
    #[arg(long, value_enum, requires = "talkdesk")]
    pub region: Option<Region>,
    /// A PingOne environment's token endpoint
    #[arg(long, value_name = "ENV_ID")]
    pub pingone: Option<String>,
    /// PingOne's authentication base URL (default https://auth.pingone.com)
    #[arg(long, value_name = "URL", requires = "pingone")]
    pub auth_base: Option<String>,
    /// The client id
    #[arg(long, value_name = "ID", env = "TOKENCLIENT_CLIENT_ID")]
    pub client_id: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// client_secret_basic
    Basic,
    /// client_secret_post
    Post,
    /// client_secret_jwt
    Jwt,
    /// tls_client_auth (with --cert/--key)
    Tls,
    /// self_signed_tls_client_auth (with --cert/--key)
    SelfSignedTls,
}

#[derive(Args)]
#[command(next_help_heading = "Credentials")]
pub struct Credentials {
    /// A file holding the client secret
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// An environment variable holding the client secret
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// How the client authenticates with its secret or certificate (default basic)
    #[arg(long, value_enum)]
    pub auth: Option<AuthArg>,
    /// A file holding the private key: PEM, one-line PEM, bare base64 DER or JWK (private_key_jwt)
    #[arg(long, value_name = "FILE")]
    pub private_key_file: Option<PathBuf>,
    /// An environment variable holding the private key
    #[arg(long, value_name = "VAR")]
    pub private_key_env: Option<String>,
    /// The key id for the assertion's header
    #[arg(long)]
    pub kid: Option<String>,
    /// The assertion's algorithm (default: inferred from the key)
    #[arg(long, value_name = "ALG")]
    pub alg: Option<String>,
    /// A private key inside a PKCS#11 token (RFC 7512, with ?module-path=...)
    #[arg(long, value_name = "URI")]
    pub pkcs11_uri: Option<String>,
    /// A file holding the PKCS#11 PIN
    #[arg(long, value_name = "FILE")]
    pub pkcs11_pin_file: Option<PathBuf>,
    /// An environment variable holding the PKCS#11 PIN
    #[arg(long, value_name = "VAR")]
    pub pkcs11_pin_env: Option<String>,
    /// No client authentication (auth method none)
    #[arg(long)]
    pub public: bool,
    /// A client certificate (PEM) for mutual TLS
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl Credentials {
    pub fn client_secret(&self) -> Secret<'_> {
        Secret {
            name: "client-secret",
            file: &self.client_secret_file,
            env: &self.client_secret_env,
        }
    }

    pub fn private_key(&self) -> Secret<'_> {
        Secret {
            name: "private-key",
            file: &self.private_key_file,
            env: &self.private_key_env,
        }
    }

    pub fn pkcs11_pin(&self) -> Secret<'_> {
        Secret {
            name: "pkcs11-pin",
            file: &self.pkcs11_pin_file,
            env: &self.pkcs11_pin_env,
        }
    }
}

#[derive(Args)]
#[command(next_help_heading = "DPoP (RFC 9449)")]
pub struct DpopArgs {
    /// A file holding the DPoP key (any key format)
    #[arg(long, value_name = "FILE")]
    pub dpop_key_file: Option<PathBuf>,
    /// An environment variable holding the DPoP key
    #[arg(long, value_name = "VAR")]
    pub dpop_key_env: Option<String>,
    /// The proofs' algorithm (default: inferred from the key, ES256 for P-256)
    #[arg(long, value_name = "ALG")]
    pub dpop_alg: Option<String>,
}

impl DpopArgs {
    pub fn key(&self) -> Secret<'_> {
        Secret {
            name: "dpop-key",
            file: &self.dpop_key_file,
            env: &self.dpop_key_env,
        }
    }
}

/// Everything that makes a client: endpoint, credentials, DPoP, connection.
#[derive(Args)]
pub struct ClientArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub credentials: Credentials,
    #[command(flatten)]
    pub dpop: DpopArgs,
    /// The assertion audience (default: the token URL)
    #[arg(long, value_name = "AUD", help_heading = "Connection")]
    pub audience: Option<String>,
    /// A private CA's certificates (PEM) to verify the server with
    #[arg(
        long,
        value_name = "FILE",
        env = "TOKENCLIENT_CA_FILE",
        help_heading = "Connection"
    )]
    pub ca_file: Option<PathBuf>,
    /// The whole call's deadline, retries included (connect: at most 10000)
    #[arg(
        long,
        value_name = "MS",
        env = "TOKENCLIENT_TIMEOUT_MS",
        help_heading = "Connection"
    )]
    pub timeout_ms: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The token endpoint's JSON answer
    Json,
    /// The access token alone
    Token,
    /// Shell assignments TOKENCLIENT_ACCESS_TOKEN=... (for eval)
    Env,
}

#[derive(Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Where the token goes: a file (written 0600) or - for standard output
    /// (also on a terminal). Default: standard output unless it is a
    /// terminal, where the token is only described
    #[arg(long, short, value_name = "FILE|-")]
    pub output: Option<PathBuf>,
    /// What is written
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// `NAME=VALUE`.
fn name_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err("takes NAME=VALUE".to_string()),
    }
}

#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// client_credentials, authorization_code, refresh_token or a grant type URI
    #[arg(long, default_value = "client_credentials", help_heading = "Grant")]
    pub grant: String,
    /// The authorization code (authorization_code)
    #[arg(long, help_heading = "Grant")]
    pub code: Option<String>,
    /// The redirect URI the code was sent to (authorization_code)
    #[arg(long, value_name = "URI", help_heading = "Grant")]
    pub redirect_uri: Option<String>,
    /// The PKCE verifier (authorization_code)
    #[arg(long, value_name = "VERIFIER", help_heading = "Grant")]
    pub code_verifier: Option<String>,
    /// A file holding the refresh token (refresh_token)
    #[arg(long, value_name = "FILE", help_heading = "Grant")]
    pub refresh_token_file: Option<PathBuf>,
    /// An environment variable holding the refresh token (refresh_token)
    #[arg(long, value_name = "VAR", help_heading = "Grant")]
    pub refresh_token_env: Option<String>,
    /// The scope to ask for
    #[arg(long, env = "TOKENCLIENT_SCOPE", help_heading = "Grant")]
    pub scope: Option<String>,
    /// Any other form parameter (repeatable)
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = name_value, help_heading = "Grant")]
    pub params: Vec<(String, String)>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
#[command(next_help_heading = "Shared token store")]
pub struct StoreArgs {
    /// Take the token from a store shared with other runs and processes
    /// while it lasts, else ask once for all of them and put it there
    /// (client_credentials only): default, file:///DIR, redis://... or
    /// rediss://... (a URL with a password only in TOKENCLIENT_STORE)
    #[arg(long, value_name = "URL", env = "TOKENCLIENT_STORE")]
    pub store: Option<String>,
    /// A file whose bytes (all of them) seal the store's entries instead of
    /// a key derived from the credential (needed with --public, --auth tls,
    /// --auth self-signed-tls and --pkcs11-uri)
    #[arg(long, value_name = "FILE")]
    pub store_key_file: Option<PathBuf>,
    /// Whether --store was given on the command line (not from
    /// TOKENCLIENT_STORE), where a Redis password must not go.
    #[arg(skip)]
    pub store_on_command_line: bool,
}

impl TokenArgs {
    pub fn refresh_token(&self) -> Secret<'_> {
        Secret {
            name: "refresh-token",
            file: &self.refresh_token_file,
            env: &self.refresh_token_env,
        }
    }
}

#[derive(Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The scope to ask for
    #[arg(
        long,
        default_value = "openid",
        env = "TOKENCLIENT_SCOPE",
        help_heading = "Login"
    )]
    pub scope: String,
    /// The device grant (RFC 8628): print a code and a URL to open on any device
    #[arg(long, help_heading = "Login")]
    pub device: bool,
    /// Print the URL instead of opening the system browser ($BROWSER, else xdg-open or open)
    #[arg(long, conflicts_with = "device", help_heading = "Login")]
    pub no_browser: bool,
    /// The loopback listener's port (default: a free one)
    #[arg(
        long,
        default_value_t = 0,
        conflicts_with = "device",
        help_heading = "Login"
    )]
    pub port: u16,
    /// The redirect URI's path on the loopback listener
    #[arg(
        long,
        default_value = "/callback",
        value_name = "PATH",
        conflicts_with = "device",
        help_heading = "Login"
    )]
    pub redirect_path: String,
    /// How long to wait for the user, in seconds (at most a day)
    #[arg(
        long,
        default_value_t = 300,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=86_400),
        help_heading = "Login"
    )]
    pub wait: u64,
    /// Another authorization request parameter, e.g. prompt=login (repeatable)
    #[arg(
        long = "param",
        value_name = "NAME=VALUE",
        value_parser = name_value,
        conflicts_with = "device",
        help_heading = "Login"
    )]
    pub params: Vec<(String, String)>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct DiscoverArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// The whole call's deadline
    #[arg(long, value_name = "MS", env = "TOKENCLIENT_TIMEOUT_MS")]
    pub timeout_ms: Option<u32>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct TokenCommandArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// A file holding the token
    #[arg(long, value_name = "FILE", help_heading = "Token")]
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the token
    #[arg(long, value_name = "VAR", help_heading = "Token")]
    pub token_env: Option<String>,
    /// The token's type, as a hint to the server (access_token, refresh_token)
    #[arg(long, help_heading = "Token")]
    pub hint: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl TokenCommandArgs {
    pub fn token(&self) -> Secret<'_> {
        Secret {
            name: "token",
            file: &self.token_file,
            env: &self.token_env,
        }
    }
}

#[derive(Args)]
pub struct ProofArgs {
    #[command(flatten)]
    pub dpop: DpopArgs,
    /// The request's method
    #[arg(long)]
    pub method: String,
    /// The request's URL
    #[arg(long)]
    pub url: String,
    /// A file holding the access token the request carries (gives the proof its ath)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// An environment variable holding that access token
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// The server's nonce
    #[arg(long)]
    pub nonce: Option<String>,
}

impl ProofArgs {
    pub fn token(&self) -> Secret<'_> {
        Secret {
            name: "token",
            file: &self.token_file,
            env: &self.token_env,
        }
    }
}
