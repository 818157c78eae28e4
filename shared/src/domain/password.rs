//! Passwords: the length rule and the strength policy. (Hashing is [`crate::hashing`].)

use unicode_normalization::UnicodeNormalization;
use zxcvbn::feedback::Warning;

use super::Invalid;

/// A password of acceptable length, NFKC-normalised so that the same password typed on
/// different keyboards or platforms hashes the same; the text as received is kept too, for
/// hashes made elsewhere (imported, or checked by the user-migration hook) that never saw the
/// normalised form. Never printed.
pub struct Password {
    normalised: String,
    received: String,
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// A new password (signup, reset): 8 to 128 characters. Checked before any other work.
    pub fn new(raw: &str) -> Result<Password, Invalid> {
        Self::with_bounds(raw, Self::MIN_CHARS)
    }

    /// A password offered at login: only the upper bound applies, so hashing stays cheap.
    pub fn for_login(raw: &str) -> Result<Password, Invalid> {
        Self::with_bounds(raw, 1)
    }

    /// The bounds count the characters (Unicode code points) as sent, as the OpenAPI's
    /// `minLength`/`maxLength` do, so the description and the API agree on every input;
    /// normalisation comes after (and cannot make a bounded input costly: NFKC expands a code
    /// point to at most 18).
    fn with_bounds(raw: &str, min: usize) -> Result<Password, Invalid> {
        let chars = if raw.len() > Self::MAX_CHARS * 4 {
            usize::MAX
        } else {
            raw.chars().count()
        };
        if chars > Self::MAX_CHARS {
            return Err(Invalid(format!(
                "password must be at most {}",
                characters(Self::MAX_CHARS)
            )));
        }
        if chars < min {
            return Err(Invalid(format!("password must be at least {}", characters(min))));
        }
        Ok(Password {
            normalised: raw.nfkc().collect(),
            received: raw.to_string(),
        })
    }

    /// The normalised password: what authyy hashes and verifies.
    pub fn expose(&self) -> &str {
        &self.normalised
    }

    /// The password exactly as the client sent it.
    pub fn as_received(&self) -> &str {
        &self.received
    }
}

/// `1 character`, `8 characters`.
fn characters(n: usize) -> String {
    if n == 1 {
        "1 character".into()
    } else {
        format!("{n} characters")
    }
}

