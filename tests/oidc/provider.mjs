// A real OpenID Connect provider (panva/oidc-provider) for Candor's single sign-on tests.
//
// It listens on a free loopback port and prints "READY <issuer>" once it serves. Settings come
// from the environment:
//   OIDC_REDIRECT_URIS  comma-separated redirect URIs of the registered clients (required)
//   OIDC_CLIENT_SECRET  the clients' secret (default "candor-test-secret")
//   OIDC_ID_TOKEN_TTL   ID token lifetime in seconds (default 60)
//
// Clients: "candor" is an ordinary confidential client. "candor-misaud" is registered the same
// way, but every ID token issued to it is re-signed (with the provider's own key) for the audience
// "another-app": a provider issuing tokens for another audience, which Candor must refuse.
//
// Users log in on a plain form at /interaction/<uid> with the passwords in USERS; consent is
// granted without asking (a first-party client), so login is the only interaction.
import http from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const SECRET = process.env.OIDC_CLIENT_SECRET || 'candor-test-secret';
const ID_TOKEN_TTL = Number(process.env.OIDC_ID_TOKEN_TTL || 60);
const REDIRECT_URIS = (process.env.OIDC_REDIRECT_URIS || '').split(',').filter(Boolean);
const MISAUD_CLIENT = 'candor-misaud';
const FOREIGN_AUDIENCE = 'another-app';

// Test users: login name -> password and claims. Groups drive Candor's role mapping.
const USERS = {
  alice: { password: 'alice-pw', email: 'alice@example.org', email_verified: true, name: 'Alice Admin', groups: ['candor-admins', 'staff'] },
  hana: { password: 'hana-pw', email: 'hana@example.org', email_verified: true, name: 'Hana HR', groups: ['candor-hr'] },
  nora: { password: 'nora-pw', email: 'nora@example.org', email_verified: true, name: 'Nora Nobody', groups: ['staff'] },
  // Same address as an account Candor's tests create with a password (tests/conftest.py STAFF).
  existing: { password: 'existing-pw', email: 'hr@example.org', email_verified: true, name: 'Existing HR', groups: ['candor-hr'] },
  unverified: { password: 'unverified-pw', email: 'lead@example.org', email_verified: false, name: 'Unverified', groups: ['candor-leaders'] },
};

if (REDIRECT_URIS.length === 0) {
  console.error('OIDC_REDIRECT_URIS is required');
  process.exit(2);
}

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await jose.exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const client = (clientId) => ({
  client_id: clientId,
  client_secret: SECRET,
  redirect_uris: REDIRECT_URIS,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [client('candor'), client(MISAUD_CLIENT)],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['candor-test-cookie-key'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // Put the scopes' claims into the ID token too, as Keycloak, Entra ID and Okta can.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    IdToken: ID_TOKEN_TTL,
    AccessToken: 60,
    AuthorizationCode: 60,
    Interaction: 300,
    Session: 600,
    Grant: 600,
  },
  async findAccount(ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    const { password, ...claims } = user;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});

// Re-sign the ID tokens of MISAUD_CLIENT for FOREIGN_AUDIENCE, with the provider's real key.
provider.use(async (ctx, next) => {
  await next();
  const body = ctx.body;
  if (ctx.path !== '/token' || ctx.status !== 200 || !body || typeof body.id_token !== 'string') return;
  const claims = jose.decodeJwt(body.id_token);
  if (claims.aud !== MISAUD_CLIENT) return;
  const { azp, ...rest } = claims;
  const key = await jose.importJWK(signingKey, 'RS256');
  body.id_token = await new jose.SignJWT({ ...rest, aud: FOREIGN_AUDIENCE })
    .setProtectedHeader({ alg: 'RS256', kid: signingKey.kid, typ: 'JWT' })
    .sign(key);
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(res, uid, status, message) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><title>Test IdP sign-in</title>
<h1>Sign in to the test identity provider</h1>${message ? `<p class="error">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Login <input name="login"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button></form>`);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent') {
    // A first-party client: grant what it asked for without a consent page.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'GET' && !action) {
    loginPage(res, uid, 200, '');
    return;
  }
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const user = USERS[form.get('login')];
    if (!user || user.password !== form.get('password')) {
      loginPage(res, uid, 401, 'Wrong login or password.');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: form.get('login') } }, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(404).end();
}

const callback = provider.callback();
server.on('request', (req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(\w+))?$/.exec(new URL(req.url, issuer).pathname);
  if (!match) {
    callback(req, res);
    return;
  }
  interaction(req, res, match[1], match[2]).catch((error) => {
    res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`interaction failed: ${error.message}`);
  });
});

process.on('SIGTERM', () => { server.close(); process.exit(0); });
console.log(`READY ${issuer}`);
