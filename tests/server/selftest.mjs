// Checks the test server against itself: starts server.mjs, reads its
// manifest and runs token exchanges with every kind of client
// authentication, then the error cases, DPoP, the mTLS alias origin
// (certificate clients, bound tokens), then HTTPS and mutual TLS.
//   node tests/server/selftest.mjs        (prints "N passed, N failed")

import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import {
  calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, exportJWK, generateKeyPair, importJWK, importPKCS8, jwtVerify,
  SignJWT,
} from 'jose';

const HERE = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tokenclient-selftest-'));
const servers = [];
let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok     ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAILED ${name}: ${e.message}`);
  }
}
function assert(cond, message) {
  if (!cond) throw new Error(message);
}
function expectError(r, status, error) {
  assert(r.status === status && r.body.error === error,
    `expected ${status} ${error}, got ${r.status} ${JSON.stringify(r.body)}`);
}

// --- the server ----------------------------------------------------------

async function startServer(name, args = []) {
  const manifestPath = join(work, `${name}-manifest.json`);
  const started = Date.now();
  const proc = spawn(process.execPath, [join(HERE, 'server.mjs'), '--manifest', manifestPath,
    '--parent-pid', String(process.pid), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(proc);
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start in 30 s')), 30000);
    proc.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (line.startsWith('READY ')) {
        clearTimeout(timer);
        resolve(line.slice(6));
      }
    });
  });
  const startMs = Date.now() - started;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  assert(manifest.base_url === ready, `READY ${ready} but base_url ${manifest.base_url}`);
  return { proc, manifest, startMs };
}

// --- requests ------------------------------------------------------------

// Plain fetch for HTTP; node:https where TLS options (CA, client certificate) are needed.
// Answers {status, body, headers (lower-case names)}.
async function request(url, { method = 'GET', headers = {}, body, tlsOptions } = {}) {
  if (!tlsOptions) {
    const r = await fetch(url, { method, headers, body });
    const text = await r.text();
    return { status: r.status, body: parseJson(text), headers: Object.fromEntries(r.headers) };
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ...tlsOptions }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: parseJson(text), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}

// application/x-www-form-urlencoded, as RFC 6749 §2.3.1 asks for the
// client id and secret before they are put in the Basic header.
const formEncode = (s) => new URLSearchParams({ s }).toString().slice(2);
const now = () => Math.floor(Date.now() / 1000);

async function signingKey(c, form) {
  if (c.auth_method === 'client_secret_jwt') return new TextEncoder().encode(c.client_secret);
  if (form === 'jwk') return importJWK(c.private_jwk, c.alg);
  if (form === 'b64') {
    const lines = c.private_key_b64.match(/.{1,64}/g).join('\n');
    return importPKCS8(`-----BEGIN PRIVATE KEY-----\n${lines}\n-----END PRIVATE KEY-----\n`, c.alg);
  }
  return importPKCS8(c.private_key_pem, c.alg);
}

// Client authentication for client `c`: headers and form parameters.
// o: { secret, raw (Basic without form-urlencoding), aud, exp, kid, jti, keyForm }
async function clientAuth(c, tokenUrl, o = {}) {
  const secret = o.secret ?? c.client_secret;
  switch (c.auth_method) {
    case 'none':
      return { headers: {}, params: { client_id: c.client_id } };
    case 'client_secret_basic': {
      const pair = o.raw ? `${c.client_id}:${secret}` : `${formEncode(c.client_id)}:${formEncode(secret)}`;
      return { headers: { authorization: `Basic ${Buffer.from(pair).toString('base64')}` }, params: {} };
    }
    case 'client_secret_post':
      return { headers: {}, params: { client_id: c.client_id, client_secret: secret } };
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth': // the certificate is in o.tlsOptions
      return { headers: {}, params: { client_id: c.client_id } };
    default: {
      const iat = o.exp !== undefined ? o.exp - 60 : now();
      const assertion = await new SignJWT({ jti: o.jti ?? randomUUID() })
        .setProtectedHeader({ alg: c.alg, typ: 'JWT', ...(c.kid || o.kid ? { kid: o.kid ?? c.kid } : {}) })
        .setIssuer(c.client_id)
        .setSubject(c.client_id)
        .setAudience(o.aud ?? tokenUrl)
        .setIssuedAt(iat)
        .setExpirationTime(o.exp ?? iat + 60)
        .sign(await signingKey(c, o.keyForm));
      return {
        headers: {},
        params: {
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        },
      };
    }
  }
}

// o.dpop = {key, nonce?}: with a DPoP proof (RFC 9449) for the token URL;
// the nonce the server hands out is kept in o.dpop.nonce, and a
// use_dpop_nonce answer is retried once with it (unless o.dpop.retry === false).
async function tokenRequest(m, name, params, o = {}) {
  const c = m.clients[name];
  const tokenUrl = o.url || c.token_url;
  for (let attempt = 0; ; attempt += 1) {
    const auth = await clientAuth(c, tokenUrl, o);
    const proof = o.dpop ? { dpop: await dpopProof(o.dpop.key, 'POST', tokenUrl, { nonce: o.dpop.nonce }) } : {};
    const r = await request(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...auth.headers, ...proof },
      body: new URLSearchParams({ ...params, ...auth.params }).toString(),
      tlsOptions: o.tlsOptions,
    });
    if (!o.dpop) return r;
    if (r.headers['dpop-nonce']) o.dpop.nonce = r.headers['dpop-nonce'];
    if (attempt > 0 || o.dpop.retry === false || r.body.error !== 'use_dpop_nonce') return r;
  }
}

// --- DPoP and certificates -------------------------------------------------

async function dpopKey(alg = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { alg, privateKey, jwk: await exportJWK(publicKey) };
}
const sha256 = (s) => createHash('sha256').update(s).digest('base64url');
// A DPoP proof; o: {nonce, accessToken (for ath), jti, iat, typ}.
function dpopProof(key, htm, htu, o = {}) {
  return new SignJWT({
    jti: o.jti ?? randomUUID(), htm, htu, iat: o.iat ?? now(),
    ...(o.nonce ? { nonce: o.nonce } : {}), ...(o.accessToken ? { ath: sha256(o.accessToken) } : {}),
  }).setProtectedHeader({ alg: key.alg, typ: o.typ ?? 'dpop+jwt', jwk: key.jwk }).sign(key.privateKey);
}
// TLS options for the mTLS origin, with the client certificate `name` (or none).
function certOptions(m, name) {
  const c = name && m.mtls.certs[name];
  return { ca: m.mtls.ca_pem, ...(c ? { cert: c.cert_pem, key: c.key_pem } : {}) };
}
// How client `name` talks to the token endpoint: certificate clients on the
// mTLS origin with their certificate, DPoP-bound clients with proofs.
async function transport(m, name) {
  const c = m.clients[name];
  if (c.cert) return { tlsOptions: certOptions(m, c.cert) };
  if (c.dpop_bound_access_tokens) return { dpop: { key: await dpopKey() } };
  return {};
}
async function introspect(m, token) {
  const r = await tokenRequest(m, 'post-client', { token }, { url: m.introspection_url });
  assert(r.status === 200, `introspection: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function getCode(m, name, extra = {}, tlsOptions = undefined) {
  const c = m.clients[name];
  const q = new URLSearchParams({
    issuer: c.issuer, client_id: c.client_id, redirect_uri: m.redirect_uri, scope: 'openid offline_access', ...extra,
  });
  const r = await request(`${m.code_url}?${q}`, { tlsOptions });
  assert(r.status === 200 && r.body.code, `/test/code: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.code;
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

// --- the checks ------------------------------------------------------------

const jwksCache = {};
async function checkIdToken(m, c, idToken, nonce) {
  const issuer = { main: m.issuer, pingone: m.pingone.issuer, rotating: m.rotating.issuer }[c.issuer];
  const discovery = `${issuer}/.well-known/openid-configuration`;
  jwksCache[issuer] ??= createRemoteJWKSet(new URL((await request(discovery)).body.jwks_uri));
  const { payload } = await jwtVerify(idToken, jwksCache[issuer], { issuer, audience: c.client_id });
  assert(payload.sub === m.test_user, `id_token sub ${payload.sub}`);
  assert(!nonce || payload.nonce === nonce, `id_token nonce ${payload.nonce}`);
}

async function fullFlow(m, name) {
  const c = m.clients[name];
  const tr = await transport(m, name);
  const tokenType = tr.dpop ? 'DPoP' : 'Bearer';
  const nonce = randomUUID();
  const p = c.auth_method === 'none' ? pkce() : undefined;
  const code = await getCode(m, name, {
    nonce, ...(p ? { code_challenge: p.challenge, code_challenge_method: 'S256' } : {}),
  });
  const t = await tokenRequest(m, name, {
    grant_type: 'authorization_code', code, redirect_uri: m.redirect_uri, ...(p ? { code_verifier: p.verifier } : {}),
  }, tr);
  assert(t.status === 200, `authorization_code: ${t.status} ${JSON.stringify(t.body)}`);
  const b = t.body;
  assert(b.access_token && b.token_type === tokenType && b.expires_in > 0, `token response ${JSON.stringify(b)}`);
  assert(b.refresh_token, 'no refresh_token');
  await checkIdToken(m, c, b.id_token, nonce);
  if (c.issuer === 'main') assert(typeof b.sid === 'string' && b.sid, 'no sid on the main issuer');
  else assert(b.sid === undefined, 'sid on the PingOne issuer');

  const r = await tokenRequest(m, name, { grant_type: 'refresh_token', refresh_token: b.refresh_token }, tr);
  assert(r.status === 200, `refresh_token: ${r.status} ${JSON.stringify(r.body)}`);
  assert(r.body.token_type === tokenType, `refresh token_type ${r.body.token_type}`);
  assert(r.body.access_token && r.body.access_token !== b.access_token, 'no new access token');
  assert(r.body.refresh_token && r.body.refresh_token !== b.refresh_token, 'the refresh token was not rotated');
  await checkIdToken(m, c, r.body.id_token);
  if (c.issuer === 'main') assert(r.body.sid === b.sid, `sid changed on refresh: ${r.body.sid} vs ${b.sid}`);

  if (c.auth_method !== 'none') {
    const cc = await tokenRequest(m, name, { grant_type: 'client_credentials', scope: 'read' }, tr);
    assert(cc.status === 200 && cc.body.access_token && cc.body.scope === 'read' && cc.body.token_type === tokenType,
      `client_credentials: ${cc.status} ${JSON.stringify(cc.body)}`);
    assert(cc.body.refresh_token === undefined && cc.body.id_token === undefined, 'client_credentials gave more than an access token');
  }
  return { tokens: b, refreshed: r.body };
}

async function plainChecks() {
  const { manifest: m, startMs } = await startServer('plain');
  // cli-client is registered for loopback redirects only (its own check).
  const every = Object.keys(m.clients).filter((name) => name !== 'cli-client');
  let sample;

  // How long the start took (the PKI and the RSA keys are most of it). A
  // loose bound: on a busy machine it varies by a second and more, and this
  // is to catch a start that hangs, not to time it.
  await check(`start: READY in ${startMs} ms`, async () => {
    assert(startMs < 10000, `${startMs} ms`);
  });

  await check('discovery: main issuer and /oauth/token', async () => {
    const d = (await request(m.discovery_url)).body;
    assert(d.issuer === m.issuer && d.token_endpoint === m.token_url, JSON.stringify([d.issuer, d.token_endpoint]));
    assert(d.token_endpoint_auth_signing_alg_values_supported.includes('ES384'), 'ES384 not offered');
  });
  await check('discovery: PingOne-shaped issuer and /<env>/as/token', async () => {
    const d = (await request(m.pingone.discovery_url)).body;
    assert(d.issuer === `${m.base_url}/${m.pingone.env_id}/as` && d.issuer === m.pingone.issuer, d.issuer);
    assert(d.token_endpoint === `${m.base_url}/${m.pingone.env_id}/as/token`, d.token_endpoint);
  });
  await check('manifest: keys for every private_key_jwt client', async () => {
    for (const [name, c] of Object.entries(m.clients).filter(([, x]) => x.auth_method === 'private_key_jwt')) {
      assert(c.private_key_pem.startsWith('-----BEGIN PRIVATE KEY-----'), `${name} pem`);
      assert(c.private_jwk.kid === c.kid && c.private_jwk.alg === c.alg && c.private_jwk.d, `${name} jwk`);
    }
    assert(/^[A-Za-z0-9+/]+=*$/.test(m.clients['talkdesk-client'].private_key_b64), 'talkdesk key is not bare base64');
  });

  for (const name of every) {
    await check(`${name}: code, refresh, client_credentials`, async () => {
      const flow = await fullFlow(m, name);
      if (name === 'basic-client') sample = flow;
    });
  }
  await check('cli-client: a loopback redirect on any port (RFC 8252 §7.3), nothing else', async () => {
    const redirect = 'http://127.0.0.1:54321/callback';
    const p = pkce();
    const code = await getCode(m, 'cli-client', { redirect_uri: redirect, code_challenge: p.challenge, code_challenge_method: 'S256' });
    const t = await tokenRequest(m, 'cli-client', {
      grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: p.verifier,
    });
    assert(t.status === 200 && t.body.access_token, `authorization_code: ${t.status} ${JSON.stringify(t.body)}`);
    for (const other of ['http://127.0.0.1:54321/elsewhere', 'http://localhost.example:54321/callback']) {
      const q = new URLSearchParams({ issuer: 'main', client_id: 'cli-client', redirect_uri: other, scope: 'openid',
        code_challenge: p.challenge, code_challenge_method: 'S256' });
      const r = await request(`${m.code_url}?${q}`);
      assert(r.status !== 200, `${other} was accepted`);
    }
  });
  await check('talkdesk-client: the bare base64 key and the JWK sign alike', async () => {
    for (const keyForm of ['b64', 'jwk', 'pem']) {
      const r = await tokenRequest(m, 'talkdesk-client', { grant_type: 'client_credentials' }, { keyForm });
      assert(r.status === 200, `${keyForm}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  });
  await check('client_credentials without scope', async () => {
    const r = await tokenRequest(m, 'basic-client', { grant_type: 'client_credentials' });
    assert(r.status === 200 && r.body.access_token && r.body.scope === undefined, JSON.stringify(r.body));
    console.log(`       response: ${JSON.stringify({ ...r.body, access_token: '…' })}`);
  });
  await check('client_credentials with scope "read write"', async () => {
    const r = await tokenRequest(m, 'es256-client', { grant_type: 'client_credentials', scope: 'read write' });
    assert(r.status === 200 && r.body.scope === 'read write', JSON.stringify(r.body));
  });
  await check('sample responses', async () => {
    const hide = (b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, /token$/.test(k) ? '…' : v]));
    console.log(`       authorization_code: ${JSON.stringify(hide(sample.tokens))}`);
    console.log(`       refresh_token:      ${JSON.stringify(hide(sample.refreshed))}`);
  });

  await check('/test/protected: 200 for a valid access token, 401 otherwise', async () => {
    const cc = await tokenRequest(m, 'es256-client', { grant_type: 'client_credentials', scope: 'read' });
    const call = (token) => request(m.protected_url, { headers: { authorization: `Bearer ${token}` } });
    let r = await call(cc.body.access_token);
    assert(r.status === 200 && r.body.client_id === 'es256-client' && r.body.scope === 'read', JSON.stringify(r.body));
    r = await call(sample.tokens.access_token);
    assert(r.status === 200 && r.body.client_id === 'basic-client', JSON.stringify(r.body));
    r = await call('not-a-token');
    assert(r.status === 401 && r.body.error === 'invalid_token', JSON.stringify(r.body));
    r = await request(m.protected_url, {
      method: 'POST', headers: { authorization: `Bearer ${cc.body.access_token}` }, body: 'a=1&b=2',
    });
    assert(r.status === 200 && r.body.method === 'POST' && r.body.body === 'a=1&b=2', JSON.stringify(r.body));
  });
  await check('a revoked access token is refused by /test/protected', async () => {
    const cc = await tokenRequest(m, 'post-client', { grant_type: 'client_credentials', scope: 'read' });
    const auth = { authorization: `Bearer ${cc.body.access_token}` };
    assert((await request(m.protected_url, { headers: auth })).status === 200, 'valid before');
    const r = await tokenRequest(m, 'post-client', { token: cc.body.access_token }, { url: m.revocation_url });
    assert(r.status === 200, `revocation: ${r.status} ${JSON.stringify(r.body)}`);
    assert((await request(m.protected_url, { headers: auth })).status === 401, 'refused after');
  });
  await check('/test/redirect to another origin; /test/seen tells what it got', async () => {
    const r = await fetch(`${m.redirect_url}?to=${encodeURIComponent(m.elsewhere_url)}`, { redirect: 'manual' });
    assert(r.status === 302 && r.headers.get('location') === m.elsewhere_url, `${r.status}`);
    await request(m.elsewhere_url, { headers: { authorization: 'Bearer x' } });
    assert((await request(m.seen_url)).body.elsewhere.authorization === true, 'seen with');
    await request(m.elsewhere_url);
    assert((await request(m.seen_url)).body.elsewhere.authorization === false, 'seen without');
  });

  // Errors.
  await check('wrong secret (Basic) -> 401 invalid_client', async () => {
    expectError(await tokenRequest(m, 'basic-client', { grant_type: 'client_credentials' }, { secret: 'wrong' }), 401, 'invalid_client');
  });
  await check('wrong secret (post) -> 401 invalid_client', async () => {
    expectError(await tokenRequest(m, 'post-client', { grant_type: 'client_credentials' }, { secret: 'wrong' }), 401, 'invalid_client');
  });
  await check('Basic credentials not form-urlencoded -> 400 invalid_request', async () => {
    const r = await tokenRequest(m, 'basic-client', { grant_type: 'client_credentials' }, { raw: true });
    expectError(r, 400, 'invalid_request');
    console.log(`       ${r.body.error_description}`);
  });
  await check('PingOne Basic with the right secret works, wrong -> 401', async () => {
    const ok = await tokenRequest(m, 'pingone-basic', { grant_type: 'client_credentials', scope: 'read' });
    assert(ok.status === 200, JSON.stringify(ok.body));
    expectError(await tokenRequest(m, 'pingone-basic', { grant_type: 'client_credentials' }, { secret: 'x' }), 401, 'invalid_client');
  });
  await check('reused code -> 400 invalid_grant', async () => {
    const code = await getCode(m, 'basic-client');
    const params = { grant_type: 'authorization_code', code, redirect_uri: m.redirect_uri };
    assert((await tokenRequest(m, 'basic-client', params)).status === 200, 'first use failed');
    expectError(await tokenRequest(m, 'basic-client', params), 400, 'invalid_grant');
  });
  await check('used refresh token (rotated away) -> 400 invalid_grant', async () => {
    const code = await getCode(m, 'post-client');
    const t = await tokenRequest(m, 'post-client', { grant_type: 'authorization_code', code, redirect_uri: m.redirect_uri });
    const params = { grant_type: 'refresh_token', refresh_token: t.body.refresh_token };
    assert((await tokenRequest(m, 'post-client', params)).status === 200, 'first refresh failed');
    expectError(await tokenRequest(m, 'post-client', params), 400, 'invalid_grant');
  });
  await check('public client: wrong code_verifier -> 400 invalid_grant', async () => {
    const p = pkce();
    const code = await getCode(m, 'public-client', { code_challenge: p.challenge, code_challenge_method: 'S256' });
    expectError(await tokenRequest(m, 'public-client', {
      grant_type: 'authorization_code', code, redirect_uri: m.redirect_uri, code_verifier: pkce().verifier,
    }), 400, 'invalid_grant');
  });
  await check('public client: no code_challenge -> /test/code 400', async () => {
    const q = new URLSearchParams({ client_id: 'public-client', redirect_uri: m.redirect_uri, scope: 'openid' });
    const r = await request(`${m.code_url}?${q}`);
    assert(r.status === 400 && r.body.error_description, JSON.stringify(r.body));
    console.log(`       ${r.body.error_description}`);
  });
  await check('unregistered redirect_uri -> /test/code 400', async () => {
    const q = new URLSearchParams({ client_id: 'basic-client', redirect_uri: 'https://evil.example.test/cb', scope: 'openid' });
    const r = await request(`${m.code_url}?${q}`);
    assert(r.status === 400, JSON.stringify(r.body));
  });
  const cc = { grant_type: 'client_credentials' };
  for (const name of ['es256-client', 'eddsa-client', 'talkdesk-client', 'hs256-client', 'pingone-pkjwt', 'pingone-hs256']) {
    await check(`${name}: assertion expired 2 s ago -> 401 invalid_client`, async () => {
      expectError(await tokenRequest(m, name, cc, { exp: now() - 2 }), 401, 'invalid_client');
    });
  }
  for (const name of ['es256-client', 'talkdesk-client', 'pingone-pkjwt']) {
    await check(`${name}: unknown kid -> 401 invalid_client`, async () => {
      expectError(await tokenRequest(m, name, cc, { kid: 'no-such-key' }), 401, 'invalid_client');
    });
  }
  await check('es256-client: assertion signed by another key -> 401 invalid_client', async () => {
    const other = { ...m.clients['es256-client'], private_key_pem: m.clients['talkdesk-client'].private_key_pem };
    const c = m.clients['es256-client'];
    const auth = await clientAuth(other, m.token_url);
    const r = await request(m.token_url, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...cc, ...auth.params }).toString(),
    });
    expectError(r, 401, 'invalid_client');
    assert(c.client_id === decodeJwt(auth.params.client_assertion).iss, 'iss');
  });
  await check('replayed assertion (same jti) -> 401 invalid_client', async () => {
    const jti = randomUUID();
    assert((await tokenRequest(m, 'es256-client', cc, { jti })).status === 200, 'first use failed');
    expectError(await tokenRequest(m, 'es256-client', cc, { jti }), 401, 'invalid_client');
  });
  await check('aud = issuer URL is accepted too (main and PingOne)', async () => {
    let r = await tokenRequest(m, 'es256-client', cc, { aud: m.issuer });
    assert(r.status === 200, JSON.stringify(r.body));
    r = await tokenRequest(m, 'pingone-pkjwt', cc, { aud: m.pingone.issuer });
    assert(r.status === 200, JSON.stringify(r.body));
  });
  await check('aud = another issuer\'s token URL -> 401 invalid_client', async () => {
    expectError(await tokenRequest(m, 'es256-client', cc, { aud: m.pingone.token_url }), 401, 'invalid_client');
    expectError(await tokenRequest(m, 'pingone-pkjwt', cc, { aud: m.token_url }), 401, 'invalid_client');
  });
  await check('PingOne client at the main token URL -> 401 invalid_client', async () => {
    const c = m.clients['pingone-basic'];
    const r = await request(m.token_url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${c.client_id}:${formEncode(c.client_secret)}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expectError(r, 401, 'invalid_client');
  });
  await check('scope the client may not have -> 400 invalid_scope', async () => {
    expectError(await tokenRequest(m, 'pingone-basic', { ...cc, scope: 'read write' }), 400, 'invalid_scope');
  });
  await check('unknown scope in client_credentials is dropped (200, no scope member)', async () => {
    const r = await tokenRequest(m, 'basic-client', { ...cc, scope: 'admin' });
    assert(r.status === 200 && r.body.scope === undefined, JSON.stringify(r.body));
    const mixed = await tokenRequest(m, 'basic-client', { ...cc, scope: 'admin read' });
    assert(mixed.status === 200 && mixed.body.scope === 'read', JSON.stringify(mixed.body));
  });

  await dpopChecks(m);
  await mtlsAliasChecks(m);
}