/// The password policy beyond length: not common, not containing the username or
/// the email's local part, and at least `min_score` (0-4) by the zxcvbn strength estimator,
/// whose bundled dictionaries include the 30,000 most common leaked passwords.
pub fn check_strength(
    password: &Password,
    username: &str,
    email_local_part: &str,
    min_score: u8,
) -> Result<(), Invalid> {
    let lowered = password.expose().to_lowercase();
    for (what, value) in [("username", username), ("email address", email_local_part)] {
        let value = value.to_lowercase();
        if value.chars().count() >= 3 && lowered.contains(&value) {
            return Err(Invalid(format!("password must not contain your {what}")));
        }
    }
    let entropy = zxcvbn::zxcvbn(password.expose(), &[username, email_local_part]);
    let warning = entropy.feedback().and_then(|f| f.warning());
    if matches!(
        warning,
        Some(Warning::ThisIsATop10Password | Warning::ThisIsATop100Password | Warning::ThisIsACommonPassword)
    ) {
        return Err(Invalid("password is too common".into()));
    }
    let score = entropy.score() as u8;
    if score < min_score {
        let hint = entropy
            .feedback()
            .and_then(|f| f.suggestions().first().map(|s| format!(": {s}")))
            .unwrap_or_default();
        return Err(Invalid(format!(
            "password is too weak (strength {score} of 4, at least {min_score} needed){hint}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong() -> Password {
        Password::new("correct horse battery staple 42").unwrap()
    }

    #[test]
    fn password_shorter_than_8_is_refused() {
        assert!(Password::new("Ab1!xyz").is_err());
    }

    #[test]
    fn password_longer_than_128_is_refused_without_normalising() {
        let err = Password::new(&"a".repeat(10_000)).unwrap_err();
        assert!(err.0.contains("at most 128"));
    }

    #[test]
    fn common_password_is_refused() {
        let err = check_strength(&Password::new("password1").unwrap(), "john", "john", 3).unwrap_err();
        assert!(
            err.0.contains("too common") || err.0.contains("too weak"),
            "{}",
            err.0
        );
        let err = check_strength(&Password::new("iloveyou").unwrap(), "john", "john", 0).unwrap_err();
        assert_eq!(err.0, "password is too common");
    }

    #[test]
    fn password_containing_username_is_refused() {
        let err = check_strength(
            &Password::new("xJohn_Doe-Quartz-7781").unwrap(),
            "john_doe",
            "jd",
            3,
        )
        .unwrap_err();
        assert!(err.0.contains("username"));
    }

    #[test]
    fn password_containing_email_local_part_is_refused() {
        let err = check_strength(
            &Password::new("mailbox-seagull-Quartz").unwrap(),
            "someone",
            "seagull",
            3,
        )
        .unwrap_err();
        assert!(err.0.contains("email"));
    }

    #[test]
    fn weak_password_is_refused_with_a_hint() {
        let err = check_strength(&Password::new("abcdefgh").unwrap(), "john", "john", 3).unwrap_err();
        assert!(err.0.starts_with("password is too"), "{}", err.0);
    }

    #[test]
    fn empty_login_password_says_1_character_not_1_characters() {
        let err = Password::for_login("").unwrap_err();
        assert_eq!(err.0, "password must be at least 1 character");
        assert_eq!(
            Password::new("short").unwrap_err().0,
            "password must be at least 8 characters"
        );
    }

    #[test]
    fn password_length_counts_code_points_as_sent_like_the_schema() {
        // 7 ligatures normalise to 21 letters: still 7 as sent, so refused.
        assert!(Password::new(&"\u{FB03}".repeat(7)).is_err());
        // `e` and a combining accent, 4 times: 8 code points as sent (4 once composed).
        assert!(Password::new(&"e\u{301}".repeat(4)).is_ok());
        assert!(Password::new(&"\u{FB03}".repeat(128)).is_ok());
        assert!(Password::new(&"\u{FB03}".repeat(129)).is_err());
    }

    #[test]
    fn a_password_of_exactly_the_minimum_strength_is_accepted_and_one_below_it_is_not() {
        for raw in ["abcdefgh", "kitten42 sun", "correct horse battery staple 42"] {
            let password = Password::new(raw).unwrap();
            let score = zxcvbn::zxcvbn(raw, &["john", "john"]).score() as u8;
            assert!(
                check_strength(&password, "john", "john", score).is_ok(),
                "{raw} at {score}"
            );
            if score < 4 {
                let err = check_strength(&password, "john", "john", score + 1).unwrap_err();
                assert!(err.0.contains("too weak"), "{raw}: {}", err.0);
            }
        }
    }

    #[test]
    fn strong_password_is_accepted() {
        check_strength(&strong(), "john_doe", "john", 3).unwrap();
    }

    #[test]
    fn a_password_of_exactly_8_or_128_characters_is_accepted_and_one_more_or_less_is_not() {
        assert!(Password::new(&"a".repeat(8)).is_ok());
        assert!(Password::new(&"a".repeat(7)).is_err());
        assert!(Password::new(&"a".repeat(128)).is_ok());
        assert!(Password::new(&"a".repeat(129)).is_err());
        assert!(Password::for_login("a").is_ok());
        assert!(Password::for_login(&"a".repeat(128)).is_ok());
        assert!(Password::for_login(&"a".repeat(129)).is_err());
    }

    #[test]
    fn the_byte_pre_check_lets_128_four_byte_characters_through() {
        // 128 code points of 4 bytes each: 512 bytes, the most a valid password can take.
        let widest = "\u{1F600}".repeat(128);
        assert_eq!(widest.len(), 512);
        assert!(Password::new(&widest).is_ok());
        // One more character (516 bytes) is refused by the byte count alone.
        let err = Password::new(&"\u{1F600}".repeat(129)).unwrap_err();
        assert!(err.0.contains("at most 128"), "{}", err.0);
        // Short in characters but over 512 bytes cannot happen: 129 ASCII bytes are counted.
        assert!(Password::new(&"a".repeat(129))
            .unwrap_err()
            .0
            .contains("at most 128"));
    }

    #[test]
    fn a_password_never_prints_itself() {
        let p = Password::new("correct horse battery staple 42").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert_eq!(p.expose(), "correct horse battery staple 42");
    }
}
