//! The links mail carries (reset, verification), built from configuration only, never from
//! request headers.

/// `url` with `token` in it: `{token}` in `url` is replaced; otherwise the token goes in the
/// fragment, which browsers send neither to the frontend's server (its access logs) nor in
/// `Referer` headers to the third parties the page loads.
pub fn action_link(url: &str, token: &str) -> String {
    if url.contains("{token}") {
        url.replace("{token}", token)
    } else if let Some((_, fragment)) = url.split_once('#') {
        // A hash router's route (`#/reset`) reads its own query string.
        let sep = if fragment.contains('?') { '&' } else { '?' };
        format!("{url}{sep}token={token}")
    } else {
        format!("{url}#token={token}")
    }
}

/// [`action_link`] with what the page shows before anything is posted (the address a
/// verification confirms, the account that asked), `&name=value` after the token, URL-encoded.
/// They are for display only: the token alone decides what happens. With a `{token}`
/// placeholder the deployment chose the link's shape, and nothing is added.
pub fn action_link_showing(url: &str, token: &str, shown: &[(&str, &str)]) -> String {
    let mut link = action_link(url, token);
    if !url.contains("{token}") {
        for (name, value) in shown {
            link.push('&');
            link.push_str(name);
            link.push('=');
            link.extend(form_urlencoded::byte_serialize(value.as_bytes()));
        }
    }
    link
}

/// Whether `url` can be a frontend page a link points at.
pub fn is_absolute_http(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_in_the_fragment_by_default() {
        assert_eq!(
            action_link("https://app.example.com/reset", "abc"),
            "https://app.example.com/reset#token=abc"
        );
        assert_eq!(
            action_link("https://app.example.com/reset?lang=en", "abc"),
            "https://app.example.com/reset?lang=en#token=abc"
        );
    }

    #[test]
    fn what_the_page_shows_follows_the_token_encoded_unless_the_link_has_a_placeholder() {
        let shown = [("email", "j+1@example.com"), ("account", "john doe&co")];
        assert_eq!(
            action_link_showing("https://app.example.com/verify", "abc", &shown),
            "https://app.example.com/verify#token=abc&email=j%2B1%40example.com&account=john+doe%26co"
        );
        assert_eq!(
            action_link_showing("https://app.example.com/#/verify", "abc", &shown),
            "https://app.example.com/#/verify?token=abc&email=j%2B1%40example.com&account=john+doe%26co"
        );
        assert_eq!(
            action_link_showing("https://app.example.com/v?t={token}", "abc", &shown),
            "https://app.example.com/v?t=abc"
        );
    }

    #[test]
    fn a_hash_route_gets_the_token_in_its_own_query() {
        assert_eq!(
            action_link("https://app.example.com/#/reset", "abc"),
            "https://app.example.com/#/reset?token=abc"
        );
        assert_eq!(
            action_link("https://app.example.com/#/reset?lang=en", "abc"),
            "https://app.example.com/#/reset?lang=en&token=abc"
        );
    }

    #[test]
    fn a_token_placeholder_puts_the_token_where_it_stands() {
        assert_eq!(
            action_link("https://app.example.com/reset?token={token}", "abc"),
            "https://app.example.com/reset?token=abc"
        );
        assert_eq!(
            action_link("https://app.example.com/reset#t={token}", "abc"),
            "https://app.example.com/reset#t=abc"
        );
    }
}
