//! Recording the audit trail: each security event goes to the account's log (the store) and out
//! as one JSON log line of a fixed schema (`"audit": "v1"`, see docs/audit.md).
//!
//! An event is recorded by the code path that did the thing, once the thing is done, in a write
//! of its own: recording never makes the request it records fail. A write that fails is
//! counted and logged (`audit_lost`), and the log line still goes out.

use std::sync::atomic::{AtomicU64, Ordering};

use lambda_http::Request;
use ring::{hkdf, hmac};

use crate::domain::audit::{Actor, AuditEvent, Details, EventType, Reason};
use crate::domain::{Email, UserId};
use crate::http;
use crate::state::AppState;

/// Events whose write failed in this execution environment.
static LOST: AtomicU64 = AtomicU64::new(0);

/// How many events this execution environment failed to write.
pub fn lost_events() -> u64 {
    LOST.load(Ordering::Relaxed)
}

/// An event of `kind` that `actor` did now, from the request's client.
pub fn event(state: &AppState, req: &Request, kind: EventType, actor: Actor) -> AuditEvent {
    AuditEvent::new(kind, actor, state.clock.now_ms(), &http::seen_from(req))
}

/// An event of `kind` the account's owner did now, from the request's client.
pub fn by_owner(state: &AppState, req: &Request, kind: EventType) -> AuditEvent {
    event(state, req, kind, Actor::Owner)
}

/// Until when an event recorded now is kept (epoch seconds).
pub fn expires_at(state: &AppState) -> i64 {
    state.clock.now() + state.config.audit_retention.as_secs() as i64
}

/// Records `event` in the log of `user_id` and logs it. Never fails.
pub async fn record(state: &AppState, user_id: UserId, event: AuditEvent) {
    log(user_id, &event);
    write(state, user_id, &event).await;
}

/// Writes `event` to the log of `user_id`; a failure is counted and logged.
async fn write(state: &AppState, user_id: UserId, event: &AuditEvent) {
    if let Err(e) = state.audit.record_event(user_id, event, expires_at(state)).await {
        let lost = LOST.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::error!(
            audit_lost = true,
            lost_in_this_environment = lost,
            user_id,
            event_type = event.kind.as_str(),
            event_id = %event.id,
            error = %e,
            "audit event not recorded in the account's log"
        );
    }
}

/// The log of failed sign-ins for addresses with no account (no account has id 0).
pub const NO_ACCOUNT: UserId = 0;

/// Records a failed login for an address with no account in the log of [`NO_ACCOUNT`], as a
/// wrong password is recorded in its account's: the same write, so the answer takes as long
/// whether the address has an account or not. The address appears only as `email_hmac`.
pub async fn record_unknown_login(state: &AppState, req: &Request, email: &Email) {
    let digest = email_hmac(state, email).await;
    let event = event(state, req, EventType::LoginFailed, Actor::Owner).details(Details {
        reason: Some(Reason::WrongPassword),
        email_hmac: Some(digest.clone()),
        ..Details::default()
    });
    log_line(None, Some(&digest), &event);
    write(state, NO_ACCOUNT, &event).await;
}

/// Logs a login the backoff refused before the account was looked at (so whether there is one
/// is not known, and nothing is written, for any address alike). The address appears only as
/// `email_hmac`.
pub async fn log_locked_login(state: &AppState, req: &Request, email: &Email) {
    let event =
        event(state, req, EventType::LoginFailed, Actor::Owner).details(Details::reason(Reason::Locked));
    log_line(None, Some(&email_hmac(state, email).await), &event);
}

/// `<kid>.<hex>`: the address under a key of its own derived from the refresh-token key `kid`,
/// so that repeated attempts on one address can be correlated without the address being in the
/// logs.
async fn email_hmac(state: &AppState, email: &Email) -> String {
    match state.tokens.private_keys().await {
        Ok(keys) => {
            let (kid, key) = keys.hmac.signing();
            format!("{kid}.{}", email_digest(key, email.as_str()))
        }
        Err(_) => "unavailable".to_string(),
    }
}

/// HMAC-SHA256 of `email` under a key derived (HKDF) from `hmac_key` for this use alone, as hex.
fn email_digest(hmac_key: &[u8], email: &str) -> String {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"").extract(hmac_key);
    let mut derived = [0u8; 32];
    let filled = prk
        .expand(&[b"authyy audit email v1"], Len)
        .and_then(|okm| okm.fill(&mut derived));
    if filled.is_err() {
        return "unavailable".to_string();
    }
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &derived), email.as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Logs `event` of the log of `user_id` (for an event a store wrote itself, as erasure does).
pub fn log(user_id: UserId, event: &AuditEvent) {
    log_line(Some(user_id), None, event);
}

/// The event as one log line: `audit = "v1"` marks the schema.
fn log_line(user_id: Option<UserId>, email_hmac: Option<&str>, event: &AuditEvent) {
    let details = serde_json::to_string(&event.details).unwrap_or_default();
    tracing::info!(
        audit = "v1",
        event_id = %event.id,
        event_type = event.kind.as_str(),
        at_ms = event.at_ms,
        user_id,
        email_hmac,
        actor = %event.actor.to_wire(),
        ip = %event.ip,
        user_agent = %event.user_agent,
        session_id = event.session_id.as_deref(),
        details = %details,
        "audit event"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_digest_is_keyed_stable_and_not_the_plain_hash() {
        let a = email_digest(b"key one", "john@example.com");
        assert_eq!(a, email_digest(b"key one", "john@example.com"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, email_digest(b"key two", "john@example.com"));
        assert_ne!(a, email_digest(b"key one", "jane@example.com"));
        assert_ne!(a, crate::randomness::token_hash("john@example.com"));
        // Not the refresh-token key used directly.
        let direct = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, b"key one"),
            b"john@example.com",
        );
        let direct: String = direct.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_ne!(a, direct);
    }
}
