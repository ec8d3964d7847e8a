//! API token secrets: generating them, hashing them for the store, and deriving run tokens'
//! secrets. The HTTP layer, the engine (run tokens) and extensions (their tokens) all use this
//! module; it depends on nothing else in the server (docs/security.md).

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};

/// Length of generated secrets (docs/auth.md#tokens).
pub const SECRET_LEN: usize = 40;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A new random secret: 40 alphanumeric characters from the thread CSPRNG (ChaCha, seeded by
/// the OS).
pub fn new_secret() -> String {
    let mut rng = rand::rng();
    (0..SECRET_LEN)
        .map(|_| ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())] as char)
        .collect()
}

/// `SHA-256(secret)` as lowercase hex: what the store keeps and looks tokens up by.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    out
}

/// The secret of a run's API token (docs/auth.md#run-tokens), derived as HMAC-SHA256 under the secret-store
/// key from the token id, so that the plaintext is never stored anywhere: the dispatcher derives
/// it again when a task with `inject_api_token` starts (docs/decisions.md, "run token secrets").
/// Deleting the token row revokes it; rotating the key invalidates every run token.
pub fn run_token_secret(key: &[u8], token_id: &str) -> String {
    let mut out = String::with_capacity(SECRET_LEN);
    let mut block = 0u8;
    while out.len() < SECRET_LEN {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(b"gofer run token\0");
        mac.update(token_id.as_bytes());
        mac.update(&[block]);
        for b in mac.finalize().into_bytes() {
            // Rejection sampling keeps every character equally likely.
            if usize::from(b) < 248 && out.len() < SECRET_LEN {
                out.push(ALPHANUMERIC[usize::from(b) % ALPHANUMERIC.len()] as char);
            }
        }
        block += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_alphanumeric_and_distinct() {
        let a = new_secret();
        let b = new_secret();
        assert_eq!(a.len(), SECRET_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(hash_secret("abc").len(), 64);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn run_token_secrets_depend_on_key_and_id() {
        let s = run_token_secret(b"k1", "id1");
        assert_eq!(s.len(), SECRET_LEN);
        assert!(s.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(s, run_token_secret(b"k1", "id1"));
        assert_ne!(s, run_token_secret(b"k2", "id1"));
        assert_ne!(s, run_token_secret(b"k1", "id2"));
    }
}
