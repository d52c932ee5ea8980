//! Public-key signatures: Ed25519 (Discord, Standard Webhooks `v1a`) and ECDSA P-256 with
//! SHA-256 (SendGrid).
//!
//! The counterpart of [`crate::signature`] for asymmetric schemes: decoding configured keys,
//! verifying and (for test requests) signing. Like the HMAC helpers, a presented signature that
//! does not decode, or has the wrong length, simply never verifies.
//!
//! - Ed25519 verification is strict (RFC 8032 canonical `S`, no small-order keys or `R`), so a
//!   signature cannot be mangled into a second valid one.
//! - ECDSA signatures are DER, as SendGrid sends them; both `s` and `n - s` verify, as in every
//!   ECDSA library providers use (the body, not the signature, is what dedupe keys on).
//! - A P-256 key is configured as base64 DER (what SendGrid's dashboard shows: a
//!   SubjectPublicKeyInfo) or PEM. A private key (PKCS#8 or SEC1) is accepted too, so a test
//!   source can both sign and verify; its public half verifies.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};

use crate::signature::Encoding;

/// Length of an Ed25519 public key or seed.
pub const ED25519_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const ED25519_SIGNATURE_LEN: usize = 64;

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    let mut message = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        message.extend_from_slice(part);
    }
    message
}

/// An Ed25519 public key from its 32 bytes; `None` for any other length or a point that does
/// not decompress.
pub fn ed25519_public_key(bytes: &[u8]) -> Option<VerifyingKey> {
    let bytes: &[u8; ED25519_KEY_LEN] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(bytes).ok()
}

/// An Ed25519 signing key from a 32-byte seed, or from the 64-byte `seed || public key` form
/// (libsodium, tweetnacl), whose public half must match the seed.
pub fn ed25519_signing_key(bytes: &[u8]) -> Option<SigningKey> {
    let (seed, public) = match bytes.len() {
        ED25519_KEY_LEN => (bytes, None),
        64 => (&bytes[..ED25519_KEY_LEN], Some(&bytes[ED25519_KEY_LEN..])),
        _ => return None,
    };
    let seed: &[u8; ED25519_KEY_LEN] = seed.try_into().ok()?;
    let key = SigningKey::from_bytes(seed);
    match public {
        Some(public) if key.verifying_key().as_bytes().as_slice() != public => None,
        _ => Some(key),
    }
}

/// Whether `signature` (64 bytes) is a valid Ed25519 signature of the concatenated `parts`.
pub fn ed25519_verify(key: &VerifyingKey, parts: &[&[u8]], signature: &[u8]) -> bool {
    let Ok(bytes) = <&[u8; ED25519_SIGNATURE_LEN]>::try_from(signature) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(bytes);
    key.verify_strict(&concat(parts), &signature).is_ok()
}

/// The Ed25519 signature of the concatenated `parts`.
pub fn ed25519_sign(key: &SigningKey, parts: &[&[u8]]) -> [u8; ED25519_SIGNATURE_LEN] {
    key.sign(&concat(parts)).to_bytes()
}

/// A configured P-256 key: the public key that verifies, and the private key when one was
/// configured (only test sources do).
#[derive(Debug, Clone)]
pub struct P256Key {
    pub public: p256::ecdsa::VerifyingKey,
    pub private: Option<p256::ecdsa::SigningKey>,
}

/// The DER inside a PEM document (armour lines dropped), or the base64 text itself decoded.
fn der_bytes(secret: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(secret).ok()?;
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let body: String = body.split_ascii_whitespace().collect();
    Encoding::Base64.decode(&body).filter(|der| !der.is_empty())
}

