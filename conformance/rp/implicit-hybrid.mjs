// openid-client v6 as a relying party of the implicit flow (response_type=id_token) and the
// hybrid flow (response_type=code id_token, response_mode=fragment): the library checks the
// ID token, its nonce and c_hash itself. Prints one JSON line; exits non-zero on failure.
//
// Environment as for flow.mjs. Run by provider/tests/conformance.rs.

import * as client from 'openid-client';
import { browse } from './flow.mjs';

const env = (name) => process.env[name];

async function main() {
  const result = {};
  const discover = (execute) =>
    client.discovery(new URL(env('ISSUER')), env('CLIENT_ID'), env('CLIENT_SECRET'), client.ClientSecretBasic(env('CLIENT_SECRET')), { execute });

  // Implicit: the ID token straight from the authorization endpoint.
  const implicit = await discover([client.useIdTokenResponseType]);
  const implicitNonce = client.randomNonce();
  const implicitState = client.randomState();
  const implicitUrl = client.buildAuthorizationUrl(implicit, {
    redirect_uri: env('REDIRECT_URI'),
    scope: 'openid email',
    nonce: implicitNonce,
    state: implicitState,
    prompt: 'consent',
  });
  const implicitCallback = await browse(implicitUrl);
  result.implicit_in_fragment = implicitCallback.hash.length > 1 && !implicitCallback.searchParams.has('id_token');
  const idToken = await client.implicitAuthentication(implicit, implicitCallback, implicitNonce, { expectedState: implicitState });
  result.implicit_claims = idToken;

  // Hybrid: code and ID token in the fragment, then the code exchange.
  const hybrid = await discover([client.useCodeIdTokenResponseType]);
  const nonce = client.randomNonce();
  const state = client.randomState();
  const hybridUrl = client.buildAuthorizationUrl(hybrid, {
    redirect_uri: env('REDIRECT_URI'),
    scope: 'openid email',
    nonce,
    state,
  });
  const hybridCallback = await browse(hybridUrl);
  result.hybrid_in_fragment = hybridCallback.hash.length > 1;
  const tokens = await client.authorizationCodeGrant(hybrid, hybridCallback, {
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  result.hybrid_claims = tokens.claims();
  result.userinfo = await client.fetchUserInfo(hybrid, tokens.access_token, tokens.claims().sub);
  result.ok = true;
  console.log(JSON.stringify(result));
}

main().catch((error) => {
  console.log(JSON.stringify({ ok: false, error: String(error), code: error?.code, cause: error?.cause ? String(error.cause) : undefined }));
  process.exit(1);
});
