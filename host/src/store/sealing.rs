//! Secrets at rest: every signing secret and plugin secret is sealed with
//! XChaCha20-Poly1305 under the master key before it reaches the database,
//! so a copy of the database alone reveals none of them.
//!
//! A sealed value is text, `hh1.<key id>.<base64url(nonce ‖ ciphertext)>`,
//! and is bound to where it is stored (the tenant, endpoint and name, as the
//! associated data): a value moved to another row does not open. The key id
//! names the master key, so a row sealed under a key this host lacks says
//! which one, and rotation re-seals what is under a previous key.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

/// The file in the data directory holding a generated master key.
pub const MASTER_KEY_FILE: &str = "master.key";

const VERSION: &str = "hh1";
const NONCE_BYTES: usize = 24;

/// Why a master key or a sealed value was refused.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// A master key is not 64 hex digits.
    #[error("a master key is 32 bytes written as 64 hex digits (openssl rand -hex 32)")]
    BadKey,
    /// The value was sealed under a key this host does not have.
    #[error(
        "a secret is sealed under master key {0}, which is neither master_key nor one of previous_master_keys"
    )]
    UnknownKey(String),
    /// The value is not one this host sealed, or it was altered or moved.
    #[error("a sealed secret does not open: it was altered, or moved from another row")]
    Tampered,
}

/// One master key and its id.
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn parse(hex_text: &str) -> Result<Self, SealError> {
        let bytes: [u8; 32] = hex::decode(hex_text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SealError::BadKey)?;
        let digest = Sha256::new()
            .chain_update(b"hookhost master key id\0")
            .chain_update(bytes)
            .finalize();
        Ok(Self {
            id: hex::encode(&digest[..4]),
            cipher: XChaCha20Poly1305::new(&bytes.into()),
        })
    }
}

/// The master key that seals, and the previous ones that still open.
pub struct Keyring {
    current: Key,
    previous: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Keyring {
    /// A keyring sealing under `current` (64 hex digits) and opening also
    /// what `previous` sealed.
    pub fn new(current: &str, previous: &[&str]) -> Result<Self, SealError> {
        Ok(Self {
            current: Key::parse(current)?,
            previous: previous
                .iter()
                .map(|k| Key::parse(k))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The keyring of a host with no configured key: the one in
    /// `data_dir/master.key`, created (owner-only) at first start.
    pub fn from_data_dir(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join(MASTER_KEY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                super::owner_only::create_dir(data_dir)?;
                create_key_file(data_dir, &path)?
            }
            Err(e) => return Err(e),
        };
        Self::new(&text, &[]).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Whether values sealed under `id` open here.
    pub fn has(&self, id: &str) -> bool {
        self.key(id).is_some()
    }

    fn key(&self, id: &str) -> Option<&Key> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }

    /// Seals `secret`, bound to `place`.
    pub fn seal(&self, place: &str, secret: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: place.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any length a request can carry");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!(
            "{VERSION}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(bytes)
        )
    }

    /// Opens what [`seal`](Self::seal) sealed at `place`.
    pub fn open(&self, place: &str, sealed: &str) -> Result<String, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Tampered);
        };
        let key = self
            .key(id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Tampered)?;
        if bytes.len() < NONCE_BYTES {
            return Err(SealError::Tampered);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plain = key
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| SealError::Tampered)?;
        String::from_utf8(plain).map_err(|_| SealError::Tampered)
    }
}

