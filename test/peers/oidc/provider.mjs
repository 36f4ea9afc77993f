// The OpenID provider the e2e tests sign in against: npm oidc-provider (pinned in package.json,
// installed by test/peers/install.sh) with our configuration, so the tests face a certified
// implementation rather than a fake that agrees with our own reading of the spec.
//
//   node provider.mjs --modules DIR --config FILE
//
// DIR is the node_modules directory install.sh filled (it lives in the user's cache, not next to
// this file, so the import is by path). FILE is JSON:
//
//   {
//     "issuer": "http://127.0.0.1:PORT",          // http is accepted by oidc-provider; the path may be non-empty
//     "listen": {"host": "127.0.0.1", "port": PORT},
//     "tls": {"cert": "cert.pem", "key": "key.pem"}, // optional: serve HTTPS (the issuer must say https then)
//     "clients": [{"client_id": "...", "client_secret": "...", "redirect_uris": ["..."],
//                  "post_logout_redirect_uris": ["..."]}],
//     "users": [{"id": "alice", "email": "alice@example.com", "name": "Alice", "groups": ["admins"]}],
//     "ttl": {"AccessToken": 60, "IdToken": 60, "RefreshToken": 3600}   // seconds, all optional
//   }
//
// Every client gets grant types authorization_code + refresh_token, response type code,
// client_secret_basic or client_secret_post, and must send PKCE (S256). Refresh tokens are issued
// when the scope has offline_access, which oidc-provider keeps only with prompt=consent (as OIDC
// Core 11 says), and they rotate on every use. Scopes: openid, offline_access, email, profile and
// groups; the claims are put in the id token too (conformIdTokenClaims off), as Dex does, so a
// relying party can read email and groups without calling userinfo. Revocation and RP-initiated
// logout (end_session_endpoint) are on.
//
// Signing in, scripted with an HTTP client that keeps cookies and does not follow redirects
// (the devInteractions pages; the password is not checked, the login must be a configured user):
//
//   1. GET  {authorization_endpoint}?response_type=code&client_id=..&redirect_uri=..&scope=openid
//           email groups offline_access&state=..&nonce=..&code_challenge=..&code_challenge_method=S256
//           &prompt=consent
//      -> 303 Location: /interaction/{uid}, sets the _interaction and _interaction_resume cookies.
//   2. GET  /interaction/{uid}          -> 200, the login form (fields prompt=login, login, password).
//   3. POST /interaction/{uid}  form prompt=login&login=alice&password=x
//      -> 303 to {authorization_endpoint}/{uid} (resume); follow it with GET
//      -> 303 Location: /interaction/{uid2} (the consent prompt), sets the _session cookie.
//   4. POST /interaction/{uid2} form prompt=consent   (GET of it shows the consent page first)
//      -> 303 to the resume URL; GET it -> 303 Location: {redirect_uri}?code=..&state=..&iss=..
//   (Without offline_access or with an earlier grant for the same scopes, step 4 is skipped.)
//
// Logging out (RP-initiated): GET {end_session_endpoint}?id_token_hint=..&post_logout_redirect_uri=..
// -> 200 with a form whose hidden field xsrf must be posted: POST {end_session_endpoint}/confirm
// form xsrf=..&logout=yes -> 303 to post_logout_redirect_uri (or /session/end/success without one).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHTTPServer } from 'node:http';
import { createServer as createHTTPSServer } from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const { values: args } = parseArgs({
  options: { modules: { type: 'string' }, config: { type: 'string' } },
});
if (!args.modules || !args.config) {
  console.error('usage: node provider.mjs --modules NODE_MODULES_DIR --config CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(args.config, 'utf8'));

const { default: Provider } = await import(
  pathToFileURL(join(args.modules, 'oidc-provider', 'lib', 'index.js')).href
);

const users = new Map((config.users ?? []).map((u) => [u.id, u]));

// A fresh signing key per start: tests never outlive the process, and no key is kept in the tree.
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ format: 'jwk' });

const ttl = config.ttl ?? {};
const provider = new Provider(config.issuer, {
  clients: (config.clients ?? []).map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
  })),
  jwks: { keys: [{ ...signingKey, kid: 'peer-1', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  claims: {
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  rotateRefreshToken: () => true,
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: {
    AccessToken: ttl.AccessToken ?? 300,
    AuthorizationCode: 60,
    IdToken: ttl.IdToken ?? 300,
    RefreshToken: ttl.RefreshToken ?? 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  async findAccount(_ctx, id) {
    const user = users.get(id);
    if (!user) {
      return undefined;
    }
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: user.email,
          email_verified: true,
          name: user.name ?? id,
          preferred_username: id,
          groups: user.groups ?? [],
        };
      },
    };
  },
});

const tls = config.tls;
const server = tls
  ? createHTTPSServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, provider.callback())
  : createHTTPServer(provider.callback());
server.listen(config.listen.port, config.listen.host ?? '127.0.0.1', () => {
  console.log(`oidc-provider listening, issuer ${config.issuer}`);
});

// The test harness kills the process; end cleanly on SIGTERM/SIGINT too.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
