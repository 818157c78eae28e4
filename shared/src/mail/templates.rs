//! Every message authyy sends, from one layout: a greeting line, what happened, one action
//! link (as a button in HTML, as a bare line in text) and how long it works, and what to do if
//! it was not you, signed with the product's name. Notices (a password or an address changed)
//! have no link. The text and HTML parts say the same thing and carry the same link.

use std::time::Duration;

use super::Mail;

/// What a message says around its link.
struct Action<'a> {
    subject: String,
    /// What happened, first line of the body.
    intro: String,
    /// The link, if the message has one.
    link: Option<Link<'a>>,
    /// The "if this wasn't you" line.
    not_you: String,
}

struct Link<'a> {
    /// The button's label (HTML) and the line before the link (text).
    button: &'a str,
    href: &'a str,
    /// How long a one-time link works (none for a plain page).
    lifetime: Option<Duration>,
}

/// The verification message sent at signup (and on resend) for `link`.
pub fn verification_mail(product: &str, to: &str, link: &str, lifetime: Duration) -> Mail {
    render(
        product,
        to,
        Action {
            subject: format!("Confirm your email for {product}"),
            intro: format!("Welcome to {product}! Please confirm that {to} is your email address."),
            link: Some(Link {
                button: "Confirm your email",
                href: link,
                lifetime: Some(lifetime),
            }),
            not_you: format!(
                "If you did not sign up for {product}, ignore this message: without this link \
                 the address is not confirmed."
            ),
        },
    )
}

/// The password reset message for `link`.
pub fn reset_mail(product: &str, to: &str, link: &str, lifetime: Duration) -> Mail {
    render(
        product,
        to,
        Action {
            subject: format!("Reset your {product} password"),
            intro: format!("Someone asked to reset the password of the {product} account of {to}."),
            link: Some(Link {
                button: "Choose a new password",
                href: link,
                lifetime: Some(lifetime),
            }),
            not_you: "If it was not you, ignore this message: your password stays as it is.".into(),
        },
    )
}

/// The message sent to the new address of an email change, with the link that confirms it,
/// naming the account (`username`) that asked.
pub fn email_change_mail(product: &str, to: &str, username: &str, link: &str, lifetime: Duration) -> Mail {
    render(
        product,
        to,
        Action {
            subject: format!("Confirm your new email for {product}"),
            intro: format!(
                "The {product} account {username} asked to move to {to}. Confirm that this \
                 address is yours and the account is yours to make the change."
            ),
            link: Some(Link {
                button: "Confirm your new email",
                href: link,
                lifetime: Some(lifetime),
            }),
            not_you: "If it was not you, ignore this message: without this link nothing changes.".into(),
        },
    )
}

/// The notice sent to a registered address that another account (`username`) asked to move
/// to: nothing changes, and no link is minted.
pub fn address_taken_mail(product: &str, to: &str, username: &str) -> Mail {
    render(
        product,
        to,
        Action {
            subject: format!("Someone tried to move a {product} account to your email"),
            intro: format!(
                "The {product} account {username} asked to move to {to}, which already belongs \
                 to a {product} account. Nothing changed: an address belongs to one account."
            ),
            link: None,
            not_you: "You need not do anything. If you know the account, its owner may have \
                      mistyped their new address."
                .into(),
        },
    )
}

/// The notice sent to the old address once an email change is made.
pub fn email_changed_mail(product: &str, to: &str, new_email: &str) -> Mail {
    render(
        product,
        to,
        Action {
            subject: format!("Your {product} email was changed"),
            intro: format!(
                "The email address of your {product} account was changed from {to} to {new_email}. \
                 This address no longer signs in."
            ),
            link: None,
            not_you: format!(
                "If you did not make this change, contact {product} support at once: someone \
                 who knows your password may have taken over the account."
            ),
        },
    )
}

/// The notice sent when the password of the account of `to` is changed.
pub fn password_changed_mail(product: &str, to: &str) -> Mail {
    render(
        product,
        to,
        Action {
            subject: format!("Your {product} password was changed"),
            intro: format!(
                "The password of the {product} account of {to} was changed, and every other \
                 session of the account was signed out."
            ),
            link: None,
            not_you: "If you did not change it, reset your password at once with \"Forgot \
                      password\" on the sign-in page."
                .into(),
        },
    )
}