/// Writes a new key to `path`, whole or not at all: written and synced
/// under a name of this process's own, then linked into place, which fails
/// rather than replace a key another process put there first (that one is
/// read instead), and the directory synced so the name survives a crash.
fn create_key_file(dir: &Path, path: &Path) -> std::io::Result<String> {
    let staged = dir.join(format!("{MASTER_KEY_FILE}.{}.new", std::process::id()));
    let _ = std::fs::remove_file(&staged);
    let text = generate();
    let mut file = super::owner_only::create_new(&staged)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    let linked = std::fs::hard_link(&staged, path);
    std::fs::remove_file(&staged)?;
    match linked {
        Ok(()) => {
            std::fs::File::open(dir)?.sync_all()?;
            Ok(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path),
        Err(e) => Err(e),
    }
}

/// The id of the key `sealed` was sealed under, as it says.
pub(crate) fn key_id_of(sealed: &str) -> Option<&str> {
    let mut parts = sealed.splitn(3, '.');
    (parts.next() == Some(VERSION))
        .then(|| parts.next())
        .flatten()
}

/// A new master key as 64 hex digits.
pub fn generate() -> String {
    hex::encode(XChaCha20Poly1305::generate_key(&mut OsRng))
}

/// The setting holding a value sealed under the key the database's secrets
/// are sealed under, so that a host given another key refuses to start even
/// while no secret is stored, rather than seal what the others cannot open.
pub(crate) const KEY_CHECK_SETTING: &str = "master_key_check";

/// Where that value is sealed.
pub(crate) const KEY_CHECK_PLACE: &str = "master-key-check";

/// A keyring for the crate's own tests.
#[cfg(test)]
pub(crate) fn testing() -> std::sync::Arc<Keyring> {
    std::sync::Arc::new(Keyring::new(&"5e".repeat(32), &[]).expect("a valid key"))
}

/// Where a signing secret of an endpoint is sealed.
pub(crate) fn signing_place(tenant: &str, endpoint: &str) -> String {
    format!("signing-secret:{tenant}/{endpoint}")
}

/// `spec` as it is stored: its signing secrets sealed.
pub(crate) fn seal_signing(
    keys: &Keyring,
    tenant: &str,
    endpoint: &str,
    spec: &crate::domain::EndpointSpec,
) -> crate::domain::EndpointSpec {
    let place = signing_place(tenant, endpoint);
    crate::domain::EndpointSpec {
        secrets: spec.secrets.iter().map(|s| keys.seal(&place, s)).collect(),
        ..spec.clone()
    }
}

/// Where a plugin secret of an endpoint is sealed.
pub(crate) fn plugin_place(tenant: &str, endpoint: &str, name: &str) -> String {
    format!("plugin-secret:{tenant}/{endpoint}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        Keyring::new(&"11".repeat(32), &[]).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_at_its_place_and_shows_nothing_of_itself() {
        let keys = keyring();
        let sealed = keys.seal("plugin-secret:acme/github/api_key", "sk_live_abcdef123");
        assert!(!sealed.contains("sk_live"), "{sealed}");
        assert!(sealed.starts_with(&format!("hh1.{}.", keys.current_id())));
        assert_eq!(
            keys.open("plugin-secret:acme/github/api_key", &sealed)
                .unwrap(),
            "sk_live_abcdef123"
        );
    }

    #[test]
    fn the_same_secret_seals_differently_each_time() {
        let keys = keyring();
        assert_ne!(keys.seal("p", "value-1234"), keys.seal("p", "value-1234"));
    }

    #[test]
    fn a_value_moved_to_another_row_or_altered_does_not_open() {
        let keys = keyring();
        let sealed = keys.seal("plugin-secret:acme/github/api_key", "sk_live_abcdef123");
        assert!(matches!(
            keys.open("plugin-secret:evil/github/api_key", &sealed),
            Err(SealError::Tampered)
        ));
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            keys.open(
                "plugin-secret:acme/github/api_key",
                &String::from_utf8(altered).unwrap()
            ),
            Err(SealError::Tampered)
        ));
        for garbage in ["", "hh1", "hh1..", "plain text", "hh1.00000000.%%%"] {
            assert!(keys.open("p", garbage).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn a_previous_key_still_opens_and_an_unknown_one_is_named() {
        let old = keyring();
        let sealed = old.seal("p", "value-1234");
        let rotated = Keyring::new(&"22".repeat(32), &[&"11".repeat(32)]).unwrap();
        assert_eq!(rotated.open("p", &sealed).unwrap(), "value-1234");
        assert!(rotated.seal("p", "x").contains(rotated.current_id()));
        let stranger = Keyring::new(&"33".repeat(32), &[]).unwrap();
        match stranger.open("p", &sealed) {
            Err(SealError::UnknownKey(id)) => assert_eq!(id, old.current_id()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_master_key_must_be_32_bytes_of_hex() {
        for bad in ["", "abc", &"zz".repeat(32), &"11".repeat(31)] {
            assert!(matches!(Keyring::new(bad, &[]), Err(SealError::BadKey)));
        }
        assert_eq!(generate().len(), 64);
        Keyring::new(&generate(), &[]).unwrap();
    }

    #[test]
    fn a_generated_key_file_is_owner_only_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = Keyring::from_data_dir(&data).unwrap();
        let again = Keyring::from_data_dir(&data).unwrap();
        assert_eq!(first.current_id(), again.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&data.join(MASTER_KEY_FILE)), 0o600);
            assert_eq!(mode(&data), 0o700);
        }
    }
}
