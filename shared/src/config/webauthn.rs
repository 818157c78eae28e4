//! The passkey relying party: AUTH_WEBAUTHN_RP_ID (a domain the credentials are bound to) and
//! AUTH_WEBAUTHN_ORIGINS (the web origins allowed to run the ceremonies), each origin's host the
//! rp id or a subdomain of it: what a browser itself enforces, refused at startup rather than
//! found out as every sign-in failing.

use super::origins;

/// The rp id: a lowercase host name (no scheme, port or path).
pub fn rp_id(value: &str) -> Result<String, String> {
    let id = value.trim().to_ascii_lowercase();
    if origins::is_host_name(&id) {
        Ok(id)
    } else {
        Err(format!(
            "{value:?} is not a domain: give the site's host name, like example.com (no scheme or port)"
        ))
    }
}

/// The origins of a comma-separated list, each on `rp_id` or a subdomain of it.
pub fn origins_for(list: &str, rp_id: &str) -> Result<Vec<String>, String> {
    let parsed = origins::parse(list)?;
    if parsed.is_empty() {
        return Err("list at least one origin, like https://app.example.com".into());
    }
    for origin in &parsed {
        let host = origin
            .split_once("://")
            .map(|(_, rest)| rest.rsplit_once(':').map_or(rest, |(host, _)| host))
            .unwrap_or_default();
        if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
            return Err(format!(
                "{origin} is not on {rp_id} or a subdomain of it (AUTH_WEBAUTHN_RP_ID): a browser \
                 refuses passkeys there"
            ));
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rp_id_is_a_bare_lowercase_domain() {
        assert_eq!(rp_id("Example.COM").unwrap(), "example.com");
        for bad in [
            "",
            "https://example.com",
            "example.com:443",
            "example..com",
            "exa mple.com",
        ] {
            assert!(rp_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_must_be_on_the_rp_id_or_a_subdomain() {
        let ok = origins_for("https://example.com, https://app.example.com:8443", "example.com").unwrap();
        assert_eq!(ok, ["https://example.com", "https://app.example.com:8443"]);
        for bad in [
            "https://evil.com",
            "https://notexample.com",
            "https://example.com.evil.com",
        ] {
            let err = origins_for(bad, "example.com").unwrap_err();
            assert!(err.contains("not on example.com"), "{err}");
        }
        assert!(origins_for("", "example.com").is_err());
        assert!(origins_for("*", "example.com").is_err());
    }
}
