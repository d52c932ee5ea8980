//! Amazon SNS HTTP/S subscriptions.
//!
//! The body is a JSON envelope signed by SNS: `Signature` is base64 RSA PKCS#1 v1.5 over a
//! canonical string of the envelope's fields (`Key\nValue\n` in a fixed order, absent keys
//! skipped), SHA-1 for `SignatureVersion` 1 and SHA-256 for 2, under the X.509 certificate at
//! `SigningCertURL`.
//!
//! hookgate never fetches that URL (it comes from the request: fetching it would let anyone make
//! the gateway call an address of their choosing). The certificates are **configured**: a
//! source's `secrets` are the PEM certificates SNS signs with for its region, and any of them
//! verifies (rotation: configure the next certificate before AWS switches to it). The request's
//! `SigningCertURL` must still look like SNS's own (`https://sns.<region>.amazonaws.com[.cn]/…
//! .pem`), as the official validators require.
//!
//! A valid signature only proves that *some* SNS topic sent the message, and anyone can create
//! a topic and subscribe any URL to it; so a source also lists the `topic_arns` it accepts, and a
//! message from any other topic is refused like a bad signature.
//!
//! `SubscriptionConfirmation` and `UnsubscribeConfirmation` are handshakes: verified, answered
//! 200, never stored. For a confirmation the answer carries the `ConfirmSubscription` URL the
//! gateway then calls: its host is built from the configured topic's region, and only the
//! (verified) token comes from the request. The event id of a `Notification` is `MessageId`,
//! unchanged on redelivery; the type is the `Subject` when there is one, else `Notification`.
//! Raw message delivery strips the envelope and its signature: such subscriptions cannot be
//! verified and are refused (missing signature).

use std::time::{Duration, SystemTime};

use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Map, Value};
use sha1::Sha1;
use sha2::Sha256;
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

use crate::signature::{self, Encoding};
use crate::{
    BuildError, ChallengeResponse, EventMeta, ExtractError, Handshake, Provider, Request, Secret,
    Secrets, SignError, SignRequest, VerifyError,
};

pub const MESSAGE_TYPE_HEADER: &str = "x-amz-sns-message-type";
const KEPT_HEADERS: &[&str] = &[
    MESSAGE_TYPE_HEADER,
    "x-amz-sns-message-id",
    "x-amz-sns-topic-arn",
    "x-amz-sns-subscription-arn",
];
/// The body field named in errors about the envelope's signature.
const SIGNATURE_FIELD: &str = "Signature";
const NOTIFICATION: &str = "Notification";
const SUBSCRIPTION_CONFIRMATION: &str = "SubscriptionConfirmation";
const UNSUBSCRIBE_CONFIRMATION: &str = "UnsubscribeConfirmation";
const NOTIFICATION_KEYS: &[&str] = &[
    "Message",
    "MessageId",
    "Subject",
    "Timestamp",
    "TopicArn",
    "Type",
];
const CONFIRMATION_KEYS: &[&str] = &[
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
];
/// The default delivery policy retries 3 times 20 s apart; custom policies reach an hour. A
/// day is the store's floor.
const RETRY_HORIZON: Duration = Duration::from_secs(24 * 3600);

/// The keys configured for one source: each certificate's public key, and for test sources a
/// private key that lets `hookgate send` sign.
struct Key {
    public: RsaPublicKey,
    private: Option<RsaPrivateKey>,
}

fn parse_key(secret: &[u8]) -> Option<Key> {
    let text = std::str::from_utf8(secret).ok()?;
    let start = text.find("-----BEGIN CERTIFICATE-----")?;
    let end = text[start..].find("-----END CERTIFICATE-----")? + start;
    let pem = &text[start..end + "-----END CERTIFICATE-----".len()];
    let cert = Certificate::from_pem(pem.as_bytes()).ok()?;
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().ok()?;
    let public = RsaPublicKey::from_public_key_der(&spki).ok()?;
    let private = text
        .find("-----BEGIN PRIVATE KEY-----")
        .and_then(|start| RsaPrivateKey::from_pkcs8_pem(&text[start..]).ok());
    Some(Key { public, private })
}

/// Whether `url` is where SNS keeps its signing certificates:
/// `https://sns.<region>.amazonaws.com[.cn]/<path>.pem`, nothing else.
fn is_sns_certificate_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let region = host.strip_prefix("sns.").and_then(|h| {
        h.strip_suffix(".amazonaws.com")
            .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
    });
    let region_ok = region
        .is_some_and(|r| r.len() >= 3 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    region_ok && path.ends_with(".pem") && !path.contains(['?', '#'])
}

