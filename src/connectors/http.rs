//! HTTP plumbing shared by the health probes and the Prometheus connector: one TLS crypto
//! provider for the whole process, client construction, and certificate expiry.
//!
//! reqwest is built with `rustls-no-provider` and rustls with only `ring`, so the build holds a
//! single provider. [`install_crypto_provider`] makes it the process default; it runs in `main`
//! and again before any client is built (tests, the CLI), so no code path can meet rustls'
//! "could not determine the process-level CryptoProvider" panic.

use crate::model::snapshot::TimeMs;
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

/// Installs ring as the process-level rustls provider. Idempotent; cheap after the first call.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only means another provider was installed first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// How a client checks the server's certificate.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions<'a> {
    /// false: accept any certificate (expiry is still read).
    pub skip_verify: bool,
    /// Extra trusted CA certificates (PEM), added to the platform's roots.
    pub ca_file: Option<&'a Path>,
}

/// A client with a per-request time limit that records the peer certificate of HTTPS answers.
pub fn client(timeout: Duration, tls: &TlsOptions<'_>) -> Result<reqwest::Client, String> {
    client_with_connect(timeout, timeout, tls)
}

/// [`client`] with its own limit for the TCP (and TLS) connect: a caller that tries the next
/// server when one cannot be reached wants to know that sooner than the answer's limit.
pub fn client_with_connect(
    timeout: Duration,
    connect_timeout: Duration,
    tls: &TlsOptions<'_>,
) -> Result<reqwest::Client, String> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .tls_info(true)
        .user_agent(concat!("scaleboard/", env!("CARGO_PKG_VERSION")))
        .tls_danger_accept_invalid_certs(tls.skip_verify);
    if let Some(path) = tls.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            format!(
                "the CA file {} holds no usable PEM certificate: {e}",
                path.display()
            )
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", plain_error(&e)))
}

/// Days from `now` until the notAfter of a DER certificate (negative once it has expired).
pub fn cert_expiry_days(der: &[u8], now: TimeMs) -> Option<f64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after_s = cert.validity().not_after.timestamp();
    Some((not_after_s as f64 * 1000.0 - now as f64) / 86_400_000.0)
}

/// The peer certificate's expiry, if the response came over TLS.
pub fn response_cert_expiry_days(response: &reqwest::Response, now: TimeMs) -> Option<f64> {
    let info = response.extensions().get::<reqwest::tls::TlsInfo>()?;
    cert_expiry_days(info.peer_certificate()?, now)
}

/// A reqwest error in plain words: the innermost causes, without the URL repeated in each.
pub fn plain_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".to_owned();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "bad response body"
    } else if e.is_request() {
        "request failed"
    } else {
        "HTTP error"
    };
    match parts.last() {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_client_can_be_built_with_the_one_provider() {
        let c = client(Duration::from_secs(1), &TlsOptions::default());
        assert!(c.is_ok(), "{c:?}");
        let c = client(
            Duration::from_secs(1),
            &TlsOptions {
                skip_verify: true,
                ca_file: None,
            },
        );
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn a_missing_ca_file_is_reported_in_words() {
        let err = client(
            Duration::from_secs(1),
            &TlsOptions {
                skip_verify: false,
                ca_file: Some(Path::new("/nonexistent/ca.pem")),
            },
        )
        .unwrap_err();
        assert!(err.contains("cannot read the CA file"), "{err}");
    }
}
