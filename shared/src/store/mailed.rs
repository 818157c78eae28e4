//! What mail carries and the requests behind it: reset and verification tokens (as stored,
//! by hash), the pending email change, and the mail requests queued jobs name.

use crate::domain::UserId;

/// A reset token. Like every mailed token it names the account only, never an address: a
/// token superseded and left to expire keeps nothing personal.
#[derive(Debug, Clone)]
pub struct ResetToken {
    /// SHA-256 of the token, hex; the token itself is never stored.
    pub hash: String,
    pub user_id: UserId,
    pub expires_at: i64,
}

/// A token that proves an address for the account `user_id`: its own address (a
/// verification), or the new address of its pending email change ([`PendingEmailChange`]).
/// The address itself is read from the account when the token is used.
#[derive(Debug, Clone)]
pub struct VerifyToken {
    /// SHA-256 of the token, hex; the token itself is never stored.
    pub hash: String,
    pub user_id: UserId,
    pub expires_at: i64,
    pub purpose: Purpose,
}

/// An email change the account asked for and has not completed: kept on the account until the
/// change is made, a newer one replaces it, or a password change or reset cancels it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEmailChange {
    /// Random, named by the mail job; the mailer mints a link only while it is still this.
    pub request: String,
    /// The address the account asked to move to.
    pub new_email: String,
}

/// A mail the API owes an address, recorded before its job is queued (a password reset or a
/// verification link): the job names only the request's id, so nothing can have a link minted
/// without a request the API stored, and a job handled once (or redriven after its request
/// expired) mints nothing again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRequest {
    /// Random; the job's only content besides its kind.
    pub id: String,
    pub kind: MailRequestKind,
    /// The address asked about (any address: whether an account has it is the mailer's
    /// question, so the request costs the same for every address).
    pub email: String,
    pub expires_at: i64,
}

/// What a [`MailRequest`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailRequestKind {
    PasswordReset,
    Verify,
}

impl MailRequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailRequestKind::PasswordReset => "reset",
            MailRequestKind::Verify => "verify",
        }
    }

    /// The stored form back; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<MailRequestKind> {
        match s {
            "reset" => Some(MailRequestKind::PasswordReset),
            "verify" => Some(MailRequestKind::Verify),
            _ => None,
        }
    }
}

/// What a [`VerifyToken`] is for. Each purpose keeps its own newest token: asking to change
/// the address does not spend the pending verification of the current one, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Verify the account's own address.
    Verify,
    /// Move the account to the token's address.
    ChangeEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::ChangeEmail => "change",
        }
    }

    /// The stored form back; anything unknown is a verification.
    pub fn parse(s: &str) -> Purpose {
        match s {
            "change" => Purpose::ChangeEmail,
            _ => Purpose::Verify,
        }
    }
}

/// What [`super::VerifyStore::consume_verify_token`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumed {
    /// The token proved the account's address: it is verified now.
    Verified(UserId),
    /// The token proved a new address the account asked to move to: the account has it now,
    /// verified, and `old_email` is free.
    EmailChanged {
        user_id: UserId,
        old_email: String,
        new_email: String,
    },
    /// The token asks for an address another account registered meanwhile: nothing changed
    /// (and the token stays unusable while that account has it).
    EmailTaken,
    /// Unknown, spent, superseded or expired, or the account's address changed: nothing changed.
    Unusable,
}