/// The `ConfirmSubscription` endpoint of `topic_arn`'s region
/// (`arn:<partition>:sns:<region>:<account>:<name>`), or `None` when it is not such an ARN.
fn confirm_host(topic_arn: &str) -> Option<String> {
    let parts: Vec<&str> = topic_arn.split(':').collect();
    let [_, partition, "sns", region, _, _] = parts.as_slice() else {
        return None;
    };
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return None;
    }
    let suffix = match *partition {
        "aws" | "aws-us-gov" => "amazonaws.com",
        "aws-cn" => "amazonaws.com.cn",
        _ => return None,
    };
    Some(format!("sns.{region}.{suffix}"))
}

/// The canonical string SNS signs for an envelope of type `kind`.
fn canonical(envelope: &Map<String, Value>, kind: &str) -> Option<String> {
    let keys = if kind == NOTIFICATION {
        NOTIFICATION_KEYS
    } else {
        CONFIRMATION_KEYS
    };
    let mut out = String::new();
    for key in keys {
        match envelope.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::String(value)) => {
                out.push_str(key);
                out.push('\n');
                out.push_str(value);
                out.push('\n');
            }
            Some(_) => return None,
        }
    }
    Some(out)
}

fn text<'a>(envelope: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    envelope.get(key).and_then(Value::as_str)
}

#[derive(Debug, Clone)]
pub struct Sns {
    topic_arns: Vec<String>,
}

impl Sns {
    pub fn new(topic_arns: Vec<String>) -> Result<Self, BuildError> {
        if topic_arns.is_empty() {
            return Err(BuildError::Invalid(
                "provider \"aws-sns\" needs `topic_arns`: the topics this source accepts (anyone can subscribe a URL to their own topic)".into(),
            ));
        }
        if let Some(bad) = topic_arns.iter().find(|arn| confirm_host(arn).is_none()) {
            return Err(BuildError::Invalid(format!(
                "`{bad}` is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)"
            )));
        }
        Ok(Sns { topic_arns })
    }

    fn envelope(body: &[u8]) -> Option<Map<String, Value>> {
        match serde_json::from_slice(body).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }
}

