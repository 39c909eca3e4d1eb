// openid-client v6 as a real relying party against an OpenID Provider: discovery, the
// authorization code flow with PKCE (a small cookie-keeping fetch loop signs in through the
// OP's HTML login form and allows consent), userinfo, a refresh, and RP-initiated logout (the
// library's end-session URL with id_token_hint, post_logout_redirect_uri and state, followed to
// the redirect; then prompt=none must find no session). Prints one JSON line with what it got;
// exits non-zero (with the error as JSON) when any step fails.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI,
// USERNAME, PASSWORD; NODE_EXTRA_CA_CERTS for a test CA. Run by provider/tests/conformance.rs.

import * as client from 'openid-client';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const ISSUER = env('ISSUER');
const CLIENT_ID = env('CLIENT_ID');
const CLIENT_SECRET = env('CLIENT_SECRET');
const REDIRECT_URI = env('REDIRECT_URI');
const USERNAME = env('USERNAME');
const PASSWORD = env('PASSWORD');
const USERNAME_FIELD = process.env.USERNAME_FIELD || 'username';
const PASSWORD_FIELD = process.env.PASSWORD_FIELD || 'password';

const decode = (text) =>
  text
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/gi, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#x2F;/gi, '/')
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&amp;/g, '&');

const attributes = (text) => {
  const out = {};
  for (const m of text.matchAll(/([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    out[m[1].toLowerCase()] = decode(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
};

// The forms of a page, with their hidden and text inputs and named submit buttons.
const forms = (html) =>
  [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map((m) => {
    const form = attributes(m[1]);
    const inputs = [...m[2].matchAll(/<input\b([^>]*)>/gi)].map((i) => attributes(i[1]));
    const buttons = [...m[2].matchAll(/<button\b([^>]*)>/gi)].map((b) => attributes(b[1]));
    return { action: form.action, method: (form.method || 'get').toLowerCase(), inputs, buttons };
  });

// A user agent: follows redirects itself, keeps cookies (in `jar`, so one browser can make
// several trips), fills the login form and allows consent, until a Location points at `until`
// (the redirect URI by default); returns that URL.
export async function browse(start, { jar = new Map(), until = REDIRECT_URI } = {}) {
  const callback = new URL(until);
  const isCallback = (url) => url.origin === callback.origin && url.pathname === callback.pathname;
  let target = new URL(start);
  let method = 'GET';
  let body;
  const trail = [];
  for (let step = 0; step < 20; step++) {
    if (isCallback(target)) return target;
    trail.push(`${method} ${target.origin}${target.pathname}`);
    const headers = {};
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(target, { method, headers, body, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair, ...rest] = cookie.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const expired = rest.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a));
      if (expired) jar.delete(name);
      else jar.set(name, pair.slice(at + 1).trim());
    }
    if ([301, 302, 303, 307, 308].includes(response.status)) {
      target = new URL(response.headers.get('location'), target);
      if (![307, 308].includes(response.status)) {
        method = 'GET';
        body = undefined;
      }
      continue;
    }
    const html = await response.text();
    const page = forms(html);
    const login = page.find((f) => f.inputs.some((i) => i.name === PASSWORD_FIELD));
    const consent = page.find((f) => f.buttons.some((b) => b.name === 'decision' && b.value === 'allow'));
    const form = login || consent;
    if (!form) {
      throw new Error(`unexpected page (HTTP ${response.status}) after ${trail.join(' -> ')}: ${html.slice(0, 400)}`);
    }
    const fields = new URLSearchParams();
    for (const input of form.inputs) {
      const type = (input.type || 'text').toLowerCase();
      if (!input.name || ['submit', 'button', 'image', 'reset', 'file'].includes(type)) continue;
      if (['checkbox', 'radio'].includes(type) && !('checked' in input)) continue;
      fields.append(input.name, input.value ?? '');
    }
    if (form === login) {
      fields.set(USERNAME_FIELD, USERNAME);
      fields.set(PASSWORD_FIELD, PASSWORD);
    } else {
      fields.set('decision', 'allow');
    }
    const action = new URL(form.action || target.href, target);
    if (form.method === 'post') {
      method = 'POST';
      body = fields.toString();
      target = action;
    } else {
      method = 'GET';
      body = undefined;
      action.search = fields.toString();
      target = action;
    }
  }
  throw new Error(`no redirect to the client after ${trail.join(' -> ')}`);
}

async function main() {
  const result = {};
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, CLIENT_SECRET, client.ClientSecretBasic(CLIENT_SECRET));
  result.issuer = config.serverMetadata().issuer;

  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email offline_access',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    prompt: 'consent',
  });
  const jar = new Map();
  const callbackUrl = await browse(authorizationUrl, { jar });

  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  result.id_token_claims = claims;
  result.token_type = tokens.token_type;
  result.has_refresh_token = Boolean(tokens.refresh_token);

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  result.userinfo = userinfo;

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  result.refreshed = {
    token_type: refreshed.token_type,
    has_access_token: Boolean(refreshed.access_token),
    new_access_token: refreshed.access_token !== tokens.access_token,
    rotated_refresh_token: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
    id_token_sub: refreshed.claims()?.sub ?? null,
  };
  // RP-initiated logout in the same browser, back to the post-logout URI with the state.
  const postLogoutRedirectUri = env('POST_LOGOUT_REDIRECT_URI');
  const logoutState = client.randomState();
  const endSessionUrl = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: postLogoutRedirectUri,
    state: logoutState,
  });
  const landed = await browse(endSessionUrl, { jar, until: postLogoutRedirectUri });
  // The session is gone: a silent authorization must come back with an error, not a code.
  const silentState = client.randomState();
  const silent = await browse(
    client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: silentState, prompt: 'none' }),
    { jar },
  );
  result.logout = {
    end_session_endpoint: config.serverMetadata().end_session_endpoint,
    at: `${landed.origin}${landed.pathname}`,
    state_returned: landed.searchParams.get('state') === logoutState,
    parameters: [...landed.searchParams.keys()],
    prompt_none_error: silent.searchParams.get('error'),
    prompt_none_state_returned: silent.searchParams.get('state') === silentState,
    prompt_none_code: silent.searchParams.has('code'),
  };
  result.ok = true;
  console.log(JSON.stringify(result));
}

// Run only as the script itself (implicit-hybrid.mjs imports `browse`).
if (import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.log(JSON.stringify({ ok: false, error: String(error), code: error?.code, cause: error?.cause ? String(error.cause) : undefined }));
    process.exit(1);
  });
}
