//! `clientDataJSON` (WebAuthn §5.8.1): what the browser says it signed for: the ceremony, the
//! challenge and the origin.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::WebauthnError;

/// Registration's type.
pub const CREATE: &str = "webauthn.create";
/// Sign-in's type.
pub const GET: &str = "webauthn.get";

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
}

/// Checks the client data of a `kind` ceremony against the challenge issued and the allowed
/// origins; answers its SHA-256 (what the authenticator signed, after its own data).
pub fn check(
    json: &[u8],
    kind: &'static str,
    challenge: &[u8],
    origins: &[String],
) -> Result<[u8; 32], WebauthnError> {
    let data: ClientData =
        serde_json::from_slice(json).map_err(|_| WebauthnError::Malformed("client data"))?;
    if data.kind != kind {
        return Err(WebauthnError::WrongType(kind));
    }
    let sent = URL_SAFE_NO_PAD
        .decode(data.challenge.trim_end_matches('='))
        .map_err(|_| WebauthnError::WrongChallenge)?;
    if sent != challenge {
        return Err(WebauthnError::WrongChallenge);
    }
    if !origins.contains(&data.origin) {
        return Err(WebauthnError::WrongOrigin);
    }
    // An iframe of another site: not a ceremony this service offers.
    if data.cross_origin == Some(true) {
        return Err(WebauthnError::CrossOrigin);
    }
    Ok(Sha256::digest(json).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> Vec<String> {
        vec!["http://localhost:3000".to_string()]
    }

    fn json(kind: &str, challenge: &[u8], origin: &str, extra: &str) -> Vec<u8> {
        format!(
            r#"{{"type":"{kind}","challenge":"{}","origin":"{origin}"{extra}}}"#,
            URL_SAFE_NO_PAD.encode(challenge)
        )
        .into_bytes()
    }

    #[test]
    fn right_client_data_answers_its_hash() {
        let body = json(CREATE, b"abc", "http://localhost:3000", r#","crossOrigin":false"#);
        let hash = check(&body, CREATE, b"abc", &origins()).unwrap();
        assert_eq!(hash.to_vec(), Sha256::digest(&body).to_vec());
    }

    #[test]
    fn the_other_ceremonys_type_is_refused() {
        let body = json(GET, b"abc", "http://localhost:3000", "");
        assert_eq!(
            check(&body, CREATE, b"abc", &origins()),
            Err(WebauthnError::WrongType(CREATE))
        );
    }

    #[test]
    fn another_challenge_is_refused() {
        let body = json(GET, b"abd", "http://localhost:3000", "");
        assert_eq!(
            check(&body, GET, b"abc", &origins()),
            Err(WebauthnError::WrongChallenge)
        );
    }

    #[test]
    fn an_origin_not_listed_is_refused() {
        for origin in [
            "http://localhost:3001",
            "https://localhost:3000",
            "http://localhost:3000/",
        ] {
            let body = json(GET, b"abc", origin, "");
            assert_eq!(
                check(&body, GET, b"abc", &origins()),
                Err(WebauthnError::WrongOrigin)
            );
        }
    }

    #[test]
    fn a_cross_origin_frame_is_refused() {
        let body = json(GET, b"abc", "http://localhost:3000", r#","crossOrigin":true"#);
        assert_eq!(
            check(&body, GET, b"abc", &origins()),
            Err(WebauthnError::CrossOrigin)
        );
    }

    #[test]
    fn json_that_is_not_client_data_is_malformed() {
        assert!(matches!(
            check(b"{}", GET, b"abc", &origins()),
            Err(WebauthnError::Malformed(_))
        ));
    }
}
