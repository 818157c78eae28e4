//! The audit trail: one [`AuditEvent`] per security event of an account, kept in that account's
//! log. Every field is a fixed vocabulary or a value authyy made (ids, times, the address API
//! Gateway saw, the `User-Agent` cut short): no free text from the client, and never a
//! password, hash, token or code.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::{SeenFrom, UserId};

/// What happened. The names are the stable `type` of the API and of the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Signup,
    LoginSucceeded,
    LoginFailed,
    MfaFailed,
    RefreshReuseDetected,
    Logout,
    LogoutAll,
    SessionEnded,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailChangeRequested,
    EmailChanged,
    EmailVerified,
    MfaEnabled,
    MfaDisabled,
    RecoveryCodeUsed,
    RecoveryCodesRegenerated,
    PasskeyAdded,
    PasskeyRemoved,
    IdentityLinked,
    IdentityUnlinked,
    AccountDeleted,
    /// An administrator (or the operator's tool) changed the account: `details.changed` names
    /// the fields.
    UserUpdated,
}

impl EventType {
    pub const ALL: [EventType; 24] = [
        EventType::Signup,
        EventType::LoginSucceeded,
        EventType::LoginFailed,
        EventType::MfaFailed,
        EventType::RefreshReuseDetected,
        EventType::Logout,
        EventType::LogoutAll,
        EventType::SessionEnded,
        EventType::PasswordChanged,
        EventType::PasswordResetRequested,
        EventType::PasswordReset,
        EventType::EmailChangeRequested,
        EventType::EmailChanged,
        EventType::EmailVerified,
        EventType::MfaEnabled,
        EventType::MfaDisabled,
        EventType::RecoveryCodeUsed,
        EventType::RecoveryCodesRegenerated,
        EventType::PasskeyAdded,
        EventType::PasskeyRemoved,
        EventType::IdentityLinked,
        EventType::IdentityUnlinked,
        EventType::AccountDeleted,
        EventType::UserUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Signup => "signup",
            EventType::LoginSucceeded => "login_succeeded",
            EventType::LoginFailed => "login_failed",
            EventType::MfaFailed => "mfa_failed",
            EventType::RefreshReuseDetected => "refresh_reuse_detected",
            EventType::Logout => "logout",
            EventType::LogoutAll => "logout_all",
            EventType::SessionEnded => "session_ended",
            EventType::PasswordChanged => "password_changed",
            EventType::PasswordResetRequested => "password_reset_requested",
            EventType::PasswordReset => "password_reset",
            EventType::EmailChangeRequested => "email_change_requested",
            EventType::EmailChanged => "email_changed",
            EventType::EmailVerified => "email_verified",
            EventType::MfaEnabled => "mfa_enabled",
            EventType::MfaDisabled => "mfa_disabled",
            EventType::RecoveryCodeUsed => "recovery_code_used",
            EventType::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            EventType::PasskeyAdded => "passkey_added",
            EventType::PasskeyRemoved => "passkey_removed",
            EventType::IdentityLinked => "identity_linked",
            EventType::IdentityUnlinked => "identity_unlinked",
            EventType::AccountDeleted => "account_deleted",
            EventType::UserUpdated => "user_updated",
        }
    }
}

/// Who did it: the account's owner, an administrator (by id), or authyy itself and the
/// operator's command-line tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Owner,
    Admin(UserId),
    System,
}

impl Actor {
    /// `self`, `admin:<id>` or `system`.
    pub fn to_wire(self) -> String {
        match self {
            Actor::Owner => "self".to_string(),
            Actor::Admin(id) => format!("admin:{id}"),
            Actor::System => "system".to_string(),
        }
    }

    /// The form [`Actor::to_wire`] writes; anything else is not an actor.
    pub fn from_wire(s: &str) -> Option<Actor> {
        match s {
            "self" => Some(Actor::Owner),
            "system" => Some(Actor::System),
            _ => s.strip_prefix("admin:")?.parse().ok().map(Actor::Admin),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_wire())
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Actor::from_wire(&s).ok_or_else(|| serde::de::Error::custom("not an actor"))
    }
}

