// The OpenID Connect test server: oidc-provider on loopback, with clients
// for every client authentication method, a PingOne-shaped second issuer at
// /<envID>/as, and a test-only endpoint that hands out authorization codes
// through the real authorization endpoint (a fixed user logs in and
// consents automatically). See README.md beside this file.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';


const { values: opts } = parseArgs({
  options: {
    manifest: { type: 'string' },
    port: { type: 'string', default: '0' },
    'https-cert': { type: 'string' },
    'https-key': { type: 'string' },
    'client-ca': { type: 'string' },
    'parent-pid': { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});
if (!opts.manifest) {
  console.error('usage: node server.mjs --manifest FILE [--port N] [--https-cert C --https-key K [--client-ca CA]] [--parent-pid PID]');
  process.exit(2);
}

// oidc-provider's start-up notices (in-memory adapter, development keys,
// Node version) are expected for a test server: shown only with --verbose.
if (!opts.verbose) console.warn = () => {};
const { default: Provider } = await import('oidc-provider');

const ENV_ID = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
const REDIRECT_URI = 'https://client.example.test/callback';
const TEST_USER = 'test-user';
const secret = (prefix) => `${prefix}${randomBytes(24).toString('base64url')}`;

// Keys are made fresh at every start: nothing secret is committed.
function keyPair(kind, alg, kid) {
  const options = { ec256: ['ec', { namedCurve: 'P-256' }], ec384: ['ec', { namedCurve: 'P-384' }],
    rsa: ['rsa', { modulusLength: 2048 }], ed25519: ['ed25519', {}] }[kind];
  const { publicKey, privateKey } = generateKeyPairSync(...options);
  return {
    alg,
    kid,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg },
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    b64: privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
  };
}

// name -> { issuer, metadata for oidc-provider, what a test needs }
const clients = {};
function secretClient(issuer, name, method, clientSecret) {
  clients[name] = { issuer, auth_method: method, client_secret: clientSecret,
    metadata: { token_endpoint_auth_method: method, client_secret: clientSecret,
      ...(method === 'client_secret_jwt' ? { token_endpoint_auth_signing_alg: 'HS256' } : {}) } };
}
function keyClient(issuer, name, kind, alg, kid, extra = () => ({})) {
  const k = keyPair(kind, alg, kid);
  clients[name] = { issuer, auth_method: 'private_key_jwt', alg, kid, private_key_pem: k.pem,
    private_jwk: k.privateJwk, ...extra(k),
    metadata: { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: alg,
      jwks: { keys: [k.publicJwk] } } };
}

// Secrets with characters that form-urlencoding must carry (RFC 6749 §2.3.1).
secretClient('main', 'basic-client', 'client_secret_basic', secret('s3cr:t +&=%/~'));
secretClient('main', 'post-client', 'client_secret_post', secret('p0st +&=%:'));
secretClient('main', 'hs256-client', 'client_secret_jwt', secret('hmac-'));
keyClient('main', 'es256-client', 'ec256', 'ES256', 'es256-key');
keyClient('main', 'es384-client', 'ec384', 'ES384', 'es384-key');
keyClient('main', 'rs256-client', 'rsa', 'RS256', 'rs256-key');
keyClient('main', 'ps256-client', 'rsa', 'PS256', 'ps256-key');
keyClient('main', 'eddsa-client', 'ed25519', 'EdDSA', 'eddsa-key');
keyClient('main', 'talkdesk-client', 'ec256', 'ES256', 'td-key-1', (k) => ({ private_key_b64: k.b64 }));
clients['public-client'] = { issuer: 'main', auth_method: 'none',
  metadata: { token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] } };
keyClient('pingone', 'pingone-pkjwt', 'rsa', 'RS256', 'p1-key');
secretClient('pingone', 'pingone-hs256', 'client_secret_jwt', secret('p1-hmac-'));
secretClient('pingone', 'pingone-basic', 'client_secret_basic', secret('p1 b:s/'));

function providerConfig(issuerName) {
  return {
    clients: Object.entries(clients)
      .filter(([, c]) => c.issuer === issuerName)
      .map(([name, c]) => ({
        client_id: name,
        redirect_uris: [REDIRECT_URI],
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        scope: 'openid offline_access read write',
        ...c.metadata,
      })),
    scopes: ['openid', 'offline_access', 'read', 'write'],
    claims: { openid: ['sub'] },
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
    },
    enabledJWA: {
      clientAuthSigningAlgValues: ['HS256', 'RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'],
    },
    // No tolerance: an assertion whose exp has passed is refused.
    clockTolerance: 0,
    // Always issue refresh tokens to clients allowed the grant.
    issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    interactions: { url: (ctx, interaction) => `${mountOf(issuerName)}/interaction/${interaction.uid}` },
    ttl: { AuthorizationCode: 600, AccessToken: 3600, ClientCredentials: 3600, IdToken: 3600,
      RefreshToken: 86400, Interaction: 600, Session: 3600, Grant: 86400 },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    routes: issuerName === 'main' ? { token: '/oauth/token' } : {},
    renderError: (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
  };
}

const mountOf = (issuerName) => (issuerName === 'pingone' ? `/${ENV_ID}/as` : '');

const tls = opts['https-cert'] && opts['https-key'];
const server = tls
  ? https.createServer({ cert: readFileSync(opts['https-cert']), key: readFileSync(opts['https-key']),
    ...(opts['client-ca'] ? { ca: readFileSync(opts['client-ca']), requestCert: true, rejectUnauthorized: true } : {}) })
  : http.createServer();

