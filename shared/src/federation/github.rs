//! GitHub's OAuth (no OpenID): the code is exchanged at its token URL, the user read from
//! `<api>/user` (the subject is the numeric id, the username hint the login) and the address from
//! `<api>/user/emails`: the primary one, and only if GitHub verified it.

use serde::Deserialize;

use super::{FederationError, ProviderIdentity};
use crate::outbound::OutboundHttp;

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    login: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

pub struct Endpoints<'a> {
    pub token_url: &'a str,
    pub api_url: &'a str,
}

/// Exchanges `code` and reads who signed in.
pub async fn sign_in(
    http: &OutboundHttp,
    endpoints: &Endpoints<'_>,
    client: (&str, &str),
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<ProviderIdentity, FederationError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
        ("client_id", client.0),
    ];
    let answer: TokenAnswer = http
        .post_form(endpoints.token_url, &form, client)
        .await?
        .json("token")?;
    let token = match (answer.access_token, answer.error) {
        (Some(token), None) if !token.is_empty() => token,
        (_, error) => {
            return Err(FederationError::Refused(format!(
                "the code was not exchanged: {}",
                error.unwrap_or_else(|| "no access token".into())
            )))
        }
    };
    let api = endpoints.api_url;
    let user: GithubUser = http
        .get(&format!("{api}/user"), Some(&token))
        .await?
        .json("user")?;
    let emails: Vec<GithubEmail> = http
        .get(&format!("{api}/user/emails"), Some(&token))
        .await?
        .json("user's emails")?;
    let primary = emails.into_iter().find(|e| e.primary);
    Ok(ProviderIdentity {
        issuer: api.to_string(),
        subject: user.id.to_string(),
        email_verified: primary.as_ref().is_some_and(|e| e.verified),
        email: primary.map(|e| e.email),
        username_hint: user.login,
    })
}
