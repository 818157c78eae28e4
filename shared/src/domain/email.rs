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
        if !is_dot_atom(local) {
            return Err(invalid(
                "value is not a valid email address: the part before the @ may hold only letters, digits, the characters !#$%&'*+-/=?^_`{|}~ and single dots between them (quoted local parts and comments are not accepted)",
            ));
        }
        if local.len() > 64 {
            return Err(invalid(
                "value is not a valid email address: the part before the @ is longer than 64 characters",
            ));
        }
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return Err(invalid(
                "value is not a valid email address: the domain must be a name such as example.com (address literals are not accepted)",
            ));
        }
        if !email_address::EmailAddress::is_valid(&normalised) {
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

/// RFC 5322's dot-atom: runs of `atext` (letters, digits, ``!#$%&'*+-/=?^_`{|}~``) joined by
/// single dots. Quoted local parts (`"<img src=x>"@example.com`) and comments are not dot-atoms.
fn is_dot_atom(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
    })
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

    #[test]
    fn email_with_a_quoted_local_part_is_refused() {
        for bad in [
            "\"<img src=x onerror=alert(1)>\"@example.com",
            "\"john\"@example.com",
            "\"john doe\"@example.com",
            "\"john@doe\"@example.com",
            "john.\"doe\"@example.com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert!(err.to_string().contains("quoted local parts"), "{bad}: {err}");
        }
    }

    #[test]
    fn email_with_comments_or_misplaced_dots_is_refused() {
        for bad in [
            "(comment)john@example.com",
            "john(comment)@example.com",
            "john@(comment)example.com",
            "john@example.com(comment)",
            ".john@example.com",
            "john.@example.com",
            "jo..hn@example.com",
            "jo hn@example.com",
            "jo<hn@example.com",
            "jo\\hn@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_with_an_address_literal_domain_is_refused() {
        for bad in ["john@[192.0.2.1]", "john@[IPv6:2001:db8::1]", "john@192.0.2.1]"] {
            let err = Email::parse(bad).unwrap_err();
            assert!(err.to_string().contains("domain"), "{bad}: {err}");
        }
    }

    #[test]
    fn ordinary_addresses_are_accepted() {
        for ok in [
            "john@example.com",
            "john.doe@example.com",
            "john+tag@example.com",
            "john-doe@mail.example.co.uk",
            "j_d.o-e+x@sub-domain.example.com",
            "o'brien@example.com",
            "1234@xn--bcher-kva.example",
        ] {
            assert_eq!(Email::parse(ok).unwrap().as_str(), ok);
        }
    }

    /// Independent of the implementation: RFC 5322 dot-atom, then an @, then dotted labels.
    fn is_dot_atom_at_domain(s: &str) -> bool {
        let Some((local, domain)) = s.split_once('@') else {
            return false;
        };
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
        let local_ok = !local.is_empty()
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c == '.' || atext(c));
        let labels: Vec<&str> = domain.split('.').collect();
        local_ok
            && labels.len() >= 2
            && labels
                .iter()
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    }

    proptest! {
        #[test]
        fn every_accepted_email_is_dot_atom_at_domain(
            s in prop_oneof![
                "[a-z0-9.\"()<>\\\\\\[\\]@ +_'-]{1,30}@[a-z0-9.\\[\\]:()-]{1,20}",
                "\"[ -~]{0,20}\"@example\\.com",
                "[a-z0-9._+'!#=-]{1,20}@[a-z0-9-]{1,10}\\.[a-z]{2,5}",
                "\\PC{0,60}",
            ]
        ) {
            if let Ok(e) = Email::parse(&s) {
                prop_assert!(is_dot_atom_at_domain(e.as_str()), "accepted {:?} as {}", s, e);
            }
        }


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

    /// A 64-character local part and a domain of two 63-character labels and a third, making
    /// `total` characters in all.
    fn address_of_length(total: usize) -> String {
        let label = "d".repeat(63);
        let last = "d".repeat(total - 65 - 2 * 64 - ".com".len());
        format!("{}@{label}.{label}.{last}.com", "a".repeat(64))
    }

    #[test]
    fn an_address_of_exactly_254_characters_is_accepted_and_255_is_not() {
        let max = address_of_length(254);
        assert_eq!(max.len(), 254);
        assert_eq!(Email::parse(&max).unwrap().as_str(), max);
        let over = address_of_length(255);
        assert_eq!(over.len(), 255);
        let err = Email::parse(&over).unwrap_err().to_string();
        assert!(err.contains("longer than 254 characters"), "{err}");
    }

    #[test]
    fn a_local_part_of_64_characters_is_accepted_and_65_is_not() {
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(64))).is_ok());
        let err = Email::parse(&format!("{}@example.com", "a".repeat(65)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("longer than 64 characters"), "{err}");
    }

    #[test]
    fn each_domain_label_rule_is_its_own() {
        let domain_error = |address: &str| {
            let err = Email::parse(address).unwrap_err().to_string();
            assert!(err.contains("the domain must be a name"), "{address}: {err}");
        };
        assert!(Email::parse(&format!("a@{}.com", "d".repeat(63))).is_ok());
        domain_error(&format!("a@{}.com", "d".repeat(64)));
        domain_error("a@-example.com");
        domain_error("a@example-.com");
        domain_error("a@exa_mple.com");
        domain_error("a@example..com");
        domain_error("a@localhost");
        assert!(Email::parse("a@ex-ample.com").is_ok());
    }

    #[test]
    fn an_email_displays_as_its_normalised_address() {
        let email = Email::parse("  John.Doe@Example.COM ").unwrap();
        assert_eq!(email.to_string(), "john.doe@example.com");
        assert_eq!(email.local_part(), "john.doe");
    }
}
