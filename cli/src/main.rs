//! `tokenclient`: get a token, log a user in, or sign an assertion, from the
//! shell. Secrets come from files or environment variables, never from the
//! command line; tokens go where `--output` says, and are never shown in
//! full on a terminal unless asked.
#![forbid(unsafe_code)]

mod args;
mod login;
mod output;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use zeroize::Zeroizing;

use args::{
    AuthArg, Cli, ClientArgs, Command, Credentials, DiscoverArgs, DpopArgs, EndpointArgs,
    LoginArgs, ProofArgs, Secret, TokenArgs, TokenCommandArgs,
};
use tokenclient::{
    Algorithm, AuthMethod, CallOptions, Client, Error, ErrorKind, Event, Level, TalkdeskRegion,
};

/// The client id `discover` and `proof` use when none is given (neither
/// depends on it).
const ANONYMOUS_CLIENT: &str = "tokenclient-cli";

/// Exit statuses (also in `--help`).
pub(crate) mod exit {
    pub const USAGE: u8 = 2;
    pub const CONFIG: u8 = 3;
    pub const TRANSPORT: u8 = 4;
    pub const OAUTH: u8 = 5;
    pub const HTTP: u8 = 6;
    pub const RESPONSE: u8 = 7;
    /// `login`: the browser came back with a callback that is not this
    /// request's (wrong `state`, another issuer, malformed).
    pub const CALLBACK: u8 = 8;
    pub const INTERNAL: u8 = 70;
    pub const CANCELLED: u8 = 130;
}

/// A failure, with the exit status it maps to.
pub(crate) struct Failure {
    pub status: u8,
    pub message: String,
}

impl Failure {
    pub fn new(status: u8, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match e.kind() {
            ErrorKind::InvalidArgument | ErrorKind::Key | ErrorKind::Config => exit::CONFIG,
            ErrorKind::Transport => exit::TRANSPORT,
            ErrorKind::OAuth => exit::OAUTH,
            ErrorKind::Http => exit::HTTP,
            ErrorKind::Response => exit::RESPONSE,
            ErrorKind::Panic => exit::INTERNAL,
            ErrorKind::Cancelled => exit::CANCELLED,
        };
        Failure::new(status, e.message())
    }
}

/// A usage error found after parsing (clap reports its own with status 2).
pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure::new(
        exit::USAGE,
        format!("{}\n(see tokenclient --help)", message.into()),
    )
}

/// A secret from its `--NAME-file` or `--NAME-env` (a file's trailing line
/// break dropped), wiped when dropped.
fn read_secret(secret: &Secret) -> Result<Option<Zeroizing<String>>, Failure> {
    match (&secret.file, &secret.env) {
        (Some(_), Some(_)) => Err(usage(format!(
            "give --{0}-file or --{0}-env, not both",
            secret.name
        ))),
        (Some(path), None) => std::fs::read_to_string(path)
            .map(|s| {
                let s = Zeroizing::new(s);
                Some(Zeroizing::new(s.trim_end_matches(['\r', '\n']).to_string()))
            })
            .map_err(|e| {
                Failure::new(exit::CONFIG, format!("cannot read {}: {e}", path.display()))
            }),
        (None, Some(var)) => std::env::var(var)
            .map(|s| Some(Zeroizing::new(s)))
            .map_err(|_| {
                Failure::new(
                    exit::CONFIG,
                    format!("the environment variable {var} is not set (or not UTF-8)"),
                )
            }),
        (None, None) => Ok(None),
    }
}

fn token_url(e: &EndpointArgs) -> Result<String, Failure> {
    match (&e.token_url, &e.talkdesk, &e.pingone) {
        (Some(url), None, None) => Ok(url.clone()),
        (None, Some(account), None) => {
            let region = match e.region.unwrap_or_default() {
                args::Region::Us => TalkdeskRegion::Us,
                args::Region::Eu => TalkdeskRegion::Eu,
                args::Region::Ca => TalkdeskRegion::Ca,
            };
            Ok(tokenclient::talkdesk_token_url(account, region)?)
        }
        (None, None, Some(env)) => Ok(tokenclient::pingone_token_url(
            e.auth_base.as_deref().unwrap_or("https://auth.pingone.com"),
            env,
        )?),
        (None, None, None) => Err(usage("give --issuer, --token-url, --talkdesk or --pingone")),
        _ => Err(usage(
            "give only one of --token-url, --talkdesk and --pingone",
        )),
    }
}

