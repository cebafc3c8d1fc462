//! TLS for the OTLP exporters: rustls with the ring provider (no OpenSSL,
//! no C build), the system's roots by default, and the spec's
//! `OTEL_EXPORTER_OTLP_[<SIGNAL>_]CERTIFICATE` (the trusted CA, replacing
//! the system roots) and `..._CLIENT_CERTIFICATE` / `..._CLIENT_KEY` (mTLS),
//! which opentelemetry-otlp 0.33 does not read itself.

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Installs ring as the process's rustls provider, unless one is installed
/// already (an embedder's choice wins). Idempotent and cheap.
///
/// The OTLP/HTTP client needs it (reqwest without a built-in provider), and
/// so does anything that builds a rustls config with
/// `rustls::ClientConfig::builder()`; [`crate::telemetry::TelemetryBuilder::build`]
/// calls it.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A PEM file named by a variable, read and checked.
#[derive(Clone, PartialEq, Eq)]
pub struct PemFile {
    /// The variable that named it, for messages.
    pub var: String,
    /// The file's path.
    pub path: String,
    /// Its content.
    pub pem: Vec<u8>,
}

impl std::fmt::Debug for PemFile {
    // A private key never goes into a message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={:?}", self.var, self.path)
    }
}

/// The trusted CA and the client identity of one signal's exporter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `..._CERTIFICATE`: the CA bundle that replaces the system roots.
    pub ca: Option<PemFile>,
    /// `..._CLIENT_CERTIFICATE` and `..._CLIENT_KEY`, for mTLS.
    pub client: Option<(PemFile, PemFile)>,
}

impl TlsFiles {
    /// Reads the files the variables name (`get` returns the winning
    /// variable and its value for a suffix such as `CERTIFICATE`). A file
    /// that cannot be read or holds no PEM certificate (or key), or a client
    /// certificate without its key (or the reverse), is an error naming the
    /// variable.
    pub(crate) fn resolve(get: &dyn Fn(&str) -> Option<(String, String)>) -> anyhow::Result<Self> {
        let read = |suffix: &str| -> anyhow::Result<Option<PemFile>> {
            let Some((var, path)) = get(suffix) else {
                return Ok(None);
            };
            let pem = std::fs::read(&path)
                .map_err(|e| anyhow!("{var}={path:?}: cannot read the file: {e}"))?;
            Ok(Some(PemFile { var, path, pem }))
        };
        let certificates = |file: &PemFile| -> anyhow::Result<()> {
            let certs = CertificateDer::pem_slice_iter(&file.pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow!("{file:?}: not a PEM certificate file: {e}"))?;
            if certs.is_empty() {
                bail!("{file:?}: the file holds no PEM certificate");
            }
            Ok(())
        };
        let ca = read("CERTIFICATE")?;
        if let Some(ca) = &ca {
            certificates(ca)?;
        }
        let client = match (read("CLIENT_CERTIFICATE")?, read("CLIENT_KEY")?) {
            (Some(cert), Some(key)) => {
                certificates(&cert)?;
                PrivateKeyDer::from_pem_slice(&key.pem)
                    .map_err(|e| anyhow!("{key:?}: not a PEM private key: {e}"))?;
                Some((cert, key))
            }
            (Some(cert), None) => bail!(
                "{} is set but no client key is (set {} too)",
                cert.var,
                cert.var.replace("CLIENT_CERTIFICATE", "CLIENT_KEY")
            ),
            (None, Some(key)) => bail!(
                "{} is set but no client certificate is (set {} too)",
                key.var,
                key.var.replace("CLIENT_KEY", "CLIENT_CERTIFICATE")
            ),
            (None, None) => None,
        };
        Ok(Self { ca, client })
    }

    /// The client certificate followed by its key, as reqwest takes them.
    fn identity_pem(&self) -> Option<Vec<u8>> {
        let (cert, key) = self.client.as_ref()?;
        let mut pem = cert.pem.clone();
        pem.push(b'\n');
        pem.extend_from_slice(&key.pem);
        Some(pem)
    }
}

/// TLS for the gRPC exporter of an `https` endpoint: the CA if one is
/// given, else the system roots; the client identity for mTLS.
///
/// Always passed explicitly: without it opentelemetry-otlp uses a
/// `ClientTlsConfig` with no roots at all, which trusts no server.
pub(crate) fn tonic_tls(files: &TlsFiles) -> ClientTlsConfig {
    let tls = ClientTlsConfig::new();
    let tls = match &files.ca {
        Some(ca) => tls.ca_certificate(Certificate::from_pem(&ca.pem)),
        None => tls.with_native_roots(),
    };
    match &files.client {
        Some((cert, key)) => tls.identity(Identity::from_pem(&cert.pem, &key.pem)),
        None => tls,
    }
}

/// The blocking OTLP/HTTP client, on rustls: only the CA's roots when one
/// is given, else the system's (through rustls-platform-verifier, which
/// honours `SSL_CERT_FILE` and `SSL_CERT_DIR`); the client identity for
/// mTLS; `timeout` per request.
///
/// Built on a thread of its own: reqwest's blocking client must not be
/// built inside a Tokio runtime (opentelemetry-otlp does the same).
pub(crate) fn http_client(
    files: &TlsFiles,
    timeout: Duration,
    https: bool,
) -> anyhow::Result<reqwest::blocking::Client> {
    install_crypto_provider();
    let ca = files.ca.clone();
    let identity = files.identity_pem();
    let identity_vars = files
        .client
        .as_ref()
        .map(|(c, k)| format!("{} / {}", c.var, k.var));
    std::thread::Builder::new()
        .name("wasmtrace-otlp-http".into())
        .spawn(move || -> anyhow::Result<reqwest::blocking::Client> {
            let mut b = reqwest::blocking::Client::builder().timeout(timeout);
            if let Some(ca) = &ca {
                let certs = reqwest::Certificate::from_pem_bundle(&ca.pem)
                    .map_err(|e| anyhow!("{ca:?}: {e}"))?;
                b = b.tls_certs_only(certs);
            } else if !https {
                // Plain http needs no roots: loading the system's would fail
                // on a machine without any.
                b = b.tls_certs_only(std::iter::empty::<reqwest::Certificate>());
            }
            if let Some(pem) = identity {
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| anyhow!("{}: {e}", identity_vars.unwrap_or_default()))?;
                b = b.identity(identity);
            }
            b.build().context("building the OTLP/HTTP client")
        })
        .context("spawning the OTLP/HTTP client thread")?
        .join()
        .map_err(|_| anyhow!("building the OTLP/HTTP client panicked"))?
}
