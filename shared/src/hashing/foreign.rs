//! Hashes of other schemes than argon2 (bcrypt, scrypt, PBKDF2, Django's PBKDF2), read and
//! bounded ([`Foreign::parse`]) and verified with the scheme's kept crate ([`Foreign::matches`]).
//! The bounds are in [`super::imported`]'s table.

use argon2::password_hash::{Output, PasswordHash};
use base64::Engine as _;
use sha2::{Sha256, Sha512};

pub const MAX_BCRYPT_COST: u32 = 13;
pub const MIN_BCRYPT_COST: u32 = 4;
pub const MAX_SCRYPT_LOG_N: u8 = 17;
pub const MIN_SCRYPT_LOG_N: u8 = 10;
/// 128·N·r bytes: the memory one scrypt run takes.
pub const MAX_SCRYPT_MEMORY: u64 = 64 * 1024 * 1024;
pub const MAX_SCRYPT_P: u32 = 16;
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_500_000;
pub const MIN_PBKDF2_ITERATIONS: u32 = 1_000;
pub const MAX_ARGON2_KIB: u32 = 65_536;
pub const MIN_ARGON2_KIB: u32 = 1_024;
pub const MAX_ARGON2_PASSES: u32 = 10;
pub const MAX_ARGON2_LANES: u32 = 4;

/// A hash of a scheme other than argon2 (which [`super::Hasher`] verifies itself), read and
/// within its bounds: what verifying it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Foreign {
    Bcrypt {
        text: String,
        cost: u32,
    },
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Pbkdf2 {
        sha512: bool,
        django: bool,
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

impl Foreign {
    /// `Ok(None)` for a text that is none of these schemes (an argon2 hash, say); an error
    /// when it is one of them, but malformed or out of bounds.
    pub(crate) fn parse(text: &str) -> Result<Option<Foreign>, String> {
        if let Some(rest) = ["$2a$", "$2b$", "$2y$"]
            .iter()
            .find_map(|prefix| text.strip_prefix(prefix))
        {
            return bcrypt(text, rest).map(Some);
        }
        if text.starts_with("$scrypt$") {
            return scrypt(text).map(Some);
        }
        if text.starts_with("$pbkdf2-sha256$") || text.starts_with("$pbkdf2-sha512$") {
            return pbkdf2_phc(text).map(Some);
        }
        if let Some(rest) = text.strip_prefix("pbkdf2_sha256$") {
            return django(rest).map(Some);
        }
        Ok(None)
    }

    /// Whether `password` (bytes, as the other system hashed them) matches, compared in
    /// constant time.
    pub(crate) fn matches(&self, password: &[u8]) -> bool {
        match self {
            // bcrypt reads the first 72 bytes, as every bcrypt implementation does.
            Foreign::Bcrypt { text, .. } => bcrypt::verify(password, text).unwrap_or(false),
            Foreign::Scrypt {
                log_n,
                r,
                p,
                salt,
                hash,
            } => {
                let Ok(params) = scrypt::Params::new(*log_n, *r, *p, hash.len()) else {
                    return false;
                };
                let mut out = vec![0u8; hash.len()];
                scrypt::scrypt(password, salt, &params, &mut out).is_ok() && same(&out, hash)
            }
            Foreign::Pbkdf2 {
                sha512,
                iterations,
                salt,
                hash,
                ..
            } => {
                let mut out = vec![0u8; hash.len()];
                if *sha512 {
                    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, *iterations, &mut out);
                } else {
                    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, *iterations, &mut out);
                }
                same(&out, hash)
            }
        }
    }
}

