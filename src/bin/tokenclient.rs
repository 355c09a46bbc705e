//! `tokenclient`: get a token, or sign an assertion, from the shell.
//! Secrets come from files or environment variables, never from the
//! command line.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use std::sync::Arc;

use tokenclient::{
    Algorithm, AuthMethod, CallOptions, Client, Error, ErrorKind, Event, Level, TalkdeskRegion,
    Token,
};

const USAGE: &str = "\
usage: tokenclient token      [ENDPOINT] [CREDENTIALS] [GRANT] [OPTIONS]
       tokenclient assertion  [ENDPOINT] [CREDENTIALS] [OPTIONS]
       tokenclient discover   --issuer URL [OPTIONS]        the issuer's metadata (JSON)
       tokenclient revoke     --issuer URL [CREDENTIALS] TOKEN [--hint access_token|refresh_token]
       tokenclient introspect --issuer URL [CREDENTIALS] TOKEN [--hint ...]   the answer (JSON)
       tokenclient proof      DPOP --method M --url U [TOKEN] [--nonce N]   a DPoP proof for a
                              resource request (the DPoP header; TOKEN gives its ath)
       tokenclient --version | --help | <command> --help

TOKEN (revoke, introspect; never on the command line):
  --token-file F | --token-env VAR

ENDPOINT (one of):
  --issuer URL                    an OpenID Connect / RFC 8414 issuer: its metadata names the
                                  token endpoint (and those of revoke and introspect)
  --token-url URL                 the token endpoint
  --talkdesk ACCOUNT [--region us|eu|ca]
  --pingone ENV_ID [--auth-base URL]   (default https://auth.pingone.com)
  --client-id ID                  required

CREDENTIALS (one of):
  --client-secret-file F | --client-secret-env VAR  [--auth basic|post|jwt] (default basic)
  --private-key-file F   | --private-key-env VAR    [--kid K] [--alg A]
                                  (PEM, one-line PEM, bare base64 DER or JWK)
  --pkcs11-uri URI [--pkcs11-pin-file F | --pkcs11-pin-env VAR]
                                  a private key inside a PKCS#11 token (RFC 7512, with
                                  ?module-path=...; the PIN never on the command line)
  --public                        no client authentication (auth method none)
  --cert F --key F --auth tls|self-signed-tls   mTLS client authentication (RFC 8705)

DPOP (token, proof): bind tokens to a key (RFC 9449)
  --dpop-key-file F | --dpop-key-env VAR  [--dpop-alg A]   any key format (default alg ES256 for P-256)

GRANT (token only; default client_credentials):
  --grant client_credentials|authorization_code|refresh_token|<grant type URI>
  --code C --redirect-uri U [--code-verifier V]     for authorization_code
  --refresh-token-file F | --refresh-token-env VAR  for refresh_token
  --scope S
  --param NAME=VALUE              any other form parameter (repeatable)

OPTIONS:
  --output json|token|env         token: the whole JSON (default), the access token
                                  alone, or shell assignments TOKENCLIENT_ACCESS_TOKEN=...
  --audience AUD                  the assertion audience (default: the token URL)
  --ca-file F   --cert F --key F  a private CA; a client certificate (mTLS)
  --timeout-ms MS                 the whole call's deadline, retries included (connect: at most 10000)
  -v | -vv                        what the library does, as JSON lines on stderr: -v requests and
                                  refreshes (info), -vv also cache hits and requests sent (debug)

EXIT STATUS: 0 success, 2 usage, 3 bad argument, key or configuration,
4 transport, 5 OAuth error from the server, 6 other HTTP error,
7 invalid token response, 70 internal error.";

/// The client id `discover` uses when none is given (the metadata does not
/// depend on it).
const ANONYMOUS_CLIENT: &str = "tokenclient-cli";

const EXIT_USAGE: u8 = 2;

/// A failure, with the exit status it maps to.
struct Failure {
    status: u8,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match e.kind() {
            ErrorKind::InvalidArgument | ErrorKind::Key | ErrorKind::Config => 3,
            ErrorKind::Transport => 4,
            ErrorKind::OAuth => 5,
            ErrorKind::Http => 6,
            ErrorKind::Response => 7,
            ErrorKind::Panic => 70,
            ErrorKind::Cancelled => 130,
        };
        Failure {
            status,
            message: e.message().to_string(),
        }
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        status: EXIT_USAGE,
        message: format!("{}\n(see tokenclient --help)", message.into()),
    }
}

/// Parsed options: each `--name value`, `--param`s in order, and flags.
#[derive(Default)]
struct Options {
    values: HashMap<String, String>,
    params: Vec<(String, String)>,
    flags: Vec<String>,
    /// -v: 1, -vv: 2.
    verbosity: u8,
}

const FLAGS: [&str; 2] = ["public", "help"];

