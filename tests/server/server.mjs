// The OpenID Connect test server for tokenclient's tests: oidc-provider on
// loopback with a client for every client authentication method, a
// PingOne-shaped second issuer under /<envID>/as, and a test-only endpoint
// that hands out authorization codes through the real authorization
// endpoint (a fixed user logs in and consents automatically). DPoP (RFC
// 9449) at every issuer, and mutual TLS (RFC 8705) on a second, HTTPS
// listener with a throwaway PKI made at start.
// See README.md beside this file.

import { execFileSync } from 'node:child_process';
import {
  createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, X509Certificate,
} from 'node:crypto';
import {
  mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync,
} from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';

const USAGE = 'usage: node server.mjs --manifest FILE [--port N] [--https-cert C --https-key K [--client-ca CA]] [--parent-pid PID] [--verbose]';
let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      manifest: { type: 'string' },
      port: { type: 'string', default: '0' },
      'https-cert': { type: 'string' },
      'https-key': { type: 'string' },
      'client-ca': { type: 'string' },
      'parent-pid': { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  }));
} catch (e) {
  console.error(`${e.message}\n${USAGE}`);
  process.exit(2);
}
const tls = Boolean(opts['https-cert'] || opts['https-key']);
if (!opts.manifest || !/^\d+$/.test(opts.port) || (tls && !(opts['https-cert'] && opts['https-key']))
    || (opts['client-ca'] && !tls)) {
  console.error(USAGE);
  process.exit(2);
}

// oidc-provider prints notices (Node.js 20 is not its preferred runtime,
// the in-memory adapter): shown on stderr with --verbose only, so that
// stdout carries nothing but the READY line.
if (opts.verbose) console.info = console.error;
else console.warn = console.info = () => {};
const { default: Provider } = await import('oidc-provider');

const ENV_ID = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
// `rotating`: an issuer whose signing key /test/rotate replaces (with a new kid).
const MOUNT = { main: '', pingone: `/${ENV_ID}/as`, rotating: '/rotating' };
// The generation of each issuer's signing key, in its kid.
const keyGeneration = { main: 1, pingone: 1, rotating: 1 };
const REDIRECT_URI = 'https://client.example.test/callback';
const TEST_USER = 'test-user';
const CONFIDENTIAL_GRANTS = ['authorization_code', 'refresh_token', 'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code'];

// All keys and secrets are made afresh at every start: nothing secret is committed.
const random = (bytes = 24) => randomBytes(bytes).toString('base64url');
const KEY_TYPES = {
  'P-256': ['ec', { namedCurve: 'P-256' }],
  'P-384': ['ec', { namedCurve: 'P-384' }],
  RSA: ['rsa', { modulusLength: 2048 }],
  Ed25519: ['ed25519', {}],
};

// name -> { issuer, metadata: oidc-provider client metadata, ...what a test needs }
const clients = {};
function secretClient(issuer, name, method, clientSecret) {
  clients[name] = {
    issuer, auth_method: method, client_secret: clientSecret,
    ...(method === 'client_secret_jwt' ? { alg: 'HS256' } : {}),
    metadata: {
      token_endpoint_auth_method: method, client_secret: clientSecret,
      ...(method === 'client_secret_jwt' ? { token_endpoint_auth_signing_alg: 'HS256' } : {}),
    },
  };
}
// Node 20 can deadlock when the garbage collector frees a key-generation
// job while a key from it is being exported as a JWK (a mutex taken twice;
// seen with RSA keys when two servers start at once). So a new key is
// exported once as PKCS#8 PEM, and every other form comes from a fresh key
// object made from that PEM.
function newPrivateKey(type) {
  const [kind, options] = KEY_TYPES[type];
  const { privateKey } = generateKeyPairSync(kind, {
    ...options,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return createPrivateKey(privateKey);
}

function keyClient(issuer, name, type, alg, kid, { bareBase64 = false } = {}) {
  const privateKey = newPrivateKey(type);
  const publicKey = createPublicKey(privateKey);
  clients[name] = {
    issuer, auth_method: 'private_key_jwt', alg, kid,
    private_key_pem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    private_jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg },
    // Talkdesk hands out its keys as bare base64 of the PKCS#8 DER.
    ...(bareBase64 ? { private_key_b64: privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64') } : {}),
    metadata: {
      token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: alg,
      jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }] },
    },
  };
}

