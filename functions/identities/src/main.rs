//! The `identities` function: the signed-in user's identities at other providers (list them,
//! link one, remove one).

authyy::lambda_main!(ListIdentities, LinkIdentity, CompleteLink, DeleteIdentity);