fn parse(args: &[String]) -> Result<Options, Failure> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-v" => o.verbosity += 1,
            "-vv" => o.verbosity += 2,
            _ => {}
        }
        if matches!(arg.as_str(), "-v" | "-vv") {
            continue;
        }
        let name = arg
            .strip_prefix("--")
            .ok_or_else(|| usage(format!("unexpected argument {arg:?}")))?;
        if FLAGS.contains(&name) {
            o.flags.push(name.to_string());
            continue;
        }
        let value = it
            .next()
            .ok_or_else(|| usage(format!("--{name} needs a value")))?
            .clone();
        if name == "param" {
            let (k, v) = value
                .split_once('=')
                .ok_or_else(|| usage("--param takes NAME=VALUE"))?;
            o.params.push((k.to_string(), v.to_string()));
        } else if o.values.insert(name.to_string(), value).is_some() {
            return Err(usage(format!("--{name} given twice")));
        }
    }
    Ok(o)
}

impl Options {
    fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    /// A secret from `--<name>-file` or `--<name>-env`.
    fn secret(&mut self, name: &str) -> Result<Option<zeroize::Zeroizing<String>>, Failure> {
        let file = self.take(&format!("{name}-file"));
        let env = self.take(&format!("{name}-env"));
        match (file, env) {
            (Some(_), Some(_)) => Err(usage(format!(
                "give --{name}-file or --{name}-env, not both"
            ))),
            (Some(path), None) => std::fs::read_to_string(&path)
                .map(|s| {
                    Some(zeroize::Zeroizing::new(
                        s.trim_end_matches(['\r', '\n']).to_string(),
                    ))
                })
                .map_err(|e| Failure {
                    status: 3,
                    message: format!("cannot read {path}: {e}"),
                }),
            (None, Some(var)) => std::env::var(&var)
                .map(|s| Some(zeroize::Zeroizing::new(s)))
                .map_err(|_| Failure {
                    status: 3,
                    message: format!("the environment variable {var} is not set (or not UTF-8)"),
                }),
            (None, None) => Ok(None),
        }
    }
}

fn token_url(o: &mut Options) -> Result<String, Failure> {
    let url = o.take("token-url");
    let talkdesk = o.take("talkdesk");
    let pingone = o.take("pingone");
    let region = o.take("region");
    let auth_base = o.take("auth-base");
    match (url, talkdesk, pingone) {
        (Some(url), None, None) => Ok(url),
        (None, Some(account), None) => {
            let region = match region.as_deref().unwrap_or("us") {
                "us" => TalkdeskRegion::Us,
                "eu" => TalkdeskRegion::Eu,
                "ca" => TalkdeskRegion::Ca,
                other => return Err(usage(format!("unknown --region {other}: use us, eu or ca"))),
            };
            Ok(tokenclient::talkdesk_token_url(&account, region)?)
        }
        (None, None, Some(env)) => Ok(tokenclient::pingone_token_url(
            auth_base.as_deref().unwrap_or("https://auth.pingone.com"),
            &env,
        )?),
        (None, None, None) => Err(usage("give --token-url, --talkdesk or --pingone")),
        _ => Err(usage(
            "give only one of --token-url, --talkdesk and --pingone",
        )),
    }
}

/// The client of the endpoint options, without credentials: from
/// `--issuer`'s metadata, or of the token URL.
fn endpoint_client(o: &mut Options, id: &str) -> Result<Client, Failure> {
    match o.take("issuer") {
        Some(issuer) => {
            if ["token-url", "talkdesk", "pingone"]
                .iter()
                .any(|n| o.values.contains_key(*n))
            {
                return Err(usage("give --issuer or a token endpoint, not both"));
            }
            let timeout = o.values.get("timeout-ms").map(|ms| ms.parse::<u64>());
            let options = CallOptions {
                deadline: match timeout {
                    Some(Ok(ms)) => Some(std::time::Duration::from_millis(ms)),
                    Some(Err(_)) => return Err(usage("--timeout-ms takes a number")),
                    None => None,
                },
                cancel: None,
            };
            Ok(Client::from_issuer_with(&issuer, id, &options)?)
        }
        None => Ok(Client::new(&token_url(o)?, id)?),
    }
}

