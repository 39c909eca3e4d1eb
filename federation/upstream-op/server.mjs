// A real upstream OpenID provider for Poort's federation tests, on loopback: node-oidc-provider
// instances shaped like Microsoft Entra ID and Google Workspace.
//
//   /<tid>/v2.0/…            one provider per Entra tenant: issuer http://HOST/<tid>/v2.0, ID tokens
//                            with tid, oid, preferred_username, email (contoso: tenant A, fabrikam: B)
//   /common/v2.0/…           Entra's multi-tenant face (also as /organizations/v2.0/…): discovery names the issuer
//                            http://HOST/{tenantid}/v2.0; /common/oauth2/v2.0/authorize sends the
//                            browser to the tenant of the login_hint's domain, and the token endpoint
//                            asks each tenant in turn, as Entra finds the tenant from the code
//   /google/…                issuer http://HOST/google, ID tokens with hd and email_verified
//
// Users sign in on a minimal form (login = e-mail address, password `upstream-password`) with
// amr ["pwd", "mfa"]; consent is implied. Sessions last, so a second authorization request in the
// same browser is answered without a form (silent single sign-on).
//
// Clients (secret `upstream-secret-0000000000000001`, redirect URIs from REDIRECT_URIS):
//   poort                    behaves
//   poort-pkjwt              private_key_jwt; its private key is written to CLIENT_KEY_FILE (PEM)
//   fault-*                  at the /common token endpoint, each answer is spoilt one way:
//     fault-bad-signature, fault-wrong-issuer, fault-wrong-audience, fault-expired,
//     fault-wrong-nonce, fault-slow (answers after 4 s), fault-html (a web page, not JSON);
//     fault-access-denied: /common/oauth2/v2.0/authorize answers error=access_denied at once.
//
// Env: UPSTREAM_PORT (0: any free port), REDIRECT_URIS (comma-separated), CLIENT_KEY_FILE.
// Prints `listening on http://127.0.0.1:PORT` when ready.

import * as http from 'node:http';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import Provider, { interactionPolicy } from 'oidc-provider';
import * as jose from 'jose';

const REDIRECT_URIS = (process.env.REDIRECT_URIS || '').split(',').filter(Boolean);
const CLIENT_KEY_FILE = process.env.CLIENT_KEY_FILE;
const SECRET = 'upstream-secret-0000000000000001';
const PASSWORD = 'upstream-password';
export const TENANT_A = '11111111-1111-4111-8111-111111111111';
export const TENANT_B = '22222222-2222-4222-8222-222222222222';

// Keys are generated as PEM and imported again. Exporting from a key that its generation job
// still references can deadlock Node.js 20: a garbage collection that finalises the job during
// the export takes the key's lock the export already holds (seen hanging this server at start).
function generateKeyPair(type, options) {
  const encoding = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } };
  const privateKey = crypto.createPrivateKey(crypto.generateKeyPairSync(type, { ...options, ...encoding }).privateKey);
  return { privateKey, publicKey: crypto.createPublicKey(privateKey) };
}

// One signing key shared by every provider, as Entra shares keys across tenants.
const signing = generateKeyPair('rsa', { modulusLength: 2048 });
const signingJwk = { ...signing.privateKey.export({ format: 'jwk' }), kid: 'upstream-rs256', alg: 'RS256', use: 'sig' };
const publicJwk = { ...signing.publicKey.export({ format: 'jwk' }), kid: 'upstream-rs256', alg: 'RS256', use: 'sig' };
// A key nobody publishes, for bad signatures.
const rogue = generateKeyPair('rsa', { modulusLength: 2048 });

// The private_key_jwt client's key pair.
const clientKey = generateKeyPair('ec', { namedCurve: 'P-256' });
if (CLIENT_KEY_FILE) fs.writeFileSync(CLIENT_KEY_FILE, clientKey.privateKey.export({ format: 'pem', type: 'pkcs8' }));
const clientPublicJwk = { ...clientKey.publicKey.export({ format: 'jwk' }), kid: 'poort-client', alg: 'ES256', use: 'sig' };

