// Authorization-code + PKCE flow load driver (no browser). Loopback targets only. Generic: it
// reads the endpoints from discovery and works against Poort and the reference provider alike.
//
// A flow:
//   1. GET  authorization_endpoint?response_type=code&client_id&redirect_uri&scope&state&nonce
//           &code_challenge(S256), then each redirect until one goes to --redirect;
//   2. when a page with a form answers instead (the sign-in page): post it — every
//      <input type="hidden"> (a CSRF token, a ticket) plus login and password — and go on
//      following redirects;
//   3. POST token_endpoint grant_type=authorization_code + code_verifier (a public client, or
//      client_secret_basic with --client-secret) -> access_token + id_token.
//
// Each flow starts with an empty cookie jar, so each signs in (a password check per flow).
// With --reuse-session each worker keeps its jar: it signs in on its first flow and every later
// flow rides on that session ("session already established": no password hash in the flow).
//
// Usage: node codeflow.mjs --issuer http://127.0.0.1:3000 --client code-rs256 \
//          --redirect http://127.0.0.1:9/cb --concurrency 8 --duration 20 [--max-flows 100000]
//          [--warmup 3] [--reuse-session] [--login alice --password P] [--scope "openid profile"]
//          [--user-field login --pass-field password] [--client-secret S] [--json out.json]
//          [--before-measure CMD] [--after-measure CMD]   (shell commands run around the measured
//          run, after the warm-up: `instructions` turns valgrind's counting on and off with them)
// Prints JSON: flows/s, whole-flow latency p50/p90/p99/max, per-step p50/p99, errors by kind,
// and `busy`: how many sign-ins were answered 503 and how fast (p99 ms).

import * as crypto from 'node:crypto';
import { Agent, request } from 'undici';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, arr) => {
  if (a.startsWith('--')) acc.push([a.slice(2), arr[i + 1] && !arr[i + 1].startsWith('--') ? arr[i + 1] : 'true']);
  return acc;
}, []));
const ISSUER = args.issuer || 'http://127.0.0.1:3000';
const u = new URL(ISSUER);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) && !u.hostname.startsWith('127.')) {
  console.error('refusing non-loopback issuer'); process.exit(2);
}
const CLIENT = args.client || 'code-rs256';
const SECRET = args['client-secret'];
const REDIRECT = args.redirect || 'http://127.0.0.1:9/cb';
const SCOPE = args.scope || 'openid profile';
const CONC = Number(args.concurrency || 8);
const DURATION = Number(args.duration || 20);
const WARMUP = Number(args.warmup || 3);
const MAX = Number(args['max-flows'] || 1e9);
const LOGIN = args.login || 'alice';
const PASSWORD = args.password || 'wonderland';
const REUSE = args['reuse-session'] === 'true';
const USER_FIELD = args['user-field'] || 'login';
const PASS_FIELD = args['pass-field'] || 'password';

const agent = new Agent({ connections: CONC * 2, pipelining: 1, keepAliveTimeout: 60_000 });
const b64u = (b) => Buffer.from(b).toString('base64url');

async function http(method, url, { headers = {}, body, jar } = {}) {
  if (jar && jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const r = await request(url, { method, headers, body, dispatcher: agent });
  const text = await r.body.text();
  const sc = r.headers['set-cookie'];
  if (jar && sc) {
    for (const c of Array.isArray(sc) ? sc : [sc]) {
      const [nv, ...attrs] = c.split(';');
      const i = nv.indexOf('=');
      const name = nv.slice(0, i).trim(); const val = nv.slice(i + 1).trim();
      const expired = attrs.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim())) || val === '';
      if (expired) jar.delete(name); else jar.set(name, val);
    }
  }
  return { status: r.statusCode, headers: r.headers, text };
}

const disco = JSON.parse((await http('GET', `${ISSUER}/.well-known/openid-configuration`)).text);
const AUTHZ = disco.authorization_endpoint; const TOKEN = disco.token_endpoint;

const steps = ['authorize', 'login', 'resume', 'token'];
function newStats() { return { lat: [], step: Object.fromEntries(steps.map((s) => [s, []])), ok: 0, err: 0, errs: {}, busy: [], logins: 0 }; }

const isRedirect = (status) => [301, 302, 303, 307].includes(status);

