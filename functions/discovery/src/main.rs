//! The `discovery` function: the OpenID discovery document
//! (GET /auth/.well-known/openid-configuration) and the public key set
//! (GET /auth/.well-known/jwks.json) that other services verify access tokens with. It reads only
//! the public key set.

authyy::lambda_main!(OpenIdConfiguration, Jwks);