fn client(o: &mut Options) -> Result<Client, Failure> {
    let id = o
        .take("client-id")
        .ok_or_else(|| usage("--client-id is required"))?;
    let c = endpoint_client(o, &id)?;
    let level = match o.verbosity {
        0 => None,
        1 => Some(Level::Info),
        _ => Some(Level::Debug),
    };
    if let Some(level) = level {
        // Events never hold a secret; each is one JSON line.
        c.set_log_callback(
            level,
            Some(Arc::new(|level: Level, event: &Event<'_>| {
                eprintln!("{}", event.to_json(level))
            })),
        )?;
    }
    let secret = o.secret("client-secret")?;
    let key = match (o.secret("private-key")?, pkcs11_uri(o)?) {
        (Some(_), Some(_)) => {
            return Err(usage("give --private-key-... or --pkcs11-uri, not both"))
        }
        (key, uri) => key.or(uri),
    };
    let auth = o.take("auth");
    let tls = match auth.as_deref() {
        Some("tls") => Some(AuthMethod::TlsClientAuth),
        Some("self-signed-tls") => Some(AuthMethod::SelfSignedTlsClientAuth),
        _ => None,
    };
    match (secret, key, o.flag("public")) {
        (None, None, false) if tls.is_some() => {
            c.set_tls_client_auth(tls.expect("matched"))?;
        }
        _ if tls.is_some() => {
            return Err(usage(
                "--auth tls and self-signed-tls authenticate with --cert/--key alone",
            ))
        }
        (Some(secret), None, false) => {
            let method = match auth.as_deref().unwrap_or("basic") {
                "basic" => AuthMethod::ClientSecretBasic,
                "post" => AuthMethod::ClientSecretPost,
                "jwt" => AuthMethod::ClientSecretJwt,
                other => {
                    return Err(usage(format!(
                        "unknown --auth {other}: use basic, post, jwt, tls or self-signed-tls"
                    )))
                }
            };
            c.set_client_secret(&secret, method)?;
        }
        (None, Some(key), false) => {
            let alg = o.take("alg").map(|a| a.parse::<Algorithm>()).transpose()?;
            c.set_private_key(&key, o.take("kid").as_deref(), alg)?;
        }
        (None, None, true) => c.set_public()?,
        (None, None, false) => {
            return Err(usage(
                "give credentials: --client-secret-file/-env, --private-key-file/-env or --public",
            ))
        }
        _ => return Err(usage("give only one kind of credentials")),
    }
    if auth.is_some() && c.auth_method() == Some(AuthMethod::PrivateKeyJwt) {
        return Err(usage("--auth goes with a client secret"));
    }
    dpop_key(o, &c)?;
    if let Some(aud) = o.take("audience") {
        c.set_audience(Some(&aud))?;
    }
    if let Some(ca) = o.take("ca-file") {
        c.set_ca_file(Some(&ca))?;
    }
    match (o.take("cert"), o.take("key")) {
        (Some(cert), Some(key)) => c.set_client_cert(Some((&cert, &key)))?,
        (None, None) => {}
        _ => return Err(usage("--cert and --key go together")),
    }
    if let Some(ms) = o.take("timeout-ms") {
        let ms: u32 = ms
            .parse()
            .map_err(|_| usage("--timeout-ms takes a number"))?;
        c.set_timeouts_ms(ms.min(10_000), ms)?;
    }
    Ok(c)
}