fn deadline(timeout_ms: Option<u32>) -> CallOptions {
    CallOptions {
        deadline: timeout_ms.map(|ms| Duration::from_millis(ms.into())),
        cancel: None,
    }
}

/// The client of the endpoint options, without credentials: from
/// `--issuer`'s metadata, or of the token URL.
fn endpoint_client(e: &EndpointArgs, id: &str, timeout_ms: Option<u32>) -> Result<Client, Failure> {
    match &e.issuer {
        Some(issuer) => {
            if e.token_url.is_some() || e.talkdesk.is_some() || e.pingone.is_some() {
                return Err(usage("give --issuer or a token endpoint, not both"));
            }
            Ok(Client::from_issuer_with(issuer, id, &deadline(timeout_ms))?)
        }
        None => Ok(Client::new(&token_url(e)?, id)?),
    }
}

fn set_logging(c: &Client, verbosity: u8) -> Result<(), Failure> {
    let level = match verbosity {
        0 => return Ok(()),
        1 => Level::Info,
        _ => Level::Debug,
    };
    // Events never hold a secret; each is one JSON line.
    c.set_log_callback(
        level,
        Some(Arc::new(|level: Level, event: &Event<'_>| {
            eprintln!("{}", event.to_json(level))
        })),
    )?;
    Ok(())
}