/// A notice that a second factor of the account of `to` was turned on or off, or that a
/// recovery code was used.
pub fn factor_notice_mail(product: &str, to: &str, notice: crate::queue::FactorNotice) -> Mail {
    use crate::queue::FactorNotice;
    let (subject, intro, not_you) = match notice {
        FactorNotice::TotpEnabled => (
            format!("Two-step sign-in was turned on for your {product} account"),
            format!(
                "An authenticator app was set up for the {product} account of {to}: signing in now \
                 asks for its code after the password, and every other session was signed out."
            ),
            "If you did not do this, reset your password at once with \"Forgot password\" on the \
             sign-in page, and ask support to remove the authenticator.",
        ),
        FactorNotice::TotpDisabled => (
            format!("Two-step sign-in was turned off for your {product} account"),
            format!(
                "The authenticator app of the {product} account of {to} was removed: signing in \
                 no longer asks for its codes."
            ),
            "If you did not do this, reset your password at once with \"Forgot password\" on the \
             sign-in page.",
        ),
        FactorNotice::RecoveryCodeUsed => (
            format!("A recovery code was used to sign in to your {product} account"),
            format!(
                "Someone signed in to the {product} account of {to} with the password and one of \
                 its recovery codes. That code no longer works."
            ),
            "If this was not you, reset your password at once with \"Forgot password\" on the \
             sign-in page, and make new recovery codes.",
        ),
        FactorNotice::PasskeyAdded => (
            format!("A passkey was added to your {product} account"),
            format!(
                "A passkey was registered for the {product} account of {to}: it signs in without \
                 the password, and signing in with the password now asks for a second factor."
            ),
            "If you did not do this, reset your password at once with \"Forgot password\" on the \
             sign-in page, and ask support to remove the passkey.",
        ),
        FactorNotice::PasskeyRemoved => (
            format!("A passkey was removed from your {product} account"),
            format!("A passkey of the {product} account of {to} was removed: it no longer signs in."),
            "If you did not do this, reset your password at once with \"Forgot password\" on the \
             sign-in page.",
        ),
    };
    render(
        product,
        to,
        Action {
            subject,
            intro,
            link: None,
            not_you: not_you.into(),
        },
    )
}

/// The notice of a sign-in from a device the account did not know: when, from what (a browser
/// and system named from a fixed list, never the client's own words) and where, with a link to
/// the page that lists the account's sessions, if the deployment has one.
pub fn new_sign_in_mail(
    product: &str,
    to: &str,
    when: &str,
    client: &str,
    ip: &str,
    sessions_url: Option<&str>,
) -> Mail {
    render(
        product,
        to,
        Action {
            subject: format!("New sign-in to your {product} account"),
            intro: format!(
                "The {product} account of {to} was signed in to from a new device at {when}: \
                 {client}, from the address {ip}."
            ),
            link: sessions_url.map(|href| Link {
                button: "See where you are signed in",
                href,
                lifetime: None,
            }),
            not_you: "If this was not you, reset your password at once with \"Forgot password\" on \
                      the sign-in page, and sign out the sessions you do not know."
                .into(),
        },
    )
}

/// The summary of the security notices that went over their caps in a window.
pub fn notice_summary_mail(product: &str, to: &str) -> Mail {
    render(
        product,
        to,
        Action {
            subject: format!("Several security changes to your {product} account"),
            intro: format!(
                "More security changes were made to the {product} account of {to} in the last \
                 few minutes than we send one mail each for: its password, its email address or \
                 its two-step sign-in changed, recovery codes were used, or it was signed in to from new \
                 devices. Look over the \
                 account's settings and where it is signed in."
            ),
            link: None,
            not_you: "If these were not you, reset your password at once with \"Forgot password\" \
                      on the sign-in page."
                .into(),
        },
    )
}