/// `--pkcs11-uri` with the PIN from `--pkcs11-pin-file`/`-env` (never on
/// the command line, where other users could see it).
fn pkcs11_uri(o: &mut Options) -> Result<Option<zeroize::Zeroizing<String>>, Failure> {
    let Some(uri) = o.take("pkcs11-uri") else {
        if o.values.keys().any(|k| k.starts_with("pkcs11-pin")) {
            return Err(usage("--pkcs11-pin-... goes with --pkcs11-uri"));
        }
        return Ok(None);
    };
    if uri.contains("pin-value=") {
        return Err(usage(
            "the PIN does not go on the command line: give it with --pkcs11-pin-file or --pkcs11-pin-env",
        ));
    }
    let mut full = zeroize::Zeroizing::new(uri);
    if let Some(pin) = o.secret("pkcs11-pin")? {
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

/// `--dpop-key-file`/`--dpop-key-env` [`--dpop-alg`]: the client's DPoP key.
fn dpop_key(o: &mut Options, c: &Client) -> Result<bool, Failure> {
    let alg = o.take("dpop-alg");
    match o.secret("dpop-key")? {
        Some(key) => {
            c.set_dpop_key(Some(&key), alg.as_deref())?;
            Ok(true)
        }
        None if alg.is_some() => Err(usage("--dpop-alg goes with --dpop-key-file or -env")),
        None => Ok(false),
    }
}

/// `proof`: a DPoP proof for a resource request.
fn proof(mut o: Options) -> Result<String, Failure> {
    // The proof names no endpoint or client; the client is only its holder.
    let c = Client::new("https://localhost/", ANONYMOUS_CLIENT)?;
    if !dpop_key(&mut o, &c)? {
        return Err(usage("proof needs --dpop-key-file or --dpop-key-env"));
    }
    let method = o
        .take("method")
        .ok_or_else(|| usage("proof needs --method"))?;
    let url = o.take("url").ok_or_else(|| usage("proof needs --url"))?;
    let token = o.secret("token")?;
    let nonce = o.take("nonce");
    no_leftovers(&o)?;
    Ok(c.dpop_proof(
        &method,
        &url,
        token.as_deref().map(|t| t.as_str()),
        nonce.as_deref(),
    )?)
}

fn no_leftovers(o: &Options) -> Result<(), Failure> {
    match o.values.keys().next() {
        Some(name) => Err(usage(format!("--{name} does not apply here"))),
        None => Ok(()),
    }
}

fn token(mut o: Options) -> Result<String, Failure> {
    let c = client(&mut o)?;
    let grant = o
        .take("grant")
        .unwrap_or_else(|| "client_credentials".to_string());
    let scope = o.take("scope");
    let output = o.take("output").unwrap_or_else(|| "json".to_string());
    if !["json", "token", "env"].contains(&output.as_str()) {
        return Err(usage("--output is json, token or env"));
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let mut push = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            params.push((name.to_string(), v));
        }
    };
    match grant.as_str() {
        "authorization_code" => {
            let code = o
                .take("code")
                .ok_or_else(|| usage("authorization_code needs --code"))?;
            let redirect = o
                .take("redirect-uri")
                .ok_or_else(|| usage("authorization_code needs --redirect-uri"))?;
            push("code", Some(code));
            push("redirect_uri", Some(redirect));
            push("code_verifier", o.take("code-verifier"));
        }
        "refresh_token" => {
            let rt = o.secret("refresh-token")?.ok_or_else(|| {
                usage("refresh_token needs --refresh-token-file or --refresh-token-env")
            })?;
            push("refresh_token", Some(rt.to_string()));
        }
        _ => {}
    }
    push("scope", scope);
    params.append(&mut o.params);
    no_leftovers(&o)?;
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let t = c.grant(&grant, &pairs)?;
    Ok(render(&t, &output))
}

fn render(t: &Token, output: &str) -> String {
    match output {
        "token" => t.access_token().to_string(),
        "env" => {
            let mut out = String::new();
            for (name, value) in [
                ("ACCESS_TOKEN", Some(t.access_token())),
                ("TOKEN_TYPE", Some(t.token_type())),
                ("SCOPE", t.scope()),
                ("REFRESH_TOKEN", t.refresh_token()),
                ("ID_TOKEN", t.id_token()),
            ] {
                if let Some(v) = value {
                    let _ = writeln!(out, "TOKENCLIENT_{name}='{}'", v.replace('\'', "'\\''"));
                }
            }
            if let Some(e) = t.expires_in() {
                let _ = writeln!(out, "TOKENCLIENT_EXPIRES_IN={e}");
            }
            out.trim_end().to_string()
        }
        _ => t.json().to_string(),
    }
}

fn discover(mut o: Options) -> Result<String, Failure> {
    let id = o
        .take("client-id")
        .unwrap_or_else(|| ANONYMOUS_CLIENT.to_string());
    if !o.values.contains_key("issuer") {
        return Err(usage("discover needs --issuer"));
    }
    let c = endpoint_client(&mut o, &id)?;
    o.take("timeout-ms");
    no_leftovers(&o)?;
    Ok(c.metadata()?.json.clone())
}

/// `revoke` and `introspect`: the token from a file or the environment.
fn token_command(mut o: Options, introspect: bool) -> Result<String, Failure> {
    if !o.values.contains_key("issuer") {
        return Err(usage("revoke and introspect need --issuer"));
    }
    let c = client(&mut o)?;
    let token = o
        .secret("token")?
        .ok_or_else(|| usage("give the token with --token-file or --token-env"))?;
    let hint = o.take("hint");
    no_leftovers(&o)?;
    if introspect {
        Ok(c.introspect(&token, hint.as_deref())?)
    } else {
        c.revoke(&token, hint.as_deref())?;
        Ok("revoked".to_string())
    }
}

fn assertion(mut o: Options) -> Result<String, Failure> {
    let c = client(&mut o)?;
    no_leftovers(&o)?;
    Ok(c.create_assertion()?)
}

fn run(args: &[String]) -> Result<String, Failure> {
    let Some((command, rest)) = args.split_first() else {
        return Err(usage("no command"));
    };
    match command.as_str() {
        "--help" | "-h" | "help" => Ok(USAGE.to_string()),
        "--version" => Ok(format!("tokenclient {}", tokenclient::VERSION)),
        "token" | "assertion" | "discover" | "revoke" | "introspect" | "proof" => {
            let o = parse(rest)?;
            if o.flag("help") {
                return Ok(USAGE.to_string());
            }
            match command.as_str() {
                "token" => token(o),
                "assertion" => assertion(o),
                "discover" => discover(o),
                "revoke" => token_command(o, false),
                "proof" => proof(o),
                _ => token_command(o, true),
            }
        }
        other => Err(usage(format!("unknown command {other:?}"))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("tokenclient: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}
