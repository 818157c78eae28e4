//! Password hashes made by other systems, brought in by `authyy-admin import`: read, bounded,
//! and verified with their own scheme until the account's first login replaces them with
//! argon2id.
//!
//! | scheme | form | bounds |
//! |---|---|---|
//! | argon2id, argon2i | PHC `$argon2id$v=19$m=..,t=..,p=..$salt$hash` | m 1024..=65536 KiB, t ≤ 10, p ≤ 4 |
//! | bcrypt | `$2a$`, `$2b$`, `$2y$` + cost + 53 characters | cost 4..=13 |
//! | scrypt | PHC `$scrypt$ln=..,r=..,p=..$salt$hash` | N = 2^ln in 2^10..=2^17, 128·N·r ≤ 64 MiB, p ≤ 16 |
//! | PBKDF2 | PHC `$pbkdf2-sha256$i=..,l=32$salt$hash`, `$pbkdf2-sha512$...` | i 1000..=1,500,000 |
//! | Django | `pbkdf2_sha256$iterations$salt$hash` (padded base64) | the same |
//!
//! The upper bounds keep one verification within the login function's budget (the costliest
//! allowed takes well under a second); the lower ones refuse hashes too weak to be worth
//! keeping until a first login. Nothing here runs a hash when reading one.

use argon2::password_hash::PasswordHash;

use super::foreign::Foreign;
pub use super::foreign::*;

/// The schemes an imported hash may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Argon2,
    Bcrypt,
    Scrypt,
    Pbkdf2Sha256,
    Pbkdf2Sha512,
    Django,
}

impl Scheme {
    fn of(foreign: &Foreign) -> Scheme {
        match foreign {
            Foreign::Bcrypt { .. } => Scheme::Bcrypt,
            Foreign::Scrypt { .. } => Scheme::Scrypt,
            Foreign::Pbkdf2 { django: true, .. } => Scheme::Django,
            Foreign::Pbkdf2 { sha512: true, .. } => Scheme::Pbkdf2Sha512,
            Foreign::Pbkdf2 { .. } => Scheme::Pbkdf2Sha256,
        }
    }
}

/// A hash an import may store: one of the [`Scheme`]s, well formed, within its bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedHash {
    text: String,
    scheme: Scheme,
}