const FAULTS = ['bad-signature', 'wrong-issuer', 'wrong-audience', 'expired', 'wrong-nonce', 'slow', 'html', 'access-denied'];
const clients = [
  { client_id: 'poort', client_secret: SECRET },
  ...FAULTS.map((f) => ({ client_id: `fault-${f}`, client_secret: SECRET })),
  { client_id: 'poort-pkjwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [clientPublicJwk] } },
].map((c) => ({
  // Native (RFC 8252): a loopback redirect URI matches on any port, so a Poort on any free port
  // can be the relying party without registering its port.
  application_type: 'native',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: [...REDIRECT_URIS, 'http://127.0.0.1/federation/callback'],
  ...c,
}));

// People, by the provider they belong to.
const PEOPLE = {
  [TENANT_A]: [
    { email: 'alice@contoso.test', name: 'Alice Contoso', oid: 'aaaaaaaa-0000-4000-8000-000000000001' },
    { email: 'carol@contoso.test', name: 'Carol Contoso', oid: 'aaaaaaaa-0000-4000-8000-000000000003' },
    { email: 'dave@contoso.test', name: 'Dave Contoso', oid: 'aaaaaaaa-0000-4000-8000-000000000004' },
    { email: 'erin@contoso.test', name: 'Erin Contoso', oid: 'aaaaaaaa-0000-4000-8000-000000000005' },
    { email: 'frank@contoso.test', name: 'Frank Contoso', oid: 'aaaaaaaa-0000-4000-8000-000000000006' },
    { email: 'grace@contoso.test', name: 'Grace Contoso', oid: 'aaaaaaaa-0000-4000-8000-000000000007' },
    { email: 'other@contoso.test', name: 'Other Contoso', oid: 'aaaaaaaa-0000-4000-8000-000000000008' },
  ],
  [TENANT_B]: [{ email: 'bob@fabrikam.test', name: 'Bob Fabrikam', oid: 'bbbbbbbb-0000-4000-8000-000000000002' }],
  google: [
    { email: 'jan@example.test', name: 'Jan Example', hd: 'example.test', email_verified: true },
    { email: 'unverified@example.test', name: 'Un Verified', hd: 'example.test', email_verified: false },
    { email: 'someone@gmail.test', name: 'Some One', email_verified: true },
  ],
};
// More people are made on the fly: any address at a tenant's domain signs in there (tests use
// fresh addresses so that they never share accounts).
function person(realm, login) {
  const known = PEOPLE[realm].find((p) => p.email === login);
  if (known) return known;
  const domain = login.split('@')[1];
  const fits = realm === TENANT_A ? domain === 'contoso.test' : realm === TENANT_B ? domain === 'fabrikam.test' : domain === 'example.test';
  if (!fits) return undefined;
  const oid = crypto.createHash('sha256').update(login).digest('hex').slice(0, 32);
  return { email: login, name: login.split('@')[0], oid, hd: realm === 'google' ? 'example.test' : undefined, email_verified: true };
}

// Consent is implied, also for native clients (which oidc-provider would otherwise always ask).
function policy() {
  const base = interactionPolicy.base();
  base.get('consent').checks.remove('native_client_prompt');
  return base;
}

function provider(base, name, realm) {
  const issuer = `${base}/${realm === 'google' ? 'google' : `${realm}/v2.0`}`;
  const prefix = new URL(issuer).pathname;
  const p = new Provider(issuer, {
    jwks: { keys: [signingJwk] },
    clients,
    cookies: {
      keys: [`upstream-cookie-key-${name}`],
      names: { session: `${name}_session`, interaction: `${name}_interaction`, resume: `${name}_resume` },
    },
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    claims: realm === 'google'
      ? { openid: ['sub'], email: ['email', 'email_verified', 'hd'], profile: ['name'] }
      : { openid: ['sub', 'amr'], email: ['email'], profile: ['name', 'preferred_username', 'tid', 'oid'] },
    conformIdTokenClaims: false,
    findAccount: async (ctx, sub) => {
      const who = person(realm, sub);
      if (!who) return undefined;
      return {
        accountId: sub,
        claims: async () => (realm === 'google'
          ? { sub: crypto.createHash('sha256').update(who.email).digest('hex').slice(0, 21), email: who.email, email_verified: who.email_verified, hd: who.hd, name: who.name }
          // Entra's `sub` is pairwise per application; `oid` is the person in the tenant.
          // How they signed in (as Entra tells it), for Poort's amr.
          : { sub: `pairwise-${who.oid}`, tid: realm, oid: who.oid, email: who.email, preferred_username: who.email, name: who.name, amr: ['pwd', 'mfa'] }),
      };
    },
    features: { devInteractions: { enabled: false } },
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    interactions: { policy: policy(), url: (ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 86400, Grant: 86400 },
    renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
  });
  p.proxy = false;
  return { provider: p, issuer, prefix, realm, callback: p.callback() };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let d = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { d += c; if (d.length > 65536) req.destroy(); });
    req.on('end', () => resolve(d));
    req.on('error', reject);
  });
}

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function interaction(op, req, res, rest) {
  const m = rest.match(/^\/interaction\/([\w-]+)(\/login)?$/);
  if (!m) { res.writeHead(404).end(); return; }
  const details = await op.provider.interactionDetails(req, res);
  if (req.method === 'GET' && !m[2]) {
    const hint = details.params.login_hint || '';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><title>Upstream sign-in</title><h1>Upstream sign-in (${escape(op.realm)})</h1><p id="prompt">${escape(details.prompt.name)}: ${escape(details.prompt.reasons.join(" "))}</p>`
      + `<form method="post" action="${op.prefix}/interaction/${details.uid}/login">`
      + `<input id="login" name="login" value="${escape(hint)}"><input id="password" name="password" type="password">`
      + '<button id="submit" type="submit">Sign in</button></form>');
    return;
  }
  if (req.method === 'POST' && m[2]) {
    const form = new URLSearchParams(await readBody(req));
    const login = (form.get('login') || '').trim().toLowerCase();
    if (form.get('password') !== PASSWORD || !person(op.realm, login)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('invalid credentials');
      return;
    }
    await op.provider.interactionFinished(req, res, { login: { accountId: login, amr: ['pwd', 'mfa'] } }, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(405).end();
}

// --- the multi-tenant face --------------------------------------------------------------------

function tenantOfHint(hint) {
  return (hint || '').toLowerCase().endsWith('@fabrikam.test') ? TENANT_B : TENANT_A;
}

async function spoil(fault, body, base) {
  const tokens = JSON.parse(body);
  const [, payloadPart] = tokens.id_token.split('.');
  const claims = JSON.parse(Buffer.from(payloadPart, 'base64url').toString());
  const now = Math.floor(Date.now() / 1000);
  let key = await jose.importJWK(signingJwk, 'RS256');
  if (fault === 'bad-signature') key = rogue.privateKey;
  if (fault === 'wrong-issuer') claims.iss = `${base}/33333333-3333-4333-8333-333333333333/v2.0`;
  if (fault === 'wrong-audience') claims.aud = 'someone-else';
  if (fault === 'expired') { claims.iat = now - 7200; claims.exp = now - 3600; }
  if (fault === 'wrong-nonce') claims.nonce = 'not-the-nonce-of-this-sign-in';
  tokens.id_token = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'upstream-rs256', typ: 'JWT' }).sign(key);
  return JSON.stringify(tokens);
}

function clientOf(req, body) {
  const auth = req.headers.authorization || '';
  if (auth.startsWith('Basic ')) return decodeURIComponent(Buffer.from(auth.slice(6), 'base64').toString().split(':')[0]);
  return new URLSearchParams(body).get('client_id') || '';
}

async function common(req, res, path, base, tenants) {
  // `organizations` is the same face as `common` here (no personal accounts exist).
  const face = path.split('/')[1];
  path = path.replace(/^\/organizations\//, '/common/');
  const discovery = `${base}/${face}/v2.0/.well-known/openid-configuration`;
  if (path === '/common/v2.0/.well-known/openid-configuration') {
    const doc = await (await fetch(`${tenants[TENANT_A].issuer}/.well-known/openid-configuration`)).json();
    Object.assign(doc, {
      issuer: `${base}/{tenantid}/v2.0`,
      authorization_endpoint: `${base}/${face}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/${face}/oauth2/v2.0/token`,
      jwks_uri: `${base}/${face}/discovery/v2.0/keys`,
    });
    delete doc.userinfo_endpoint;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    return;
  }
  if (path === '/common/discovery/v2.0/keys') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    return;
  }
  const url = new URL(req.url, base);
  if (path === '/common/oauth2/v2.0/authorize') {
    const params = url.searchParams;
    if (params.get('client_id') === 'fault-access-denied') {
      const back = new URL(params.get('redirect_uri'));
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user cancelled the sign-in.');
      if (params.get('state')) back.searchParams.set('state', params.get('state'));
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    const tenant = tenants[tenantOfHint(params.get('login_hint'))];
    res.writeHead(302, { location: `${tenant.issuer}/auth?${params.toString()}` }).end();
    return;
  }
  if (path === '/common/oauth2/v2.0/token' && req.method === 'POST') {
    const body = await readBody(req);
    const fault = (clientOf(req, body).match(/^fault-(.*)$/) || [])[1];
    let answer;
    for (const id of [TENANT_A, TENANT_B]) {
      const headers = { 'content-type': req.headers['content-type'] || 'application/x-www-form-urlencoded' };
      if (req.headers.authorization) headers.authorization = req.headers.authorization;
      answer = await fetch(`${tenants[id].issuer}/token`, { method: 'POST', headers, body });
      if (answer.status !== 400) break;
      const error = await answer.clone().json().catch(() => ({}));
      if (error.error !== 'invalid_grant') break;
    }
    let text = await answer.text();
    if (fault === 'slow') await new Promise((r) => setTimeout(r, 4000));
    if (fault === 'html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Maintenance</title><p>We will be back soon.</p>');
      return;
    }
    if (answer.status === 200 && fault && fault !== 'slow') text = await spoil(fault, text, base);
    res.writeHead(answer.status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(text);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found (see ${discovery})`);
}

// --- the server ---------------------------------------------------------------------------------

const server = http.createServer();
server.listen(Number(process.env.UPSTREAM_PORT || 0), '127.0.0.1', () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const ops = [provider(base, 'contoso', TENANT_A), provider(base, 'fabrikam', TENANT_B), provider(base, 'google', 'google')];
  const tenants = Object.fromEntries(ops.map((op) => [op.realm, op]));
  server.on('request', async (req, res) => {
    try {
      const path = new URL(req.url, base).pathname;
      if (path.startsWith('/common/') || path.startsWith('/organizations/')) { await common(req, res, path, base, tenants); return; }
      const op = ops.find((o) => path === o.prefix || path.startsWith(`${o.prefix}/`));
      if (!op) { res.writeHead(404).end(); return; }
      const rest = req.url.slice(op.prefix.length) || '/';
      if (rest.startsWith('/interaction/')) { await interaction(op, req, res, rest.split('?')[0]); return; }
      req.originalUrl = req.url;
      req.url = rest;
      op.callback(req, res);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error && error.stack || error));
    }
  });
  console.log(`listening on ${base}`);
});