/// Equal, in time that depends on the length only (`Output`'s comparison).
fn same(computed: &[u8], expected: &[u8]) -> bool {
    match (Output::new(computed), Output::new(expected)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `$2b$12$` and 53 characters of bcrypt's base64 (22 of salt, 31 of hash).
fn bcrypt(text: &str, rest: &str) -> Result<Foreign, String> {
    let (cost, body) = rest
        .split_once('$')
        .ok_or("bcrypt: expected $2b$<cost>$<53 characters>")?;
    let cost: u32 = match cost.len() {
        2 => cost.parse().map_err(|_| "bcrypt: the cost is not a number")?,
        _ => return Err("bcrypt: the cost is two digits".into()),
    };
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    if body.len() != 53 || !body.chars().all(alphabet) {
        return Err("bcrypt: expected 53 characters of salt and hash after the cost".into());
    }
    if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(format!(
            "bcrypt: cost {cost} is outside {MIN_BCRYPT_COST}..={MAX_BCRYPT_COST}"
        ));
    }
    Ok(Foreign::Bcrypt {
        text: text.to_string(),
        cost,
    })
}

/// The salt and hash of a PHC string, decoded (PHC's unpadded standard base64).
fn salt_and_hash(phc: &PasswordHash<'_>, scheme: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (Some(salt), Some(hash)) = (&phc.salt, &phc.hash) else {
        return Err(format!("{scheme}: a salt and a hash are needed"));
    };
    let mut buf = [0u8; 64];
    let salt = salt
        .decode_b64(&mut buf)
        .map_err(|_| format!("{scheme}: the salt is not base64"))?
        .to_vec();
    if salt.len() < 8 {
        return Err(format!("{scheme}: a salt of {} bytes is under 8", salt.len()));
    }
    if hash.len() < 16 {
        return Err(format!("{scheme}: a hash of {} bytes is under 16", hash.len()));
    }
    Ok((salt, hash.as_bytes().to_vec()))
}

fn decimal(phc: &PasswordHash<'_>, name: &str, scheme: &str) -> Result<u32, String> {
    phc.params
        .get_decimal(name)
        .ok_or_else(|| format!("{scheme}: parameter {name} is missing or not a number"))
}

/// `$scrypt$ln=17,r=8,p=1$salt$hash`.
fn scrypt(text: &str) -> Result<Foreign, String> {
    const S: &str = "scrypt";
    let phc = PasswordHash::new(text).map_err(|e| format!("{S}: not a PHC string ({e})"))?;
    if phc.params.iter().count() != 3 {
        return Err(format!("{S}: expected exactly ln, r and p"));
    }
    let (ln, r, p) = (
        decimal(&phc, "ln", S)?,
        decimal(&phc, "r", S)?,
        decimal(&phc, "p", S)?,
    );
    let (salt, hash) = salt_and_hash(&phc, S)?;
    if !(u32::from(MIN_SCRYPT_LOG_N)..=u32::from(MAX_SCRYPT_LOG_N)).contains(&ln) {
        return Err(format!(
            "{S}: N = 2^{ln} is outside 2^{MIN_SCRYPT_LOG_N}..=2^{MAX_SCRYPT_LOG_N}"
        ));
    }
    if r == 0 || 128 * (1u64 << ln) * u64::from(r) > MAX_SCRYPT_MEMORY {
        return Err(format!("{S}: r={r} needs more than 64 MiB (128·N·r) or is 0"));
    }
    if p == 0 || p > MAX_SCRYPT_P {
        return Err(format!("{S}: p={p} is outside 1..={MAX_SCRYPT_P}"));
    }
    let log_n = ln as u8;
    scrypt::Params::new(log_n, r, p, hash.len()).map_err(|e| format!("{S}: {e}"))?;
    Ok(Foreign::Scrypt {
        log_n,
        r,
        p,
        salt,
        hash,
    })
}

fn iterations_within_bounds(i: u32, scheme: &str) -> Result<u32, String> {
    if (MIN_PBKDF2_ITERATIONS..=MAX_PBKDF2_ITERATIONS).contains(&i) {
        Ok(i)
    } else {
        Err(format!(
            "{scheme}: {i} iterations is outside {MIN_PBKDF2_ITERATIONS}..={MAX_PBKDF2_ITERATIONS}"
        ))
    }
}