impl Provider for Sns {
    fn credential_headers(&self) -> &'static [&'static str] {
        // The signature is in the body; the announced message type is checked against it.
        &[MESSAGE_TYPE_HEADER]
    }

    fn name(&self) -> &'static str {
        "aws-sns"
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        _now: SystemTime,
    ) -> Result<(), VerifyError> {
        if secrets.is_empty() {
            return Err(VerifyError::NoSecret);
        }
        let malformed = VerifyError::MalformedHeader(SIGNATURE_FIELD);
        let envelope =
            Self::envelope(req.body).ok_or(VerifyError::MissingHeader(SIGNATURE_FIELD))?;
        let presented = text(&envelope, SIGNATURE_FIELD)
            .filter(|s| !s.is_empty())
            .ok_or(VerifyError::MissingHeader(SIGNATURE_FIELD))?;
        let kind = text(&envelope, "Type").ok_or(malformed.clone())?;
        if ![
            NOTIFICATION,
            SUBSCRIPTION_CONFIRMATION,
            UNSUBSCRIBE_CONFIRMATION,
        ]
        .contains(&kind)
        {
            return Err(malformed);
        }
        if let Some(announced) = req.header(MESSAGE_TYPE_HEADER) {
            if announced.trim() != kind {
                return Err(malformed);
            }
        }
        let cert_url = text(&envelope, "SigningCertURL").unwrap_or("");
        if !is_sns_certificate_url(cert_url) {
            return Err(malformed);
        }
        let version = text(&envelope, "SignatureVersion").unwrap_or("");
        let signed = canonical(&envelope, kind).ok_or(malformed.clone())?;
        let signature = Encoding::Base64
            .decode(presented)
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .ok_or(VerifyError::SignatureMismatch)?;
        let mut matched = false;
        for key in secrets.iter().filter_map(|s| parse_key(s.expose())) {
            matched |= match version {
                "1" => VerifyingKey::<Sha1>::new(key.public)
                    .verify(signed.as_bytes(), &signature)
                    .is_ok(),
                "2" => VerifyingKey::<Sha256>::new(key.public)
                    .verify(signed.as_bytes(), &signature)
                    .is_ok(),
                _ => return Err(malformed),
            };
        }
        if !matched {
            return Err(VerifyError::SignatureMismatch);
        }
        // Authentic, but from one of *our* topics?
        let topic = text(&envelope, "TopicArn").unwrap_or("");
        if !self.topic_arns.iter().any(|allowed| allowed == topic) {
            return Err(VerifyError::SignatureMismatch);
        }
        Ok(())
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let envelope = Self::envelope(req.body)
            .ok_or(ExtractError::MalformedBody("expected an SNS envelope"))?;
        let id = text(&envelope, "MessageId")
            .filter(|id| !id.is_empty())
            .ok_or(ExtractError::MissingEventId("MessageId"))?;
        let event_type = text(&envelope, "Subject")
            .filter(|s| !s.is_empty())
            .or_else(|| text(&envelope, "Type"))
            .map(str::to_string);
        Ok(vec![EventMeta {
            id: id.to_string(),
            event_type,
        }])
    }

    fn challenge(&self, req: &Request<'_>, _secrets: &Secrets) -> Option<ChallengeResponse> {
        let envelope = Self::envelope(req.body)?;
        let kind = text(&envelope, "Type")?;
        if kind == NOTIFICATION {
            return None;
        }
        let mut answer = ChallengeResponse {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: Vec::new(),
            headers: Vec::new(),
            confirm_url: None,
        };
        if kind == SUBSCRIPTION_CONFIRMATION {
            let topic = text(&envelope, "TopicArn")?;
            let token = text(&envelope, "Token")?;
            // The host comes from the configured topic, never from the request.
            let allowed = self.topic_arns.iter().find(|arn| *arn == topic)?;
            let host = confirm_host(allowed)?;
            let query = signature::form_encode([
                ("Action", "ConfirmSubscription"),
                ("TopicArn", allowed.as_str()),
                ("Token", token),
            ]);
            answer.confirm_url = Some(format!("https://{host}/?{query}"));
        }
        Some(answer)
    }

    fn handshake(&self) -> Handshake {
        Handshake::Bespoke("SubscriptionConfirmation verified, answered 200, then confirmed at the configured topic's regional endpoint")
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        KEPT_HEADERS
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        json!({
            "Type": NOTIFICATION,
            "MessageId": event_id,
            "TopicArn": self.topic_arns[0],
            "Subject": event_type,
            "Message": "hookgate test message",
            "Timestamp": "2026-01-01T00:00:00.000Z",
        })
        .to_string()
        .into_bytes()
    }

    /// Signs only with a secret that also carries the certificate's private key (a test
    /// source); the envelope then gets `SignatureVersion` 2, a regional `SigningCertURL` and the
    /// `Signature`.
    fn sign_request(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        _now: SystemTime,
    ) -> Result<crate::SignedRequest, SignError> {
        let key = parse_key(secret.expose()).ok_or(SignError::BadSecret(
            "not a PEM certificate with an RSA key",
        ))?;
        let private = key.private.ok_or(SignError::Unsupported(
            "SNS signs with its own private key; only a test secret (certificate + PKCS#8 private key) can sign",
        ))?;
        let mut envelope = Self::envelope(req.body).ok_or(SignError::Unsupported(
            "the body must be an SNS envelope (a JSON object)",
        ))?;
        let kind = text(&envelope, "Type").unwrap_or(NOTIFICATION).to_string();
        let region = confirm_host(&self.topic_arns[0])
            .unwrap_or_else(|| "sns.us-east-1.amazonaws.com".into());
        envelope.insert("Type".into(), Value::from(kind.clone()));
        envelope.insert("SignatureVersion".into(), Value::from("2"));
        envelope.insert(
            "SigningCertURL".into(),
            Value::from(format!(
                "https://{region}/SimpleNotificationService-hookgate.pem"
            )),
        );
        let signed = canonical(&envelope, &kind)
            .ok_or(SignError::Unsupported("envelope fields must be strings"))?;
        let signature = SigningKey::<Sha256>::new(private).sign(signed.as_bytes());
        envelope.insert(
            SIGNATURE_FIELD.into(),
            Value::from(Encoding::Base64.encode(&signature.to_bytes())),
        );
        Ok(crate::SignedRequest {
            headers: vec![
                (MESSAGE_TYPE_HEADER.to_string(), kind),
                ("content-type".into(), "text/plain; charset=UTF-8".into()),
            ],
            body: Some(Value::Object(envelope).to_string().into_bytes()),
            query: None,
        })
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        _secret: &Secret,
        _now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let _ = req;
        Err(SignError::Unsupported(
            "SNS signs inside the body: use sign_request",
        ))
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        parse_key(secret.expose()).map(drop).ok_or_else(|| {
            BuildError::Invalid(
                "an aws-sns secret is the PEM certificate SNS signs with (RSA)".into(),
            )
        })
    }
}

#[cfg(test)]
mod tests;
