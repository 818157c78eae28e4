//! The certificate authorities TLS out of the service trusts (the AWS SDK's calls, and the
//! outbound client's calls to providers and hooks): the system's trust store, read from its
//! one bundle file. Reading the store the generic way scans a certificate directory (hundreds
//! of files on Debian) on top of the bundle, which cost about 3 ms of every cold start; the
//! bundle holds the same authorities, generated from the same store by the system's tools
//! (`update-ca-trust` on Amazon Linux, `update-ca-certificates` on Debian). Verification is
//! the same rustls verifier either way.
//!
//! `SSL_CERT_FILE` names another bundle (and is then the only place read, even beside
//! `SSL_CERT_DIR`); with only `SSL_CERT_DIR` set, or no bundle found, or a bundle holding
//! anything that is not a certificate, the store is read the generic way.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustls::pki_types::CertificateDer;

/// Where systems keep their bundle, in the order looked for.
pub const BUNDLES: [&str; 3] = [
    // Amazon Linux 2023 (Lambda's `provided.al2023` runtime), Fedora, RHEL.
    "/etc/pki/tls/certs/ca-bundle.crt",
    // Debian, Ubuntu, Alpine.
    "/etc/ssl/certs/ca-certificates.crt",
    // macOS, the BSDs.
    "/etc/ssl/cert.pem",
];

/// The certificates of a PEM bundle: every section a `CERTIFICATE` of valid base64 (text between
/// sections, as comments, is skipped), or `None`. Decoded with the base64 crate: the SDK's own
/// decoder of the same text (constant-time, for private keys) takes about a millisecond for a
/// system bundle, which this check at cold start should not double.
fn certificates_in(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    use base64::Engine as _;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut rest = std::str::from_utf8(pem).ok()?;
    let mut certificates = vec![];
    while let Some(start) = rest.find("-----BEGIN ") {
        // A section of another kind (a key, a trusted certificate): not a bundle of roots.
        let body = rest.get(start..)?.strip_prefix(BEGIN)?;
        let end = body.find(END)?;
        let section = body.get(..end)?;
        let mut text = Vec::with_capacity(section.len());
        for line in section.split('\n') {
            text.extend_from_slice(line.trim_ascii().as_bytes());
        }
        let der = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
        certificates.push(CertificateDer::from(der));
        rest = body.get(end + END.len()..)?;
    }
    Some(certificates)
}

/// A bundle of trusted roots, as read.
#[derive(Debug)]
pub struct Bundle {
    pub path: PathBuf,
    /// The file's text (PEM), as the AWS SDK's TLS settings take it.
    pub pem: Vec<u8>,
    /// The same certificates, decoded.
    pub certificates: Vec<CertificateDer<'static>>,
}

impl Bundle {
    /// The roots as rustls takes them.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(self.certificates.iter().cloned());
        roots
    }
}

/// This process's bundle (read once), or `None`: read the store the generic way.
pub fn bundle() -> Option<&'static Bundle> {
    static BUNDLE: OnceLock<Option<Bundle>> = OnceLock::new();
    BUNDLE
        .get_or_init(|| {
            let env = crate::config::Env::from_process();
            let found = find(env.get("SSL_CERT_FILE"), env.get("SSL_CERT_DIR"), &BUNDLES);
            if found.is_none() {
                tracing::info!("no certificate bundle file: the trust store is read the generic way");
            }
            found
        })
        .as_ref()
}

/// The bundle to read given `SSL_CERT_FILE` and `SSL_CERT_DIR`, looking through `candidates`.
/// (An empty variable is no variable: [`crate::config::Env::get`].)
fn find(file: Option<&str>, dir: Option<&str>, candidates: &[&str]) -> Option<Bundle> {
    match (file, dir) {
        (Some(file), _) => read(Path::new(file)),
        (None, Some(_)) => None,
        (None, None) => candidates.iter().find_map(|path| read(Path::new(path))),
    }
}

