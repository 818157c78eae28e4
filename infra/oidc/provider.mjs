// A real OpenID provider (node's oidc-provider, OpenID-certified) for authyy's federation
// tests and for trying provider sign-in locally: on 127.0.0.1, with its own development login
// and consent pages, and a confidential client registered for authyy.
//
//   node infra/oidc/provider.mjs [port] [redirect URI,...]
//
// Prints one line of JSON, {"issuer": ...}, once it listens (port 0: any free port).
// Accounts: any login signs in, as an account whose subject is the login. A login that is an
// address is that address, verified; `unverified:<address>` is the address, not verified.
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 0);
const redirectUris = (process.argv[3] ?? 'http://localhost:9000/auth/oauth/local/callback')
  .split(',').filter(Boolean);

function claimsOf(login) {
  const unverified = login.startsWith('unverified:');
  const email = unverified ? login.slice('unverified:'.length) : login;
  const claims = { sub: login };
  if (email.includes('@')) {
    claims.email = email;
    claims.email_verified = !unverified;
    claims.preferred_username = email.split('@')[0];
  } else {
    claims.preferred_username = login;
  }
  return claims;
}

const configuration = {
  clients: [{
    client_id: 'authyy',
    client_secret: 'authyy-test-secret',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username'] },
  // The id token carries the claims its scopes ask for (authyy reads no userinfo).
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return claimsOf(id); } };
  },
  cookies: { keys: ['authyy-test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
};

if (process.env.AUTHYY_EXIT_WITH_STDIN) {
  // Started by a test process: end with it.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  // It reads only the first line of our output.
  process.stdout.on('error', () => {});
}

const server = (await import('node:http')).createServer();
// Longer than any pause between a test's steps on a loaded machine.
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  // Its development pages warn on stderr at every start; they are what tests drive.
  provider.on('server_error', (ctx, err) => console.error('provider error', err));
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});
