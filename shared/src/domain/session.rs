//! Session families and refresh tokens: one session per login, one refresh token per rotation.

use super::{Authentication, User, UserId};

/// Where a session was last used from, as the user sees it in their list of sessions: the
/// client's address and its `User-Agent`, at login and at each refresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenFrom {
    pub ip: String,
    /// At most [`SeenFrom::MAX_USER_AGENT`] characters of the header.
    pub user_agent: String,
}

impl SeenFrom {
    pub const MAX_USER_AGENT: usize = 256;

    /// `user_agent` cut to [`SeenFrom::MAX_USER_AGENT`] characters, so a client cannot grow
    /// the stored session.
    pub fn new(ip: impl Into<String>, user_agent: &str) -> SeenFrom {
        SeenFrom {
            ip: ip.into(),
            user_agent: user_agent.chars().take(Self::MAX_USER_AGENT).collect(),
        }
    }
}

/// A session family: every refresh token descending from one login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub sid: String,
    pub user_id: UserId,
    pub created_ms: i64,
    /// Absolute end of the session (epoch seconds), however often it is refreshed.
    pub expires_at: i64,
    pub revoked: bool,
    /// The instant the session counts from against the user's cut-off
    /// (`sessions_valid_after_ms`): its start, or the password change made in it (which ends
    /// every other session and keeps this one).
    pub valid_from_ms: i64,
    /// The last login or refresh (epoch ms), and where it came from.
    pub last_used_ms: i64,
    pub seen: SeenFrom,
    /// How it began (`amr`, `aal`, `auth_time` of its access tokens); refreshes keep it.
    pub auth: Authentication,
}

impl Session {
    /// Whether tokens of this session may still be used by `user` at `now` (epoch seconds).
    pub fn is_live(&self, user: &User, now: i64) -> bool {
        !self.revoked
            && !user.disabled
            && self.user_id == user.id
            && self.expires_at > now
            && self.valid_from_ms > user.sessions_valid_after_ms
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
    /// Whether this is its session's first token: a session's first refresh token carries the
    /// session's own id as its `jti` (see [`crate::tokens`]), so that a store may keep the two
    /// as one record, written at once (DynamoDB: one item, one write).
    pub fn is_first_of_session(&self) -> bool {
        self.jti == self.sid
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn user() -> User {
        User {
            id: 7,
            username: "john_doe".into(),
            email: "john@example.com".into(),
            role: Role::User,
            disabled: false,
            email_verified: false,
            created_at: 0,
            sessions_valid_after_ms: 1_000,
            app_metadata: Default::default(),
        }
    }

    fn session() -> Session {
        Session {
            sid: "s".into(),
            user_id: 7,
            created_ms: 2_000,
            expires_at: 100,
            revoked: false,
            valid_from_ms: 2_000,
            last_used_ms: 2_000,
            seen: SeenFrom::default(),
            auth: Authentication::password(2),
        }
    }

    fn rotated_at(ms: i64) -> RefreshToken {
        RefreshToken {
            jti: "old".into(),
            sid: "s".into(),
            user_id: 7,
            issued_at: 0,
            expires_at: 100,
            rotated_at_ms: Some(ms),
            successor: Some(Successor {
                jti: "new".into(),
                issued_at: 1,
                expires_at: 101,
            }),
        }
    }

    #[test]
    fn a_session_is_live_until_it_expires() {
        assert!(session().is_live(&user(), 99));
        assert!(!session().is_live(&user(), 100));
    }

    #[test]
    fn a_revoked_session_or_a_disabled_user_or_another_user_ends_it() {
        let revoked = Session {
            revoked: true,
            ..session()
        };
        assert!(!revoked.is_live(&user(), 0));
        let disabled = User {
            disabled: true,
            ..user()
        };
        assert!(!session().is_live(&disabled, 0));
        let other = User { id: 8, ..user() };
        assert!(!session().is_live(&other, 0));
    }

    #[test]
    fn sessions_begun_before_the_users_cut_off_are_ended() {
        let cut = User {
            sessions_valid_after_ms: 2_000,
            ..user()
        };
        assert!(!session().is_live(&cut, 0), "created at the cut-off instant");
    }

    #[test]
    fn a_session_kept_by_a_password_change_outlives_the_cut_off() {
        let cut = User {
            sessions_valid_after_ms: 5_000,
            ..user()
        };
        let kept = Session {
            valid_from_ms: 5_001,
            ..session()
        };
        assert!(kept.is_live(&cut, 0));
    }

    #[test]
    fn a_user_agent_is_stored_at_most_256_characters_long() {
        let long = "é".repeat(300);
        assert_eq!(SeenFrom::new("192.0.2.1", &long).user_agent.chars().count(), 256);
        assert_eq!(SeenFrom::new("192.0.2.1", "curl/8").user_agent, "curl/8");
    }

    #[test]
    fn the_successor_is_given_again_within_the_grace_window_inclusive() {
        let token = rotated_at(1_000);
        let again = token.successor_within_grace(11_000, 10_000).unwrap();
        assert_eq!((again.jti.as_str(), again.sid.as_str()), ("new", "s"));
        assert_eq!((again.issued_at, again.expires_at), (1, 101));
        assert!(token.successor_within_grace(11_001, 10_000).is_none());
    }

    #[test]
    fn a_token_never_rotated_has_no_successor_to_give() {
        let fresh = RefreshToken {
            rotated_at_ms: None,
            successor: None,
            ..rotated_at(0)
        };
        assert!(fresh.successor_within_grace(0, 10_000).is_none());
    }
}
