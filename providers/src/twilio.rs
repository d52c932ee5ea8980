//! Twilio webhooks (Programmable Messaging and Voice status callbacks, inbound messages).
//!
//! `X-Twilio-Signature` is the base64 HMAC-SHA1, under the account's auth token (UTF-8 bytes),
//! of the full URL Twilio called followed by every POST parameter as `name` + `value`, sorted
//! by name and then by value, each distinct pair once (what twilio-python's
//! `RequestValidator` signs). The URL comes from the source's `public_url` (scheme, host, path
//! and the query Twilio was configured with): behind a proxy the address the gateway sees is
//! not the one Twilio signed. `#` fragments (Twilio's connection overrides) are never sent and
//! never signed. Twilio is inconsistent about default ports, so, like its SDKs, the URL is
//! tried both without its port and with the default one (`:443`/`:80`) added.
//!
//! - **Form bodies** (the usual case): the parameters are the decoded form body. A non-empty
//!   body must be `application/x-www-form-urlencoded`, and must decode to UTF-8 text:
//!   otherwise the signature would not cover it.
//! - **JSON bodies**: Twilio adds `bodySHA256=<hex SHA-256 of the body>` to the URL's query and
//!   signs the URL alone; the body must hash to that value.
//! - `X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=HMAC_SHA256` (webhooks signed with
//!   a SharedKey) selects HMAC-SHA256; any algorithm other than `HMAC_SHA1`/`HMAC_SHA256` is
//!   refused. The secret is then the SharedKey secret.
//!
//! No timestamp is signed; replay protection is the dedupe itself. The event id is the
//! `I-Twilio-Idempotency-Token` header when present (Twilio's webhook idempotency token);
//! otherwise, for form bodies, the resource SIDs and statuses the request carries
//! (`MessageSid=…&MessageStatus=delivered`, `CallSid=…&CallStatus=completed&SequenceNumber=…`),
//! which name one state change of one resource; for JSON bodies, the SHA-256 of the body (no
//! id is documented there). The type is `message.delivered`, `call.completed`, … from the
//! first status parameter, or the JSON body's `type`.

use std::time::{Duration, SystemTime};

use crate::signature::{self, Algorithm, Encoding};
use crate::{
    EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError, SignRequest,
    SignedRequest, VerifyError,
};

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
pub const SETTINGS_HEADER: &str = "x-twilio-webhooks-signature-settings";
pub const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";
pub const BODY_SHA256_PARAM: &str = "bodySHA256";
const FORM_TYPE: &str = "application/x-www-form-urlencoded";
const KEPT_HEADERS: &[&str] = &[IDEMPOTENCY_HEADER];
/// Twilio retries a failed connection once by default (up to 5 times within 15 s with
/// `#rc`); Event Streams retry for 4 h. The store's one-day floor covers both.
const RETRY_HORIZON: Duration = Duration::from_secs(24 * 3600);
/// The parameters that name a resource, in the order they make up a derived id.
const SID_PARAMS: [&str; 7] = [
    "MessageSid",
    "SmsSid",
    "CallSid",
    "ConferenceSid",
    "RecordingSid",
    "TranscriptionSid",
    "FaxSid",
];
/// The parameters that name a state change, with the type prefix each gives.
const STATUS_PARAMS: [(&str, &str); 8] = [
    ("MessageStatus", "message"),
    ("SmsStatus", "message"),
    ("CallStatus", "call"),
    ("StatusCallbackEvent", "conference"),
    ("RecordingStatus", "recording"),
    ("TranscriptionStatus", "transcription"),
    ("FaxStatus", "fax"),
    ("SequenceNumber", "sequence"),
];
const JSON_NEEDS_SIGN_REQUEST: &str =
    "a JSON body is signed through the URL's bodySHA256 parameter, which only sign_request can add";

#[derive(Debug, Clone, Default)]
pub struct Twilio;

impl Twilio {
    pub fn new() -> Self {
        Twilio
    }
}

/// The algorithm named by the signature-settings header; `None` for one we do not know.
fn algorithm(req: &Request<'_>) -> Option<Algorithm> {
    let Some(settings) = req.header(SETTINGS_HEADER) else {
        return Some(Algorithm::Sha1);
    };
    let named = signature::kv_pairs(settings, ",", "=")
        .find(|(key, value)| *key == "algorithm" && !value.is_empty())
        .map(|(_, value)| value.to_ascii_uppercase());
    match named.as_deref() {
        None | Some("HMAC_SHA1") => Some(Algorithm::Sha1),
        Some("HMAC_SHA256") => Some(Algorithm::Sha256),
        Some(_) => None,
    }
}

