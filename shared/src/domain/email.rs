//! Email addresses: trimmed, Unicode-normalised, compared case-insensitively, ASCII only.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use super::{invalid, Invalid};

/// A normalised email address: trimmed, NFKC-normalised, lower-cased, ASCII only.
///
/// Internationalised addresses are refused: accepting them would let look-alike characters
/// (a Cyrillic `о` for a Latin `o`) create accounts that read the same as someone else's.
/// Domains can still be given in their ASCII (punycode) form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Email, Invalid> {
        if raw.chars().any(char::is_control) {
            return Err(invalid(
                "value is not a valid email address: it contains control characters",
            ));
        }
        let normalised: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        if normalised.is_empty() {
            return Err(invalid("value is not a valid email address: it is empty"));
        }
        if normalised.chars().count() > Self::MAX_LEN {
            return Err(invalid(format!(
                "value is not a valid email address: it is longer than {} characters",
                Self::MAX_LEN
            )));
        }
        if !normalised.is_ascii() {
            return Err(invalid(
                "value is not a valid email address: only ASCII addresses are accepted (write an internationalised domain in its xn-- form)",
            ));
        }
        let Some((local, domain)) = normalised.rsplit_once('@') else {
            return Err(invalid("value is not a valid email address: it has no @-sign"));
        };
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if local.is_empty() || !domain_ok || !email_address::EmailAddress::is_valid(&normalised) {
            return Err(invalid("value is not a valid email address"));
        }
        Ok(Email(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  John@Example.COM ").unwrap().as_str(),
            "john@example.com"
        );
    }

    #[test]
    fn email_fullwidth_characters_normalise_to_ascii() {
        assert_eq!(
            Email::parse("ｊｏｈｎ@example.com").unwrap().as_str(),
            "john@example.com"
        );
    }

    #[test]
    fn email_with_look_alike_cyrillic_is_refused() {
        assert!(Email::parse("jоhn@example.com").is_err());
    }

    #[test]
    fn email_with_control_characters_is_refused() {
        assert!(Email::parse("john\u{0}@example.com").is_err());
        assert!(Email::parse("john@example.com\r\nBcc: x@y.z").is_err());
    }

    #[test]
    fn email_longer_than_254_is_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn email_needs_a_dotted_domain() {
        for bad in [
            "john",
            "john@",
            "@example.com",
            "john@localhost",
            "john@exa mple.com",
            "john@-x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn email_parse_never_panics_and_is_idempotent(s in "\\PC{0,80}") {
            if let Ok(e) = Email::parse(&s) {
                let again = Email::parse(e.as_str()).unwrap();
                prop_assert_eq!(again, e.clone());
                prop_assert!(e.as_str().is_ascii());
                prop_assert!(e.as_str().len() <= Email::MAX_LEN);
            }
        }

        #[test]
        fn email_parse_is_case_insensitive(local in "[a-zA-Z0-9]{1,20}", domain in "[a-zA-Z]{1,10}\\.[a-z]{2,5}") {
            let raw = format!("{local}@{domain}");
            prop_assert_eq!(Email::parse(&raw).unwrap(), Email::parse(&raw.to_uppercase()).unwrap());
        }
    }
}
