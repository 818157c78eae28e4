//! The `identities` function: the signed-in user's identities at other providers.

authyy::lambda_main!(ListIdentities);
