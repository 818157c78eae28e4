//! AUTH_CORS_ORIGINS: the browser origins allowed to call the API, each exactly as a browser
//! sends it in `Origin` (`scheme://host[:port]`), compared as text. Anything else is refused at
//! startup: `*` (it would let every site's scripts call the API with a user's tokens), a
//! wildcard host, a path, a query, credentials, a scheme other than http(s). The template passes
//! its `AllowedOrigins` parameter here, so a stack deployed with `*` fails to start rather than
//! serve every origin.

/// The origins of a comma-separated list: lowercased, without a default port or a final `/`
/// (which a browser's `Origin` never has). Empty entries are skipped.
pub fn parse(list: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            origin(entry).map_err(|why| match entry {
                "*" => format!(
                    "\"*\" (any origin) is refused: it would let any website call the API with its \
                     visitors' tokens; {FORM}"
                ),
                _ => format!("{entry:?} is not an origin ({why}); {FORM}"),
            })
        })
        .collect()
}

const FORM: &str = "list each browser origin as scheme://host[:port], like https://app.example.com";

fn origin(entry: &str) -> Result<String, String> {
    if entry == "*" {
        return Err("any origin".into());
    }
    let lower = entry.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").ok_or("no scheme")?;
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return Err("the scheme must be http or https".into()),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if let Some(c) = authority.chars().find(|c| matches!(c, '/' | '?' | '#')) {
        return Err(match c {
            '/' => "it has a path",
            '?' => "it has a query",
            _ => "it has a fragment",
        }
        .into());
    }
    if authority.contains('*') {
        return Err("wildcards are not supported".into());
    }
    if authority.contains('@') {
        return Err("it has credentials (user@)".into());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !authority.ends_with(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let valid_host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => {
            !ipv6.is_empty()
                && ipv6
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        }
        None => is_host_name(host),
    };
    if !valid_host {
        return Err(format!("{host:?} is not a host name or address"));
    }
    match port {
        None => Ok(format!("{scheme}://{host}")),
        Some(p) if p == default_port => Ok(format!("{scheme}://{host}")),
        Some(p) if p.parse::<u16>().is_ok_and(|n| n > 0) && !p.starts_with('0') => {
            Ok(format!("{scheme}://{host}:{p}"))
        }
        Some(p) => Err(format!("{p:?} is not a port")),
    }
}

/// Whether `host` is a DNS name: dot-separated, non-empty labels of letters, digits and `-`.
pub(super) fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_kept_as_a_browser_sends_them() {
        assert_eq!(
            parse("https://App.Example.com/, http://localhost:5173,,http://127.0.0.1:3000,https://x.example:443,http://[::1]:8080").unwrap(),
            vec![
                "https://app.example.com",
                "http://localhost:5173",
                "http://127.0.0.1:3000",
                "https://x.example",
                "http://[::1]:8080",
            ]
        );
    }

    #[test]
    fn anything_but_an_origin_is_refused_with_the_reason() {
        for (entry, why) in [
            ("*", "any origin"),
            ("https://*.example.com", "wildcard"),
            ("https://app.example.com/login", "a path"),
            ("https://app.example.com//", "a path"),
            ("https://app.example.com?x=1", "a query"),
            ("https://app.example.com#top", "a fragment"),
            ("https://user@app.example.com", "credentials"),
            ("app.example.com", "no scheme"),
            ("null", "no scheme"),
            ("ftp://app.example.com", "http or https"),
            ("https://", "not a host"),
            ("https://app..example.com", "not a host"),
            ("https://app example.com", "not a host"),
            ("https://app.example.com:", "not a port"),
            ("https://app.example.com:70000", "not a port"),
            ("https://app.example.com:0", "not a port"),
            ("https://app.example.com:08080", "not a port"),
        ] {
            let err = parse(&format!("https://ok.example.com,{entry}")).unwrap_err();
            assert!(err.contains(why) && err.contains(entry), "{entry}: {err}");
        }
    }

    #[test]
    fn cors_origins_refuse_a_wildcard_or_anything_but_an_origin_at_startup() {
        use crate::config::{Config, Env};
        for value in [
            "*",
            "https://app.example.com,*",
            "https://*.example.com",
            "https://app.example.com/app",
            "app.example.com",
        ] {
            let err = Config::from_env(&Env::from_pairs([("AUTH_CORS_ORIGINS", value)]))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("environment variable AUTH_CORS_ORIGINS is invalid: "),
                "{value}: {err}"
            );
            assert!(err.contains("scheme://host[:port]"), "{value}: {err}");
        }
    }
}
