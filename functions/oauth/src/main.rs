//! The `oauth` function: sign-in with another provider (the authorize redirect, the provider's
//! callback, and the frontend's code traded for tokens).

authyy::lambda_main!(OAuthAuthorize, OAuthCallback, OAuthToken);