/// The bundle at `path`: at least one certificate, and nothing in it that rustls would not
/// take as a trusted root (the SDK's TLS settings take the text as it is, and refuse at
/// connection time what they cannot use).
pub fn read(path: &Path) -> Option<Bundle> {
    let pem = std::fs::read(path).ok()?;
    let certificates = certificates_in(&pem)?;
    let mut roots = rustls::RootCertStore::empty();
    let (taken, refused) = roots.add_parsable_certificates(certificates.iter().cloned());
    (taken > 0 && refused == 0).then(|| Bundle {
        path: path.to_path_buf(),
        pem,
        certificates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real root (ISRG Root X2), as bundles hold them.
    const ROOT: &str = "-----BEGIN CERTIFICATE-----
MIICGzCCAaGgAwIBAgIQQdKd0XLq7qeAwSxs6S+HUjAKBggqhkjOPQQDAzBPMQsw
CQYDVQQGEwJVUzEpMCcGA1UEChMgSW50ZXJuZXQgU2VjdXJpdHkgUmVzZWFyY2gg
R3JvdXAxFTATBgNVBAMTDElTUkcgUm9vdCBYMjAeFw0yMDA5MDQwMDAwMDBaFw00
MDA5MTcxNjAwMDBaME8xCzAJBgNVBAYTAlVTMSkwJwYDVQQKEyBJbnRlcm5ldCBT
ZWN1cml0eSBSZXNlYXJjaCBHcm91cDEVMBMGA1UEAxMMSVNSRyBSb290IFgyMHYw
EAYHKoZIzj0CAQYFK4EEACIDYgAEzZvVn4CDCuwJSvMWSj5cz3es3mcFDR0HttwW
+1qLFNvicWDEukWVEYmO6gbf9yoWHKS5xcUy4APgHoIYOIvXRdgKam7mAHf7AlF9
ItgKbppbd9/w+kHsOdx1ymgHDB/qo0IwQDAOBgNVHQ8BAf8EBAMCAQYwDwYDVR0T
AQH/BAUwAwEB/zAdBgNVHQ4EFgQUfEKWrt5LSDv6kviejM9ti6lyN5UwCgYIKoZI
zj0EAwMDaAAwZQIwe3lORlCEwkSHRhtFcP9Ymd70/aTSVaYgLXTWNLxBo1BfASdW
tL4ndQavEi51mI38AjEAi/V3bNTIZargCyzuFJ0nN6T5U6VR5CmD1/iQMVtCnwr1
/q4AaOeMSQ+2b1tbFfLn
-----END CERTIFICATE-----
";

    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn a_bundle_of_roots_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "bundle.crt", &format!("{ROOT}{ROOT}"));
        let bundle = read(Path::new(&path)).unwrap();
        assert_eq!(bundle.certificates.len(), 2);
        assert_eq!(bundle.pem, format!("{ROOT}{ROOT}").as_bytes());
        assert_eq!(bundle.root_store().len(), 2);
    }

    /// What the SDK's own parser makes of `pem` (the text it is handed).
    fn as_the_sdk_reads(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .ok()
    }

    #[test]
    fn a_bundle_is_read_as_the_sdk_reads_it() {
        let commented = format!(
            "# ISRG Root X2\n{ROOT}\n# again\r\n{}",
            ROOT.replace('\n', "\r\n")
        );
        for text in [ROOT.to_string(), format!("{ROOT}{ROOT}"), commented] {
            let ours = certificates_in(text.as_bytes()).unwrap();
            assert_eq!(Some(ours), as_the_sdk_reads(text.as_bytes()), "{text:?}");
        }
        // The machine's own bundles, where it has them.
        for path in BUNDLES {
            if let Ok(pem) = std::fs::read(path) {
                let ours = certificates_in(&pem).unwrap();
                assert!(!ours.is_empty(), "{path}");
                assert_eq!(Some(ours), as_the_sdk_reads(&pem), "{path}");
            }
        }
    }

    #[test]
    fn a_section_that_is_not_a_certificate_or_not_base64_refuses_the_bundle() {
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(certificates_in(format!("{ROOT}{key}").as_bytes()).is_none());
        let unended = ROOT.replace("-----END CERTIFICATE-----", "");
        assert!(certificates_in(unended.as_bytes()).is_none());
        let bad = ROOT.replace("MIICGzCC", "MIIC*zCC");
        assert!(certificates_in(bad.as_bytes()).is_none());
        assert!(certificates_in(&[0xff, 0xfe]).is_none());
        assert_eq!(certificates_in(b"no sections at all"), Some(vec![]));
    }

    #[test]
    fn a_file_that_is_not_a_bundle_of_roots_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let bad_der = ROOT.replace("MIICGzCC", "AAAAAAAA");
        for text in [
            "",
            "not a certificate\n",
            bad_der.as_str(),
            "-----BEGIN CERTIFICATE-----\n@@@\n",
        ] {
            let path = file(&dir, "bad.crt", text);
            assert!(read(Path::new(&path)).is_none(), "{text:?}");
        }
        assert!(read(Path::new("/nonexistent/bundle.crt")).is_none());
    }

    #[test]
    fn the_first_bundle_found_is_used_unless_the_environment_names_one() {
        let dir = tempfile::tempdir().unwrap();
        let first = file(&dir, "first.crt", ROOT);
        let second = file(&dir, "second.crt", &format!("{ROOT}{ROOT}"));
        let missing = dir.path().join("missing.crt").to_string_lossy().into_owned();
        let found = find(None, None, &[&missing, &first, &second]).unwrap();
        assert_eq!(found.path, Path::new(&first));
        let named = find(Some(&second), None, &[&first]).unwrap();
        assert_eq!(named.path, Path::new(&second));
    }

    #[test]
    fn a_certificate_directory_alone_in_the_environment_is_read_the_generic_way() {
        let dir = tempfile::tempdir().unwrap();
        let first = file(&dir, "first.crt", ROOT);
        assert!(find(None, Some("/etc/ssl/certs"), &[&first]).is_none());
        // Beside a named bundle, the bundle is what is read.
        let named = find(Some(&first), Some("/etc/ssl/certs"), &[]).unwrap();
        assert_eq!(named.path, Path::new(&first));
    }

    #[test]
    fn a_named_bundle_that_cannot_be_read_is_not_replaced_by_another() {
        let dir = tempfile::tempdir().unwrap();
        let first = file(&dir, "first.crt", ROOT);
        assert!(find(Some("/nonexistent/bundle.crt"), None, &[&first]).is_none());
    }
}