/// Parse a configured P-256 key (see the module docs); `None` when it is none of the accepted
/// forms or not on P-256.
pub fn p256_key(secret: &[u8]) -> Option<P256Key> {
    let der = der_bytes(secret)?;
    if let Ok(public) = p256::ecdsa::VerifyingKey::from_public_key_der(&der) {
        return Some(P256Key {
            public,
            private: None,
        });
    }
    let private = p256::ecdsa::SigningKey::from_pkcs8_der(&der)
        .ok()
        .or_else(|| {
            p256::SecretKey::from_sec1_der(&der)
                .ok()
                .map(p256::ecdsa::SigningKey::from)
        })?;
    Some(P256Key {
        public: *private.verifying_key(),
        private: Some(private),
    })
}

/// Whether `der_signature` is a valid ECDSA P-256/SHA-256 signature of the concatenated
/// `parts` under `key`.
pub fn p256_verify(key: &p256::ecdsa::VerifyingKey, parts: &[&[u8]], der_signature: &[u8]) -> bool {
    let Ok(signature) = p256::ecdsa::Signature::from_der(der_signature) else {
        return false;
    };
    key.verify(&concat(parts), &signature).is_ok()
}

/// The DER ECDSA P-256/SHA-256 signature of the concatenated `parts` (RFC 6979 nonces).
pub fn p256_sign(key: &p256::ecdsa::SigningKey, parts: &[&[u8]]) -> Vec<u8> {
    let signature: p256::ecdsa::Signature = key.sign(&concat(parts));
    signature.to_der().as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    // standard-webhooks libraries/go webhook_asymmetric_test.go: the seed is this ASCII text.
    const SEED: &[u8; 32] = b"TESTSIGNINGKEYDONOTUSETHISFORANY";
    const PUBLIC_HEX: &str = "6653787a0edd492aa2d26a17f61414937a2bacea2e2b74154129496b6e3c73f8";

    #[test]
    fn ed25519_keys_derive_and_round_trip() {
        let key = ed25519_signing_key(SEED).expect("seed");
        assert_eq!(hex::encode(key.verifying_key().as_bytes()), PUBLIC_HEX);
        let mut long = SEED.to_vec();
        long.extend_from_slice(&hex::decode(PUBLIC_HEX).unwrap());
        assert!(ed25519_signing_key(&long).is_some());
        long[40] ^= 1;
        assert!(
            ed25519_signing_key(&long).is_none(),
            "mismatched public half"
        );
        assert!(ed25519_signing_key(&SEED[..31]).is_none());

        let public = ed25519_public_key(&hex::decode(PUBLIC_HEX).unwrap()).unwrap();
        let sig = ed25519_sign(&key, &[b"12", b"body"]);
        assert!(ed25519_verify(&public, &[b"12body"], &sig));
        assert!(!ed25519_verify(&public, &[b"12bodx"], &sig));
        assert!(!ed25519_verify(&public, &[b"12body"], &sig[..63]));
        assert!(!ed25519_verify(&public, &[b"12body"], &[]));
        assert!(ed25519_public_key(&[0u8; 31]).is_none());
    }

    #[test]
    fn ed25519_rejects_a_non_canonical_s() {
        let key = ed25519_signing_key(SEED).unwrap();
        let public = key.verifying_key();
        let mut sig = ed25519_sign(&key, &[b"m"]);
        // S + L (the group order) is the same scalar, written non-canonically.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
            sig[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        assert!(!ed25519_verify(&public, &[b"m"], &sig));
    }

    // sendgrid/sendgrid-python test/unit/test_eventwebhook.py
    const SENDGRID_PUBLIC: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";

    #[test]
    fn p256_keys_parse_in_every_accepted_form() {
        let key = p256_key(SENDGRID_PUBLIC.as_bytes()).expect("base64 SPKI");
        assert!(key.private.is_none());
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n{}\n-----END PUBLIC KEY-----\n",
            &SENDGRID_PUBLIC[..64],
            &SENDGRID_PUBLIC[64..]
        );
        assert_eq!(p256_key(pem.as_bytes()).unwrap().public, key.public);
        assert!(p256_key(b"not a key").is_none());
        assert!(p256_key(b"").is_none());
        assert!(p256_key(&SENDGRID_PUBLIC.as_bytes()[..60]).is_none());
    }
}
