// The reference provider of Poort's benchmark (bench/run): node-oidc-provider 9, configured
// with the same clients, user and flows as the Poort that bench/run starts beside it.
// Loopback only. No TLS. Not a production configuration.
//
// Env:
//   PEER_PORT      (default 3000)           listen port on 127.0.0.1
//   PEER_ADAPTER   lru|map (default lru)    lru = the library's built-in MemoryAdapter
//                                           (LRU, 1000 entries); map = unbounded Map with TTL
//                                           (use for "RSS with N sessions" measurements)
//   PEER_LOGIN_HASH (default none)          password check in the login step:
//                                           none = no hashing (protocol cost only)
//                                           argon2id[:m:t:p] = argon2id verify via the `argon2` npm
//                                             package (libuv thread pool), default OWASP m=19456,t=2,p=1
//                                           scrypt = OWASP scrypt N=2^17,r=8,p=1 (128 MiB, ~0.4 s)
//
// Clients (the secret is BENCH_SECRET below, the same as Poort's):
//   cc-opaque, cc-es256, cc-rs256   confidential, client_secret_basic, grant client_credentials,
//                            scope "api:read"; an opaque access token, or an RFC 9068 JWT signed
//                            ES256 / RS256 (each client's default resource picks the format;
//                            the `resource` parameter urn:peer:opaque|jwt-es256|jwt-rs256 too)
//   code-rs256 / code-es256  public (token_endpoint_auth_method none), authorization_code +
//                            PKCE S256, redirect_uri http://127.0.0.1:9/cb, id_token RS256 / ES256
// User: login "alice", password BENCH_PASSWORD (any password when PEER_LOGIN_HASH=none).

import * as http from 'node:http';
import * as crypto from 'node:crypto';
import { promisify } from 'node:util';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PEER_PORT || 3000);
const ISSUER = `http://127.0.0.1:${PORT}`;
const ADAPTER = process.env.PEER_ADAPTER || 'lru';
const LOGIN_HASH = process.env.PEER_LOGIN_HASH || 'none';
const BENCH_SECRET = 'bench-client-secret-0123456789';
const BENCH_PASSWORD = 'Correct-Horse-Battery-Staple-42';

// ---- keys: one RSA-2048 (RS256) and one P-256 (ES256), generated at start ----
function jwk(kp, kid, alg) {
  return { ...kp.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}
// Keys are generated as PEM and imported again. Exporting from a key that its generation job
// still references can deadlock Node.js 20: a garbage collection that finalises the job during
// the export takes the key's lock the export already holds (seen hanging this server at start).
function generateKeyPair(type, options) {
  const encoding = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } };
  const privateKey = crypto.createPrivateKey(crypto.generateKeyPairSync(type, { ...options, ...encoding }).privateKey);
  return { privateKey, publicKey: crypto.createPublicKey(privateKey) };
}

const rsa = generateKeyPair('rsa', { modulusLength: 2048 });
const ec = generateKeyPair('ec', { namedCurve: 'P-256' });
const jwks = { keys: [jwk(rsa, 'rs256-1', 'RS256'), jwk(ec, 'es256-1', 'ES256')] };

// ---- optional unbounded Map adapter (TTL honoured on read, swept every 60 s) ----
const stores = new Map();
class MapAdapter {
  constructor(name) {
    this.name = name;
    if (!stores.has(name)) stores.set(name, new Map());
    this.s = stores.get(name);
  }
  key(id) { return id; }
  async upsert(id, payload, expiresIn) {
    const exp = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    this.s.set(id, { payload, exp });
    if (payload.grantId) {
      const g = stores.get('__grant') || new Map(); stores.set('__grant', g);
      const set = g.get(payload.grantId) || []; set.push([this.name, id]); g.set(payload.grantId, set);
    }
    if (payload.uid) (stores.get('__uid') || stores.set('__uid', new Map()).get('__uid')).set(payload.uid, id);
    if (payload.userCode) (stores.get('__uc') || stores.set('__uc', new Map()).get('__uc')).set(payload.userCode, id);
  }
  async find(id) {
    const e = this.s.get(id);
    if (!e) return undefined;
    if (e.exp <= Date.now()) { this.s.delete(id); return undefined; }
    return e.payload;
  }
  async findByUid(uid) { const id = stores.get('__uid')?.get(uid); return id && this.find(id); }
  async findByUserCode(uc) { const id = stores.get('__uc')?.get(uc); return id && this.find(id); }
  async consume(id) { const e = this.s.get(id); if (e) e.payload.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { this.s.delete(id); }
  async revokeByGrantId(grantId) {
    const g = stores.get('__grant'); const set = g?.get(grantId) || [];
    for (const [name, id] of set) stores.get(name)?.delete(id);
    g?.delete(grantId);
  }
}
if (ADAPTER === 'map') {
  setInterval(() => {
    const now = Date.now();
    for (const [name, s] of stores) {
      if (name.startsWith('__')) continue;
      for (const [k, v] of s) if (v.exp <= now) s.delete(k);
    }
  }, 60_000).unref();
}

// ---- accounts ----
const scrypt = promisify(crypto.scrypt);
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 };
const alice = { id: 'alice', salt: crypto.randomBytes(16), hash: null };
let argon2;
if (LOGIN_HASH === 'scrypt') alice.hash = crypto.scryptSync(BENCH_PASSWORD, alice.salt, 32, SCRYPT);
if (LOGIN_HASH.startsWith('argon2id')) {
  argon2 = (await import('argon2')).default; // optional dependency (prebuilt native addon)
  const [, m = 19456, t = 2, p = 1] = LOGIN_HASH.split(':').map(Number);
  alice.hash = await argon2.hash(BENCH_PASSWORD, { type: argon2.argon2id, memoryCost: m, timeCost: t, parallelism: p });
}
async function checkPassword(login, password) {
  if (login !== alice.id) return false;
  if (LOGIN_HASH === 'none') return true;
  if (argon2) return argon2.verify(alice.hash, String(password || ''));
  const h = await scrypt(String(password || ''), alice.salt, 32, SCRYPT);
  return crypto.timingSafeEqual(h, alice.hash);
}