impl ImportedHash {
    /// Reads `text`, or says what is wrong with it (never quoting it: it is a secret of sorts).
    pub fn parse(text: &str) -> Result<ImportedHash, String> {
        let scheme = match Foreign::parse(text)? {
            Some(foreign) => Scheme::of(&foreign),
            None => {
                check_argon2(text)?;
                Scheme::Argon2
            }
        };
        Ok(ImportedHash {
            text: text.to_string(),
            scheme,
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// An argon2 PHC hash within the bounds (argon2d is not taken: no library exports it for
/// passwords, and it is open to side channels).
fn check_argon2(text: &str) -> Result<(), String> {
    let unknown = || {
        "not a hash authyy can import: argon2id or argon2i (PHC), bcrypt ($2a$, $2b$, $2y$), \
         scrypt (PHC), pbkdf2-sha256 or -sha512 (PHC), or Django's pbkdf2_sha256"
            .to_string()
    };
    if !(text.starts_with("$argon2id$") || text.starts_with("$argon2i$")) {
        return Err(unknown());
    }
    let phc = PasswordHash::new(text).map_err(|e| format!("argon2: not a PHC string ({e})"))?;
    let params = argon2::Params::try_from(&phc).map_err(|e| format!("argon2: {e}"))?;
    if phc.salt.is_none() || phc.hash.is_none() {
        return Err("argon2: a salt and a hash are needed".into());
    }
    if let Some(version) = phc.version {
        argon2::Version::try_from(version).map_err(|e| format!("argon2: {e}"))?;
    }
    let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
    if !(MIN_ARGON2_KIB..=MAX_ARGON2_KIB).contains(&m) {
        return Err(format!(
            "argon2: m={m} KiB is outside {MIN_ARGON2_KIB}..={MAX_ARGON2_KIB}"
        ));
    }
    if t > MAX_ARGON2_PASSES {
        return Err(format!("argon2: t={t} is over {MAX_ARGON2_PASSES}"));
    }
    if p > MAX_ARGON2_LANES {
        return Err(format!("argon2: p={p} is over {MAX_ARGON2_LANES}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &[u8] = b"correct horse battery staple 42";

    #[test]
    fn each_scheme_is_named_as_imported() {
        let salt_hash = "c2FsdHNhbHRzYWx0c2FsdA$zvBXJzyiZ1cDEPVUXbhPbgqUFBsd0yuj5EbQTzqBOWU";
        let schemes = [
            (bcrypt::hash(PASSWORD, 4).unwrap(), Scheme::Bcrypt),
            (format!("$scrypt$ln=14,r=8,p=1${salt_hash}"), Scheme::Scrypt),
            (
                format!("$pbkdf2-sha256$i=1000,l=32${salt_hash}"),
                Scheme::Pbkdf2Sha256,
            ),
            (
                "pbkdf2_sha256$1000$pepper$zvBXJzyiZ1cDEPVUXbhPbgqUFBsd0yuj5EbQTzqBOWU=".to_string(),
                Scheme::Django,
            ),
            (
                format!("$argon2id$v=19$m=19456,t=2,p=1${salt_hash}"),
                Scheme::Argon2,
            ),
        ];
        for (text, scheme) in schemes {
            assert_eq!(
                ImportedHash::parse(&text).map(|h| h.scheme()),
                Ok(scheme),
                "{text}"
            );
        }
    }

    #[test]
    fn argon2_beyond_its_memory_passes_or_lanes_is_refused() {
        let salt_hash = "c2FsdHNhbHRzYWx0c2FsdA$zvBXJzyiZ1cDEPVUXbhPbgqUFBsd0yuj5EbQTzqBOWU";
        let at = |params: &str| ImportedHash::parse(&format!("$argon2id$v=19${params}${salt_hash}"));
        assert!(at("m=65536,t=10,p=4").is_ok());
        assert!(at("m=65537,t=1,p=1").unwrap_err().contains("m=65537"));
        assert!(at("m=1023,t=1,p=1").is_err());
        assert!(at("m=19456,t=11,p=1").unwrap_err().contains("t=11"));
        assert!(at("m=19456,t=2,p=5").unwrap_err().contains("p=5"));
        let argon2i = format!("$argon2i$v=19$m=4096,t=3,p=1${salt_hash}");
        assert!(ImportedHash::parse(&argon2i).is_ok());
        let argon2d = format!("$argon2d$v=19$m=4096,t=3,p=1${salt_hash}");
        assert!(ImportedHash::parse(&argon2d).is_err());
    }

    #[test]
    fn malformed_hashes_are_refused_without_quoting_them() {
        for bad in [
            "",
            "secret-looking-text",
            "$md5$abc",
            "$scrypt$ln=10,r=8,p=1$!!$??",
            "$pbkdf2-sha256$i=1000,l=32$c2FsdA$aGFzaA",
            "pbkdf2_sha256$1000$salt",
            "pbkdf2_sha256$1000$salt$bm90MzJieXRlcw==",
            "pbkdf2_sha256$many$salt$bm90MzJieXRlcw==",
            "pbkdf2_sha1$1000$salt$bm90MzJieXRlcw==",
        ] {
            let err = ImportedHash::parse(bad).unwrap_err();
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
    }

    #[test]
    fn an_argon2_hash_without_its_salt_or_its_output_is_refused() {
        let salt = "c2FsdHNhbHRzYWx0c2FsdA";
        assert!(
            ImportedHash::parse(&format!("$argon2id$v=19$m=19456,t=2,p=1${salt}"))
                .unwrap_err()
                .contains("a salt and a hash")
        );
        assert!(ImportedHash::parse("$argon2id$v=19$m=19456,t=2,p=1").is_err());
    }
}