// --- DPoP (RFC 9449) -------------------------------------------------------

async function dpopChecks(m) {
  const cc = { grant_type: 'client_credentials', scope: 'read' };
  const key = await dpopKey();
  const jkt = await calculateJwkThumbprint(key.jwk);

  await check('discovery: dpop_signing_alg_values_supported lists the manifest\'s algs', async () => {
    const d = (await request(m.discovery_url)).body;
    assert(m.dpop.algs.every((a) => d.dpop_signing_alg_values_supported.includes(a)),
      JSON.stringify(d.dpop_signing_alg_values_supported));
    assert(m.dpop.token_nonce_required && m.dpop.resource_nonce_required, JSON.stringify(m.dpop));
  });
  let dpopToken;
  await check('dpop-client: first proof without nonce -> 400 use_dpop_nonce + DPoP-Nonce; with it a DPoP token', async () => {
    const dpop = { key, retry: false };
    const first = await tokenRequest(m, 'dpop-client', cc, { dpop });
    expectError(first, 400, 'use_dpop_nonce');
    assert(first.headers['dpop-nonce'] && dpop.nonce === first.headers['dpop-nonce'], 'no DPoP-Nonce header');
    console.log(`       ${first.body.error_description}; WWW-Authenticate: ${first.headers['www-authenticate'] ?? '(none)'}`);
    const r = await tokenRequest(m, 'dpop-client', cc, { dpop });
    assert(r.status === 200 && r.body.token_type === 'DPoP' && r.body.scope === 'read', JSON.stringify(r.body));
    console.log(`       then: ${JSON.stringify({ ...r.body, access_token: '…' })}; DPoP-Nonce again: ${Boolean(r.headers['dpop-nonce'])}`);
    dpopToken = r.body.access_token;
    const i = await introspect(m, dpopToken);
    assert(i.active && i.token_type === 'DPoP' && i.cnf?.jkt === jkt, JSON.stringify(i));
  });
  await check('dpop-client without a DPoP proof -> refused (400 invalid_grant)', async () => {
    const r = await tokenRequest(m, 'dpop-client', cc);
    expectError(r, 400, 'invalid_grant');
    console.log(`       ${r.body.error_description}`);
  });
  await check('token endpoint: bad DPoP proofs -> 400 invalid_dpop_proof (replay: invalid_grant)', async () => {
    const dpop = { key };
    assert((await tokenRequest(m, 'dpop-client', cc, { dpop })).status === 200, 'getting a nonce');
    const post = (proof) => request(m.token_url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
      body: new URLSearchParams({ ...cc, client_id: 'dpop-client', client_secret: m.clients['dpop-client'].client_secret }).toString(),
    });
    const seen = [];
    for (const [what, proof] of [
      ['htu', await dpopProof(key, 'POST', m.pingone.token_url, { nonce: dpop.nonce })],
      ['htm', await dpopProof(key, 'GET', m.token_url, { nonce: dpop.nonce })],
      ['typ', await dpopProof(key, 'POST', m.token_url, { nonce: dpop.nonce, typ: 'JWT' })],
      ['signature', `${(await dpopProof(key, 'POST', m.token_url, { nonce: dpop.nonce })).slice(0, -4)}AAAA`],
    ]) {
      const r = await post(proof);
      assert(r.status === 400 && r.body.error === 'invalid_dpop_proof', `${what}: ${r.status} ${JSON.stringify(r.body)}`);
      seen.push(`${what}: ${r.body.error_description}`);
    }
    const wrongNonce = await post(await dpopProof(key, 'POST', m.token_url, { nonce: 'not-a-nonce' }));
    expectError(wrongNonce, 400, 'use_dpop_nonce');
    seen.push(`bad nonce: use_dpop_nonce (${wrongNonce.body.error_description})`);
    const proof = await dpopProof(key, 'POST', m.token_url, { nonce: dpop.nonce });
    assert((await post(proof)).status === 200, 'first use of the proof');
    const replay = await post(proof);
    expectError(replay, 400, 'invalid_grant');
    seen.push(`replay: invalid_grant (${replay.body.error_description})`);
    for (const line of seen) console.log(`       ${line}`);
  });
  await check('client authentication comes first: a wrong secret with a proof -> 401 invalid_client', async () => {
    const r = await tokenRequest(m, 'dpop-client', cc, { secret: 'wrong', dpop: { key, retry: false } });
    expectError(r, 401, 'invalid_client');
  });
  await check('any client may send DPoP: basic-client gets token_type DPoP, and Bearer without', async () => {
    const r = await tokenRequest(m, 'basic-client', cc, { dpop: { key: await dpopKey('EdDSA') } });
    assert(r.status === 200 && r.body.token_type === 'DPoP', JSON.stringify(r.body));
    const plain = await tokenRequest(m, 'basic-client', cc);
    assert(plain.status === 200 && plain.body.token_type === 'Bearer', JSON.stringify(plain.body));
  });
  await check('DPoP proofs with RS256, PS256, ES384, ES512, Ed25519 keys are accepted', async () => {
    for (const alg of ['RS256', 'PS256', 'ES384', 'ES512']) {
      const r = await tokenRequest(m, 'dpop-client', cc, { dpop: { key: await dpopKey(alg) } });
      assert(r.status === 200 && r.body.token_type === 'DPoP', `${alg}: ${JSON.stringify(r.body)}`);
    }
    const ed = await dpopKey('EdDSA');
    const r = await tokenRequest(m, 'dpop-client', cc, { dpop: { key: { ...ed, alg: 'Ed25519' } } });
    assert(r.status === 200 && r.body.token_type === 'DPoP', `Ed25519: ${JSON.stringify(r.body)}`);
  });
  await check('DPoP nonces are per issuer: the main issuer\'s is refused at PingOne', async () => {
    const dpop = { key };
    assert((await tokenRequest(m, 'dpop-client', cc, { dpop })).status === 200, 'main');
    const mainNonce = dpop.nonce;
    const r = await tokenRequest(m, 'pingone-basic', cc, { dpop: { key, nonce: mainNonce, retry: false } });
    expectError(r, 400, 'use_dpop_nonce');
    const again = await tokenRequest(m, 'pingone-basic', cc, { dpop: { key, nonce: r.headers['dpop-nonce'] } });
    assert(again.status === 200 && again.body.token_type === 'DPoP', JSON.stringify(again.body));
  });
  await check('dpop-client on the mTLS origin (no certificate): htu is that origin\'s token URL', async () => {
    const r = await tokenRequest(m, 'dpop-client', cc, { url: m.mtls.token_url, tlsOptions: certOptions(m), dpop: { key } });
    assert(r.status === 200 && r.body.token_type === 'DPoP', JSON.stringify(r.body));
  });

  // The resource: /test/protected.
  const call = async (token, { scheme = 'DPoP', proof, method = 'GET', url = m.protected_url, tlsOptions } = {}) => request(url, {
    method, headers: { authorization: `${scheme} ${token}`, ...(proof ? { dpop: proof } : {}) }, tlsOptions,
  });
  const proofFor = (k, o = {}) => dpopProof(k, o.method ?? 'GET', o.htu ?? m.protected_url, { accessToken: dpopToken, ...o });
  const refused = (r, error, scheme = 'DPoP') => {
    assert(r.status === 401 && r.body.error === error && r.body.error_description
      && r.headers['www-authenticate']?.startsWith(`${scheme} error="${error}"`),
    `expected 401 ${error}, got ${r.status} ${JSON.stringify(r.body)} ${r.headers['www-authenticate']}`);
  };
  let nonce;
  await check('/test/protected: DPoP token as Bearer, or without a proof -> 401 invalid_token', async () => {
    refused(await call(dpopToken, { scheme: 'Bearer' }), 'invalid_token');
    refused(await call(dpopToken), 'invalid_token');
  });
  await check('/test/protected: proof without nonce -> 401 use_dpop_nonce + DPoP-Nonce; with it 200', async () => {
    const r = await call(dpopToken, { proof: await proofFor(key) });
    refused(r, 'use_dpop_nonce');
    nonce = r.headers['dpop-nonce'];
    assert(nonce, 'no DPoP-Nonce header');
    console.log(`       WWW-Authenticate: ${r.headers['www-authenticate']}`);
    const before = (await request(`${m.stats_url}?client_id=dpop-client`)).body.protected_requests;
    const ok = await call(dpopToken, { proof: await proofFor(key, { nonce }) });
    assert(ok.status === 200 && ok.body.client_id === 'dpop-client' && ok.body.token_type === 'DPoP'
      && ok.body.jkt === await calculateJwkThumbprint(key.jwk) && ok.body['x5t#S256'] === null, JSON.stringify(ok.body));
    const after = (await request(`${m.stats_url}?client_id=dpop-client`)).body.protected_requests;
    assert(after === before + 1, `protected_requests ${before} -> ${after}`);
    const post = await call(dpopToken, { method: 'POST', proof: await proofFor(key, { nonce, method: 'POST' }) });
    assert(post.status === 200 && post.body.method === 'POST', JSON.stringify(post.body));
  });
  await check('/test/protected: another key\'s proof -> 401 invalid_token', async () => {
    refused(await call(dpopToken, { proof: await proofFor(await dpopKey(), { nonce }) }), 'invalid_token');
  });
  await check('/test/protected: replayed proof, wrong htm/htu/ath/iat, bad signature -> 401 invalid_dpop_proof', async () => {
    const proof = await proofFor(key, { nonce });
    assert((await call(dpopToken, { proof })).status === 200, 'first use');
    refused(await call(dpopToken, { proof }), 'invalid_dpop_proof');
    refused(await call(dpopToken, { proof: await proofFor(key, { nonce, method: 'POST' }) }), 'invalid_dpop_proof');
    refused(await call(dpopToken, { proof: await proofFor(key, { nonce, htu: m.mtls.protected_url }) }), 'invalid_dpop_proof');
    refused(await call(dpopToken, { proof: await proofFor(key, { nonce, accessToken: 'other' }) }), 'invalid_dpop_proof');
    refused(await call(dpopToken, { proof: await proofFor(key, { nonce, iat: now() - 301 }) }), 'invalid_dpop_proof');
    refused(await call(dpopToken, { proof: `${(await proofFor(key, { nonce })).slice(0, -4)}AAAA` }), 'invalid_dpop_proof');
    // A query in htu is ignored (RFC 9449 §4.3).
    const q = await call(dpopToken, { proof: await proofFor(key, { nonce, htu: `${m.protected_url}?x=1#y` }) });
    assert(q.status === 200, JSON.stringify(q.body));
  });
  await check('/test/protected: after /test/dpop_nonce/rotate the old nonce -> use_dpop_nonce, the new one works', async () => {
    const rotate = await request(m.dpop.nonce_rotate_url);
    assert(rotate.status === 200 && rotate.body.ok === true, JSON.stringify(rotate.body));
    const r = await call(dpopToken, { proof: await proofFor(key, { nonce }) });
    refused(r, 'use_dpop_nonce');
    assert(r.headers['dpop-nonce'] && r.headers['dpop-nonce'] !== nonce, 'no new nonce');
    nonce = r.headers['dpop-nonce'];
    assert((await call(dpopToken, { proof: await proofFor(key, { nonce }) })).status === 200, 'the new nonce');
  });
  await check('/test/protected: an unbound token with the DPoP scheme -> 401 invalid_token; as Bearer 200', async () => {
    const t = (await tokenRequest(m, 'post-client', cc)).body.access_token;
    refused(await call(t, { proof: await dpopProof(key, 'GET', m.protected_url, { nonce, accessToken: t }) }), 'invalid_token');
    const ok = await call(t, { scheme: 'Bearer' });
    assert(ok.status === 200 && ok.body.token_type === 'Bearer' && ok.body.jkt === null, JSON.stringify(ok.body));
  });
  await check('/test/protected on the mTLS origin: the proof names that origin', async () => {
    const tlsOptions = certOptions(m);
    const url = m.mtls.protected_url;
    const ok = await call(dpopToken, { url, tlsOptions, proof: await proofFor(key, { nonce, htu: url }) });
    assert(ok.status === 200 && ok.body.token_type === 'DPoP', JSON.stringify(ok.body));
    refused(await call(dpopToken, { url, tlsOptions, proof: await proofFor(key, { nonce }) }), 'invalid_dpop_proof');
  });
}

