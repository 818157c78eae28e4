//! The item codec: attribute values in and out, the keys of every item kind, and the
//! conversions between items and domain values.
//!
//! Hand-written rather than `serde_dynamo`: measured, serde_dynamo added about 25 KB to every
//! function binary, made this file longer (a serde struct and a mapping per item kind), and its
//! errors lose the attribute name that these report.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{
    AppMetadata, Authentication, RefreshToken, Role, SeenFrom, Session, Successor, User, UserId,
};
use crate::store::{StoreError, StoreResult};

/// One DynamoDB item (or key).
pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub(super) fn b(v: bool) -> AttributeValue {
    AttributeValue::Bool(v)
}

pub(super) fn malformed(what: &str) -> StoreError {
    StoreError::Backend(format!("malformed item: {what}"))
}
pub(super) fn get_s(item: &Item, k: &str) -> StoreResult<String> {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| malformed(k))
}
pub(super) fn opt_s(item: &Item, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}
pub(super) fn get_n<T: std::str::FromStr>(item: &Item, k: &str) -> StoreResult<T> {
    opt_n(item, k).ok_or_else(|| malformed(k))
}
pub(super) fn opt_n<T: std::str::FromStr>(item: &Item, k: &str) -> Option<T> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}
pub(super) fn get_bool(item: &Item, k: &str) -> bool {
    item.get(k)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

pub(super) fn key(pk: impl Into<String>, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}
pub(super) fn user_key(id: UserId) -> Item {
    key(format!("USER#{id}"), "USER")
}
pub(super) fn email_key(email: &str) -> Item {
    key(format!("EMAIL#{email}"), "EMAIL")
}
/// Where [`DynamoStore::batch_get`](super::DynamoStore) files an item (or key): `pk|sk`.
pub(super) fn item_id(item: &Item) -> String {
    format!(
        "{}|{}",
        opt_s(item, "pk").unwrap_or_default(),
        opt_s(item, "sk").unwrap_or_default()
    )
}
/// The partition of a user's sessions and refresh tokens: beside the profile's, not in it, so
/// that the functions that write and delete sessions (IAM grants by partition key prefix) cannot
/// reach the profile.
pub(super) fn sessions_partition(user_id: UserId) -> String {
    format!("SESSIONS#{user_id}")
}
/// A session, in its user's sessions partition (listing a user's sessions is one Query).
pub(super) fn session_key(user_id: UserId, sid: &str) -> Item {
    key(sessions_partition(user_id), &format!("SESSION#{sid}"))
}
/// A refresh token, in its user's partition (erasing an account finds every one).
pub(super) fn refresh_key(user_id: UserId, jti: &str) -> Item {
    key(sessions_partition(user_id), &format!("REFRESH#{jti}"))
}
pub(super) fn reset_key(hash: &str) -> Item {
    key(format!("RESET#{hash}"), "RESET")
}
/// An email verification token (by SHA-256).
pub(super) fn verify_key(hash: &str) -> Item {
    key(format!("VERIFY#{hash}"), "VERIFY")
}

/// The partition of an address's login state: its failed-login counters and its trusted
/// devices, so that erasing the account (or moving it to another address) finds them all with
/// one Query.
pub(super) fn address_partition(email: &str) -> String {
    format!("LOGINFAIL#{email}")
}
/// The failed-login counters of an email: from every network, and from each network (see
/// [`super::login`]).
pub(super) fn loginfail_key(email: &str) -> Item {
    key(address_partition(email), "LOGINFAIL")
}
/// The failed re-authentications of one session of the account of `email`.
pub(super) fn loginfail_session_key(email: &str, sid: &str) -> Item {
    key(address_partition(email), &format!("SESSION#{sid}"))
}
/// A device token (by SHA-256): a device that logged in to `email` before.
pub(super) fn device_key(email: &str, hash: &str) -> Item {
    key(address_partition(email), &format!("TRUST#{hash}"))
}
/// The partition of an account's second factors: its TOTP and recovery codes (`FACTORS`) and
/// its login code counter (`CODEFAIL`), beside the profile's so that the functions that manage
/// factors cannot reach the profile through it.
pub(super) fn factors_partition(user_id: UserId) -> String {
    format!("MFA#{user_id}")
}
pub(super) fn factors_key(user_id: UserId) -> Item {
    key(factors_partition(user_id), "FACTORS")
}
pub(super) fn code_counter_key(user_id: UserId) -> Item {
    key(factors_partition(user_id), "CODEFAIL")
}
/// A passkey, in its account's second-factor partition (listing them is one Query), by the
/// SHA-256 of its credential id: an id may be 1,023 bytes (1,364 characters of base64url), over
/// the 1,024 bytes a sort key may hold. (The claim's partition key may hold 2,048.)
pub(super) fn passkey_key(user_id: UserId, credential_id: &str) -> Item {
    let hash = crate::randomness::token_hash(credential_id);
    key(factors_partition(user_id), &format!("PASSKEY#{hash}"))
}
/// The claim on a credential id: which account owns it (an id is registered once, to one
/// account; sign-in finds the account by it).
pub(super) fn passkey_claim_key(credential_id: &str) -> Item {
    key(format!("PASSKEY#{credential_id}"), "PASSKEY")
}
/// A passkey ceremony's challenge (by its random id), until its first use or its TTL.
pub(super) fn passkey_challenge_key(id: &str) -> Item {
    key(format!("WEBAUTHN#{id}"), "WEBAUTHN")
}
/// A login waiting for its second step (by the SHA-256 of its mfa_token).
pub(super) fn challenge_key(hash: &str) -> Item {
    key(format!("MFATOKEN#{hash}"), "MFATOKEN")
}
/// A mail request (by its random id).
pub(super) fn mail_request_key(id: &str) -> Item {
    key(format!("MAILREQ#{id}"), "MAILREQ")
}

pub(super) fn user_from(item: &Item) -> StoreResult<User> {
    Ok(User {
        id: get_n(item, "id")?,
        username: get_s(item, "username")?,
        email: get_s(item, "email")?,
        role: Role::from_stored(&get_s(item, "role")?),
        disabled: get_bool(item, "disabled"),
        created_at: get_n(item, "created_at")?,
        sessions_valid_after_ms: opt_n(item, "sessions_valid_after_ms").unwrap_or(0),
        // Accounts made before verification existed have no attribute: not verified.
        email_verified: get_bool(item, "email_verified"),
        // Accounts made before metadata existed have none.
        app_metadata: AppMetadata::from_stored(opt_s(item, "app_metadata").as_deref())
            .map_err(|e| malformed(&format!("app_metadata: {e}")))?,
    })
}

/// The pending email change recorded on a profile, if any.
pub(super) fn pending_change_from(profile: &Item) -> Option<crate::store::PendingEmailChange> {
    Some(crate::store::PendingEmailChange {
        request: opt_s(profile, "change_request")?,
        new_email: opt_s(profile, "change_email")?,
    })
}

pub(super) fn session_from(item: &Item) -> StoreResult<Session> {
    let created_ms = get_n(item, "created_ms")?;
    Ok(Session {
        sid: get_s(item, "sid")?,
        user_id: get_n(item, "user_id")?,
        created_ms,
        expires_at: get_n(item, "expires_at")?,
        revoked: get_bool(item, "revoked"),
        valid_from_ms: opt_n(item, "valid_from_ms").unwrap_or(created_ms),
        last_used_ms: opt_n(item, "last_used_ms").unwrap_or(created_ms),
        seen: SeenFrom {
            ip: opt_s(item, "ip").unwrap_or_default(),
            user_agent: opt_s(item, "user_agent").unwrap_or_default(),
        },
        // Sessions begun before second factors were password logins.
        auth: Authentication::from_stored(
            opt_s(item, "amr").as_deref(),
            opt_n(item, "auth_time").unwrap_or(created_ms.div_euclid(1000)),
        ),
    })
}

pub(super) fn session_item(session: &Session) -> Item {
    let mut item = session_key(session.user_id, &session.sid);
    item.extend([
        ("sid".into(), s(&session.sid)),
        ("user_id".into(), n(session.user_id)),
        ("created_ms".into(), n(session.created_ms)),
        ("expires_at".into(), n(session.expires_at)),
        ("revoked".into(), b(session.revoked)),
        ("valid_from_ms".into(), n(session.valid_from_ms)),
        ("last_used_ms".into(), n(session.last_used_ms)),
        ("ip".into(), s(&session.seen.ip)),
        ("user_agent".into(), s(&session.seen.user_agent)),
        ("amr".into(), s(session.auth.methods_text())),
        ("auth_time".into(), n(session.auth.auth_time)),
    ]);
    item
}

/// A session with its first refresh token (`jti` = `sid`), as one item: the two are written
/// by one Put. The token's fields are the `first_` attributes.
pub(super) fn session_with_first(session: &Session, first: &RefreshToken) -> Item {
    let mut item = session_item(session);
    item.extend([
        ("first_issued_at".into(), n(first.issued_at)),
        ("first_expires_at".into(), n(first.expires_at)),
    ]);
    item
}

/// The first refresh token a session item holds, if it holds one.
pub(super) fn first_token_from(item: &Item) -> StoreResult<Option<RefreshToken>> {
    let Some(issued_at) = opt_n(item, "first_issued_at") else {
        return Ok(None);
    };
    let successor = successor_from(item, "first_")?;
    let sid = get_s(item, "sid")?;
    Ok(Some(RefreshToken {
        jti: sid.clone(),
        sid,
        user_id: get_n(item, "user_id")?,
        issued_at,
        expires_at: get_n(item, "first_expires_at")?,
        rotated_at_ms: opt_n(item, "first_rotated_at_ms"),
        successor,
    }))
}

/// A rotated token's successor, from the `{prefix}successor_*` attributes.
fn successor_from(item: &Item, prefix: &str) -> StoreResult<Option<Successor>> {
    let Some(jti) = opt_s(item, &format!("{prefix}successor_jti")) else {
        return Ok(None);
    };
    Ok(Some(Successor {
        jti,
        issued_at: get_n(item, &format!("{prefix}successor_issued_at"))?,
        expires_at: get_n(item, &format!("{prefix}successor_expires_at"))?,
    }))
}

pub(super) fn refresh_from(item: &Item) -> StoreResult<RefreshToken> {
    let successor = successor_from(item, "")?;
    Ok(RefreshToken {
        jti: get_s(item, "jti")?,
        sid: get_s(item, "sid")?,
        user_id: get_n(item, "user_id")?,
        issued_at: get_n(item, "issued_at")?,
        expires_at: get_n(item, "expires_at")?,
        rotated_at_ms: opt_n(item, "rotated_at_ms"),
        successor,
    })
}

pub(super) fn refresh_item(t: &RefreshToken) -> Item {
    let mut item = refresh_key(t.user_id, &t.jti);
    item.insert("jti".into(), s(&t.jti));
    item.insert("sid".into(), s(&t.sid));
    item.insert("user_id".into(), n(t.user_id));
    item.insert("issued_at".into(), n(t.issued_at));
    item.insert("expires_at".into(), n(t.expires_at));
    item
}

/// The trust of device `device` of `email`, bound to the password hash `verified_hash` (see
/// [`crate::store::device_credential`]).
pub(super) fn device_item(email: &str, device: &str, verified_hash: &str, expires_at: i64) -> Item {
    let mut item = device_key(email, device);
    item.extend([
        ("email".into(), s(email)),
        (
            "credential".into(),
            s(crate::store::device_credential(verified_hash)),
        ),
        ("expires_at".into(), n(expires_at)),
    ]);
    item
}

/// The partition of an account's provider identities (listing them is one Query).
pub(super) fn identities_partition(user_id: UserId) -> String {
    format!("FED#{user_id}")
}
pub(super) fn identity_key(user_id: UserId, id: &str) -> Item {
    key(identities_partition(user_id), &format!("IDENTITY#{id}"))
}
/// The claim on an identity (issuer, subject): which account it is linked to. Keyed by a digest,
/// since an issuer and a subject together may be longer than a key holds.
pub(super) fn identity_claim_key(issuer: &str, subject: &str) -> Item {
    let hash = crate::randomness::token_hash(&format!("{issuer}\n{subject}"));
    key(format!("IDENTITY#{hash}"), "IDENTITY")
}
/// A one-time record of a provider sign-in (by the SHA-256 of its value), until spent or its TTL.
pub(super) fn handoff_key(kind: &str, hash: &str) -> Item {
    key(format!("OAUTH#{hash}"), kind)
}
