//! TLS, when `tls.cert` and `tls.key` are set: rustls with HTTP/2 and
//! HTTP/1.1 offered through ALPN, and the certificate read again whenever
//! its files change (checked every few seconds) or on SIGHUP, so a renewed
//! certificate is served without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// How often the files are checked for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// Why the certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM of the kind expected.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is not the certificate's, or rustls refused the pair.
    #[error("tls.key does not fit tls.cert ({0})")]
    Mismatch(String),
}

/// The files a certificate is read from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Serves the certificate last loaded from [`TlsFiles`].
#[derive(Debug)]
struct Current {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    key: RwLock<(Arc<CertifiedKey>, Stamp)>,
}

/// The files' modification times at the last load.
type Stamp = (Option<SystemTime>, Option<SystemTime>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.key.read().expect("poisoned").0.clone())
    }
}

impl Current {
    fn stamp(&self) -> Stamp {
        stamp(&self.files)
    }

    /// Loads the files again if they changed since the last load; a failed
    /// load keeps the certificate being served and says why.
    fn reload_if_changed(&self, forced: bool) {
        let now = self.stamp();
        if !forced && self.key.read().expect("poisoned").1 == now {
            return;
        }
        match load(&self.files, &self.provider) {
            Ok(key) => {
                *self.key.write().expect("poisoned") = (Arc::new(key), now);
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate loaded");
            }
            Err(e) => {
                // Recorded, so a half-written pair is not retried until it changes again.
                self.key.write().expect("poisoned").1 = now;
                tracing::error!(error = %e, "TLS certificate not reloaded; still serving the previous one");
            }
        }
    }
}

fn stamp(files: &TlsFiles) -> Stamp {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    (modified(&files.cert), modified(&files.key))
}

/// Reads the pair and checks that the key is the certificate's.
fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let bad = |path: &Path, reason: String| TlsError::File {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(&files.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(&files.cert, "holds no PEM certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| bad(&files.key, format!("holds no PEM private key ({e})")))?;
    CertifiedKey::from_der(certs, key, provider).map_err(|e| TlsError::Mismatch(e.to_string()))
}

/// A TLS acceptor over certificates that follow their files.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    current: Arc<Current>,
}

impl Tls {
    /// Loads the certificate; an error here stops the server from starting.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = load(&files, &provider)?;
        let current = Arc::new(Current {
            key: RwLock::new((Arc::new(key), stamp(&files))),
            files,
            provider: provider.clone(),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Mismatch(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            current,
        })
    }

    /// The acceptor for new connections.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Follows the files until the task is aborted: a change is picked up
    /// within a few seconds, SIGHUP loads them at once.
    pub async fn follow(self) {
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            let forced = tokio::select! {
                _ = tokio::time::sleep(RELOAD_CHECK) => false,
                Some(()) = async { match &mut hangup { Some(s) => s.recv().await, None => None } } => true,
            };
            let current = self.current.clone();
            let _ = tokio::task::spawn_blocking(move || current.reload_if_changed(forced)).await;
        }
    }
}
