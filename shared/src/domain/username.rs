//! Usernames: a small ASCII alphabet, unique case-insensitively.

use super::{invalid, Invalid};

/// A username: 3 to 32 characters of ASCII letters, digits, `_`, `.` and `-`, starting with a
/// letter or digit. Stored as given; unique case-insensitively (see [`Username::key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, Invalid> {
        let name = raw.trim();
        let len = name.chars().count();
        if !(3..=32).contains(&len) {
            return Err(invalid("username must be 3 to 32 characters long"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(invalid(
                "username may contain only letters, digits, underscores, dots and hyphens",
            ));
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(invalid("username must start with a letter or a digit"));
        }
        Ok(Username(name.to_string()))
    }

    /// A valid username made from `hint` (a provider's username, an email's local part):
    /// characters outside the rules dropped, cut to fit with `suffix` (which makes it unique
    /// when the plain one is taken), and `user` when too little is left.
    pub fn derived(hint: &str, suffix: &str) -> Username {
        let kept: String = hint
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
            .skip_while(|c| !c.is_ascii_alphanumeric())
            .collect();
        let base = if kept.len() < 3 { "user".to_string() } else { kept };
        let suffix: String = suffix
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        let suffix = if suffix.is_empty() {
            suffix
        } else {
            format!("-{suffix}")
        };
        let mut name: String = base.chars().take(32 - suffix.len()).collect();
        name.push_str(&suffix);
        Username(name)
    }

    /// [`Username::derived`] from `hint` with a random number of up to five digits: the next
    /// name to try when `hint`'s is taken (the store decides whether it is free).
    pub fn with_random_suffix(hint: &str) -> Username {
        Username::derived(hint, &(rand::random::<u32>() % 100_000).to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn derived_usernames_are_valid_and_take_the_suffix() {
        assert_eq!(Username::derived("alice", "").as_str(), "alice");
        assert_eq!(Username::derived("Al ice+x", "").as_str(), "Alicex");
        assert_eq!(Username::derived("__bob", "7").as_str(), "bob-7");
        assert_eq!(Username::derived("é", "").as_str(), "user");
        assert_eq!(Username::derived(&"a".repeat(40), "123").as_str().len(), 32);
        for hint in ["", "..", "a.b", &"x".repeat(100), "日本語"] {
            let name = Username::derived(hint, "42");
            assert!(Username::parse(name.as_str()).is_ok(), "{hint:?} -> {name:?}");
        }
    }

    #[test]
    fn a_random_suffix_is_up_to_five_digits_on_a_valid_name() {
        for hint in ["ada", &"x".repeat(40), "é"] {
            let name = Username::with_random_suffix(hint);
            let (base, digits) = name.as_str().rsplit_once('-').unwrap();
            assert!(!base.is_empty() && (1..=5).contains(&digits.len()), "{name:?}");
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{name:?}");
            assert!(Username::parse(name.as_str()).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn username_rules() {
        assert!(Username::parse("john_doe").is_ok());
        assert!(Username::parse("jo").is_err());
        assert!(Username::parse("_john").is_err());
        assert!(Username::parse("john doe").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert_eq!(Username::parse("John_Doe").unwrap().key(), "john_doe");
    }

    proptest! {
        #[test]
        fn username_parse_never_panics(s in "\\PC{0,40}") {
            if let Ok(u) = Username::parse(&s) {
                prop_assert!(u.as_str().is_ascii());
            }
        }
    }
}