/// Why an attempt failed (`details.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    WrongPassword,
    AccountDisabled,
    EmailNotVerified,
    /// Refused by the backoff before the password was checked.
    Locked,
    /// The account changed while the attempt was checked (a racing password change).
    AccountChanged,
    WrongCode,
    /// A code already accepted (a replayed TOTP step or a spent recovery code).
    CodeReplayed,
    WrongDeviceOrPasskey,
}

/// How it was done (`details.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Password,
    Passkey,
    Provider,
    Totp,
    RecoveryCode,
    /// Made by the user-migration hook from the team's old system.
    Migration,
    /// Made by the operator's command-line tool.
    Cli,
}

/// A field an administrator changed (`details.changed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Role,
    Disabled,
    EmailVerified,
    AppMetadata,
}

/// What else there is to say, from fixed vocabularies and authyy's own ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Details {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// A sign-in's second factor, when it had a second step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor: Option<Method>,
    /// A configured provider's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The session a `session_ended` ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_session: Option<String>,
    /// The passkey's or identity's id, as the API lists it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<Field>,
    /// The sign-in presented no valid device token of this account.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_device: bool,
    /// A failed sign-in for an address with no account: the address's keyed digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_hmac: Option<String>,
}

impl Details {
    pub fn reason(reason: Reason) -> Details {
        Details {
            reason: Some(reason),
            ..Details::default()
        }
    }

    pub fn method(method: Method) -> Details {
        Details {
            method: Some(method),
            ..Details::default()
        }
    }
}

/// One event of one account's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Random, 22 URL-safe characters.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Epoch milliseconds.
    pub at_ms: i64,
    /// The order of the events this process made: events of one millisecond sort by it, so a
    /// request's events (a sign-in after its recovery code) read in the order they happened.
    #[serde(default)]
    pub seq: u64,
    pub ip: String,
    /// At most [`SeenFrom::MAX_USER_AGENT`] characters.
    pub user_agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub actor: Actor,
    #[serde(default)]
    pub details: Details,
}

/// The next [`AuditEvent::seq`] of this process.
static SEQ: AtomicU64 = AtomicU64::new(0);

impl AuditEvent {
    pub fn new(kind: EventType, actor: Actor, at_ms: i64, seen: &SeenFrom) -> AuditEvent {
        AuditEvent {
            id: crate::randomness::new_id(),
            kind,
            at_ms,
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
            ip: seen.ip.clone(),
            user_agent: SeenFrom::new("", &seen.user_agent).user_agent,
            session_id: None,
            actor,
            details: Details::default(),
        }
    }

    pub fn session(mut self, sid: &str) -> AuditEvent {
        self.session_id = Some(sid.to_string());
        self
    }

    pub fn details(mut self, details: Details) -> AuditEvent {
        self.details = details;
        self
    }

    /// What outlives an erasure: that the account was deleted, when and by whom; no client,
    /// no session, no details.
    pub fn deletion_record(actor: Actor, at_ms: i64) -> AuditEvent {
        AuditEvent::new(EventType::AccountDeleted, actor, at_ms, &SeenFrom::default())
    }

    /// The event as its owner sees it: an administrator appears as `admin`, with no id and
    /// no details.
    pub fn as_owner_sees_it(mut self) -> AuditEvent {
        if let Actor::Admin(_) = self.actor {
            self.details = Details::default();
        }
        self
    }

    /// Where it sorts in its log: time, then this process's order, then id (the first two
    /// fixed width), so newest first is descending order.
    pub fn sort_key(&self) -> String {
        format!("{:013}#{:016x}#{}", self.at_ms.max(0), self.seq, self.id)
    }
}