/// The URL without its fragment.
fn strip_fragment(url: &str) -> &str {
    url.split('#').next().unwrap_or(url)
}

/// The URL without its port, and with the scheme's default port (the URL itself when it
/// already has one), as twilio-python's `remove_port`/`add_port` build them.
pub fn port_variants(url: &str) -> [String; 2] {
    let url = strip_fragment(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return [url.to_string(), url.to_string()];
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (format!("{userinfo}@"), host_port),
        None => (String::new(), authority),
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port))
        }
        _ => (host_port, None),
    };
    let without = format!("{scheme}://{userinfo}{host}{tail}");
    let with = match port {
        Some(_) => url.to_string(),
        None => {
            let default = if scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            };
            format!("{scheme}://{userinfo}{host}:{default}{tail}")
        }
    };
    [without, with]
}

/// Every distinct parameter as `name` + `value`, sorted by name then value.
fn parameter_string(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort();
    pairs.dedup();
    pairs
        .into_iter()
        .map(|(name, value)| name + &value)
        .collect()
}

/// Whether the body is a JSON document rather than a form (for signing test requests).
fn looks_like_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

/// The form parameters a verified-or-not request signs; `None` when the body is not a form
/// Twilio could have signed.
fn signed_params(req: &Request<'_>) -> Option<Vec<(String, String)>> {
    if req.body.is_empty() {
        return Some(Vec::new());
    }
    let content_type = req.header("content-type").map(signature::media_type)?;
    if content_type != FORM_TYPE {
        return None;
    }
    signature::form_pairs(req.body)
}

fn status_type(name: &str, value: &str) -> Option<String> {
    STATUS_PARAMS
        .iter()
        .find(|(param, _)| *param == name)
        .filter(|(param, _)| *param != "SequenceNumber")
        .map(|(_, prefix)| format!("{prefix}.{value}"))
}

