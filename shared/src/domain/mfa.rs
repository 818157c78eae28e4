//! Second factors: TOTP (RFC 6238) with its window and replay rule, and recovery codes.

use totp_rs::{Builder, Secret, Totp};

pub use super::authentication::{Aal, AuthMethod, Authentication};
use super::UserId;

/// What second factors an account has, as `GET /auth/me` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondFactors {
    pub totp: bool,
    /// Passkeys registered.
    pub passkeys: u32,
    /// Unspent recovery codes.
    pub recovery_codes: u32,
}

impl SecondFactors {
    /// Whether the account has a second factor (and so needs `aal2` for sensitive changes).
    pub fn any(self) -> bool {
        self.totp || self.passkeys > 0
    }

    /// What login's second step may be completed with, as its `methods` lists them.
    pub fn methods(self) -> Vec<String> {
        let mut methods = vec![];
        if self.totp {
            methods.push("totp".to_string());
        }
        if self.recovery_codes > 0 {
            methods.push("recovery_code".to_string());
        }
        if self.passkeys > 0 {
            methods.push("passkey".to_string());
        }
        methods
    }
}

/// The TOTP parameters: SHA-1, 6 digits, 30-second steps (what every authenticator app uses).
pub const TOTP_DIGITS: u8 = 6;
pub const TOTP_STEP_SECS: u64 = 30;
/// A code is accepted for the current step and one step either side.
pub const TOTP_SKEW: u64 = 1;

