//! The quiet per-address caps every mail passes ([`MailCap`]).

use crate::config::{Config, Limit};
use crate::domain::Email;
use crate::error::ApiError;
use crate::randomness::token_hash;
use crate::state::AppState;

/// A per-address cap on one kind of mail. Past it the endpoint answers as usual and sends
/// nothing: mail bombing one inbox stops there, without a telling 429. Each counter is keyed by
/// a digest of the address (never the address) and ends with its window; erasing the account
/// keeps it, so signing up again does not reset it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailCap {
    /// Reset links to an address.
    Reset,
    /// Verification links to an address (signup's first, and resends).
    Verify,
    /// Email-change links (or taken-address notices) to a new address.
    ChangeTo,
    /// Email changes asked for by the account of an address.
    ChangeFrom,
    /// Notices to an address (password changed, email changed).
    Notice,
}

impl MailCap {
    pub const ALL: [MailCap; 5] = [
        MailCap::Reset,
        MailCap::Verify,
        MailCap::ChangeTo,
        MailCap::ChangeFrom,
        MailCap::Notice,
    ];

    fn name(self) -> &'static str {
        match self {
            MailCap::Reset => "mail",
            MailCap::Verify => "verify",
            MailCap::ChangeTo => "change",
            MailCap::ChangeFrom => "change-from",
            MailCap::Notice => "notice",
        }
    }

    /// How many mails of this kind an address gets per window.
    pub fn limit(self, config: &Config) -> Limit {
        match self {
            MailCap::Reset => config.forgot_per_email_limit,
            MailCap::Verify | MailCap::ChangeTo | MailCap::ChangeFrom => config.resend_per_email_limit,
            MailCap::Notice => config.notice_per_email_limit,
        }
    }

    /// The throttle key of this cap for `email`: a digest of the address under a label of its
    /// own, so the counter holds neither the address nor the hash other items could be
    /// matched with.
    pub fn key(self, email: &str) -> String {
        format!("{}#{}", self.name(), token_hash(&format!("mail cap\0{email}")))
    }

    /// Counts one mail to `email`; true while it is within the cap.
    pub async fn admits(self, state: &AppState, email: &Email) -> Result<bool, ApiError> {
        self.admits_key(state, self.key(email.as_str())).await
    }

    /// Counts one mail of `kind` (a notice's kind) to `email` on a counter of that kind's own;
    /// true while it is within the cap.
    pub async fn admits_kind(self, state: &AppState, email: &Email, kind: &str) -> Result<bool, ApiError> {
        self.admits_key(state, format!("{kind}:{}", self.key(email.as_str())))
            .await
    }

    async fn admits_key(self, state: &AppState, key: String) -> Result<bool, ApiError> {
        let limit = self.limit(&state.config);
        let sent = state
            .throttle
            .hit(&key, limit.window_secs, state.clock.now())
            .await?;
        Ok(sent <= limit.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cap_has_its_own_key_and_none_holds_the_address_or_its_plain_hash() {
        let email = "john@example.com";
        let keys: std::collections::BTreeSet<_> = MailCap::ALL.iter().map(|c| c.key(email)).collect();
        assert_eq!(keys.len(), MailCap::ALL.len());
        for key in keys {
            assert!(!key.contains(email) && !key.contains(&token_hash(email)), "{key}");
        }
    }
}