/// A page of one account's log, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<AuditEvent>,
    /// The sort key the next page starts before, when there is one.
    pub next_before: Option<String>,
}

impl EventPage {
    /// A page from up to `limit + 1` events read newest first: the extra one means there is a
    /// next page, which starts after the last event kept.
    pub fn from_overfetch(mut events: Vec<AuditEvent>, limit: u32) -> EventPage {
        let limit = limit as usize;
        let next_before = (events.len() > limit).then(|| {
            events.truncate(limit);
            events.last().map(AuditEvent::sort_key)
        });
        EventPage {
            events,
            next_before: next_before.flatten(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_serialises_as_its_name() {
        for t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn an_actor_round_trips_and_nothing_else_is_one() {
        for a in [Actor::Owner, Actor::Admin(42), Actor::System] {
            assert_eq!(Actor::from_wire(&a.to_wire()), Some(a));
        }
        assert_eq!(Actor::Admin(7).to_wire(), "admin:7");
        for bad in ["", "admin", "admin:", "admin:x", "root", "Self"] {
            assert_eq!(Actor::from_wire(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_owner_sees_an_admin_action_without_its_details() {
        let seen = SeenFrom::new("203.0.113.9", "ua");
        let mut e = AuditEvent::new(EventType::UserUpdated, Actor::Admin(3), 5, &seen);
        e.details.changed = vec![Field::Role];
        let seen_by_owner = e.clone().as_owner_sees_it();
        assert_eq!(seen_by_owner.details, Details::default());
        let own = AuditEvent::new(EventType::Logout, Actor::Owner, 5, &seen)
            .details(Details::method(Method::Password));
        assert_eq!(own.clone().as_owner_sees_it(), own);
    }

    #[test]
    fn sort_keys_order_by_time_then_by_the_order_events_were_made() {
        let seen = SeenFrom::default();
        let mut a = AuditEvent::new(EventType::Logout, Actor::Owner, 999, &seen);
        let mut b = AuditEvent::new(EventType::Logout, Actor::Owner, 1000, &seen);
        (a.id, b.id) = ("b".into(), "a".into());
        a.seq = b.seq + 1;
        assert!(a.sort_key() < b.sort_key());
        let first = AuditEvent::new(EventType::Logout, Actor::Owner, 1000, &seen);
        let mut second = AuditEvent::new(EventType::LoginSucceeded, Actor::Owner, 1000, &seen);
        second.id = "0".into();
        assert!(first.sort_key() < second.sort_key());
        assert_eq!(first.sort_key().len(), 13 + 1 + 16 + 1 + 22);
    }

    #[test]
    fn a_page_with_one_more_than_asked_continues_before_its_last_event() {
        let seen = SeenFrom::default();
        let events: Vec<_> = (0..4)
            .rev()
            .map(|t| AuditEvent::new(EventType::Logout, Actor::Owner, t, &seen))
            .collect();
        let page = EventPage::from_overfetch(events.clone(), 3);
        assert_eq!(page.events.len(), 3);
        assert_eq!(page.next_before, Some(events[2].sort_key()));
        let last = EventPage::from_overfetch(events[..3].to_vec(), 3);
        assert_eq!(last.next_before, None);
    }

    #[test]
    fn the_user_agent_is_cut_and_the_deletion_record_holds_no_client() {
        let long = "x".repeat(1000);
        let e = AuditEvent::new(
            EventType::Signup,
            Actor::Owner,
            1,
            &SeenFrom {
                ip: "1".into(),
                user_agent: long,
            },
        );
        assert_eq!(e.user_agent.len(), SeenFrom::MAX_USER_AGENT);
        let d = AuditEvent::deletion_record(Actor::Owner, 1);
        assert_eq!(
            (d.ip.as_str(), d.user_agent.as_str(), d.session_id.clone()),
            ("", "", None)
        );
        assert_eq!(d.kind, EventType::AccountDeleted);
    }
}
