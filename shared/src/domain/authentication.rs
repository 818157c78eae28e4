//! How a session was authenticated: the methods used (`amr`, RFC 8176 names), the assurance
//! level they reach (`aal`) and when (`auth_time`).

/// One way a session's user proved who they are (RFC 8176 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuthMethod {
    /// A password.
    Pwd,
    /// A one-time code (TOTP).
    Otp,
    /// More than one factor.
    Mfa,
    /// A hardware-bound key (a passkey that cannot leave its device).
    Hwk,
    /// A software key (a synced passkey).
    Swk,
    /// Another provider vouched (a federated sign-in).
    Fed,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Pwd => "pwd",
            AuthMethod::Otp => "otp",
            AuthMethod::Mfa => "mfa",
            AuthMethod::Hwk => "hwk",
            AuthMethod::Swk => "swk",
            AuthMethod::Fed => "fed",
        }
    }

    const ALL: [AuthMethod; 6] = [Self::Pwd, Self::Otp, Self::Mfa, Self::Hwk, Self::Swk, Self::Fed];

    fn parse(s: &str) -> Option<AuthMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The authentication assurance level (NIST SP 800-63B) a session reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aal {
    Aal1,
    Aal2,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
        }
    }
}

/// How a session began: the methods used (in the order `amr` lists them) and when the session
/// last checked a password or code (`auth_time`, epoch seconds). A refresh keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    methods: Vec<AuthMethod>,
    pub auth_time: i64,
}

impl Authentication {
    fn of(methods: &[AuthMethod], at: i64) -> Authentication {
        Authentication {
            methods: methods.to_vec(),
            auth_time: at,
        }
    }

    /// A password alone.
    pub fn password(at: i64) -> Authentication {
        Authentication::of(&[AuthMethod::Pwd], at)
    }

    /// A password and a TOTP code.
    pub fn password_and_code(at: i64) -> Authentication {
        Authentication::of(&[AuthMethod::Pwd, AuthMethod::Otp, AuthMethod::Mfa], at)
    }

    /// A passkey with user verification: something held and something known or a biometric,
    /// two factors at once (`swk` for a synced, backup-eligible one, `hwk` otherwise).
    pub fn passkey(at: i64, synced: bool) -> Authentication {
        let key = if synced { AuthMethod::Swk } else { AuthMethod::Hwk };
        Authentication::of(&[key, AuthMethod::Mfa], at)
    }

    /// A password and a recovery code.
    pub fn password_and_recovery_code(at: i64) -> Authentication {
        Authentication::of(&[AuthMethod::Pwd, AuthMethod::Mfa], at)
    }

    /// Login's second step: its first (a password, or another provider: `federated`), then a
    /// TOTP code (`totp`) or a recovery code.
    pub fn second_step(federated: bool, totp: bool, at: i64) -> Authentication {
        let first = if federated {
            AuthMethod::Fed
        } else {
            AuthMethod::Pwd
        };
        if totp {
            Authentication::of(&[first, AuthMethod::Otp, AuthMethod::Mfa], at)
        } else {
            Authentication::of(&[first, AuthMethod::Mfa], at)
        }
    }

    /// A sign-in another provider vouched for.
    pub fn federated(at: i64) -> Authentication {
        Authentication::of(&[AuthMethod::Fed], at)
    }

    pub fn methods(&self) -> &[AuthMethod] {
        &self.methods
    }

    /// `aal2` once more than one factor was used.
    pub fn aal(&self) -> Aal {
        if self.methods.contains(&AuthMethod::Mfa) {
            Aal::Aal2
        } else {
            Aal::Aal1
        }
    }

    /// The stored form: the methods, space-separated (`"pwd otp mfa"`).
    pub fn methods_text(&self) -> String {
        self.methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Read back from [`Authentication::methods_text`]; a value no version wrote (or none, a
    /// session older than this field) is a password alone, the least assurance.
    pub fn from_stored(methods: Option<&str>, auth_time: i64) -> Authentication {
        let parsed: Option<Vec<AuthMethod>> =
            methods.and_then(|m| m.split(' ').map(AuthMethod::parse).collect::<Option<_>>());
        // (Splitting yields at least one word, so a parsed list is never empty.)
        match parsed {
            Some(methods) => Authentication { methods, auth_time },
            None => Authentication::password(auth_time),
        }
    }
}
