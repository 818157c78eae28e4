//! Every message authyy sends, rendered as text and HTML from one place.

use super::Mail;

/// The password reset message for `link`, valid for `minutes`.
pub fn reset_mail(to: &str, link: &str, minutes: u64) -> Mail {
    let text = format!(
        "Someone asked to reset the password of your account.\n\n\
         To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n\
         If it was not you, ignore this message: your password stays as it is.\n"
    );
    let html = format!(
        "<p>Someone asked to reset the password of your account.</p>\
         <p>To choose a new password, open this link within {minutes} minutes:</p>\
         <p><a href=\"{href}\">Reset your password</a></p>\
         <p>If it was not you, ignore this message: your password stays as it is.</p>",
        href = html_escape(link)
    );
    Mail {
        to: to.to_string(),
        subject: "Reset your password".into(),
        text,
        html,
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