/// A TOTP secret: 160 random bits (RFC 4226 §4).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; 20]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    pub fn generate() -> TotpSecret {
        TotpSecret(crate::randomness::random_bytes::<20>())
    }

    /// The secret from its bytes (as stored, once unsealed); None unless exactly 20 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<TotpSecret> {
        bytes.try_into().ok().map(TotpSecret)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret from its base32 form (as [`TotpSecret::base32`] writes it).
    pub fn from_base32(text: &str) -> Option<TotpSecret> {
        let secret = Secret::try_from_base32(text).ok()?;
        TotpSecret::from_bytes(secret.as_bytes())
    }

    /// Base32 (RFC 4648, no padding): what a user types into an authenticator app.
    pub fn base32(&self) -> String {
        Secret::from(self.0).to_base32()
    }

    /// The `otpauth://` URI authenticator apps read from a QR code: `issuer:account` as the
    /// label, and the parameters spelled out.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECS}",
            percent_encode(issuer),
            percent_encode(account),
            self.base32(),
            percent_encode(issuer),
        )
    }

    fn totp(&self, digits: u8) -> Option<Totp> {
        Builder::new()
            .with_digits(digits)
            .with_skew(0)
            .with_step_duration(TOTP_STEP_SECS)
            .with_secret(Secret::from(self.0))
            .build()
            .ok()
    }

    /// The code of time step `step` (for tests and for clients' tools).
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp(TOTP_DIGITS)
            .map(|t| t.generate(step * TOTP_STEP_SECS).to_string())
            .unwrap_or_default()
    }

    /// The time step `code` belongs to, if it is the code of a step within one either side of
    /// `now` (epoch seconds) and later than `after` (the last step accepted). Every candidate
    /// step is computed and compared in constant time, whatever matches.
    pub fn accepts(&self, code: &str, now: i64, after: Option<u64>) -> Option<u64> {
        let totp = self.totp(TOTP_DIGITS)?;
        let current = u64::try_from(now).ok()? / TOTP_STEP_SECS;
        let mut found = None;
        for step in current.saturating_sub(TOTP_SKEW)..=current + TOTP_SKEW {
            let matched = totp.check(code, step * TOTP_STEP_SECS).is_some();
            let fresh = after.is_none_or(|last| step > last);
            if matched && fresh && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

impl From<[u8; 20]> for TotpSecret {
    fn from(bytes: [u8; 20]) -> Self {
        TotpSecret(bytes)
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How many recovery codes a set holds.
pub const RECOVERY_CODES: usize = 10;

const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A recovery code: 16 base32 letters (80 random bits), shown as four groups of four. Typed
/// back, case, dashes and spaces do not matter.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

impl RecoveryCode {
    pub fn generate() -> RecoveryCode {
        let bytes = crate::randomness::random_bytes::<16>();
        // Each byte picks one of 32 letters (its low five bits): 5 bits a letter, 80 in all.
        RecoveryCode(
            bytes
                .iter()
                .map(|b| {
                    RECOVERY_ALPHABET
                        .get(usize::from(b & 31))
                        .copied()
                        .unwrap_or(b'a') as char
                })
                .collect(),
        )
    }

    /// A set of [`RECOVERY_CODES`] new codes.
    pub fn generate_set() -> Vec<RecoveryCode> {
        (0..RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect()
    }

    /// A code as typed: letters of the alphabet in either case, with any dashes or spaces.
    /// None unless it makes 16 letters of the alphabet.
    pub fn parse(typed: &str) -> Option<RecoveryCode> {
        let letters: String = typed
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let valid = letters.len() == 16 && letters.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
        valid.then_some(RecoveryCode(letters))
    }

    /// As shown to the user: `abcd-efgh-ijkm-npqr`.
    pub fn display(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The only form stored: SHA-256 of the code bound to its account, hex.
    pub fn hash(&self, user_id: UserId) -> String {
        crate::randomness::token_hash(&format!("recovery code\0{user_id}\0{}", self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: SHA-1, 8 digits, the ASCII seed "12345678901234567890".
    #[test]
    fn totp_codes_match_the_rfc_6238_appendix_b_vectors() {
        let secret = TotpSecret::from(*b"12345678901234567890");
        let totp = secret.totp(8).unwrap();
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), code, "T = {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_not_two() {
        let secret = TotpSecret::generate();
        let now = 1_000_000_020; // within step 33_333_334
        let step = 1_000_000_020 / 30;
        for offset in [-1i64, 0, 1] {
            let s = (step as i64 + offset) as u64;
            assert_eq!(secret.accepts(&secret.code_at_step(s), now, None), Some(s));
        }
        for offset in [-2i64, 2] {
            let s = (step as i64 + offset) as u64;
            assert_eq!(secret.accepts(&secret.code_at_step(s), now, None), None);
        }
    }

    #[test]
    fn a_code_of_a_step_not_later_than_the_last_accepted_one_is_refused() {
        let secret = TotpSecret::generate();
        let now = 1_000_000_020;
        let step = now as u64 / 30;
        let code = secret.code_at_step(step);
        assert_eq!(secret.accepts(&code, now, Some(step - 1)), Some(step));
        assert_eq!(secret.accepts(&code, now, Some(step)), None);
        assert_eq!(secret.accepts(&code, now, Some(step + 1)), None);
    }

    #[test]
    fn a_malformed_code_is_refused() {
        let secret = TotpSecret::generate();
        for code in ["", "12345", "1234567", "abcdef", " 123456", "１２３４５６"] {
            assert_eq!(secret.accepts(code, 1_000_000_020, None), None, "{code:?}");
        }
    }

    #[test]
    fn the_secret_is_160_bits_in_32_base32_letters() {
        let secret = TotpSecret::generate();
        assert_eq!(secret.as_bytes().len(), 20);
        let b32 = secret.base32();
        assert_eq!(b32.len(), 32);
        assert!(b32
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        assert_ne!(TotpSecret::generate(), secret);
        assert_eq!(TotpSecret::from_base32(&b32), Some(secret));
        assert_eq!(TotpSecret::from_base32("AAAA"), None);
    }

    #[test]
    fn the_otpauth_uri_names_the_issuer_and_the_account_encoded() {
        let secret = TotpSecret::from(*b"12345678901234567890");
        let uri = secret.otpauth_uri("Acme Co", "john+1@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Co:john%2B1%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Acme%20Co&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn recovery_codes_are_80_bit_and_read_back_whatever_the_case_dashes_or_spaces() {
        let code = RecoveryCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 19);
        assert_eq!(RecoveryCode::parse(&shown), Some(code.clone()));
        assert_eq!(RecoveryCode::parse(&shown.to_uppercase()), Some(code.clone()));
        assert_eq!(RecoveryCode::parse(&shown.replace('-', " ")), Some(code.clone()));
        for bad in [
            "",
            "abcd-efgh-ijk1-mnop",
            "abcd-efgh-ijkm-npq",
            "abcd-efgh-ijkm-npqrs",
            "0000111122223333",
        ] {
            assert_eq!(RecoveryCode::parse(bad), None, "{bad:?}");
        }
        let set = RecoveryCode::generate_set();
        assert_eq!(set.len(), 10);
        let distinct: std::collections::BTreeSet<_> = set.iter().map(|c| c.display()).collect();
        assert_eq!(distinct.len(), 10);
    }

    #[test]
    fn debug_output_never_shows_a_secret_or_a_code() {
        let secret = TotpSecret::from(*b"12345678901234567890");
        assert_eq!(format!("{secret:?}"), "TotpSecret(..)");
        let code = RecoveryCode::parse("abcd-efgh-ijkm-npqr").unwrap();
        assert_eq!(format!("{code:?}"), "RecoveryCode(..)");
    }

    #[test]
    fn a_recovery_code_hash_is_bound_to_its_account() {
        let code = RecoveryCode::parse("abcd-efgh-ijkm-npqr").unwrap();
        assert_ne!(code.hash(1), code.hash(2));
        assert_eq!(code.hash(1).len(), 64);
        assert!(!code.hash(1).contains("abcdefghijkmnpqr"));
    }

    #[test]
    fn amr_and_aal_follow_how_the_session_began() {
        let pwd = Authentication::password(5);
        assert_eq!((pwd.methods_text().as_str(), pwd.aal()), ("pwd", Aal::Aal1));
        let otp = Authentication::password_and_code(5);
        assert_eq!(
            (otp.methods_text().as_str(), otp.aal()),
            ("pwd otp mfa", Aal::Aal2)
        );
        let rc = Authentication::password_and_recovery_code(5);
        assert_eq!((rc.methods_text().as_str(), rc.aal()), ("pwd mfa", Aal::Aal2));
        for (synced, amr) in [(false, "hwk mfa"), (true, "swk mfa")] {
            let key = Authentication::passkey(5, synced);
            assert_eq!((key.methods_text().as_str(), key.aal()), (amr, Aal::Aal2));
        }
    }

    #[test]
    fn stored_methods_read_back_and_anything_unknown_is_a_password_alone() {
        for a in [
            Authentication::password(7),
            Authentication::password_and_code(7),
            Authentication::password_and_recovery_code(7),
            Authentication::passkey(7, true),
        ] {
            assert_eq!(Authentication::from_stored(Some(&a.methods_text()), 7), a);
        }
        for odd in [None, Some(""), Some("pwd sms"), Some("mfa "), Some("MFA")] {
            assert_eq!(
                Authentication::from_stored(odd, 7),
                Authentication::password(7),
                "{odd:?}"
            );
        }
    }
}
