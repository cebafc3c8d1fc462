//! Certificates made in the test with rcgen: a throwaway CA, a server
//! certificate for `127.0.0.1` and `localhost`, and a client certificate,
//! both signed by the CA; written as PEM files for the `OTEL_EXPORTER_OTLP_*`
//! variables of a child process.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA and the server and client certificates it signed.
pub struct TestPki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    ca_der: CertificateDer<'static>,
    /// The server certificate (`127.0.0.1`, `localhost`), PEM.
    pub server_cert_pem: String,
    server_cert_der: CertificateDer<'static>,
    /// The server's private key, PEM (PKCS#8).
    pub server_key_pem: String,
    server_key_der: Vec<u8>,
    /// The client certificate, PEM.
    pub client_cert_pem: String,
    /// The client's private key, PEM (PKCS#8).
    pub client_key_pem: String,
    dir: PathBuf,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").field("dir", &self.dir).finish()
    }
}

impl TestPki {
    /// A fresh CA and certificates; `name` names the directory their PEM
    /// files are written to (under the system's temporary directory).
    pub fn generate(name: &str) -> anyhow::Result<Arc<Self>> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.distinguished_name
            .push(DnType::CommonName, format!("wasmtrace test CA {name}"));
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |names: Vec<String>, cn: &str, eku: ExtendedKeyUsagePurpose| {
            let mut p = CertificateParams::new(names)?;
            p.distinguished_name.push(DnType::CommonName, cn);
            p.use_authority_key_identifier_extension = true;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![eku];
            let key = KeyPair::generate()?;
            let cert = p.signed_by(&key, &issuer)?;
            Ok::<_, rcgen::Error>((cert, key))
        };
        let (server_cert, server_key) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client_cert, client_key) = leaf(
            vec!["client.test".into()],
            "wasmtrace test client",
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        let dir = std::env::temp_dir().join(format!("wasmtrace-pki-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let pki = TestPki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            server_cert_pem: server_cert.pem(),
            server_cert_der: server_cert.der().clone(),
            server_key_pem: server_key.serialize_pem(),
            server_key_der: server_key.serialize_der(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            dir,
        };
        std::fs::write(pki.ca_path(), &pki.ca_pem)?;
        std::fs::write(pki.client_cert_path(), &pki.client_cert_pem)?;
        std::fs::write(pki.client_key_path(), &pki.client_key_pem)?;
        Ok(Arc::new(pki))
    }

    /// The CA certificate's PEM file.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The client certificate's PEM file.
    pub fn client_cert_path(&self) -> PathBuf {
        self.dir.join("client.pem")
    }

    /// The client key's PEM file.
    pub fn client_key_path(&self) -> PathBuf {
        self.dir.join("client.key")
    }

    /// The directory of the PEM files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` pointing at the CA, and with
    /// `client` the client certificate and key for mTLS.
    pub fn exporter_env(&self, client: bool) -> Vec<(&'static str, String)> {
        let path = |p: PathBuf| p.display().to_string();
        let mut env = vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", path(self.ca_path()))];
        if client {
            env.push((
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                path(self.client_cert_path()),
            ));
            env.push((
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                path(self.client_key_path()),
            ));
        }
        env
    }

    /// A rustls server config (ring) with the server certificate, offering
    /// `h2` and `http/1.1`; with `require_client_cert`, only clients with a
    /// certificate signed by the CA are let in.
    pub fn server_config(
        &self,
        require_client_cert: bool,
    ) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone())?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(
            vec![self.server_cert_der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone())),
        )?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