async function oneFlow(st, jar = new Map()) {
  const t0 = performance.now(); let t = t0;
  const mark = (s) => { const n = performance.now(); st.step[s].push(n - t); t = n; };
  const verifier = b64u(crypto.randomBytes(32));
  const challenge = b64u(crypto.createHash('sha256').update(verifier).digest());
  const state = b64u(crypto.randomBytes(12)); const nonce = b64u(crypto.randomBytes(12));
  const q = new URLSearchParams({ response_type: 'code', client_id: CLIENT, redirect_uri: REDIRECT, scope: SCOPE, state, nonce, code_challenge: challenge, code_challenge_method: 'S256' });
  let url = `${AUTHZ}?${q}`;
  let r = await http('GET', url, { jar });
  let signedIn = false; let loc;
  for (let hops = 0; ; hops++) {
    if (hops > 8) throw new Error('too many redirects');
    if (isRedirect(r.status)) {
      loc = new URL(r.headers.location, url).href;
      if (loc.startsWith(REDIRECT)) break;
      url = loc; r = await http('GET', url, { jar });
      continue;
    }
    if (r.status === 200 && !signedIn && /<form/i.test(r.text)) {
      mark('authorize');
      const action = new URL((r.text.match(/<form[^>]*action="([^"]+)"/i) || [])[1] || url, url).href;
      const form = new URLSearchParams();
      for (const m of r.text.matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
        const name = (m[0].match(/name="([^"]*)"/) || [])[1]; const value = (m[0].match(/value="([^"]*)"/) || [])[1] || '';
        if (name) form.set(name, value.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=').replace(/&quot;/g, '"'));
      }
      form.set(USER_FIELD, LOGIN); form.set(PASS_FIELD, PASSWORD);
      const tl = performance.now();
      r = await http('POST', action, { jar, body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      if (r.status === 503) { st.busy.push(performance.now() - tl); throw new Error('login_post 503 busy'); }
      if (!isRedirect(r.status)) throw new Error(`login_post ${r.status}`);
      mark('login'); signedIn = true; st.logins++; url = action;
      continue;
    }
    throw new Error(`${signedIn ? 'resume' : 'authorize'} ${r.status} ${r.text.slice(0, 60)}`);
  }
  if (signedIn) mark('resume'); else mark('authorize');
  const cb = new URL(loc);
  if (cb.searchParams.get('state') !== state) throw new Error('state mismatch');
  const code = cb.searchParams.get('code'); if (!code) throw new Error(`no code: ${cb.search.slice(0, 80)}`);
  const tb = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
  const th = { 'content-type': 'application/x-www-form-urlencoded' };
  if (SECRET) th.authorization = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT)}:${encodeURIComponent(SECRET)}`).toString('base64')}`;
  else tb.set('client_id', CLIENT);
  r = await http('POST', TOKEN, { body: tb.toString(), headers: th });
  if (r.status !== 200) throw new Error(`token ${r.status} ${r.text.slice(0, 80)}`);
  const tok = JSON.parse(r.text);
  if (!tok.access_token || !tok.id_token) throw new Error('token response lacks access_token/id_token');
  mark('token');
  st.lat.push(performance.now() - t0);
  return tok;
}

function pct(a, p) { if (!a.length) return NaN; const s = Float64Array.from(a).sort(); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; }

// One cookie jar per worker, kept across runs when sessions are reused.
const jars = Array.from({ length: CONC }, () => new Map());

async function run(seconds, maxFlows, st) {
  const end = performance.now() + seconds * 1000; let started = 0;
  async function worker(i) {
    while (performance.now() < end && started < maxFlows) {
      started++;
      try { await oneFlow(st, REUSE ? jars[i] : new Map()); st.ok++; } catch (e) { st.err++; const k = String(e.message).slice(0, 40); st.errs[k] = (st.errs[k] || 0) + 1; }
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONC }, (_, i) => worker(i)));
  return (performance.now() - t0) / 1000;
}

// sanity: one flow, show the id_token alg
let first;
try { first = await oneFlow(newStats(), REUSE ? jars[0] : new Map()); } catch (e) {
  console.error(`sanity flow failed: ${e.message}`); await agent.close(); process.exit(1);
}
const idHdr = JSON.parse(Buffer.from(first.id_token.split('.')[0], 'base64url'));
if (WARMUP > 0) await run(WARMUP, MAX, newStats());
const { execSync } = await import('node:child_process');
if (args['before-measure']) execSync(args['before-measure'], { stdio: 'ignore' });
const st = newStats();
const secs = await run(DURATION, MAX, st);
if (args['after-measure']) execSync(args['after-measure'], { stdio: 'ignore' });
const f = (x) => x.toFixed(2);
const out = {
  issuer: ISSUER, client: CLIENT, id_token_alg: idHdr.alg, concurrency: CONC, seconds: Number(secs.toFixed(2)),
  flows_ok: st.ok, errors: st.err, error_kinds: st.errs, flows_per_s: Number((st.ok / secs).toFixed(1)),
  latency_ms: { p50: +f(pct(st.lat, 50)), p90: +f(pct(st.lat, 90)), p99: +f(pct(st.lat, 99)), max: +f(st.lat.reduce((a, b) => Math.max(a, b), 0)) },
  step_ms: Object.fromEntries(steps.map((s) => [s, { p50: +f(pct(st.step[s], 50)), p99: +f(pct(st.step[s], 99)) }])),
  sign_ins: st.logins, reuse_session: REUSE,
  busy: { count: st.busy.length, p99_ms: st.busy.length ? +f(pct(st.busy, 99)) : null },
};
console.log(JSON.stringify(out, null, 1));
if (args.json) (await import('node:fs')).writeFileSync(args.json, JSON.stringify(out, null, 1));
await agent.close();