/// `--pkcs11-uri` with the PIN from `--pkcs11-pin-file`/`-env` (never on
/// the command line, where other users could see it).
fn pkcs11_uri(cr: &Credentials) -> Result<Option<Zeroizing<String>>, Failure> {
    let pin = read_secret(&cr.pkcs11_pin())?;
    let Some(uri) = &cr.pkcs11_uri else {
        if pin.is_some() {
            return Err(usage("--pkcs11-pin-... goes with --pkcs11-uri"));
        }
        return Ok(None);
    };
    if uri.contains("pin-value=") {
        return Err(usage(
            "the PIN does not go on the command line: give it with --pkcs11-pin-file or --pkcs11-pin-env",
        ));
    }
    let mut full = Zeroizing::new(uri.clone());
    if let Some(pin) = pin {
        let separator = if full.contains('?') { '&' } else { '?' };
        full.push(separator);
        full.push_str("pin-value=");
        for b in pin.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                full.push(char::from(b));
            } else {
                full.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Ok(Some(full))
}

/// How the client authenticates: what `--auth` and the credentials say.
/// `optional`: no credentials means a public client (`login`).
fn set_credentials(c: &Client, cr: &Credentials, optional: bool) -> Result<(), Failure> {
    let secret = read_secret(&cr.client_secret())?;
    let key = match (read_secret(&cr.private_key())?, pkcs11_uri(cr)?) {
        (Some(_), Some(_)) => {
            return Err(usage("give --private-key-... or --pkcs11-uri, not both"))
        }
        (key, uri) => key.or(uri),
    };
    if key.is_none() && (cr.kid.is_some() || cr.alg.is_some()) {
        return Err(usage(
            "--kid and --alg go with --private-key-... or --pkcs11-uri",
        ));
    }
    let tls = match cr.auth {
        Some(AuthArg::Tls) => Some(AuthMethod::TlsClientAuth),
        Some(AuthArg::SelfSignedTls) => Some(AuthMethod::SelfSignedTlsClientAuth),
        _ => None,
    };
    match (secret, key, cr.public) {
        (None, None, false) if tls.is_some() => {
            c.set_tls_client_auth(tls.expect("matched"))?;
        }
        _ if tls.is_some() => {
            return Err(usage(
                "--auth tls and self-signed-tls authenticate with --cert/--key alone",
            ))
        }
        (Some(secret), None, false) => {
            let method = match cr.auth.unwrap_or(AuthArg::Basic) {
                AuthArg::Post => AuthMethod::ClientSecretPost,
                AuthArg::Jwt => AuthMethod::ClientSecretJwt,
                _ => AuthMethod::ClientSecretBasic,
            };
            c.set_client_secret(&secret, method)?;
        }
        (None, Some(key), false) => {
            if cr.auth.is_some() {
                return Err(usage("--auth goes with a client secret or --cert/--key"));
            }
            let alg = cr.alg.as_deref().map(str::parse::<Algorithm>).transpose()?;
            c.set_private_key(&key, cr.kid.as_deref(), alg)?;
        }
        (None, None, true) => c.set_public()?,
        (None, None, false) if optional => c.set_public()?,
        (None, None, false) => {
            return Err(usage(
                "give credentials: --client-secret-file/-env, --private-key-file/-env, \
                 --pkcs11-uri, --cert/--key with --auth tls, or --public",
            ))
        }
        _ => return Err(usage("give only one kind of credentials")),
    }
    Ok(())
}

/// `--dpop-key-file`/`--dpop-key-env` [`--dpop-alg`]: the client's DPoP key.
fn set_dpop_key(c: &Client, d: &DpopArgs) -> Result<bool, Failure> {
    match read_secret(&d.key())? {
        Some(key) => {
            c.set_dpop_key(Some(&key), d.dpop_alg.as_deref())?;
            Ok(true)
        }
        None if d.dpop_alg.is_some() => Err(usage("--dpop-alg goes with --dpop-key-file or -env")),
        None => Ok(false),
    }
}

/// The client the options describe. `credentials_optional`: a public client
/// when none are given.
fn client(a: &ClientArgs, verbosity: u8, credentials_optional: bool) -> Result<Client, Failure> {
    let id = a
        .endpoint
        .client_id
        .as_deref()
        .ok_or_else(|| usage("--client-id (or TOKENCLIENT_CLIENT_ID) is required"))?;
    let c = endpoint_client(&a.endpoint, id, a.timeout_ms)?;
    set_logging(&c, verbosity)?;
    set_credentials(&c, &a.credentials, credentials_optional)?;
    set_dpop_key(&c, &a.dpop)?;
    if let Some(aud) = &a.audience {
        c.set_audience(Some(aud))?;
    }
    if let Some(ca) = &a.ca_file {
        c.set_ca_file(Some(&ca.to_string_lossy()))?;
    }
    match (&a.credentials.cert, &a.credentials.key) {
        (Some(cert), Some(key)) => {
            c.set_client_cert(Some((&cert.to_string_lossy(), &key.to_string_lossy())))?
        }
        (None, None) => {}
        _ => return Err(usage("--cert and --key go together")),
    }
    if let Some(ms) = a.timeout_ms {
        c.set_timeouts_ms(ms.min(10_000), ms)?;
    }
    Ok(c)
}

fn token(a: &TokenArgs, verbosity: u8) -> Result<(), Failure> {
    let c = client(&a.client, verbosity, false)?;
    let mut params: Vec<(String, Zeroizing<String>)> = Vec::new();
    let mut push = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            params.push((name.to_string(), Zeroizing::new(v.to_string())));
        }
    };
    let refresh_token = read_secret(&a.refresh_token())?;
    match a.grant.as_str() {
        "authorization_code" => {
            let code = a
                .code
                .as_deref()
                .ok_or_else(|| usage("authorization_code needs --code"))?;
            let redirect = a
                .redirect_uri
                .as_deref()
                .ok_or_else(|| usage("authorization_code needs --redirect-uri"))?;
            push("code", Some(code));
            push("redirect_uri", Some(redirect));
            push("code_verifier", a.code_verifier.as_deref());
        }
        "refresh_token" => {
            let rt = refresh_token.as_deref().ok_or_else(|| {
                usage("refresh_token needs --refresh-token-file or --refresh-token-env")
            })?;
            push("refresh_token", Some(rt));
        }
        _ => {}
    }
    if a.grant != "refresh_token" && refresh_token.is_some() {
        return Err(usage("--refresh-token-... goes with --grant refresh_token"));
    }
    if a.grant != "authorization_code"
        && (a.code.is_some() || a.redirect_uri.is_some() || a.code_verifier.is_some())
    {
        return Err(usage(
            "--code, --redirect-uri and --code-verifier go with --grant authorization_code",
        ));
    }
    // A store from TOKENCLIENT_STORE serves what it can (client
    // credentials without extra parameters); one asked for on the command
    // line must.
    let store_applies = a.grant == "client_credentials" && a.params.is_empty();
    if a.store.store_key_file.is_some()
        || (a.store.store.is_some() && (store_applies || a.store.store_on_command_line))
    {
        return stored_token(&c, a);
    }
    push("scope", a.scope.as_deref());
    for (k, v) in &a.params {
        push(k, Some(v));
    }
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let t = c.grant(&a.grant, &pairs)?;
    output::token(&t, &a.output)
}

