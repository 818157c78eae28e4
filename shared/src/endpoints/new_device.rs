//! What every completed sign-in (password, second step, passkey, provider) does last: the
//! `login_succeeded` event, and for a device the account did not know (one that presented no
//! valid device token of this account) a "new sign-in" notice to its address, capped as every
//! security notice is, unless `AUTH_NEW_DEVICE_MAIL` is off.

use lambda_http::Request;

use super::audit;
use super::delivery::{Delivery, DeliveryError};
use super::owed_mail::queue_notice;
use crate::clock::rfc3339;
use crate::domain::audit::{Actor, AuditEvent, Details, EventType, Method};
use crate::domain::{Email, User};
use crate::http;
use crate::mail::templates::new_sign_in_mail;
use crate::queue::MailJob;
use crate::state::AppState;

/// A sign-in that just completed.
pub struct SignedIn<'a> {
    pub user: &'a User,
    /// The new session.
    pub sid: &'a str,
    /// The first factor (or the passkey, or the provider).
    pub method: Method,
    /// The second factor, when there was a second step.
    pub second: Option<Method>,
    pub new_device: bool,
}

/// Records the sign-in, and tells the account's address of a new device.
pub async fn signed_in(state: &AppState, req: &Request, s: &SignedIn<'_>) {
    let seen = http::seen_from(req);
    let event = AuditEvent::new(
        EventType::LoginSucceeded,
        Actor::Owner,
        state.clock.now_ms(),
        &seen,
    )
    .session(s.sid)
    .details(Details {
        method: Some(s.method),
        second_factor: s.second,
        new_device: s.new_device,
        ..Details::default()
    });
    audit::record(state, s.user.id, event).await;
    if !s.new_device || !state.config.new_device_mail {
        return;
    }
    let Ok(email) = Email::parse(&s.user.email) else {
        return;
    };
    let job = MailJob::NewSignIn {
        email: email.clone(),
        at: state.clock.now(),
        client: describe_client(&seen.user_agent),
        ip: seen.ip,
    };
    queue_notice(state, &email, job).await;
}

/// The mailer's half: the notice to the address.
pub async fn deliver_new_sign_in(
    state: &AppState,
    email: &Email,
    at: i64,
    client: &str,
    ip: &str,
) -> Result<Delivery, DeliveryError> {
    let when = rfc3339(at).replace('T', " ").replace('Z', " UTC");
    let ip = if ip.is_empty() { "unknown" } else { ip };
    let mail = new_sign_in_mail(
        &state.config.product_name,
        email.as_str(),
        &when,
        client,
        ip,
        state.config.sessions_url.as_deref(),
    );
    state.mail_transport.send(&mail, "").await?;
    tracing::info!("new sign-in notice sent");
    Ok(Delivery::Sent)
}

/// The browser and system a `User-Agent` names, from fixed lists ("Firefox on Linux"): mail
/// never repeats the client's own words.
pub fn describe_client(user_agent: &str) -> String {
    // Order matters: Edge and Opera say Chrome too, Chrome says Safari.
    const BROWSERS: [(&str, &str); 7] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("okhttp", "an Android app"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS
        .iter()
        .find(|(needle, _)| user_agent.contains(needle))
        .map(|(_, name)| *name);
    let system = SYSTEMS
        .iter()
        .find(|(needle, _)| user_agent.contains(needle))
        .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("a browser on {s}"),
        (None, None) => "an unrecognised browser or app".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_named_from_fixed_lists_only() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe_client(firefox), "Firefox on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(describe_client(edge), "Edge on Windows");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_client(iphone), "Safari on iOS");
        assert_eq!(describe_client("curl/8.5"), "curl");
        assert_eq!(describe_client(""), "an unrecognised browser or app");
        let phishing = "Click https://evil.example to keep your account";
        assert!(!describe_client(phishing).contains("evil"));
    }
}
