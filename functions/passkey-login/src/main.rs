//! The `passkey-login` function: sign-in with a passkey and no username (the options, then the
//! assertion).

authyy::lambda_main!(PasskeyLoginOptions, PasskeyLogin);