impl Provider for Twilio {
    fn credential_headers(&self) -> &'static [&'static str] {
        // The content type decides which scheme (form parameters or bodySHA256) is checked.
        &[SIGNATURE_HEADER, SETTINGS_HEADER, "content-type"]
    }

    fn name(&self) -> &'static str {
        "twilio"
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
        let header = signature::required_header(req, SIGNATURE_HEADER)?;
        let algorithm = algorithm(req).ok_or(VerifyError::MalformedHeader(SETTINGS_HEADER))?;
        let presented = signature::decode_all(Encoding::Base64, [header]);
        let url = strip_fragment(req.url);
        let params = match signature::query_param(url, BODY_SHA256_PARAM) {
            Some(expected) => {
                let matches = Encoding::Hex.decode(&expected).is_some_and(|expected| {
                    signature::constant_time_eq(&expected, &sha2_digest(req.body))
                });
                if !matches {
                    return Err(VerifyError::SignatureMismatch);
                }
                String::new()
            }
            None => parameter_string(signed_params(req).ok_or(VerifyError::SignatureMismatch)?),
        };
        let variants = port_variants(url);
        let matched = variants.iter().any(|candidate| {
            signature::any_signature_matches(
                algorithm,
                secrets.iter().map(Secret::expose),
                &[candidate.as_bytes(), params.as_bytes()],
                &presented,
            )
        });
        if matched {
            Ok(())
        } else {
            Err(VerifyError::SignatureMismatch)
        }
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        let token = req
            .header(IDEMPOTENCY_HEADER)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if signature::query_param(req.url, BODY_SHA256_PARAM).is_some() {
            return Ok(vec![EventMeta {
                id: token.unwrap_or_else(|| signature::sha256_hex(req.body)),
                event_type: signature::body_json_text(req.body, "type"),
            }]);
        }
        let params = signature::form_pairs(req.body)
            .ok_or(ExtractError::MalformedBody("expected form parameters"))?;
        let value = |name: &str| {
            params
                .iter()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.as_str())
        };
        let event_type = STATUS_PARAMS
            .iter()
            .find_map(|(name, _)| value(name).and_then(|v| status_type(name, v)));
        let id = match token {
            Some(token) => token,
            None => {
                if !SID_PARAMS.iter().any(|name| value(name).is_some()) {
                    return Err(ExtractError::MissingEventId(
                        "I-Twilio-Idempotency-Token or a resource Sid",
                    ));
                }
                let named = SID_PARAMS
                    .iter()
                    .chain(STATUS_PARAMS.iter().map(|(name, _)| name))
                    .filter_map(|name| value(name).map(|v| (*name, v)));
                signature::form_encode(named)
            }
        };
        Ok(vec![EventMeta { id, event_type }])
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        KEPT_HEADERS
    }

    /// A form-encoded message status callback; `event_type` becomes the `MessageStatus`.
    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        signature::form_encode([
            ("AccountSid", "ACHOOKGATE"),
            ("ApiVersion", "2010-04-01"),
            ("From", "+15005550006"),
            ("MessageSid", event_id),
            ("MessageStatus", event_type),
            ("SmsSid", event_id),
            ("To", "+15005550001"),
        ])
        .into_bytes()
    }

    /// Form bodies only (JSON bodies need the URL changed: see [`Provider::sign_request`]).
    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        _now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        if looks_like_json(req.body) {
            return Err(SignError::Unsupported(JSON_NEEDS_SIGN_REQUEST));
        }
        let params = signature::form_pairs(req.body).ok_or(SignError::Unsupported(
            "the body must be form-encoded UTF-8 (or JSON, through sign_request)",
        ))?;
        let url = strip_fragment(req.url);
        let mac = Algorithm::Sha1.mac(
            secret.expose(),
            &[url.as_bytes(), parameter_string(params).as_bytes()],
        );
        Ok(vec![
            ("X-Twilio-Signature".into(), Encoding::Base64.encode(&mac)),
            ("Content-Type".into(), FORM_TYPE.into()),
            ("I-Twilio-Idempotency-Token".into(), req.event_id.into()),
        ])
    }

    /// Form bodies as [`Provider::sign`]; JSON bodies get `bodySHA256=…` added to the URL
    /// (returned as [`SignedRequest::query`]) and the URL alone is signed.
    fn sign_request(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<SignedRequest, SignError> {
        if !looks_like_json(req.body) {
            return self.sign(req, secret, now).map(SignedRequest::headers);
        }
        let query = format!(
            "{BODY_SHA256_PARAM}={}",
            Encoding::Hex.encode(&sha2_digest(req.body))
        );
        let url = crate::append_query(strip_fragment(req.url), &query);
        let mac = Algorithm::Sha1.mac(secret.expose(), &[url.as_bytes()]);
        let headers = vec![
            (
                "X-Twilio-Signature".to_string(),
                Encoding::Base64.encode(&mac),
            ),
            ("Content-Type".into(), "application/json".into()),
            ("I-Twilio-Idempotency-Token".into(), req.event_id.into()),
        ];
        Ok(SignedRequest {
            headers,
            body: None,
            query: Some(query),
        })
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }
}