/// `token --store URL`: the client's cached token (`get_token`), which the
/// library takes from the shared store while it lasts and otherwise asks
/// for once for every process of the store.
fn stored_token(c: &Client, a: &TokenArgs) -> Result<(), Failure> {
    let Some(url) = &a.store.store else {
        return Err(usage(
            "--store-key-file goes with --store (or TOKENCLIENT_STORE)",
        ));
    };
    if a.grant != "client_credentials" || !a.params.is_empty() {
        return Err(usage(
            "--store (or TOKENCLIENT_STORE) goes with --grant client_credentials, without --param",
        ));
    }
    if a.store.store_on_command_line && has_userinfo(url) {
        return Err(usage(
            "a store URL with a user or password does not go on the command line, where other \
             users could see it: give it in TOKENCLIENT_STORE",
        ));
    }
    let key = match &a.store.store_key_file {
        Some(path) => Some(Zeroizing::new(std::fs::read(path).map_err(|e| {
            Failure::new(exit::CONFIG, format!("cannot read {}: {e}", path.display()))
        })?)),
        None => None,
    };
    let cr = &a.client.credentials;
    let no_derived_key = cr.public
        || cr.pkcs11_uri.is_some()
        || matches!(cr.auth, Some(AuthArg::Tls | AuthArg::SelfSignedTls));
    if key.is_none() && no_derived_key {
        return Err(usage(
            "with --public, --pkcs11-uri or --auth tls/self-signed-tls the store needs --store-key-file \
             (no key can be derived from the credential)",
        ));
    }
    c.set_token_store(Some(url))?;
    if let Some(key) = &key {
        c.set_token_store_key(Some(key.as_slice()))?;
    }
    let t = c.get_token(a.scope.as_deref())?;
    output::token(&t, &a.output)
}

/// Whether a Redis URL of the store (one of its tiers) may have a
/// `user[:password]@`: any `@` in it counts, as the library reads it.
fn has_userinfo(store: &str) -> bool {
    store
        .split_ascii_whitespace()
        .filter(|url| url.starts_with("redis://") || url.starts_with("rediss://"))
        .any(|url| url.contains('@'))
}

fn discover(a: &DiscoverArgs, verbosity: u8) -> Result<(), Failure> {
    if a.endpoint.issuer.is_none() {
        return Err(usage("discover needs --issuer"));
    }
    let id = a.endpoint.client_id.as_deref().unwrap_or(ANONYMOUS_CLIENT);
    let c = endpoint_client(&a.endpoint, id, a.timeout_ms)?;
    set_logging(&c, verbosity)?;
    output::text(&c.metadata()?.json, &a.output, false)
}

/// `revoke` and `introspect`: the token from a file or the environment.
fn token_command(a: &TokenCommandArgs, verbosity: u8, introspect: bool) -> Result<(), Failure> {
    if a.client.endpoint.issuer.is_none() {
        return Err(usage("revoke and introspect need --issuer"));
    }
    let c = client(&a.client, verbosity, false)?;
    let token = read_secret(&a.token())?
        .ok_or_else(|| usage("give the token with --token-file or --token-env"))?;
    if introspect {
        // The answer describes the token; it does not contain it.
        output::text(&c.introspect(&token, a.hint.as_deref())?, &a.output, false)
    } else {
        c.revoke(&token, a.hint.as_deref())?;
        println!("revoked");
        Ok(())
    }
}

fn assertion(a: &ClientArgs, o: &args::OutputArgs, verbosity: u8) -> Result<(), Failure> {
    let c = client(a, verbosity, false)?;
    // An assertion is a credential for its lifetime.
    output::text(&Zeroizing::new(c.create_assertion()?), o, true)
}

/// `proof`: a DPoP proof for a resource request.
fn proof(a: &ProofArgs) -> Result<(), Failure> {
    // The proof names no endpoint or client; the client is only its holder.
    let c = Client::new("https://localhost/", ANONYMOUS_CLIENT)?;
    if !set_dpop_key(&c, &a.dpop)? {
        return Err(usage("proof needs --dpop-key-file or --dpop-key-env"));
    }
    let token = read_secret(&a.token())?;
    let proof = c.dpop_proof(
        &a.method,
        &a.url,
        token.as_deref().map(|t| t.as_str()),
        a.nonce.as_deref(),
    )?;
    // A proof is bound to one request and lives seconds; it is what goes
    // in the DPoP header, so it is printed.
    println!("{proof}");
    Ok(())
}

fn login(a: &LoginArgs, verbosity: u8) -> Result<(), Failure> {
    if a.client.endpoint.issuer.is_none() {
        return Err(usage(
            "login needs --issuer (its metadata names the authorization endpoint)",
        ));
    }
    let c = client(&a.client, verbosity, true)?;
    let t = if a.device {
        login::device(&c, a)?
    } else {
        // The browser does not inherit the variables that hold secrets.
        let cr = &a.client.credentials;
        let secret_vars: Vec<&str> = [
            &cr.client_secret_env,
            &cr.private_key_env,
            &cr.pkcs11_pin_env,
            &a.client.dpop.dpop_key_env,
        ]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .collect();
        login::browser(&c, a, &secret_vars)?
    };
    output::token(&t, &a.output)
}