fn render(product: &str, to: &str, a: Action<'_>) -> Mail {
    let e = html_escape;
    let (text_link, html_link) = match &a.link {
        Some(link) => {
            let lifetime = link
                .lifetime
                .map(|l| format!("The link works once, for {}.", human_duration(l)))
                .unwrap_or_default();
            let text_lifetime = if lifetime.is_empty() {
                String::new()
            } else {
                format!("{lifetime}\n\n")
            };
            (
                format!("{}:\n\n{}\n\n{text_lifetime}", link.button, link.href),
                format!(
                    "<tr><td style=\"padding:16px 0\"><a href=\"{href}\" style=\"display:inline-block;background:#2563eb;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;font-weight:600\">{button}</a></td></tr>\n\
                     <tr><td style=\"font-size:13px;line-height:1.5;color:#57606a\"><p>{lifetime} If the button does not work, copy this address into your browser:<br>\
                     <a href=\"{href}\" style=\"color:#2563eb;word-break:break-all\">{href}</a></p></td></tr>\n",
                    href = e(link.href),
                    button = e(link.button),
                    lifetime = e(&lifetime),
                ),
            )
        }
        None => (String::new(), String::new()),
    };
    let text = format!(
        "Hello,\n\n{intro}\n\n{text_link}{not_you}\n\n-- \n{product}\n",
        intro = a.intro,
        not_you = a.not_you,
    );
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{subject}</title></head>\n\
         <body style=\"margin:0;padding:24px;background:#f4f5f7;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2328\">\n\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\"><tr><td align=\"center\">\n\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:520px;background:#ffffff;border-radius:8px;padding:32px\">\n\
         <tr><td style=\"font-size:20px;font-weight:600;padding-bottom:16px\">{product}</td></tr>\n\
         <tr><td style=\"font-size:15px;line-height:1.5\"><p>Hello,</p><p>{intro}</p></td></tr>\n\
         {html_link}\
         <tr><td style=\"font-size:13px;line-height:1.5;color:#57606a\"><p>{not_you}</p></td></tr>\n\
         </table>\n<p style=\"font-size:12px;color:#8c959f\">{product}</p>\n\
         </td></tr></table>\n</body></html>\n",
        subject = e(&a.subject),
        product = e(product),
        intro = e(&a.intro),
        not_you = e(&a.not_you),
    );
    Mail {
        to: to.to_string(),
        subject: a.subject,
        text,
        html,
    }
}

/// `30 minutes`, `1 hour`, `24 hours`, `2 days`: the largest whole unit.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        s if s >= 2 * 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://app.example.com/verify#token=abc&x=<1>";

    #[test]
    fn every_mail_names_the_product_the_link_its_lifetime_and_what_to_do_if_it_was_not_you() {
        for mail in [
            verification_mail("Acme", "ann@example.com", LINK, Duration::from_secs(86_400)),
            reset_mail("Acme", "ann@example.com", LINK, Duration::from_secs(1800)),
        ] {
            assert!(mail.subject.contains("Acme"), "{}", mail.subject);
            for part in [&mail.text, &mail.html] {
                assert!(part.contains("Acme"));
                assert!(part.contains("The link works once, for"));
                assert!(part.contains("If "));
            }
            assert!(mail.text.contains(LINK));
            assert!(mail.html.contains(&html_escape(LINK)));
            assert!(!mail.html.contains(LINK), "the link is escaped in HTML");
        }
    }

    #[test]
    fn a_notice_has_no_link_and_says_what_changed_and_what_to_do() {
        for mail in [
            password_changed_mail("Acme", "ann@example.com"),
            email_changed_mail("Acme", "ann@example.com", "ann@new.example"),
        ] {
            assert!(mail.subject.contains("Acme"), "{}", mail.subject);
            for part in [&mail.text, &mail.html] {
                assert!(part.contains("If you did not"), "{part}");
                assert!(!part.contains("The link works"), "{part}");
            }
            assert!(!mail.html.contains("<a href"));
        }
        let changed = email_changed_mail("Acme", "ann@example.com", "ann@new.example");
        assert!(changed.text.contains("to ann@new.example"));
    }

    #[test]
    fn the_email_change_mail_carries_its_confirmation_link() {
        let mail = email_change_mail(
            "Acme",
            "ann@new.example",
            "ann",
            LINK,
            Duration::from_secs(86_400),
        );
        assert!(mail.text.contains("account ann asked"), "{}", mail.text);
        assert!(mail.text.contains(LINK));
        assert!(mail.text.contains("for 24 hours"));
        assert_eq!(mail.to, "ann@new.example");
    }

    #[test]
    fn lifetimes_read_in_their_largest_whole_unit() {
        let h = |s| human_duration(Duration::from_secs(s));
        assert_eq!(h(1800), "30 minutes");
        assert_eq!(h(3600), "1 hour");
        assert_eq!(h(86_400), "24 hours");
        assert_eq!(h(2 * 86_400), "2 days");
        assert_eq!(h(90), "90 seconds");
        assert_eq!(h(60), "1 minute");
        assert_eq!(h(5400), "90 minutes");
        assert_eq!(h(3 * 86_400 + 3600), "73 hours");
        assert_eq!(h(3661), "3661 seconds");
    }

    #[test]
    fn the_product_name_is_escaped_in_html() {
        let mail = verification_mail("<b>Acme</b>", "ann@example.com", LINK, Duration::from_secs(60));
        assert!(!mail.html.contains("<b>Acme"));
        assert!(mail.html.contains("&lt;b&gt;Acme"));
    }
}