/// `$pbkdf2-sha256$i=600000,l=32$salt$hash` (or `-sha512`).
fn pbkdf2_phc(text: &str) -> Result<Foreign, String> {
    let phc = PasswordHash::new(text).map_err(|e| format!("pbkdf2: not a PHC string ({e})"))?;
    let sha512 = phc.algorithm.as_str() == "pbkdf2-sha512";
    let scheme = if sha512 { "pbkdf2-sha512" } else { "pbkdf2-sha256" };
    let iterations = iterations_within_bounds(decimal(&phc, "i", scheme)?, scheme)?;
    let (salt, hash) = salt_and_hash(&phc, scheme)?;
    if let Some(length) = phc.params.get_decimal("l") {
        if length as usize != hash.len() {
            return Err(format!(
                "{scheme}: l={length} but the hash is {} bytes",
                hash.len()
            ));
        }
    }
    if phc
        .params
        .iter()
        .any(|(name, _)| !matches!(name.as_str(), "i" | "l"))
    {
        return Err(format!("{scheme}: only the parameters i and l are known"));
    }
    Ok(Foreign::Pbkdf2 {
        sha512,
        django: false,
        iterations,
        salt,
        hash,
    })
}

/// Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 of 32 bytes>` (after the prefix); the
/// salt is text, hashed as its UTF-8 bytes.
fn django(rest: &str) -> Result<Foreign, String> {
    const S: &str = "django pbkdf2_sha256";
    let mut parts = rest.split('$');
    let (Some(iterations), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("{S}: expected pbkdf2_sha256$<iterations>$<salt>$<hash>"));
    };
    let iterations = iterations
        .parse::<u32>()
        .map_err(|_| format!("{S}: the iterations are not a number"))?;
    let iterations = iterations_within_bounds(iterations, S)?;
    if salt.is_empty() || salt.len() > 128 {
        return Err(format!("{S}: the salt is empty or over 128 characters"));
    }
    let hash = base64::engine::general_purpose::STANDARD
        .decode(hash)
        .map_err(|_| format!("{S}: the hash is not base64"))?;
    if hash.len() != 32 {
        return Err(format!("{S}: the hash is {} bytes, not 32", hash.len()));
    }
    Ok(Foreign::Pbkdf2 {
        sha512: false,
        django: true,
        iterations,
        salt: salt.as_bytes().to_vec(),
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &[u8] = b"correct horse battery staple 42";

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
    }

    fn scrypt_phc(ln: u8, r: u32, p: u32) -> String {
        let salt = b"saltsaltsaltsalt";
        let mut out = [0u8; 32];
        scrypt::scrypt(
            PASSWORD,
            salt,
            &scrypt::Params::new(ln, r, p, 32).unwrap(),
            &mut out,
        )
        .unwrap();
        format!("$scrypt$ln={ln},r={r},p={p}${}${}", b64(salt), b64(&out))
    }

    fn pbkdf2_phc_of(i: u32) -> String {
        let salt = b"saltsaltsaltsalt";
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(PASSWORD, salt, i, &mut out);
        format!("$pbkdf2-sha256$i={i},l=32${}${}", b64(salt), b64(&out))
    }

    fn django_of(i: u32) -> String {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(PASSWORD, b"pepper1234", i, &mut out);
        let hash = base64::engine::general_purpose::STANDARD.encode(out);
        format!("pbkdf2_sha256${i}$pepper1234${hash}")
    }

    fn verifies(text: &str, password: &[u8]) -> bool {
        Foreign::parse(text).unwrap().unwrap().matches(password)
    }

    #[test]
    fn each_scheme_verifies_its_own_hash_and_refuses_another_password() {
        let bcrypt = bcrypt::hash(PASSWORD, 4).unwrap();
        for text in [bcrypt, scrypt_phc(10, 8, 1), pbkdf2_phc_of(1000), django_of(1000)] {
            assert!(verifies(&text, PASSWORD), "{text}");
            assert!(!verifies(&text, b"correct horse battery staple 43"), "{text}");
        }
    }

    #[test]
    fn bcrypt_cost_above_13_or_below_4_is_refused() {
        let body = "N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
        assert!(Foreign::parse(&format!("$2b$13${body}")).is_ok());
        assert!(Foreign::parse(&format!("$2y$04${body}")).is_ok());
        assert!(Foreign::parse(&format!("$2a$14${body}"))
            .unwrap_err()
            .contains("cost 14"));
        assert!(Foreign::parse(&format!("$2b$03${body}")).is_err());
        assert!(Foreign::parse(&format!("$2b$4${body}")).is_err());
        assert!(Foreign::parse(&format!("$2b$10${}", &body[1..])).is_err());
        // (`$2x$`, an old buggy variant, is not bcrypt here: the import refuses it as unknown.)
        assert!(matches!(Foreign::parse(&format!("$2x$10${body}")), Ok(None)));
    }

    #[test]
    fn scrypt_beyond_n_memory_or_p_bounds_is_refused() {
        let salt_hash = "c2FsdHNhbHRzYWx0c2FsdA$zvBXJzyiZ1cDEPVUXbhPbgqUFBsd0yuj5EbQTzqBOWU";
        let at = |params: &str| Foreign::parse(&format!("$scrypt${params}${salt_hash}"));
        assert!(at("ln=17,r=4,p=1").is_ok());
        assert!(at("ln=10,r=8,p=16").is_ok());
        assert!(at("ln=18,r=1,p=1").unwrap_err().contains("2^18"));
        assert!(at("ln=9,r=8,p=1").is_err());
        assert!(at("ln=17,r=8,p=1").unwrap_err().contains("64 MiB"));
        assert!(at("ln=14,r=32,p=1").is_ok());
        assert!(at("ln=14,r=33,p=1").is_err());
        assert!(at("ln=14,r=8,p=17").is_err());
        assert!(at("ln=14,r=8,p=0").is_err());
        assert!(at("ln=14,r=8").is_err());
    }

    #[test]
    fn pbkdf2_beyond_its_iteration_bounds_is_refused() {
        let salt_hash = "c2FsdHNhbHRzYWx0c2FsdA$zvBXJzyiZ1cDEPVUXbhPbgqUFBsd0yuj5EbQTzqBOWU";
        let at = |i: u32| Foreign::parse(&format!("$pbkdf2-sha256$i={i},l=32${salt_hash}"));
        assert!(at(1_500_000).is_ok());
        assert!(at(1_000).is_ok());
        assert!(at(1_500_001).unwrap_err().contains("1500001"));
        assert!(at(999).is_err());
        let wrong_length = format!("$pbkdf2-sha256$i=1000,l=64${salt_hash}");
        assert!(Foreign::parse(&wrong_length).unwrap_err().contains("l=64"));
        let django = |i: u32| Foreign::parse(&django_of(1000).replace("$1000$", &format!("${i}$")));
        assert!(django(1_500_000).is_ok());
        assert!(django(1_500_001).is_err());
        assert!(django(999).is_err());
    }

    #[test]
    fn a_salt_under_8_bytes_or_a_hash_under_16_is_refused() {
        let phc = |salt: usize, hash: usize| {
            Foreign::parse(&format!(
                "$pbkdf2-sha256$i=1000${}${}",
                b64(&vec![1; salt]),
                b64(&vec![2; hash])
            ))
        };
        assert!(phc(8, 16).is_ok());
        assert!(phc(7, 16).unwrap_err().contains("salt of 7 bytes"));
        assert!(phc(8, 15).unwrap_err().contains("hash of 15 bytes"));
    }

    #[test]
    fn a_django_salt_empty_or_over_128_characters_is_refused() {
        let with_salt =
            |salt: &str| Foreign::parse(&django_of(1000).replace("$pepper1234$", &format!("${salt}$")));
        assert!(with_salt(&"s".repeat(128)).is_ok());
        assert!(with_salt(&"s".repeat(129)).unwrap_err().contains("over 128"));
        assert!(with_salt("").unwrap_err().contains("empty"));
    }
}
