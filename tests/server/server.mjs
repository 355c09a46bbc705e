// The OpenID Connect test server for tokenclient's tests: oidc-provider on
// loopback with a client for every client authentication method, a
// PingOne-shaped second issuer under /<envID>/as, and a test-only endpoint
// that hands out authorization codes through the real authorization
// endpoint (a fixed user logs in and consents automatically).
// See README.md beside this file.

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

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
for (const c of Object.values(clients)) {
  c.grant_types = c.auth_method === 'none' ? ['authorization_code', 'refresh_token'] : CONFIDENTIAL_GRANTS;
  c.scope = 'openid offline_access read write';
}
// One client not allowed `write`: asking for it gives invalid_scope.
clients['pingone-basic'].scope = 'openid offline_access read';

function providerConfig(issuerName) {
  const privateKey = newPrivateKey('RSA');
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
    },
    enabledJWA: {
      // Both names of Ed25519 signatures: EdDSA (RFC 8037) and Ed25519 (RFC 9864).
      clientAuthSigningAlgValues: ['HS256', 'RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'],
    },
    // No leeway: a client assertion whose exp has passed is refused.
    clockTolerance: 0,
    // Every client allowed the refresh_token grant gets a refresh token
    // (offline_access need not be asked), and every refresh rotates it.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    interactions: { url: (ctx, interaction) => `${MOUNT[issuerName]}/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: 3600, AuthorizationCode: 600, ClientCredentials: 3600, Grant: 86400,
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
  s.once('error', reject);
  s.listen(port, '127.0.0.1', resolve);
});
await listen(server, Number(opts.port));
await listen(internal, 0);
const base = `${tls ? 'https://localhost' : 'http://127.0.0.1'}:${server.address().port}`;
const internalBase = `http://127.0.0.1:${internal.address().port}`;

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
}

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
    p.on(event, (ctx) => {
      const id = ctx.oidc?.client?.clientId ?? ctx.oidc?.params?.client_id ?? '(unknown)';
      tokenRequests.set(id, (tokenRequests.get(id) ?? 0) + 1);
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
// code, state and iss (or error)}. The URL must be of this server.
async function testAuthorize(query) {
  const prepared = new URL(query.get('url') || '');
  if (prepared.origin !== base) throw new Error(`not this server's URL: ${prepared.origin}`);
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

// GET or POST /test/protected with `Authorization: Bearer <access token>`
// of the main issuer: 200 {"client_id", "scope", "method", "body"} (the
// request body as text) for a valid token, else 401 with
// `WWW-Authenticate: Bearer error="invalid_token"`. Every request is
// counted (/test/stats?protected=1). A revoked or expired token is invalid.
async function protectedResource(req, res) {
  protectedRequests += 1;
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString();
  const [scheme, value] = (req.headers.authorization || '').split(' ');
  let token;
  if (scheme?.toLowerCase() === 'bearer' && value) {
    token = await providers.main.AccessToken.find(value) || await providers.main.ClientCredentials.find(value);
  }
  if (!token) {
    res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
    json(res, 401, { error: 'invalid_token' });
    return;
  }
  json(res, 200, { client_id: token.clientId, scope: token.scope || '', method: req.method, body });
}
let protectedRequests = 0;

// What the other origin (the internal listener) saw last: whether a
// request came with an Authorization header (/test/seen on either).
let lastSeenElsewhere = null;

const tokenRequests = new Map();

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
};

async function route(req, res, isInternal) {
  if (opts.verbose) console.error(`${isInternal ? '(internal) ' : ''}${req.method} ${req.url}`);
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
    await protectedResource(req, res);
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
for (const [s, isInternal] of [[server, false], [internal, true]]) {
  s.on('request', (req, res) => route(req, res, isInternal).catch((e) => {
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
  clients: Object.fromEntries(Object.entries(clients).map(([name, { metadata, ...c }]) => [name, {
    client_id: name,
    token_url: c.issuer === 'main' ? `${base}/oauth/token` : `${base}${MOUNT[c.issuer]}/token`,
    ...c,
  }])),
};
writeFileSync(`${opts.manifest}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
renameSync(`${opts.manifest}.tmp`, opts.manifest);
console.log(`READY ${base}`);

function stop() {
  for (const s of [server, internal]) {
    s.close();
    s.closeAllConnections();
  }
  process.exit(0);
}
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