// --- A throwaway PKI for mutual TLS (RFC 8705) ---------------------------
// Made with the openssl tool at every start (EC P-256: fast), in a
// directory of the server's own: not the manifest's, which the Rust harness
// deletes as soon as it has read the manifest, while the tests need these
// files for as long as the server runs. It goes when the server stops.
const PKI_PREFIX = 'tokenclient-pki-';
let pkiDir; // set as soon as it exists
// Removed however the process ends short of SIGKILL: stop(), an uncaught
// exception.
process.on('exit', () => {
  if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
});
// The listeners, as they come up; stop() closes them.
const listening = [];
function stop() {
  for (const s of listening) {
    s.close();
    s.closeAllConnections();
  }
  process.exit(0); // the 'exit' handler removes the PKI
}
// Registered before the PKI is made and long before READY: until a
// handler is registered, SIGTERM kills Node at once (a harness that stops
// the server as soon as it has read READY would leave the PKI behind).
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (opts['parent-pid']) {
  const parent = Number(opts['parent-pid']);
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch (e) {
      if (e.code === 'ESRCH') stop();
    }
  }, 1000).unref();
}
// A server killed with SIGKILL (Rust's Child::kill) cannot remove its
// directory, so each start removes those left behind: the pid in the name
// is gone and the directory was not touched (the heartbeat below) for ten
// minutes. Both, so that a live server in another pid namespace sharing
// /tmp keeps its files.
function sweepStalePki() {
  for (const name of readdirSync(tmpdir())) {
    const m = new RegExp(`^${PKI_PREFIX}(\\d+)-`).exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0); // throws ESRCH when there is no such process
      continue;
    } catch (e) {
      if (e.code !== 'ESRCH') continue; // EPERM: alive, another user's
    }
    try {
      const dir = join(tmpdir(), name);
      if (Date.now() - statSync(dir).mtimeMs > 10 * 60 * 1000) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Another user's, or removed meanwhile: not ours to worry about.
    }
  }
}