// --- the mTLS alias origin (RFC 8705) ----------------------------------------

async function mtlsAliasChecks(m) {
  const cc = { grant_type: 'client_credentials', scope: 'read' };
  const certs = m.mtls.certs;
  await check('manifest: the PKI files exist and match the PEM in the manifest', async () => {
    assert(readFileSync(m.mtls.ca_file, 'utf8') === m.mtls.ca_pem, 'ca_file');
    for (const [name, c] of Object.entries(certs)) {
      assert(readFileSync(c.cert_file, 'utf8') === c.cert_pem && readFileSync(c.key_file, 'utf8') === c.key_pem, name);
      assert(c.key_pem.startsWith('-----BEGIN PRIVATE KEY-----'), `${name}: not PKCS#8`);
      const der = Buffer.from(c.cert_pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      assert(sha256(der) === c.x5t_s256, `${name}: x5t_s256`);
    }
    assert(m.clients['mtls-client'].token_url === m.mtls.token_url && m.clients['mtls-client'].cert === 'mtls-client', 'mtls-client');
  });
  await check('discovery: mtls_endpoint_aliases on the mTLS origin (main issuer only)', async () => {
    const d = (await request(m.discovery_url)).body;
    const a = d.mtls_endpoint_aliases;
    assert(a && a.token_endpoint === m.mtls.token_url && a.revocation_endpoint === m.mtls.revocation_url
      && a.introspection_endpoint === m.mtls.introspection_url, JSON.stringify(a));
    for (const k of ['userinfo_endpoint', 'device_authorization_endpoint', 'pushed_authorization_request_endpoint']) {
      assert(a[k]?.startsWith(`${m.mtls.base_url}/`) && a[k].slice(m.mtls.base_url.length) === d[k].slice(m.base_url.length), k);
    }
    assert(d.tls_client_certificate_bound_access_tokens === true, 'tls_client_certificate_bound_access_tokens');
    assert(d.token_endpoint_auth_methods_supported.includes('tls_client_auth')
      && d.token_endpoint_auth_methods_supported.includes('self_signed_tls_client_auth'), 'auth methods');
    const p = (await request(m.pingone.discovery_url)).body;
    assert(p.mtls_endpoint_aliases === undefined && p.tls_client_certificate_bound_access_tokens === true, 'PingOne');
  });
  const bound = {};
  for (const name of ['mtls-client', 'selfsigned-client']) {
    await check(`${name}: client_credentials on the mTLS origin with its certificate; introspection shows cnf x5t#S256`, async () => {
      const r = await tokenRequest(m, name, cc, { tlsOptions: certOptions(m, name) });
      assert(r.status === 200 && r.body.token_type === 'Bearer', JSON.stringify(r.body));
      bound[name] = r.body.access_token;
      const i = await introspect(m, r.body.access_token);
      assert(i.active && i.client_id === name && i.cnf?.['x5t#S256'] === certs[name].x5t_s256, JSON.stringify(i));
    });
  }
  for (const [name, cert, why] of [
    ['mtls-client', 'other-client', 'another CA-signed certificate (subject DN differs)'],
    ['mtls-client', 'selfsigned-client', 'a self-signed certificate'],
    ['mtls-client', undefined, 'no certificate'],
    ['selfsigned-client', 'mtls-client', 'a certificate not registered'],
    ['selfsigned-client', undefined, 'no certificate'],
  ]) {
    await check(`${name} with ${why} -> 401 invalid_client`, async () => {
      expectError(await tokenRequest(m, name, cc, { tlsOptions: certOptions(m, cert) }), 401, 'invalid_client');
    });
  }
  await check('mtls-client with a DPoP proof too -> 400 invalid_request (one binding only)', async () => {
    const r = await tokenRequest(m, 'mtls-client', cc, { tlsOptions: certOptions(m, 'mtls-client'), dpop: { key: await dpopKey() } });
    expectError(r, 400, 'invalid_request');
    console.log(`       ${r.body.error_description}`);
  });
  await check('mtls-client on the plain token URL -> 401 invalid_client', async () => {
    expectError(await tokenRequest(m, 'mtls-client', cc, { url: m.token_url }), 401, 'invalid_client');
  });
  await check('cert-bound token at /test/protected: its certificate 200; another, none or the plain listener 401', async () => {
    const call = (url, tlsOptions) => request(url, { headers: { authorization: `Bearer ${bound['mtls-client']}` }, tlsOptions });
    const ok = await call(m.mtls.protected_url, certOptions(m, 'mtls-client'));
    assert(ok.status === 200 && ok.body.client_id === 'mtls-client' && ok.body.token_type === 'Bearer'
      && ok.body['x5t#S256'] === certs['mtls-client'].x5t_s256 && ok.body.jkt === null, JSON.stringify(ok.body));
    for (const [r, what] of [
      [await call(m.mtls.protected_url, certOptions(m, 'other-client')), 'another certificate'],
      [await call(m.mtls.protected_url, certOptions(m)), 'no certificate'],
      [await call(m.protected_url), 'plain listener'],
    ]) {
      assert(r.status === 401 && r.body.error === 'invalid_token'
        && r.headers['www-authenticate']?.startsWith('Bearer error="invalid_token"'), `${what}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const ss = await request(m.mtls.protected_url, {
      headers: { authorization: `Bearer ${bound['selfsigned-client']}` }, tlsOptions: certOptions(m, 'selfsigned-client'),
    });
    assert(ss.status === 200 && ss.body['x5t#S256'] === certs['selfsigned-client'].x5t_s256, JSON.stringify(ss.body));
  });
  await check('mtls-client: revocation on the mTLS origin; the token is refused after', async () => {
    const t = (await tokenRequest(m, 'mtls-client', cc, { tlsOptions: certOptions(m, 'mtls-client') })).body.access_token;
    const r = await tokenRequest(m, 'mtls-client', { token: t }, { url: m.mtls.revocation_url, tlsOptions: certOptions(m, 'mtls-client') });
    assert(r.status === 200, `revocation: ${r.status} ${JSON.stringify(r.body)}`);
    const after = await request(m.mtls.protected_url, { headers: { authorization: `Bearer ${t}` }, tlsOptions: certOptions(m, 'mtls-client') });
    assert(after.status === 401, `${after.status}`);
  });
  await check('the mTLS origin serves the rest too: basic-client there (with or without a certificate), /test/code', async () => {
    for (const cert of [undefined, 'other-client']) {
      const r = await tokenRequest(m, 'basic-client', cc, { url: m.mtls.token_url, tlsOptions: certOptions(m, cert) });
      assert(r.status === 200 && r.body.token_type === 'Bearer', JSON.stringify(r.body));
      const i = await introspect(m, r.body.access_token);
      assert(i.active && i.cnf === undefined, JSON.stringify(i));
    }
    const q = new URLSearchParams({ client_id: 'basic-client', redirect_uri: m.redirect_uri, scope: 'openid' });
    const r = await request(`${m.mtls.base_url}/test/code?${q}`, { tlsOptions: certOptions(m) });
    assert(r.status === 200 && r.body.code, JSON.stringify(r.body));
  });
}

// --- HTTPS and mutual TLS ------------------------------------------------

function makePki() {
  const dir = mkdtempSync(join(work, 'pki-'));
  const f = (name) => join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=selftest CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-x509', ...ec, '-keyout', f('other-ca.key'), '-out', f('other-ca.pem'), '-days', '1', '-subj', '/CN=other CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const leaf = (name, ca, ext) => {
    writeFileSync(f(`${name}.ext`), ext);
    openssl('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.pem`), '-CAkey', f(`${ca}.key`), '-CAcreateserial',
      '-days', '1', '-out', f(`${name}.pem`), '-extfile', f(`${name}.ext`));
  };
  leaf('localhost', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const read = (name) => readFileSync(f(name));
  return { f, ca: read('ca.pem'), client: { cert: read('client.pem'), key: read('client.key') },
    stranger: { cert: read('stranger.pem'), key: read('stranger.key') } };
}

async function tlsChecks() {
  let pki;
  await check('openssl: a CA, a server certificate for localhost, client certificates', async () => {
    pki = makePki();
  });
  if (!pki) return;
  const serverArgs = ['--https-cert', pki.f('localhost.pem'), '--https-key', pki.f('localhost.key')];

  const { manifest: m, proc } = await startServer('https', serverArgs);
  await check('HTTPS: base URL https://localhost:PORT, token exchange with the CA trusted', async () => {
    assert(m.base_url.startsWith('https://localhost:') && m.token_url === `${m.base_url}/oauth/token`, m.base_url);
    const tlsOptions = { ca: pki.ca };
    const r = await tokenRequest(m, 'basic-client', { grant_type: 'client_credentials', scope: 'read' }, { tlsOptions });
    assert(r.status === 200 && r.body.scope === 'read', JSON.stringify(r.body));
  });
  await check('HTTPS: the server certificate is refused without the CA', async () => {
    const err = await request(m.discovery_url, { tlsOptions: {} }).then(() => null, (e) => e);
    assert(err, 'the request succeeded');
  });
  await check('stop: SIGTERM removes the server\'s PKI directory', async () => {
    assert(existsSync(m.mtls.ca_file), 'no CA file while running');
    const exited = new Promise((resolve) => { proc.once('exit', resolve); });
    proc.kill('SIGTERM');
    await exited;
    assert(!existsSync(dirname(m.mtls.ca_file)), `${dirname(m.mtls.ca_file)} is still there`);
  });

  const { manifest: mt } = await startServer('mtls', [...serverArgs, '--client-ca', pki.f('ca.pem')]);
  const withCert = { ca: pki.ca, ...pki.client };
  await check('mTLS: code over TLS with a client certificate, then exchange and refresh', async () => {
    const code = await getCode(mt, 'es256-client', {}, withCert);
    const t = await tokenRequest(mt, 'es256-client', { grant_type: 'authorization_code', code, redirect_uri: mt.redirect_uri },
      { tlsOptions: withCert });
    assert(t.status === 200 && t.body.refresh_token && t.body.sid, JSON.stringify(t.body));
    const r = await tokenRequest(mt, 'es256-client', { grant_type: 'refresh_token', refresh_token: t.body.refresh_token },
      { tlsOptions: withCert });
    assert(r.status === 200, JSON.stringify(r.body));
  });
  await check('mTLS: PingOne-shaped issuer works with a client certificate', async () => {
    const r = await tokenRequest(mt, 'pingone-hs256', { grant_type: 'client_credentials' }, { tlsOptions: withCert });
    assert(r.status === 200, JSON.stringify(r.body));
  });
  await check('mTLS: no client certificate -> refused in the TLS handshake', async () => {
    const err = await tokenRequest(mt, 'basic-client', { grant_type: 'client_credentials' }, { tlsOptions: { ca: pki.ca } })
      .then((r) => new Error(`answered HTTP ${r.status}`), (e) => e);
    assert(!/^answered/.test(err.message), err.message);
    console.log(`       ${err.code || ''} ${err.message}`);
  });
  await check('mTLS: client certificate from another CA -> refused in the TLS handshake', async () => {
    const err = await tokenRequest(mt, 'basic-client', { grant_type: 'client_credentials' },
      { tlsOptions: { ca: pki.ca, ...pki.stranger } }).then((r) => new Error(`answered HTTP ${r.status}`), (e) => e);
    assert(!/^answered/.test(err.message), err.message);
  });
}

// --- main ----------------------------------------------------------------------

try {
  await plainChecks();
  await tlsChecks();
} catch (e) {
  failed += 1;
  console.log(`FAILED (aborted): ${e.stack || e.message}`);
} finally {
  for (const proc of servers) if (proc.exitCode === null) proc.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