await new Promise((resolve) => { server.listen(Number(opts.port), '127.0.0.1', resolve); });
const { port } = server.address();
const base = `${tls ? 'https' : 'http'}://${tls ? 'localhost' : '127.0.0.1'}:${port}`;

const providers = {
  main: new Provider(base, providerConfig('main')),
  pingone: new Provider(`${base}${mountOf('pingone')}`, providerConfig('pingone')),
};

// Talkdesk's answers carry the session id `sid` for code and refresh grants.
providers.main.use(async (ctx, next) => {
  await next();
  const grant = ctx.oidc?.params?.grant_type;
  if (ctx.path === '/oauth/token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object'
      && (grant === 'authorization_code' || grant === 'refresh_token')) {
    const entity = ctx.oidc.entities.AuthorizationCode || ctx.oidc.entities.RefreshToken;
    ctx.body = { ...ctx.body, sid: entity?.sessionUid || 'unknown-session' };
  }
});

// The interaction: the test user logs in and consents to what was asked.
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { params } = details;
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: TEST_USER, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope || 'openid'));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId: TEST_USER }, consent: { grantId } },
    { mergeWithLastSubmission: false });
}

// GET /test/code?issuer=&client_id=&redirect_uri=&scope=&code_challenge=&code_challenge_method=&nonce=
// Walks the real authorization endpoint, following redirects with a
// cookie jar, and returns the code the client would have received.
async function testCode(url, res) {
  const q = url.searchParams;
  const issuerName = q.get('issuer') || 'main';
  const provider = providers[issuerName];
  if (!provider) throw new Error(`unknown issuer ${issuerName}`);
  const auth = new URL(`${base}${mountOf(issuerName)}/auth`);
  auth.searchParams.set('client_id', q.get('client_id'));
  auth.searchParams.set('redirect_uri', q.get('redirect_uri') || REDIRECT_URI);
  auth.searchParams.set('response_type', 'code');
  auth.searchParams.set('scope', q.get('scope') || 'openid offline_access');
  auth.searchParams.set('prompt', 'consent');
  auth.searchParams.set('state', randomUUID());
  for (const name of ['code_challenge', 'code_challenge_method', 'nonce']) {
    if (q.get(name)) auth.searchParams.set(name, q.get(name));
  }
  const jar = new Map();
  let next = auth.href;
  for (let hop = 0; hop < 10; hop += 1) {
    const r = await fetch(next, { redirect: 'manual',
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    const location = r.headers.get('location');
    if (!location) throw new Error(`the authorization flow stopped with HTTP ${r.status}: ${(await r.text()).slice(0, 300)}`);
    const target = new URL(location, next);
    if (target.href.startsWith(q.get('redirect_uri') || REDIRECT_URI)) {
      const code = target.searchParams.get('code');
      if (!code) throw new Error(`no code: ${target.searchParams.get('error')} ${target.searchParams.get('error_description')}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code }));
      return;
    }
    next = target.href;
  }
  throw new Error('too many redirects in the authorization flow');
}

// GET /test/protected with `Authorization: Bearer <access token>` from the
// main issuer: 200 {"client_id": ...} when the token is valid, else 401.
async function protectedResource(req, res) {
  const [scheme, value] = (req.headers.authorization || '').split(' ');
  let token;
  if (scheme?.toLowerCase() === 'bearer' && value) {
    token = await providers.main.AccessToken.find(value) || await providers.main.ClientCredentials.find(value);
  }
  res.writeHead(token ? 200 : 401, { 'content-type': 'application/json' });
  res.end(JSON.stringify(token ? { client_id: token.clientId, scope: token.scope || '' } : { error: 'invalid_token' }));
}

const callbacks = { main: providers.main.callback(), pingone: providers.pingone.callback() };
server.on('request', async (req, res) => {
  const url = new URL(req.url, base);
  try {
    if (opts.verbose) console.error(req.method, req.url);
    if (url.pathname === '/test/code') {
      await testCode(url, res);
      return;
    }
    if (url.pathname === '/test/protected') {
      await protectedResource(req, res);
      return;
    }
    const issuerName = url.pathname.startsWith(`${mountOf('pingone')}/`) ? 'pingone' : 'main';
    const mount = mountOf(issuerName);
    if (url.pathname.startsWith(`${mount}/interaction/`)) {
      await interaction(providers[issuerName], req, res);
      return;
    }
    if (mount) {
      // Mount like Express does: the provider sees the path under the mount.
      req.originalUrl = req.url;
      req.url = req.url.slice(mount.length) || '/';
    }
    callbacks[issuerName](req, res);
  } catch (e) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'test_server_error', error_description: String(e.message || e) }));
  }
});

const manifest = {
  base_url: base,
  issuer: base,
  token_url: `${base}/oauth/token`,
  code_url: `${base}/test/code`,
  protected_url: `${base}/test/protected`,
  redirect_uri: REDIRECT_URI,
  pingone: { env_id: ENV_ID, auth_base: base, issuer: `${base}${mountOf('pingone')}`,
    token_url: `${base}${mountOf('pingone')}/token` },
  clients: Object.fromEntries(Object.entries(clients).map(([name, c]) => {
    const { metadata, ...rest } = c;
    void metadata;
    return [name, { client_id: name, ...rest }];
  })),
};
writeFileSync(`${opts.manifest}.tmp`, JSON.stringify(manifest, null, 2));
renameSync(`${opts.manifest}.tmp`, opts.manifest);
console.log(`READY ${base}`);

const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 500).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (opts['parent-pid']) {
  const parent = Number(opts['parent-pid']);
  setInterval(() => {
    try { process.kill(parent, 0); } catch { process.exit(0); }
  }, 1000).unref();
}
