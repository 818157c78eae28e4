//! The `passkeys` function: the signed-in user's passkeys: the registration options, the
//! registration, the list, and removal. One function for the four: they read and write the
//! same items and need the same rights.

authyy::lambda_main!(
    PasskeyRegisterOptions,
    RegisterPasskey,
    ListPasskeys,
    DeletePasskey
);