fn sha2_digest(body: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(body).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, secrets, TestRequest};

    // twilio/twilio-python tests/unit/test_request_validator.py (auth token 12345).
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const PARAMS: [(&str, &str); 5] = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ];
    const SIG: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const SIG_WITH_443: &str = "kvajT1Ptam85bY51eRf/AJRuM3w=";
    const JSON_BODY: &[u8] = br#"{"property": "value", "boolean": true}"#;
    const JSON_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const JSON_SIG: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    fn form(params: &[(&str, &str)]) -> Vec<u8> {
        signature::form_encode(params.iter().copied()).into_bytes()
    }

    fn request(url: &str, body: &[u8], sig: &str) -> TestRequest {
        TestRequest::post(body)
            .url(url)
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .header("X-Twilio-Signature", sig)
    }

    fn verify(req: &TestRequest, configured: &[&str]) -> Result<(), VerifyError> {
        Twilio::new().verify(&req.as_request(), &secrets(configured), at(1))
    }

    #[test]
    fn sdk_form_vector_verifies_with_either_port_form() {
        let body = form(&PARAMS);
        assert_eq!(verify(&request(URL, &body, SIG), &[TOKEN]), Ok(()));
        // Signed with :443 while we know the URL without it, and the reverse.
        assert_eq!(verify(&request(URL, &body, SIG_WITH_443), &[TOKEN]), Ok(()));
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert_eq!(verify(&request(with_port, &body, SIG), &[TOKEN]), Ok(()));
        // http: `:80` is the default port.
        let http = "http://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            verify(
                &request(http, &body, "0ZXoZLH/DfblKGATFgpif+LLRf4="),
                &[TOKEN]
            ),
            Ok(())
        );
        // A non-default port is part of the URL and must match.
        let custom = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert_eq!(
            verify(
                &request(custom, &body, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
                &[TOKEN]
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                &request(http, &body, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
                &[TOKEN]
            ),
            Err(VerifyError::SignatureMismatch)
        );
        // Parameter order on the wire does not matter; a fragment is never signed.
        let mut reversed = PARAMS;
        reversed.reverse();
        let fragment = format!("{URL}#rc=5&rp=all");
        assert_eq!(
            verify(&request(&fragment, &form(&reversed), SIG), &[TOKEN]),
            Ok(())
        );
    }

    #[test]
    fn duplicate_parameters_sort_by_value() {
        let body = form(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            verify(
                &request(URL, &body, "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
                &[TOKEN]
            ),
            Ok(())
        );
    }

    #[test]
    fn json_body_sha256_vector_verifies() {
        let url = format!("{URL}&bodySHA256={JSON_HASH}");
        let req = TestRequest::post(JSON_BODY)
            .url(&url)
            .header("Content-Type", "application/json")
            .header("X-Twilio-Signature", JSON_SIG);
        assert_eq!(verify(&req, &[TOKEN]), Ok(()));
        assert_eq!(verify(&req, &["old", TOKEN]), Ok(()));
        let mismatch = Err(VerifyError::SignatureMismatch);
        // The body must hash to the signed bodySHA256.
        let mut tampered = JSON_BODY.to_vec();
        tampered[5] ^= 1;
        assert_eq!(verify(&req.clone().body(tampered), &[TOKEN]), mismatch);
        assert_eq!(verify(&req.clone().body(&b"{}"[..]), &[TOKEN]), mismatch);
        // Without bodySHA256 in the URL, a JSON body is not covered and is refused.
        let bare = req.clone().url(URL);
        assert_eq!(verify(&bare, &[TOKEN]), mismatch);
        assert_eq!(verify(&req, &["wrong"]), mismatch);
    }

    #[test]
    fn negatives_fail() {
        let body = form(&PARAMS);
        let mismatch = Err(VerifyError::SignatureMismatch);
        assert_eq!(verify(&request(URL, &body, SIG), &["54321"]), mismatch);
        let changed = form(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1235"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(verify(&request(URL, &changed, SIG), &[TOKEN]), mismatch);
        let mut flipped = body.clone();
        flipped[3] ^= 1;
        assert_eq!(verify(&request(URL, &flipped, SIG), &[TOKEN]), mismatch);
        assert_eq!(
            verify(
                &request("https://mycompany.com/myapp.php?foo=1", &body, SIG),
                &[TOKEN]
            ),
            mismatch
        );
        assert_eq!(verify(&request(URL, &body, &SIG[..10]), &[TOKEN]), mismatch);
        assert_eq!(verify(&request(URL, &body, "="), &[TOKEN]), mismatch);
        assert_eq!(
            verify(&request(URL, &body, ""), &[TOKEN]),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        // The form must be declared as one, and be UTF-8.
        let json_typed = request(URL, &body, SIG).set("content-type", "application/json");
        assert_eq!(verify(&json_typed, &[TOKEN]), mismatch);
        assert_eq!(verify(&request(URL, b"Body=%FF", SIG), &[TOKEN]), mismatch);
    }

    #[test]
    fn signature_settings_select_the_algorithm() {
        let body = form(&PARAMS);
        let mac = Algorithm::Sha256.mac(
            TOKEN.as_bytes(),
            &[
                URL.as_bytes(),
                parameter_string(signature::form_pairs(&body).unwrap()).as_bytes(),
            ],
        );
        let req = request(URL, &body, &Encoding::Base64.encode(&mac)).header(
            "X-Twilio-Webhooks-Signature-Settings",
            "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
        );
        assert_eq!(verify(&req, &[TOKEN]), Ok(()));
        // The SHA-1 signature is not accepted when SHA-256 is announced, and vice versa.
        let announced = request(URL, &body, SIG).header(
            "X-Twilio-Webhooks-Signature-Settings",
            "algorithm=HMAC_SHA256",
        );
        assert_eq!(
            verify(&announced, &[TOKEN]),
            Err(VerifyError::SignatureMismatch)
        );
        let unknown = request(URL, &body, SIG)
            .header("X-Twilio-Webhooks-Signature-Settings", "algorithm=HMAC_MD5");
        assert_eq!(
            verify(&unknown, &[TOKEN]),
            Err(VerifyError::MalformedHeader(SETTINGS_HEADER))
        );
        let sha1 = request(URL, &body, SIG).header("X-Twilio-Webhooks-Signature-Settings", "key=k");
        assert_eq!(verify(&sha1, &[TOKEN]), Ok(()));
    }

    #[test]
    fn port_variants_mirror_the_sdk() {
        assert_eq!(
            port_variants("https://a.example/p?q=1"),
            [
                "https://a.example/p?q=1".to_string(),
                "https://a.example:443/p?q=1".to_string()
            ]
        );
        assert_eq!(
            port_variants("http://u:p@a.example:8080?q"),
            [
                "http://u:p@a.example?q".to_string(),
                "http://u:p@a.example:8080?q".to_string()
            ]
        );
        assert_eq!(
            port_variants("no-scheme"),
            ["no-scheme".to_string(), "no-scheme".to_string()]
        );
    }

    #[test]
    fn events_prefer_the_token_then_sids_and_statuses() {
        let p = Twilio::new();
        let body = form(&[
            ("MessageSid", "SM1"),
            ("SmsSid", "SM1"),
            ("MessageStatus", "delivered"),
            ("AccountSid", "AC1"),
        ]);
        let req = request(URL, &body, SIG);
        assert_eq!(
            p.events(&req.as_request()),
            Ok(vec![EventMeta {
                id: "MessageSid=SM1&SmsSid=SM1&MessageStatus=delivered".into(),
                event_type: Some("message.delivered".into())
            }])
        );
        let with_token = req.clone().header("I-Twilio-Idempotency-Token", "tok-1");
        assert_eq!(p.events(&with_token.as_request()).unwrap()[0].id, "tok-1");
        let call = form(&[
            ("CallSid", "CA1"),
            ("CallStatus", "completed"),
            ("SequenceNumber", "3"),
        ]);
        let meta = &p.events(&request(URL, &call, SIG).as_request()).unwrap()[0];
        assert_eq!(meta.id, "CallSid=CA1&CallStatus=completed&SequenceNumber=3");
        assert_eq!(meta.event_type.as_deref(), Some("call.completed"));
        assert_eq!(
            p.events(&request(URL, b"Body=hi", SIG).as_request()),
            Err(ExtractError::MissingEventId(
                "I-Twilio-Idempotency-Token or a resource Sid"
            ))
        );
        let json = TestRequest::post(JSON_BODY).url(&format!("{URL}&bodySHA256={JSON_HASH}"));
        assert_eq!(
            p.events(&json.as_request()).unwrap()[0].id,
            signature::sha256_hex(JSON_BODY)
        );
    }

    #[test]
    fn sign_round_trips_for_forms_and_json() {
        let p = Twilio::new();
        let body = p.example_body("SM9", "delivered");
        let req = TestRequest::signed(&p, &body, "tok-9", TOKEN, at(1));
        assert_eq!(verify(&req, &[TOKEN]), Ok(()));
        assert_eq!(p.events(&req.as_request()).unwrap()[0].id, "tok-9");

        let sign = SignRequest {
            method: "POST",
            url: URL,
            body: JSON_BODY,
            event_id: "tok-j",
        };
        assert_eq!(
            p.sign(&sign, &Secret::new(TOKEN), at(1)),
            Err(SignError::Unsupported(JSON_NEEDS_SIGN_REQUEST))
        );
        let signed = p.sign_request(&sign, &Secret::new(TOKEN), at(1)).unwrap();
        assert_eq!(
            signed.query.as_deref(),
            Some(&*format!("bodySHA256={JSON_HASH}"))
        );
        let url = crate::append_query(URL, signed.query.as_deref().unwrap());
        let req = signed
            .headers
            .iter()
            .fold(TestRequest::post(JSON_BODY).url(&url), |r, (k, v)| {
                r.header(k, v)
            });
        assert_eq!(req.value("x-twilio-signature"), JSON_SIG);
        assert_eq!(verify(&req, &[TOKEN]), Ok(()));
    }
}