const RESOURCES = {
  'urn:peer:opaque': { scope: 'api:read', audience: 'urn:peer:opaque', accessTokenTTL: 3600, accessTokenFormat: 'opaque' },
  'urn:peer:jwt-rs256': { scope: 'api:read', audience: 'urn:peer:jwt-rs256', accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
  'urn:peer:jwt-es256': { scope: 'api:read', audience: 'urn:peer:jwt-es256', accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } },
};

const configuration = {
  ...(ADAPTER === 'map' ? { adapter: MapAdapter } : {}),
  jwks,
  cookies: { keys: ['peer-cookie-key-1-not-secret', 'peer-cookie-key-2-not-secret'] },
  scopes: ['openid', 'profile', 'offline_access', 'api:read'],
  claims: { openid: ['sub'], profile: ['name'] },
  clients: [
    ...['opaque', 'es256', 'rs256'].map((kind) => ({
      client_id: `cc-${kind}`, client_secret: BENCH_SECRET,
      grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'api:read',
    })),
    ...['RS256', 'ES256'].map((alg) => ({
      client_id: `code-${alg.toLowerCase()}`,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'], response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:9/cb'],
      id_token_signed_response_alg: alg,
    })),
  ],
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, name: 'Alice' }),
  }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Each client_credentials client's format, as Poort's clients register theirs.
      defaultResource: async (ctx) => {
        const kind = ctx.oidc.client?.clientId?.match(/^cc-(opaque|es256|rs256)$/)?.[1];
        if (!kind) return undefined;
        return kind === 'opaque' ? 'urn:peer:opaque' : `urn:peer:jwt-${kind}`;
      },
      useGrantedResource: async () => false,
      getResourceServerInfo: async (ctx, resource) => {
        const info = RESOURCES[resource];
        if (!info) throw new Provider.errors.InvalidTarget();
        return info;
      },
    },
  },
  // first-party clients: auto-consent (no consent screen)
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile');
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  ttl: { AccessToken: 3600, AuthorizationCode: 60, ClientCredentials: 3600, IdToken: 3600, Interaction: 600, Session: 86400, Grant: 86400 },
  renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
};

const provider = new Provider(ISSUER, configuration);
provider.proxy = false;
const providerCallback = provider.callback();

function readBody(req) {
  return new Promise((resolve, reject) => {
    let d = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { d += c; if (d.length > 8192) req.destroy(); });
    req.on('end', () => resolve(d));
    req.on('error', reject);
  });
}

async function interaction(req, res) {
  const url = new URL(req.url, ISSUER);
  const m = url.pathname.match(/^\/interaction\/([\w-]+)(\/login)?$/);
  if (!m) { res.writeHead(404).end(); return; }
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== m[1]) { res.writeHead(400).end('uid mismatch'); return; }
    if (req.method === 'GET' && !m[2]) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(`<!doctype html><title>Sign in</title><form method="post" action="/interaction/${details.uid}/login">`
        + `<input type="hidden" name="prompt" value="${details.prompt.name}">`
        + '<input name="login"><input name="password" type="password"><button>Sign in</button></form>');
      return;
    }
    if (req.method === 'POST' && m[2]) {
      const form = new URLSearchParams(await readBody(req));
      if (!(await checkPassword(form.get('login'), form.get('password')))) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('invalid credentials');
        return;
      }
      // writes a 303 redirect back to the authorization endpoint (resume)
      await provider.interactionFinished(req, res, { login: { accountId: form.get('login') } }, { mergeWithLastSubmission: false });
      return;
    }
    res.writeHead(405).end();
  } catch (err) {
    if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(String(err?.message || err));
  }
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) { interaction(req, res); return; }
  providerCallback(req, res);
});
server.keepAliveTimeout = 65_000;
server.listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider peer listening on ${ISSUER} (pid ${process.pid}, node ${process.version}, adapter=${ADAPTER}, login_hash=${LOGIN_HASH})`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { server.close(); process.exit(0); });
// `kill -USR2 <pid>`: log memory (after a full GC when started with `node --expose-gc`) and store sizes
process.on('SIGUSR2', () => {
  if (global.gc) global.gc();
  const mb = (x) => (x / 1048576).toFixed(1);
  const m = process.memoryUsage();
  const sizes = ADAPTER === 'map' ? Object.fromEntries([...stores].map(([k, v]) => [k, v.size])) : 'lru(max 1000)';
  console.log(`mem rss=${mb(m.rss)}MiB heapUsed=${mb(m.heapUsed)}MiB heapTotal=${mb(m.heapTotal)}MiB external=${mb(m.external)}MiB gc=${!!global.gc} stores=${JSON.stringify(sizes)}`);
});