function makePki() {
  sweepStalePki();
  const dir = mkdtempSync(join(tmpdir(), `${PKI_PREFIX}${process.pid}-`)); // mode 0700
  pkiDir = dir;
  const f = (name) => join(dir, name);
  // No shell: argument arrays only. stderr is kept for the error message.
  const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']; // PKCS#8 PEM keys
  const days = ['-days', '7'];
  openssl('req', '-x509', ...newKey, '-keyout', f('ca.key'), '-out', f('ca.pem'), ...days,
    '-subj', '/CN=tokenclient test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  // A CSR, then `x509 -req` with an extension file: `req -x509` would add
  // the configuration's CA extensions to a leaf, and `req -x509 -CA` (one
  // run instead of two) needs OpenSSL 3.0.2 or later. signer: 'ca', or
  // undefined for a self-signed certificate.
  const leaf = (name, ext, signer) => {
    writeFileSync(f(`${name}.ext`), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n${ext}`);
    openssl('req', '-new', ...newKey, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', f(`${name}.csr`), ...days, '-out', f(`${name}.pem`), '-extfile', f(`${name}.ext`),
      '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      ...(signer ? ['-CA', f(`${signer}.pem`), '-CAkey', f(`${signer}.key`)] : ['-signkey', f(`${name}.key`)]));
  };
  leaf('localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n', 'ca');
  const clientExt = 'extendedKeyUsage=clientAuth\n';
  leaf('mtls-client', clientExt, 'ca');
  leaf('other-client', clientExt, 'ca');
  leaf('selfsigned-client', clientExt, undefined);
  const certs = {};
  for (const name of ['mtls-client', 'other-client', 'selfsigned-client']) {
    const certPem = readFileSync(f(`${name}.pem`), 'utf8');
    const x509 = new X509Certificate(certPem);
    certs[name] = {
      cert_file: f(`${name}.pem`),
      key_file: f(`${name}.key`),
      cert_pem: certPem,
      key_pem: readFileSync(f(`${name}.key`), 'utf8'),
      // RFC 8705 §3.1: base64url of the SHA-256 of the DER certificate.
      x5t_s256: createHash('sha256').update(x509.raw).digest('base64url'),
      x509,
    };
  }
  return {
    dir,
    caFile: f('ca.pem'),
    caPem: readFileSync(f('ca.pem'), 'utf8'),
    serverCert: readFileSync(f('localhost.pem')),
    serverKey: readFileSync(f('localhost.key')),
    certs,
  };
}
let pki;
try {
  pki = makePki();
} catch (e) {
  console.error(`server.mjs: making the test PKI with openssl failed (is the openssl command installed?)\n${e.message}`);
  process.exit(1);
}
// The heartbeat: tells sweepStalePki that the directory is in use.
setInterval(() => {
  try {
    utimesSync(pki.dir, new Date(), new Date());
  } catch {
    // Gone already: nothing to keep alive.
  }
}, 60 * 1000).unref();

// The client certificate of a request (an X509Certificate), or undefined
// on plain HTTP (no getPeerX509Certificate) or when none was presented.
const peerCertificate = (socket) => socket?.getPeerX509Certificate?.() ?? undefined;

// Secrets with characters that form-urlencoding must change (RFC 6749
// §2.3.1). oidc-provider only accepts VSCHAR (%x20-7E) in client secrets,
// so there is no non-ASCII character in them.
secretClient('main', 'basic-client', 'client_secret_basic', `s3cr:t +&=%/?#~${random()}`);
secretClient('main', 'post-client', 'client_secret_post', `p0st +&=%:/${random()}`);
secretClient('main', 'hs256-client', 'client_secret_jwt', random(32));
keyClient('main', 'es256-client', 'P-256', 'ES256', 'es256-key');
keyClient('main', 'es384-client', 'P-384', 'ES384', 'es384-key');
keyClient('main', 'rs256-client', 'RSA', 'RS256', 'rs256-key');
keyClient('main', 'ps256-client', 'RSA', 'PS256', 'ps256-key');
keyClient('main', 'eddsa-client', 'Ed25519', 'EdDSA', 'eddsa-key');
keyClient('main', 'talkdesk-client', 'P-256', 'ES256', 'td-key-1', { bareBase64: true });
clients['public-client'] = { issuer: 'main', auth_method: 'none', metadata: { token_endpoint_auth_method: 'none' } };
keyClient('pingone', 'pingone-pkjwt', 'RSA', 'RS256', 'p1-key-1');
secretClient('pingone', 'pingone-hs256', 'client_secret_jwt', random(32));
secretClient('pingone', 'pingone-basic', 'client_secret_basic', `p1 b:s/+%&=${random()}`);
secretClient('rotating', 'rotating-client', 'client_secret_post', random(24));
// DPoP (RFC 9449): every token this client gets must be DPoP-bound; a
// token request without a proof is refused.
secretClient('main', 'dpop-client', 'client_secret_post', random(24));
// The shared token store's fleet tests: tokens that live SHORT_TTL
// seconds, so that a test sees many lifetimes.
secretClient('main', 'fleet-client', 'client_secret_post', random(24));
secretClient('main', 'fleet-rotating', 'client_secret_post', random(24));
const SHORT_TTL = 2;
const shortLived = (client) => ['fleet-client', 'fleet-rotating'].includes(client?.clientId);
clients['dpop-client'].dpop_bound_access_tokens = true; // in the manifest
clients['dpop-client'].metadata.dpop_bound_access_tokens = true;
// Mutual TLS (RFC 8705): the client authenticates with its certificate on
// the mTLS listener and its access tokens are bound to it (cnf x5t#S256).
clients['mtls-client'] = {
  issuer: 'main', auth_method: 'tls_client_auth', cert: 'mtls-client', tls_client_certificate_bound_access_tokens: true,
  metadata: {
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=mtls-client',
    tls_client_certificate_bound_access_tokens: true,
  },
};
// self_signed_tls_client_auth: the registered JWK carries the certificate
// (x5c); oidc-provider matches the presented one by its SHA-256 thumbprint.
{
  const { x509 } = pki.certs['selfsigned-client'];
  clients['selfsigned-client'] = {
    issuer: 'main', auth_method: 'self_signed_tls_client_auth', cert: 'selfsigned-client',
    tls_client_certificate_bound_access_tokens: true,
    metadata: {
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks: { keys: [{ ...x509.publicKey.export({ format: 'jwk' }), x5c: [x509.raw.toString('base64')] }] },
      tls_client_certificate_bound_access_tokens: true,
    },
  };
}
for (const c of Object.values(clients)) {
  c.grant_types = c.auth_method === 'none' ? ['authorization_code', 'refresh_token'] : CONFIDENTIAL_GRANTS;
  c.scope = 'openid offline_access read write';
}
// The CLI's `login` (RFC 8252): a native public client. A native client's
// loopback redirect URI matches on any port, so the CLI's listener can take
// a free one.
clients['cli-client'] = {
  issuer: 'main', auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
  scope: 'openid offline_access read write',
  metadata: { token_endpoint_auth_method: 'none', application_type: 'native', redirect_uris: ['http://127.0.0.1/callback'] },
};
// One client not allowed `write`: asking for it gives invalid_scope.
clients['pingone-basic'].scope = 'openid offline_access read';

// The JWS algorithms a DPoP proof may use, at the token endpoint and at
// /test/protected.
const DPOP_ALGS = ['ES256', 'ES384', 'ES512', 'PS256', 'RS256', 'EdDSA', 'Ed25519'];
// Each issuer has its own DPoP nonce secret, so a nonce one issuer gave is
// refused by another (RFC 9449 §8: a nonce is the server's own). Kept when
// /test/rotate remakes the rotating issuer: only its signing key changes.
const dpopNonceSecrets = {};

function providerConfig(issuerName) {
  const privateKey = newPrivateKey('RSA');
  dpopNonceSecrets[issuerName] ??= randomBytes(32);
  return {
    clients: Object.entries(clients).filter(([, c]) => c.issuer === issuerName).map(([name, c]) => ({
      client_id: name,
      redirect_uris: [REDIRECT_URI],
      response_types: ['code'],
      grant_types: c.grant_types,
      scope: c.scope,
      ...c.metadata,
    })),
    // ID token signing key (RS256).
    jwks: {
      keys: [{
        ...privateKey.export({ format: 'jwk' }), kid: `${issuerName}-signing-${keyGeneration[issuerName]}`, alg: 'RS256', use: 'sig',
      }],
    },
    scopes: ['openid', 'offline_access', 'read', 'write'],
    claims: { openid: ['sub'] },
    findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      // The device authorization grant (RFC 8628); /test/device approves a
      // user code as the test user would at the verification URI.
      deviceFlow: { enabled: true },
      // Dynamic client registration (RFC 7591), open, on the main issuer:
      // the PKCS#11 tests register clients for keys generated inside a
      // SoftHSM2 token.
      registration: { enabled: issuerName === 'main' },
      // DPoP at the token endpoint (and userinfo). Every proof must carry a
      // nonce of this issuer: the first one without gets 400
      // use_dpop_nonce and a DPoP-Nonce header, so that clients' nonce
      // handling is always exercised. oidc-provider's nonces come from the
      // secret and the clock (a new one every minute, each accepted for
      // three to four minutes), nothing is stored.
      dPoP: { enabled: true, nonceSecret: dpopNonceSecrets[issuerName], requireNonce: () => true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        selfSignedTlsClientAuth: true,
        tlsClientAuth: true,
        // PEM, as oidc-provider wants it (it hashes the DER for x5t#S256).
        getCertificate: (ctx) => peerCertificate(ctx.socket)?.toString(),
        // The TLS layer verified the chain: on the mTLS listener to the test
        // CA, on the main listener (--client-ca) to that CA. The mTLS
        // listener also trusts selfsigned-client's own certificate (see
        // mtlsServer), which is not "chained to the CA": a self-issued one
        // (issuer name = subject name) is never authorized here.
        // (cert.checkIssued(cert) would not tell: to OpenSSL a certificate
        // without keyCertSign issued nothing, itself included.)
        certificateAuthorized: (ctx) => {
          const cert = peerCertificate(ctx.socket);
          return Boolean(ctx.socket.authorized && cert && cert.issuer !== cert.subject);
        },
        // tls_client_auth_subject_dn is an RFC 4514 string; Node's
        // X509Certificate.subject is one RDN a line, most significant first
        // ("O=x\nCN=y"), which RFC 4514 writes the other way round and
        // comma-separated ("CN=y,O=x"). The test certificates have a bare
        // CN without special characters, so no escaping comes into it. No
        // client here registers the SAN variants: those do not match.
        certificateSubjectMatches: (ctx, property, expected) => {
          const cert = peerCertificate(ctx.socket);
          if (!cert || property !== 'tls_client_auth_subject_dn') return false;
          return cert.subject.split('\n').reverse().join(',') === expected;
        },
      },
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_jwt', 'client_secret_post', 'private_key_jwt', 'none',
      'tls_client_auth', 'self_signed_tls_client_auth'],
    enabledJWA: {
      // Both names of Ed25519 signatures: EdDSA (RFC 8037) and Ed25519 (RFC 9864).
      clientAuthSigningAlgValues: ['HS256', 'RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'],
      dPoPSigningAlgValues: DPOP_ALGS,
    },
    // No leeway: a client assertion whose exp has passed is refused.
    clockTolerance: 0,
    // Every client allowed the refresh_token grant gets a refresh token
    // (offline_access need not be asked), and every refresh rotates it.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    interactions: { url: (ctx, interaction) => `${MOUNT[issuerName]}/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: (ctx, token, client) => (shortLived(client) ? SHORT_TTL : 3600),
      ClientCredentials: (ctx, token, client) => (shortLived(client) ? SHORT_TTL : 3600),
      AuthorizationCode: 600, Grant: 86400,
      IdToken: 3600, Interaction: 600, RefreshToken: 86400, Session: 86400,
    },
    cookies: { keys: [random(32)] },
    routes: issuerName === 'main'
      ? { authorization: '/oauth/authorize', token: '/oauth/token' } // Talkdesk's paths
      : { authorization: '/authorize', token: '/token' }, // PingOne's, under /<envID>/as
    renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
  };
}

// Listen first: the issuers' URLs carry the port.
const server = tls
  ? https.createServer({
    cert: readFileSync(opts['https-cert']),
    key: readFileSync(opts['https-key']),
    ...(opts['client-ca'] ? { ca: readFileSync(opts['client-ca']), requestCert: true, rejectUnauthorized: true } : {}),
  })
  : http.createServer();
// /test/code drives the authorization endpoint through this plain HTTP
// listener on loopback, which needs no TLS client certificate.
const internal = http.createServer();
const listen = (s, port) => new Promise((resolve, reject) => {
  listening.push(s);
  s.once('error', reject);
  s.listen(port, '127.0.0.1', resolve);
});
// The mTLS alias origin (RFC 8705 §5): the same providers and /test/*
// endpoints over HTTPS, asking for a client certificate without requiring
// one (a request without is refused by oidc-provider, not in the
// handshake), so that the certificate reaches getCertificate on req.socket.
// `ca` is what socket.authorized is checked against and, in the
// CertificateRequest, the list of acceptable issuers; selfsigned-client's
// own certificate is in it too, because some TLS stacks (Go's crypto/tls)
// send no certificate whose issuer is not in that list.
const mtlsServer = https.createServer({
  cert: pki.serverCert,
  key: pki.serverKey,
  ca: [pki.caPem, pki.certs['selfsigned-client'].cert_pem],
  requestCert: true,
  rejectUnauthorized: false,
});
await listen(server, Number(opts.port));
await listen(internal, 0);
await listen(mtlsServer, 0);
const base = `${tls ? 'https://localhost' : 'http://127.0.0.1'}:${server.address().port}`;
const internalBase = `http://127.0.0.1:${internal.address().port}`;
const mtlsBase = `https://localhost:${mtlsServer.address().port}`;

// Talkdesk's token responses carry the session id `sid` for the
// authorization_code and refresh_token grants.
async function mainExtras(ctx, next) {
  await next();
  // A 1 s polling interval for the device grant (RFC 8628's default of 5 s
  // would make every test wait).
  if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200 && ctx.body) {
    ctx.body = { ...ctx.body, interval: 1 };
  }
  const grantType = ctx.oidc?.params?.grant_type;
  if (ctx.oidc?.route === 'token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object'
      && (grantType === 'authorization_code' || grantType === 'refresh_token')) {
    const { AuthorizationCode, RefreshToken } = ctx.oidc.entities;
    const token = AuthorizationCode || RefreshToken;
    ctx.body = { ...ctx.body, sid: String(token?.sessionUid || token?.grantId) };
  }
  // RFC 8705 §5: where a client authenticates with (or binds its tokens
  // to) a certificate. oidc-provider does not publish aliases itself.
  if (ctx.oidc?.route === 'discovery' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    const { provider } = ctx.oidc;
    ctx.body = {
      ...ctx.body,
      mtls_endpoint_aliases: Object.fromEntries(MTLS_ALIASED.map((route) => [
        `${route}_endpoint`, `${mtlsBase}${provider.pathFor(route)}`])),
    };
  }
}
// The routes with an alias, named as the metadata is (`<route>_endpoint`).
const MTLS_ALIASED = ['token', 'revocation', 'introspection', 'userinfo', 'device_authorization',
  'pushed_authorization_request'];

const providers = {};
const callbacks = {};
// (Re)makes the provider of `name` with a fresh signing key: /test/rotate
// calls it again for the rotating issuer.
function makeProvider(name) {
  const p = new Provider(`${base}${MOUNT[name]}`, providerConfig(name));
  if (name === 'main') p.use(mainExtras); // before callback(), which composes the middleware
  providers[name] = p;
  callbacks[name] = p.callback();
  p.on('server_error', (ctx, err) => console.error(`${name} server_error:`, err));
  // Token requests per client, for tests that count them (/test/stats).
  for (const event of ['grant.success', 'grant.error']) {
    p.on(event, (ctx, err) => {
      const id = ctx.oidc?.client?.clientId ?? ctx.oidc?.params?.client_id ?? '(unknown)';
      tokenRequests.set(id, (tokenRequests.get(id) ?? 0) + 1);
      if (event === 'grant.error') {
        const errors = tokenErrors.get(id) ?? {};
        const code = err?.error ?? 'error';
        errors[code] = (errors[code] ?? 0) + 1;
        tokenErrors.set(id, errors);
      }
    });
  }
  if (opts.verbose) {
    // Error responses hide why a client failed; say it here.
    for (const event of ['grant.error', 'authorization.error']) {
      p.on(event, (ctx, err) => console.error(`${name} ${event}: ${err.error}: ${err.error_description} (${err.error_detail ?? ''})`));
    }
  }
  return p;
}
for (const name of Object.keys(MOUNT)) makeProvider(name);


// The interaction: the test user logs in and consents to every scope asked.
async function finishInteraction(provider, req, res) {
  const { params, grantId } = await provider.interactionDetails(req, res);
  const grant = (grantId && await provider.Grant.find(grantId))
    || new provider.Grant({ accountId: TEST_USER, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const consent = { grantId: await grant.save() };
  await provider.interactionFinished(req, res, { login: { accountId: TEST_USER }, consent },
    { mergeWithLastSubmission: false });
}

// GET /test/code?issuer=main|pingone&client_id=&redirect_uri=&scope=&code_challenge=&code_challenge_method=&nonce=
// Sends the request to the real authorization endpoint and follows its
// redirects (with a cookie jar) until the redirect to the client.
async function testCode(query) {
  const issuerName = query.get('issuer') || 'main';
  if (!providers[issuerName]) throw new Error(`unknown issuer ${issuerName}`);
  if (!query.get('client_id')) throw new Error('client_id is required');
  const redirectUri = query.get('redirect_uri') || REDIRECT_URI;
  const auth = new URL(internalBase + providers[issuerName].pathFor('authorization'));
  auth.search = new URLSearchParams({
    client_id: query.get('client_id'),
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: query.get('scope') || 'openid offline_access',
    prompt: 'consent', // lets offline_access through
    state: randomUUID(),
  });
  for (const name of ['code_challenge', 'code_challenge_method', 'nonce']) {
    if (query.get(name)) auth.searchParams.set(name, query.get(name));
  }
  const callback = await follow(auth, redirectUri);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`${callback.searchParams.get('error')}: ${callback.searchParams.get('error_description')}`);
  return code;
}

// GET /test/authorize?url=<an authorization URL a client made>: the user
// (TEST_USER) logs in and consents at the real authorization endpoint; the
// answer is {"callback": the URL the browser would come back to, with its
// code, state and iss (or error)}. The URL must be of this server (either
// origin: discovery read on the mTLS origin names endpoints there).
async function testAuthorize(query) {
  const prepared = new URL(query.get('url') || '');
  if (prepared.origin !== base && prepared.origin !== mtlsBase) throw new Error(`not this server's URL: ${prepared.origin}`);
  const auth = new URL(internalBase + prepared.pathname + prepared.search);
  const redirectUri = query.get('redirect_uri') || REDIRECT_URI;
  return (await follow(auth, redirectUri)).href;
}

// Follows the authorization endpoint's redirects from `auth` (with a
// cookie jar, the interaction finished on the way) until the redirect to
// `redirectUri`, and returns that URL.
async function follow(auth, redirectUri) {
  const jar = new Map();
  let next = auth;
  for (let hop = 0; hop < 10; hop += 1) {
    const r = await fetch(next, {
      redirect: 'manual',
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const location = r.headers.get('location');
    if (!location) throw new Error(`the authorization endpoint answered HTTP ${r.status}: ${(await r.text()).slice(0, 500)}`);
    next = new URL(location, next);
    if (`${next.origin}${next.pathname}` === redirectUri) {
      return next;
    }
    // Never leave loopback.
    if (next.origin !== internalBase) throw new Error(`redirected away to ${next.href}`);
  }
  throw new Error('too many redirects in the authorization flow');
}

// GET or POST /test/protected with an access token of the main issuer:
// 200 {"client_id", "scope", "method", "body" (the request body as text),
// "token_type", "jkt", "x5t#S256"} for a valid one, presented as its
// binding asks, else 401 with a WWW-Authenticate challenge and
// {"error", "error_description"} saying which check failed. Every request
// is counted (/test/stats?protected=1). A revoked or expired token is
// invalid. `origin` is the listener's: what a DPoP proof's htu must name.
//  - unbound: `Authorization: Bearer <token>` (else 401 `Bearer
//    error="invalid_token"`, as before DPoP and mTLS came).
//  - DPoP-bound (the token has `jkt`): `Authorization: DPoP <token>` and a
//    `DPoP: <proof>` header (RFC 9449 §7), whose nonce is the resource's.
//  - certificate-bound (`x5t#S256`): `Bearer`, on a connection with that
//    very client certificate (RFC 8705 §3), i.e. on the mTLS listener.
async function protectedResource(req, res, origin) {
  protectedRequests += 1;
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString();
  const [scheme = '', value] = (req.headers.authorization || '').split(' ');
  const refuse = (challenge, error, description, headers = {}) => {
    res.setHeader('www-authenticate', description === undefined
      ? `${challenge} error="${error}"` : `${challenge} error="${error}", error_description="${description}"`);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    json(res, 401, { error, ...(description === undefined ? {} : { error_description: description }) });
  };
  const find = async (v) => await providers.main.AccessToken.find(v) || providers.main.ClientCredentials.find(v);
  const ok = (token, tokenType) => json(res, 200, {
    client_id: token.clientId, scope: token.scope || '', method: req.method, body,
    token_type: tokenType, jkt: token.jkt ?? null, 'x5t#S256': token['x5t#S256'] ?? null,
  });

  if (scheme.toLowerCase() === 'dpop' && value) {
    const { error, description, thumbprint } = await checkDpop(req, value, origin);
    if (error) {
      refuse('DPoP', error, description, error === 'use_dpop_nonce' ? { 'dpop-nonce': resourceNonce } : {});
      return;
    }
    const token = await find(value);
    if (!token) {
      refuse('DPoP', 'invalid_token', 'the access token is unknown, revoked or expired');
    } else if (!token.jkt) {
      refuse('DPoP', 'invalid_token', 'the access token is not DPoP-bound: present it with the Bearer scheme');
    } else if (thumbprint !== token.jkt) {
      refuse('DPoP', 'invalid_token', 'the DPoP proof key is not the key the access token is bound to (jkt)');
    } else {
      ok(token, 'DPoP');
    }
    return;
  }
  const token = scheme.toLowerCase() === 'bearer' && value ? await find(value) : undefined;
  if (!token) {
    refuse('Bearer', 'invalid_token');
    return;
  }
  if (token.jkt) {
    // RFC 9449 §7.2: a DPoP-bound token is not a bearer token.
    refuse('DPoP', 'invalid_token', 'the access token is DPoP-bound: present it with the DPoP scheme and a proof');
    return;
  }
  if (token['x5t#S256']) {
    const cert = peerCertificate(req.socket);
    if (!cert) {
      refuse('Bearer', 'invalid_token', 'the access token is certificate-bound and no client certificate was presented');
      return;
    }
    if (createHash('sha256').update(cert.raw).digest('base64url') !== token['x5t#S256']) {
      refuse('Bearer', 'invalid_token', 'the client certificate is not the one the access token is bound to (x5t#S256)');
      return;
    }
  }
  ok(token, 'Bearer');
}
let protectedRequests = 0;

// The resource's own DPoP nonce, always required (RFC 9449 §9); a new one
// with /test/dpop_nonce/rotate, so that a client's cached nonce goes stale.
let resourceNonce = random(16);
// Every proof jti accepted so far (RFC 9449 §11.1: a proof is used once).
const seenProofJtis = new Set();

// Checks the DPoP proof of a request to /test/protected carrying
// `accessToken`: {thumbprint} (of the proof's JWK) when it is good, else
// {error, description}. The proof checks come first, then its nonce (so
// that a client retrying with the nonce had everything else right), then
// replay.
async function checkDpop(req, accessToken, origin) {
  const fail = (error, description) => ({ error, description });
  const proof = req.headers.dpop;
  if (!proof) return fail('invalid_token', 'a DPoP-bound access token needs a DPoP proof (the DPoP header)');
  let payload;
  let protectedHeader;
  try {
    ({ payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: DPOP_ALGS }));
  } catch (e) {
    // The description goes into a quoted-string: no double quotes in it.
    return fail('invalid_dpop_proof', `the DPoP proof does not verify: ${e.message}`.replace(/["\\]/g, "'"));
  }
  if (typeof payload.jti !== 'string' || !payload.jti) return fail('invalid_dpop_proof', 'the DPoP proof has no jti');
  if (payload.htm !== req.method) return fail('invalid_dpop_proof', `the DPoP proof htm is not ${req.method}`);
  const htu = typeof payload.htu === 'string' ? URL.parse(payload.htu) : null;
  if (htu) {
    htu.search = '';
    htu.hash = '';
  }
  if (htu?.href !== `${origin}/test/protected`) {
    return fail('invalid_dpop_proof', `the DPoP proof htu is not ${origin}/test/protected`);
  }
  if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > 300) {
    return fail('invalid_dpop_proof', 'the DPoP proof iat is not within 300 s of now');
  }
  if (payload.ath !== createHash('sha256').update(accessToken).digest('base64url')) {
    return fail('invalid_dpop_proof', 'the DPoP proof ath is not the SHA-256 of the access token');
  }
  if (payload.nonce === undefined) return fail('use_dpop_nonce', 'the resource server requires a nonce in the DPoP proof');
  if (payload.nonce !== resourceNonce) return fail('use_dpop_nonce', 'the DPoP proof nonce is not the current one');
  if (seenProofJtis.has(payload.jti)) return fail('invalid_dpop_proof', 'the DPoP proof jti was seen before (a replay)');
  seenProofJtis.add(payload.jti);
  return { thumbprint: await calculateJwkThumbprint(protectedHeader.jwk) };
}

// What the other origin (the internal listener) saw last: whether a
// request came with an Authorization header (/test/seen on either).
let lastSeenElsewhere = null;

const tokenRequests = new Map();
// Failed token requests per client, by OAuth error code.
const tokenErrors = new Map();

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
};

// origin: the listener's own (main, internal or mTLS).
async function route(req, res, isInternal, origin) {
  if (opts.verbose) console.error(`${isInternal ? '(internal) ' : origin === mtlsBase ? '(mtls) ' : ''}${req.method} ${req.url}`);
  const url = new URL(req.url, base);
  if (!isInternal && url.pathname === '/test/code') {
    try {
      json(res, 200, { code: await testCode(url.searchParams) });
    } catch (e) {
      json(res, 400, { error: 'test_code_failed', error_description: String(e.message || e) });
    }
    return;
  }
  // GET /test/device?user_code=X[&deny=1]: the test user approves (or
  // denies) the device authorization with that user code.
  if (!isInternal && url.pathname === '/test/device') {
    const provider = providers[url.searchParams.get('issuer') || 'main'];
    // Stored normalised, as the verification page would (upper case, no dashes).
    const userCode = (url.searchParams.get('user_code') || '').toUpperCase().replace(/\W/g, '');
    const code = await provider.DeviceCode.findByUserCode(userCode, { ignoreExpiration: true });
    if (!code) {
      json(res, 404, { error: 'unknown_user_code' });
      return;
    }
    if (url.searchParams.get('deny')) {
      code.error = 'access_denied';
      code.errorDescription = 'the test user denied it';
    } else {
      const grant = new provider.Grant({ accountId: TEST_USER, clientId: code.clientId });
      grant.addOIDCScope(code.params.scope || 'openid');
      code.grantId = await grant.save();
      code.accountId = TEST_USER;
      code.authTime = Math.floor(Date.now() / 1000);
    }
    await code.save();
    json(res, 200, { approved: !url.searchParams.get('deny') });
    return;
  }
  // GET /test/rotate: the rotating issuer gets a new signing key, with a new
  // kid; its JWKS no longer has the old one. Answers {"kid": the new kid}.
  if (!isInternal && url.pathname === '/test/rotate') {
    keyGeneration.rotating += 1;
    makeProvider('rotating');
    json(res, 200, { kid: `rotating-signing-${keyGeneration.rotating}` });
    return;
  }
  if (!isInternal && url.pathname === '/test/authorize') {
    try {
      json(res, 200, { callback: await testAuthorize(url.searchParams) });
    } catch (e) {
      json(res, 400, { error: 'test_authorize_failed', error_description: String(e.message || e) });
    }
    return;
  }
  // GET /test/stats?client_id=X: {"token_requests": N} that client sent so far.
  if (!isInternal && url.pathname === '/test/stats') {
    json(res, 200, {
      token_requests: tokenRequests.get(url.searchParams.get('client_id')) ?? 0,
      token_errors: tokenErrors.get(url.searchParams.get('client_id')) ?? {},
      protected_requests: protectedRequests,
    });
    return;
  }
  // GET /test/redirect?to=URL: a 302 to URL (e.g. another origin).
  if (!isInternal && url.pathname === '/test/redirect') {
    res.writeHead(302, { location: url.searchParams.get('to') || '/' });
    res.end();
    return;
  }
  // /test/elsewhere on the internal listener (another origin): records
  // whether the request carried an Authorization header; /test/seen tells.
  if (isInternal && url.pathname === '/test/elsewhere') {
    lastSeenElsewhere = { authorization: Boolean(req.headers.authorization) };
    json(res, 200, lastSeenElsewhere);
    return;
  }
  if (url.pathname === '/test/seen') {
    json(res, 200, { elsewhere: lastSeenElsewhere });
    return;
  }
  if (!isInternal && url.pathname === '/test/protected') {
    await protectedResource(req, res, origin);
    return;
  }
  // GET /test/dpop_nonce/rotate: /test/protected gets a new DPoP nonce; the
  // old one is refused from now on (401 use_dpop_nonce with the new one).
  if (!isInternal && url.pathname === '/test/dpop_nonce/rotate') {
    resourceNonce = random(16);
    json(res, 200, { ok: true });
    return;
  }
  const issuerName = Object.keys(MOUNT).find((n) => MOUNT[n] && url.pathname.startsWith(`${MOUNT[n]}/`)) || 'main';
  const mount = MOUNT[issuerName];
  if (url.pathname.startsWith(`${mount}/interaction/`)) {
    try {
      await finishInteraction(providers[issuerName], req, res);
    } catch (e) {
      json(res, 400, { error: 'interaction_failed', error_description: String(e.message || e) });
    }
    return;
  }
  if (mount) {
    // Mounted the way Express does it: the provider sees the path under the
    // mount and finds the mount path from originalUrl.
    req.originalUrl = req.url;
    req.url = req.url.slice(mount.length) || '/';
  }
  callbacks[issuerName](req, res);
}
for (const [s, isInternal, origin] of [[server, false, base], [internal, true, internalBase], [mtlsServer, false, mtlsBase]]) {
  s.on('request', (req, res) => route(req, res, isInternal, origin).catch((e) => {
    console.error(e);
    if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: String(e.message || e) });
  }));
}

const manifest = {
  base_url: base,
  issuer: base,
  token_url: `${base}/oauth/token`,
  authorization_url: `${base}/oauth/authorize`,
  discovery_url: `${base}/.well-known/openid-configuration`,
  code_url: `${base}/test/code`,
  authorize_url: `${base}/test/authorize`,
  device_url: `${base}/test/device`,
  rotating: { issuer: `${base}${MOUNT.rotating}`, rotate_url: `${base}/test/rotate` },
  protected_url: `${base}/test/protected`,
  revocation_url: `${base}${providers.main.pathFor('revocation')}`,
  registration_url: `${base}${providers.main.pathFor('registration')}`,
  introspection_url: `${base}${providers.main.pathFor('introspection')}`,
  redirect_url: `${base}/test/redirect`,
  elsewhere_url: `${internalBase}/test/elsewhere`,
  seen_url: `${base}/test/seen`,
  stats_url: `${base}/test/stats`,
  redirect_uri: REDIRECT_URI,
  test_user: TEST_USER,
  pingone: {
    env_id: ENV_ID,
    auth_base: base,
    issuer: `${base}${MOUNT.pingone}`,
    token_url: `${base}${MOUNT.pingone}/token`,
    authorization_url: `${base}${MOUNT.pingone}/authorize`,
    discovery_url: `${base}${MOUNT.pingone}/.well-known/openid-configuration`,
  },
  dpop: {
    token_nonce_required: true, // every issuer, nonces per issuer
    resource_nonce_required: true, // /test/protected, on both listeners
    nonce_rotate_url: `${base}/test/dpop_nonce/rotate`,
    algs: DPOP_ALGS,
  },
  mtls: {
    base_url: mtlsBase,
    token_url: `${mtlsBase}${providers.main.pathFor('token')}`,
    protected_url: `${mtlsBase}/test/protected`,
    revocation_url: `${mtlsBase}${providers.main.pathFor('revocation')}`,
    introspection_url: `${mtlsBase}${providers.main.pathFor('introspection')}`,
    userinfo_url: `${mtlsBase}${providers.main.pathFor('userinfo')}`,
    device_authorization_url: `${mtlsBase}${providers.main.pathFor('device_authorization')}`,
    ca_file: pki.caFile,
    ca_pem: pki.caPem,
    certs: Object.fromEntries(Object.entries(pki.certs).map(([name, { x509, ...files }]) => [name, files])),
  },
  // A certificate client's token_url is on the mTLS origin: the only place
  // it can authenticate.
  clients: Object.fromEntries(Object.entries(clients).map(([name, { metadata, ...c }]) => [name, {
    client_id: name,
    token_url: c.cert ? `${mtlsBase}${providers.main.pathFor('token')}`
      : c.issuer === 'main' ? `${base}/oauth/token` : `${base}${MOUNT[c.issuer]}/token`,
    ...c,
  }])),
};
writeFileSync(`${opts.manifest}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
renameSync(`${opts.manifest}.tmp`, opts.manifest);
console.log(`READY ${base}`);