fn run(cli: Cli) -> Result<(), Failure> {
    let v = cli.verbose;
    match cli.command {
        Command::Token(a) => token(&a, v),
        Command::Login(a) => login(&a, v),
        Command::Assertion { client: a, output } => assertion(&a, &output, v),
        Command::Discover(a) => discover(&a, v),
        Command::Revoke(a) => token_command(&a, v, false),
        Command::Introspect(a) => token_command(&a, v, true),
        Command::Proof(a) => proof(&a),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "tokenclient",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

/// The command line, with `TOKENCLIENT_*` fallbacks that the command line
/// overrides: an endpoint given as a flag wins over another kind of
/// endpoint from the environment.
fn parse() -> Cli {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let (Some((_, sub)), Some(e)) = (matches.subcommand(), cli.command.endpoint_mut()) {
        let from_env = |id: &str| sub.value_source(id) == Some(ValueSource::EnvVariable);
        let given = |id: &str| sub.value_source(id) == Some(ValueSource::CommandLine);
        if from_env("issuer") && ["token_url", "talkdesk", "pingone"].into_iter().any(given) {
            e.issuer = None;
        }
        if from_env("token_url") && ["issuer", "talkdesk", "pingone"].into_iter().any(given) {
            e.token_url = None;
        }
    }
    if let (Some((_, sub)), Command::Token(a)) = (matches.subcommand(), &mut cli.command) {
        a.store.store_on_command_line = sub.value_source("store") == Some(ValueSource::CommandLine);
    }
    cli
}

fn main() -> ExitCode {
    // clap prints its own usage errors (status 2), --help and --version.
    let cli = parse();
    if let Some(o) = cli.command.output() {
        if let Some(name) = o.output.as_deref().and_then(|p| p.to_str()) {
            if ["json", "token", "env"].contains(&name) {
                // The old --output FORMAT: never write a file named so by mistake.
                eprintln!(
                    "tokenclient: --output takes a file or -; the format is --format {name} \
                     (for a file of that name, give ./{name})\n(see tokenclient --help)"
                );
                return ExitCode::from(exit::USAGE);
            }
        }
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("tokenclient: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn params_are_name_value_pairs() {
        let cli = Cli::try_parse_from([
            "tokenclient",
            "token",
            "--token-url",
            "https://idp.example/t",
            "--client-id",
            "x",
            "--public",
            "--param",
            "resource=https://api.example/a=b",
        ])
        .expect("parses");
        let Command::Token(a) = cli.command else {
            panic!("not token")
        };
        assert_eq!(
            a.params,
            vec![(
                "resource".to_string(),
                "https://api.example/a=b".to_string()
            )]
        );
        let bad = Cli::try_parse_from(["tokenclient", "token", "--param", "novalue"]);
        assert!(bad.is_err());
    }

    #[test]
    fn store_urls_with_credentials_are_told_apart() {
        for url in [
            "redis://app:s3cret@cache:6380/2",
            "rediss://:pw@h",
            "redis://user@h?prefix=x",
        ] {
            assert!(has_userinfo(url), "{url}");
        }
        assert!(has_userinfo("file:///tmp/a redis://u:p@h"));
        assert!(has_userinfo("redis://u:pa/ss@h"));
        for url in [
            "default",
            "file:///tmp/a@b",
            "rediss://h",
            "default redis://h:6379/0",
        ] {
            assert!(!has_userinfo(url), "{url}");
        }
    }

    #[test]
    fn secrets_are_never_flag_values() {
        // Every option that carries secret material names a file or a
        // variable: there is no --client-secret VALUE to leak into `ps`.
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                let long = arg.get_long().unwrap_or_default();
                for secret in [
                    "client-secret",
                    "private-key",
                    "refresh-token",
                    "pkcs11-pin",
                    "dpop-key",
                    "store-key",
                ] {
                    assert_ne!(long, "token", "{}: a token by value", sub.get_name());
                    if long.starts_with(secret) {
                        assert!(
                            long.ends_with("-file") || long.ends_with("-env"),
                            "{} --{long}",
                            sub.get_name()
                        );
                    }
                }
            }
        }
    }
}
