//! Secret encryption (docs/objects-and-secrets.md#secrets): XChaCha20-Poly1305 from orion under the configured 32-byte
//! key. A sealed value is `24-byte nonce ‖ ciphertext ‖ 16-byte tag`, with the secret's canonical
//! scope string as associated data, so a ciphertext moved to another entry does not decrypt.
//! Plaintext values exist only in memory: in a put request, in a get answer that asked for them,
//! and in the environment handed to the scheduler.

use crate::store::{SecretScope, StoreError, StoreHandle, StoreResult};
use gofer_core::api::Secret;
use orion::hazardous::aead::xchacha20poly1305::{self as aead, Nonce, SecretKey};
use orion::hazardous::mac::poly1305::POLY1305_OUTSIZE;
use orion::hazardous::stream::xchacha20::XCHACHA_NONCESIZE;
use std::sync::Arc;

/// The encryption key. `Debug` never shows it.
pub struct Cipher {
    key: SecretKey,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

/// A value that could not be sealed or opened. Carries no secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CipherError(pub String);

/// Associated data of the boot-time check value (docs/objects-and-secrets.md#secrets).
const CHECK_AD: &str = "gofer/secret_check";
const CHECK_PLAINTEXT: &[u8] = b"gofer secret store check value";

impl Cipher {
    /// `key` must be exactly 32 bytes (`secret_store.encryption_key`).
    pub fn new(key: &[u8]) -> Result<Cipher, CipherError> {
        if key.len() != 32 {
            return Err(CipherError(format!(
                "secret_store.encryption_key: must be exactly 32 bytes (it is {})",
                key.len()
            )));
        }
        let key = SecretKey::from_slice(key)
            .map_err(|_| CipherError("secret_store.encryption_key: not usable as a key".into()))?;
        Ok(Cipher { key })
    }

    /// Encrypts `plaintext` (non-empty) under a fresh random nonce.
    pub fn seal(&self, associated_data: &str, plaintext: &[u8]) -> Result<Vec<u8>, CipherError> {
        let nonce = Nonce::generate();
        let mut out = vec![0u8; XCHACHA_NONCESIZE + plaintext.len() + POLY1305_OUTSIZE];
        out[..XCHACHA_NONCESIZE].copy_from_slice(nonce.as_ref());
        aead::seal(
            &self.key,
            &nonce,
            plaintext,
            Some(associated_data.as_bytes()),
            &mut out[XCHACHA_NONCESIZE..],
        )
        .map_err(|_| CipherError("encrypting a secret failed".into()))?;
        Ok(out)
    }

    /// Decrypts what [`Cipher::seal`] produced with the same associated data.
    pub fn open(&self, associated_data: &str, sealed: &[u8]) -> Result<Vec<u8>, CipherError> {
        if sealed.len() <= XCHACHA_NONCESIZE + POLY1305_OUTSIZE {
            return Err(CipherError("stored secret is truncated".into()));
        }
        let nonce = Nonce::from_slice(&sealed[..XCHACHA_NONCESIZE])
            .map_err(|_| CipherError("stored secret has no valid nonce".into()))?;
        let body = &sealed[XCHACHA_NONCESIZE..];
        let mut out = vec![0u8; body.len() - POLY1305_OUTSIZE];
        aead::open(
            &self.key,
            &nonce,
            body,
            Some(associated_data.as_bytes()),
            &mut out,
        )
        .map_err(|_| {
            CipherError(
                "stored secret does not decrypt with the configured key (or was moved)".into(),
            )
        })?;
        Ok(out)
    }
}

/// The secret store: the redb rows (ciphertext only) behind encryption.
#[derive(Clone)]
pub struct Secrets {
    store: StoreHandle,
    cipher: Arc<Cipher>,
}

impl Secrets {
    pub fn new(store: StoreHandle, cipher: Arc<Cipher>) -> Secrets {
        Secrets { store, cipher }
    }

    /// Boot step of docs/objects-and-secrets.md#secrets and docs/configuration.md#what-happens-at-start: stores an encrypted check value at first boot; later
    /// boots must decrypt it, else the key changed and stored secrets would be unreadable.
    pub async fn verify_key(&self) -> Result<(), String> {
        let candidate = self
            .cipher
            .seal(CHECK_AD, CHECK_PLAINTEXT)
            .map_err(|e| e.to_string())?;
        let stored = self
            .store
            .write(move |s| s.secret_check(candidate))
            .await
            .map_err(|e| e.to_string())?;
        match self.cipher.open(CHECK_AD, &stored) {
            Ok(plain) if plain == CHECK_PLAINTEXT => Ok(()),
            _ => Err(
                "secret_store.encryption_key: differs from the key this data directory's \
                 secrets were encrypted with; configure the original key (secrets cannot be \
                 read without it)"
                    .into(),
            ),
        }
    }

    /// Encrypts and stores a secret; returns its metadata.
    pub async fn put(
        &self,
        scope: SecretScope,
        secret: Secret,
        content: &str,
        force: bool,
    ) -> StoreResult<Secret> {
        let sealed = self
            .cipher
            .seal(&scope.associated_data(&secret.key), content.as_bytes())
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        self.store
            .write(move |s| s.put_secret(&scope, secret, sealed, force))
            .await
    }

    /// Metadata and the decrypted value.
    pub async fn get(&self, scope: SecretScope, key: &str) -> StoreResult<(Secret, String)> {
        let (k, sc) = (key.to_string(), scope.clone());
        let (secret, sealed) = self.store.read(move |s| s.get_secret(&sc, &k)).await?;
        let plain = self
            .cipher
            .open(&scope.associated_data(key), &sealed)
            .map_err(|e| StoreError::Internal(format!("secret '{key}': {e}")))?;
        let value = String::from_utf8(plain)
            .map_err(|_| StoreError::Internal(format!("secret '{key}' is not UTF-8")))?;
        Ok((secret, value))
    }
}

/// Whether a global secret with these namespace regexes may be used in `namespace` (docs/runs.md#variables:
/// one regex must match the whole id).
pub fn namespace_allowed(namespaces: &[String], namespace: &str) -> bool {
    namespaces
        .iter()
        .any(|re| regex::Regex::new(&format!("^(?:{re})$")).is_ok_and(|re| re.is_match(namespace)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_the_same_key_and_scope() {
        let cipher = Cipher::new(&[7u8; 32]).unwrap();
        let sealed = cipher.seal("pipeline/ns/p/k", b"hunter2").unwrap();
        assert_eq!(sealed.len(), 24 + 7 + 16);
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(cipher.open("pipeline/ns/p/k", &sealed).unwrap(), b"hunter2");
        // Another entry's associated data, another key, a flipped bit: all refused.
        assert!(cipher.open("pipeline/ns/p/other", &sealed).is_err());
        assert!(
            Cipher::new(&[8u8; 32])
                .unwrap()
                .open("pipeline/ns/p/k", &sealed)
                .is_err()
        );
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert!(cipher.open("pipeline/ns/p/k", &flipped).is_err());
        // Fresh nonces: the same value never seals to the same bytes.
        assert_ne!(
            cipher.seal("a", b"x").unwrap(),
            cipher.seal("a", b"x").unwrap()
        );
    }

    #[test]
    fn refuses_keys_of_the_wrong_length() {
        let e = Cipher::new(b"short").unwrap_err();
        assert!(e.0.starts_with("secret_store.encryption_key: must be exactly 32 bytes"));
    }
}
