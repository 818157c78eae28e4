//! The application state: everything an endpoint works with, built once per execution
//! environment (see [`crate::runtime`] for how) and shared by every request.
//!
//! The store is held once per capability, so a call site names what it uses
//! (`state.sessions.rotate_refresh(..)`) and a test can replace one capability alone.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::federation::Federation;
use crate::hashing::Hasher;
use crate::hooks::Hooks;
use crate::mail::MailTransport;
use crate::queue::MailQueue;
use crate::store::audit::AuditStore;
use crate::store::devices::DeviceStore;
use crate::store::{
    AccountStore, FederationStore, MailRequestStore, MfaStore, PasskeyStore, ResetStore, SessionStore, Store,
    ThrottleStore, UserStore, VerifyStore,
};
use crate::tokens::TokenIssuer;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub accounts: Arc<dyn AccountStore>,
    /// Second factors (TOTP, recovery codes) and login's code step.
    pub mfa: Arc<dyn MfaStore>,
    /// Passkeys and their ceremonies' challenges.
    pub passkeys: Arc<dyn PasskeyStore>,
    /// Provider identities and the one-time records of a provider sign-in.
    pub identities: Arc<dyn FederationStore>,
    /// The providers users sign in with, and the client that reaches them.
    pub federation: Arc<Federation>,
    /// The team's hooks (before signup, at token issuance) and what calls them.
    pub hooks: Arc<Hooks>,
    pub resets: Arc<dyn ResetStore>,
    pub verifications: Arc<dyn VerifyStore>,
    /// The requests behind queued mail jobs that mint a link.
    pub mail_requests: Arc<dyn MailRequestStore>,
    pub throttle: Arc<dyn ThrottleStore>,
    /// Whether a device token is one an account knows.
    pub devices: Arc<dyn DeviceStore>,
    /// Each account's security log.
    pub audit: Arc<dyn AuditStore>,
    /// Sends rendered mail (used by the mailer, which delivers queued jobs).
    pub mail_transport: Arc<dyn MailTransport>,
    /// Where endpoints leave the mail they owe (forgot-password), for the mailer to deliver.
    pub queue: Arc<dyn MailQueue>,
    pub tokens: Arc<TokenIssuer>,
    pub hasher: Hasher,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    /// Uses `store` for every capability.
    pub fn set_store<S: Store + 'static>(&mut self, store: Arc<S>) {
        self.users = store.clone();
        self.sessions = store.clone();
        self.accounts = store.clone();
        self.mfa = store.clone();
        self.passkeys = store.clone();
        self.identities = store.clone();
        self.resets = store.clone();
        self.verifications = store.clone();
        self.mail_requests = store.clone();
        self.audit = store.clone();
        self.devices = store.clone();
        self.throttle = store;
    }
}
