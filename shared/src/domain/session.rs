//! Session families and refresh tokens: one session per login, one refresh token per rotation.

use super::{User, UserId};

/// A session family: every refresh token descending from one login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub sid: String,
    pub user_id: UserId,
    pub created_ms: i64,
    /// Absolute end of the session (epoch seconds), however often it is refreshed.
    pub expires_at: i64,
    pub revoked: bool,
}

impl Session {
    /// Whether tokens of this session may still be used by `user` at `now` (epoch seconds).
    pub fn is_live(&self, user: &User, now: i64) -> bool {
        !self.revoked
            && !user.disabled
            && self.user_id == user.id
            && self.expires_at > now
            && self.created_ms > user.sessions_valid_after_ms
    }
}

/// The refresh token a rotation produced, kept on its predecessor so that a concurrent refresh
/// within the grace window can be answered with the very same token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Successor {
    pub jti: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// One refresh token (one row/item per token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub jti: String,
    pub sid: String,
    pub user_id: UserId,
    pub issued_at: i64,
    pub expires_at: i64,
    /// When it was exchanged (epoch ms), if it was.
    pub rotated_at_ms: Option<i64>,
    pub successor: Option<Successor>,
}

impl RefreshToken {
    /// The successor of this token as a token of its own, if this one was rotated within
    /// `grace_ms` of `now_ms` (concurrent refreshes of one token all receive it).
    pub fn successor_within_grace(&self, now_ms: i64, grace_ms: i64) -> Option<RefreshToken> {
        let rotated_at = self.rotated_at_ms?;
        if now_ms - rotated_at > grace_ms {
            return None;
        }
        let s = self.successor.as_ref()?;
        Some(RefreshToken {
            jti: s.jti.clone(),
            sid: self.sid.clone(),
            user_id: self.user_id,
            issued_at: s.issued_at,
            expires_at: s.expires_at,
            rotated_at_ms: None,
            successor: None,
        })
    }
}
