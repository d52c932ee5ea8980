//! Property tests ("unbreakable parsers") for every provider.
//!
//! Two targets per provider:
//!
//! - `fuzz_<provider>`: arbitrary requests (random bytes, JSON built from the keys providers
//!   read, form bodies, deep nesting; signature-shaped, random and invalid header values; odd
//!   URLs; `now` anywhere) and mutations of a correctly signed request (body bytes changed,
//!   headers dropped or rewritten, body cut or extended, clock moved past the tolerance).
//!   Every path the gateway calls runs on each: `verify`, `challenge`, `events`,
//!   `replay_token`, plus `sign_request` and `example_body` on the same junk. Properties: no
//!   panic, and the memory a call allocates stays within `64 × input + 256 KiB` (measured by a
//!   counting global allocator, per thread), i.e. linear in what the request brought.
//! - `roundtrip_<provider>`: for random event ids and types, `example_body` signed with
//!   `sign_request` verifies, yields events naming the id, is not mistaken for a handshake; and
//!   for every provider whose signature covers the raw body, flipping any bit of any body byte
//!   makes verification fail.
//!
//! `PROPTEST_CASES` sets the number of cases per target (proptest's default, 256, is the CI
//! smoke). The million-case run of every target (figures in docs/providers.md):
//!
//! ```text
//! PROPTEST_CASES=1000000 cargo test --release -p hookgate-providers --test fuzz -- --test-threads 2
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookgate_providers::signature::{self, Encoding};
use hookgate_providers::{
    append_query, build, catalogue, generic::GenericConfig, Provider, ProviderOptions, Request,
    Secret, Secrets, SignRequest,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Allocation accounting: bytes allocated (net) by the current thread while a probe runs.
// ---------------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static CURRENT: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(bytes: usize) {
    let _ = TRACKING.try_with(|tracking| {
        if tracking.get() {
            let now = CURRENT.with(|c| {
                let v = c.get().saturating_add(bytes);
                c.set(v);
                v
            });
            PEAK.with(|p| p.set(p.get().max(now)));
        }
    });
}

fn shrank(bytes: usize) {
    let _ = TRACKING.try_with(|tracking| {
        if tracking.get() {
            CURRENT.with(|c| c.set(c.get().saturating_sub(bytes)));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            shrank(layout.size() - new_size);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Run `f`, returning the peak of bytes it held allocated at once.
fn measured<R>(f: impl FnOnce() -> R) -> (R, usize) {
    CURRENT.with(|c| c.set(0));
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    let result = f();
    TRACKING.with(|t| t.set(false));
    (result, PEAK.with(Cell::get))
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

const NOW: u64 = 1_700_000_000;
const URL: &str = "https://hooks.example.com/webhooks/source?x=1";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A request whose parts the test owns.
#[derive(Debug, Clone)]
struct Owned {
    method: String,
    url: String,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
}

impl Owned {
    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
            {
                map.append(name, value);
            }
        }
        map
    }

    fn size(&self) -> usize {
        self.url.len()
            + self.body.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>()
    }
}

struct Target {
    provider: Box<dyn Provider>,
    /// A decoy first, then the real one: rotation paths run on every verification.
    secrets: Secrets,
    signing: Secret,
    /// Whether the signature covers every body byte (flipping one must fail).
    body_covered: bool,
    /// Whether the event id names the event id of the example (not a body hash).
    id_named: bool,
    /// A request `sign_request` made for the example body at `NOW`.
    valid: Owned,
}

fn generic_config() -> GenericConfig {
    serde_json::from_value(serde_json::json!({
        "signature_header": "Acme-Signature",
        "signature_format": "kv_list",
        "signature_encoding": "hex",
        "signed_content": "{ts}.{body}",
        "id_json_path": "[*].id",
        "type_json_path": "[*].type",
    }))
    .expect("generic config")
}

/// (provider, decoy secret, signing secret, verifying secret, body covered).
fn setup(name: &str) -> (&'static str, String, String, String, bool) {
    let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
    let p256_private = {
        use p256::pkcs8::EncodePrivateKey;
        let key = p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).expect("key");
        Encoding::Base64.encode(key.to_pkcs8_der().expect("pkcs8").as_bytes())
    };
    let discord_private = "544553545349474e494e474b4559444f4e4f5455534554484953464f52414e59\
                           6653787a0edd492aa2d26a17f61414937a2bacea2e2b74154129496b6e3c73f8"
        .to_string();
    let plain = |s: &str| s.to_string();
    match name {
        "standard-webhooks" => ("standard-webhooks", plain("whsec_AAAAAAAAAAAAAAAAAAAAAAAA"), whsec.clone(), whsec, true),
        "standard-webhooks-v1a" => (
            "standard-webhooks",
            whsec,
            plain("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="),
            plain("whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="),
            true,
        ),
        "gitlab-signing" => ("gitlab", plain("plain-token"), whsec.clone(), whsec, true),
        "gitlab" => ("gitlab", plain("other-token"), plain("gitlab-token"), plain("gitlab-token"), false),
        "internal" => ("internal", plain("decoy-key"), plain("internal-key"), plain("internal-key"), false),
        "adyen" => (
            "adyen",
            plain("DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"),
            plain("44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"),
            plain("44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"),
            false,
        ),
        "sendgrid" => (
            "sendgrid",
            plain("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="),
            p256_private.clone(),
            p256_private,
            true,
        ),
        "discord" => (
            "discord",
            plain("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
            discord_private.clone(),
            discord_private,
            true,
        ),
        // The signature does not cover the whole body: Mailgun signs timestamp + token only,
        // Twilio signs decoded form parameters (`%4A` and `%4a` are the same parameter).
        "mailgun" | "twilio" => (leak(name), plain("decoy"), plain("secret-1"), plain("secret-1"), false),
        "plaid" => {
            let jwk = |kid: &str, seed: u8, private: bool| {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let key = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("key");
                let point = key.verifying_key().to_encoded_point(false);
                let mut v = serde_json::json!({
                    "kty": "EC", "crv": "P-256", "kid": kid,
                    "x": b64.encode(point.x().expect("x")), "y": b64.encode(point.y().expect("y")),
                });
                if private {
                    v["d"] = Value::from(b64.encode(key.to_bytes()));
                }
                v.to_string()
            };
            ("plaid", jwk("decoy", 9, false), jwk("k1", 7, true), jwk("k1", 7, false), true)
        }
        "ebay" => {
            use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
            let key = |kid: &str, seed: u8, private: bool| {
                let signing = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("key");
                let pem = if private {
                    signing.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string()
                } else {
                    signing.verifying_key().to_public_key_pem(LineEnding::LF).expect("pem")
                };
                serde_json::json!({"kid": kid, "key": pem}).to_string()
            };
            ("ebay", key("decoy", 9, false), key("k1", 7, true), key("k1", 7, false), true)
        }
        // Form encoding: `%41` and `A` are the same payload byte.
        "braintree" => ("braintree", plain("pub_decoy:priv"), plain("pub_1:priv_1"), plain("pub_1:priv_1"), false),
        "aws-sns" => (
            "aws-sns",
            plain(include_str!("../src/sns/other-cert.pem")),
            format!(
                "{}{}",
                include_str!("../src/sns/test-cert.pem"),
                include_str!("../src/sns/test-key.pem")
            ),
            plain(include_str!("../src/sns/test-cert.pem")),
            // Fields outside SNS's canonical string (UnsubscribeURL, JSON layout) are unsigned.
            false,
        ),
        // A shared value, no MAC: the body is not covered.
        "okta" | "msgraph" | "azure-eventgrid" => (leak(name), plain("decoy-secret"), plain("secret-1"), plain("secret-1"), false),
        "strava" => ("strava", plain("999"), plain("120475"), plain("120475"), false),
        // Presets: a secret that is valid text and valid base64, for every key encoding.
        other if catalogue::preset(other).is_some() => (
            leak(other),
            plain("ZGVjb3ktc2VjcmV0LWJ5dGVz"),
            plain("c2VjcmV0LW9uZS1ieXRlcw=="),
            plain("c2VjcmV0LW9uZS1ieXRlcw=="),
            true,
        ),
        other => (leak(other), plain("decoy-secret"), plain("secret-1"), plain("secret-1"), true),
    }
}

fn leak(name: &str) -> &'static str {
    Box::leak(name.to_string().into_boxed_str())
}

fn sign_valid(provider: &dyn Provider, signing: &Secret, id: &str, kind: &str, now: u64) -> Owned {
    let body = provider.example_body(id, kind);
    let signed = provider
        .sign_request(
            &SignRequest {
                method: "POST",
                url: URL,
                body: &body,
                event_id: id,
            },
            signing,
            at(now),
        )
        .unwrap_or_else(|e| panic!("{} signs its example: {e}", provider.name()));
    let url = match &signed.query {
        Some(query) => append_query(URL, query),
        None => URL.to_string(),
    };
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = signed
        .headers
        .into_iter()
        .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
        .collect();
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(b"content-type"))
    {
        headers.push((b"content-type".to_vec(), b"application/json".to_vec()));
    }
    Owned {
        method: "POST".into(),
        url,
        headers,
        body: signed.body.unwrap_or(body),
    }
}

fn target(name: &str) -> &'static Target {
    static TARGETS: OnceLock<std::sync::Mutex<HashMap<String, &'static Target>>> = OnceLock::new();
    let mut map = TARGETS
        .get_or_init(Default::default)
        .lock()
        .expect("targets lock");
    map.entry(name.to_string()).or_insert_with(|| {
        let (provider_name, decoy, signing, verifying, body_covered) = setup(name);
        let opts = ProviderOptions {
            generic: (provider_name == "generic").then(generic_config),
            ..catalogue::example_options(provider_name)
        };
        let provider = build(provider_name, &opts).expect("provider builds");
        let signing = Secret::new(signing.into_bytes());
        let valid = sign_valid(provider.as_ref(), &signing, "evt_fuzz_1", "fuzz.test", NOW);
        Box::leak(Box::new(Target {
            provider,
            secrets: Secrets::new(vec![
                Secret::new(decoy.into_bytes()),
                Secret::new(verifying.into_bytes()),
            ]),
            signing,
            body_covered,
            // Plaid and the body-hash presets document no id: theirs is the body's SHA-256.
            id_named: catalogue::preset(provider_name)
                .map(|row| !row.config().expect("preset config").id_from_body_sha256)
                .unwrap_or(provider_name != "plaid"),
            valid,
        }))
    })
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// Every header name some provider reads.
const HEADER_POOL: &[&str] = &[
    "content-type",
    "stripe-signature",
    "x-hub-signature-256",
    "x-hub-signature",
    "x-github-delivery",
    "x-github-event",
    "x-shopify-hmac-sha256",
    "shopify-hmac-sha256",
    "x-shopify-event-id",
    "x-shopify-webhook-id",
    "x-shopify-topic",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "authorization",
    "idempotency-key",
    "event-type",
    "acme-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-zm-signature",
    "x-zm-request-timestamp",
    "paddle-signature",
    "x-square-hmacsha256-signature",
    "linear-signature",
    "linear-delivery",
    "linear-event",
    "typeform-signature",
    "calendly-webhook-signature",
    "x-hubspot-signature-v3",
    "x-hubspot-request-timestamp",
    "x-gitlab-token",
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "x-twilio-signature",
    "x-twilio-webhooks-signature-settings",
    "i-twilio-idempotency-token",
    "hmacsignature",
    "x-twilio-email-event-webhook-signature",
    "x-twilio-email-event-webhook-timestamp",
    "x-signature-ed25519",
    "x-signature-timestamp",
];

/// Every JSON key some provider reads.
const KEY_POOL: &[&str] = &[
    "id",
    "type",
    "event",
    "event_id",
    "event_type",
    "event_ts",
    "payload",
    "plainToken",
    "object",
    "uuid",
    "challenge",
    "signature",
    "timestamp",
    "token",
    "event-data",
    "notificationItems",
    "NotificationRequestItem",
    "additionalData",
    "hmacSignature",
    "pspReference",
    "eventCode",
    "success",
    "amount",
    "value",
    "currency",
    "sg_event_id",
    "eventId",
    "portalId",
    "subscriptionId",
    "subscriptionType",
    "webhookTimestamp",
    "action",
    "data",
    "uri",
    "trigger_id",
    "command",
    "topic",
    "object_kind",
    "merchantReference",
    "",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEY_POOL).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
    ]
}

fn scalar_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,24}",
        "[0-9a-f]{0,80}",
        "[A-Za-z0-9+/=]{0,100}",
        (0u64..4_000_000_000_000).prop_map(|n| n.to_string()),
        (NOW - 400..NOW + 400).prop_map(|n| n.to_string()),
        proptest::sample::select(KEY_POOL).prop_map(str::to_string),
        Just("endpoint.url_validation".to_string()),
        Just("url_verification".to_string()),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (0u64..3).prop_map(Value::from),
        scalar_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..512),
        4 => json().prop_map(|v| v.to_string().into_bytes()),
        1 => json().prop_map(|v| serde_json::to_vec_pretty(&v).expect("serialises")),
        2 => proptest::collection::vec((key(), scalar_text()), 0..10)
            .prop_map(|pairs| signature::form_encode(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).into_bytes()),
        1 => "[%&=+a-zA-Z0-9]{0,200}".prop_map(String::into_bytes),
        // Deep nesting: serde_json's recursion limit must turn this into an error.
        1 => (1usize..4000, proptest::sample::select(&["[", "{\"a\":", "[{\"notificationItems\":"][..]))
            .prop_map(|(n, open)| open.repeat(n).into_bytes()),
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let part = prop_oneof![
        "[0-9a-f]{0,130}",
        "[A-Za-z0-9+/]{0,90}={0,2}",
        (NOW - 400..NOW + 400).prop_map(|n| n.to_string()),
        ((NOW - 400) * 1000..(NOW + 400) * 1000).prop_map(|n| n.to_string()),
        "[0-9]{0,25}",
        "[ -~]{0,40}",
    ];
    let prefix = proptest::sample::select(
        &[
            "",
            "t=",
            "v1=",
            "v0=",
            "sha256=",
            "sha1=",
            "ts=",
            "h1=",
            "v1,",
            "v1a,",
            "v2,",
            "key=",
            "algorithm=HMAC_SHA256",
            "algorithm=",
            "Bearer ",
            "whsec_",
        ][..],
    );
    let separator = proptest::sample::select(&[",", ";", " ", "&", ""][..]);
    prop_oneof![
        4 => proptest::collection::vec((prefix, part, separator), 1..5).prop_map(|parts| {
            parts
                .into_iter()
                .map(|(p, v, s)| format!("{p}{v}{s}"))
                .collect::<String>()
                .into_bytes()
        }),
        // Raw bytes, including obs-text (0x80-0xff) and bytes a header cannot carry (dropped).
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    let name = prop_oneof![
        6 => proptest::sample::select(HEADER_POOL).prop_map(|n| n.as_bytes().to_vec()),
        1 => "[a-z-]{1,20}".prop_map(String::into_bytes),
    ];
    proptest::collection::vec((name, header_value()), 0..10)
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(URL.to_string()),
        1 => "[ -~]{0,80}",
        1 => ("(https?)://[a-z.]{1,12}(:[0-9]{0,6})?(/[a-z%]{0,10})?", "[0-9a-f]{0,64}")
            .prop_map(|(base, hash)| format!("{base}?bodySHA256={hash}&a=b#rc=2")),
        1 => "https?://[a-z@:.]{0,20}[/?#][ -~]{0,30}",
    ]
}

/// A change to a correctly signed request.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    FlipBodyBit { index: usize, bit: u8 },
    SetBodyByte { index: usize, byte: u8 },
    TruncateBody { keep: usize },
    AppendBody(Vec<u8>),
    DropHeader { index: usize },
    ReplaceHeader { index: usize, value: Vec<u8> },
    AddHeader { name: Vec<u8>, value: Vec<u8> },
    ReplaceBody(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => Just(Mutation::None),
        2 => (any::<usize>(), 0u8..8).prop_map(|(index, bit)| Mutation::FlipBodyBit { index, bit }),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(index, byte)| Mutation::SetBodyByte { index, byte }),
        1 => any::<usize>().prop_map(|keep| Mutation::TruncateBody { keep }),
        1 => proptest::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::AppendBody),
        1 => any::<usize>().prop_map(|index| Mutation::DropHeader { index }),
        2 => (any::<usize>(), header_value()).prop_map(|(index, value)| Mutation::ReplaceHeader { index, value }),
        1 => (proptest::sample::select(HEADER_POOL), header_value())
            .prop_map(|(name, value)| Mutation::AddHeader { name: name.as_bytes().to_vec(), value }),
        1 => body().prop_map(Mutation::ReplaceBody),
    ]
}

fn apply(mut req: Owned, mutation: &Mutation) -> Owned {
    let body_len = req.body.len();
    match mutation {
        Mutation::None => {}
        Mutation::FlipBodyBit { index, bit } if body_len > 0 => {
            req.body[index % body_len] ^= 1 << bit;
        }
        Mutation::SetBodyByte { index, byte } if body_len > 0 => req.body[index % body_len] = *byte,
        Mutation::TruncateBody { keep } => req.body.truncate(keep % (body_len + 1)),
        Mutation::AppendBody(extra) => req.body.extend_from_slice(extra),
        Mutation::DropHeader { index } if !req.headers.is_empty() => {
            let i = index % req.headers.len();
            req.headers.remove(i);
        }
        Mutation::ReplaceHeader { index, value } if !req.headers.is_empty() => {
            let i = index % req.headers.len();
            req.headers[i].1 = value.clone();
        }
        Mutation::AddHeader { name, value } => req.headers.push((name.clone(), value.clone())),
        Mutation::ReplaceBody(body) => req.body = body.clone(),
        _ => {}
    }
    req
}

#[derive(Debug, Clone)]
enum Input {
    /// Anything at all.
    Arbitrary(Owned),
    /// A correctly signed request, changed.
    Mutated(Mutation),
}

fn input() -> impl Strategy<Value = (Input, i64, String)> {
    let arbitrary = (
        proptest::sample::select(&["POST", "GET", "PUT", "post"][..]),
        url(),
        headers(),
        body(),
    )
        .prop_map(|(method, url, headers, body)| {
            Input::Arbitrary(Owned {
                method: method.to_string(),
                url,
                headers,
                body,
            })
        });
    let input = prop_oneof![
        1 => arbitrary,
        1 => mutation().prop_map(Input::Mutated),
    ];
    // `now` relative to the signing time: on the tolerance boundaries, or anywhere.
    let skew = prop_oneof![
        3 => Just(0i64),
        1 => proptest::sample::select(&[-301i64, -300, 300, 301, 60_000, -60_000][..]),
        1 => any::<i32>().prop_map(i64::from),
    ];
    (input, skew, "[A-Za-z0-9_.:-]{1,40}")
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Every call the gateway (and `hookgate send`) makes, on one request.
fn exercise(
    target: &Target,
    input: &Input,
    skew: i64,
    event_id: &str,
) -> Result<(), TestCaseError> {
    let req = match input {
        Input::Arbitrary(owned) => owned.clone(),
        Input::Mutated(mutation) => apply(target.valid.clone(), mutation),
    };
    let headers = req.header_map();
    let request = Request {
        method: &req.method,
        url: &req.url,
        headers: &headers,
        body: &req.body,
    };
    let now = at(NOW.saturating_add_signed(skew));
    let p = target.provider.as_ref();
    let (verified, peak) = measured(|| {
        let verified = p.verify(&request, &target.secrets, now);
        if let Err(e) = &verified {
            let _ = (e.reason(), e.to_string());
        }
        // The gateway calls these only after a successful verify; they must hold on any input.
        let _ = p.challenge(&request, &target.secrets);
        if let Err(e) = p.events(&request) {
            let _ = e.to_string();
        }
        let _ = p.replay_token(&request);
        let _ = p.sign_request(
            &SignRequest {
                method: &req.method,
                url: &req.url,
                body: &req.body,
                event_id,
            },
            &target.signing,
            now,
        );
        let _ = p.example_body(
            event_id,
            &String::from_utf8_lossy(&req.body[..req.body.len().min(64)]),
        );
        verified
    });
    let bound = 64 * req.size() + 256 * 1024;
    prop_assert!(
        peak <= bound,
        "{} allocated {peak} bytes for a {}-byte request",
        p.name(),
        req.size()
    );
    // An untouched signed request verifies at its own time.
    if matches!(input, Input::Mutated(Mutation::None)) && skew == 0 {
        prop_assert_eq!(verified, Ok(()));
    }
    Ok(())
}

fn roundtrip(
    target: &Target,
    id: &str,
    kind: &str,
    index: usize,
    bit: u8,
) -> Result<(), TestCaseError> {
    let p = target.provider.as_ref();
    let valid = sign_valid(p, &target.signing, id, kind, NOW);
    let headers = valid.header_map();
    let request = Request {
        method: &valid.method,
        url: &valid.url,
        headers: &headers,
        body: &valid.body,
    };
    prop_assert_eq!(p.verify(&request, &target.secrets, at(NOW)), Ok(()));
    prop_assert!(p.challenge(&request, &target.secrets).is_none());
    let events = p
        .events(&request)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(!events.is_empty());
    prop_assert!(
        !target.id_named || events.iter().any(|meta| meta.id.contains(id)),
        "{}: {events:?} does not name {id}",
        p.name()
    );
    if target.body_covered && !valid.body.is_empty() {
        let mut flipped = valid.body.clone();
        let i = index % flipped.len();
        flipped[i] ^= 1 << bit;
        let request = Request {
            body: &flipped,
            ..request
        };
        prop_assert!(
            p.verify(&request, &target.secrets, at(NOW)).is_err(),
            "{}: flipping bit {bit} of byte {i} still verifies",
            p.name()
        );
    }
    Ok(())
}

#[test]
fn allocation_accounting_sees_allocations() {
    let (kept, peak) = measured(|| vec![1u8; 100_000]);
    assert!(peak >= 100_000, "peak {peak}");
    drop(kept);
    let ((), nothing) = measured(|| ());
    assert_eq!(nothing, 0);
}

macro_rules! targets {
    ($($name:literal => $fuzz:ident, $roundtrip:ident;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig {
                failure_persistence: None,
                ..ProptestConfig::default()
            })]
            $(
                #[test]
                fn $fuzz((input, skew, event_id) in input()) {
                    exercise(target($name), &input, skew, &event_id)?;
                }

                #[test]
                fn $roundtrip(
                    id in "[A-Za-z0-9_.-]{1,40}",
                    kind in "[a-z]{1,10}(\\.[a-z_]{1,12}){0,2}",
                    index in any::<usize>(),
                    bit in 0u8..8,
                ) {
                    roundtrip(target($name), &id, &kind, index, bit)?;
                }
            )*
        }

        #[test]
        fn every_known_provider_has_targets() {
            let covered = [$($name),*];
            for name in hookgate_providers::BESPOKE_PROVIDERS {
                assert!(covered.contains(name), "no property targets for provider `{name}`");
            }
        }
    };
}

targets! {
    "stripe" => fuzz_stripe, roundtrip_stripe;
    "shopify" => fuzz_shopify, roundtrip_shopify;
    "github" => fuzz_github, roundtrip_github;
    "standard-webhooks" => fuzz_standard_webhooks, roundtrip_standard_webhooks;
    "standard-webhooks-v1a" => fuzz_standard_webhooks_v1a, roundtrip_standard_webhooks_v1a;
    "generic" => fuzz_generic, roundtrip_generic;
    "internal" => fuzz_internal, roundtrip_internal;
    "slack" => fuzz_slack, roundtrip_slack;
    "zoom" => fuzz_zoom, roundtrip_zoom;
    "linear" => fuzz_linear, roundtrip_linear;
    "calendly" => fuzz_calendly, roundtrip_calendly;
    "hubspot" => fuzz_hubspot, roundtrip_hubspot;
    "gitlab" => fuzz_gitlab, roundtrip_gitlab;
    "gitlab-signing" => fuzz_gitlab_signing, roundtrip_gitlab_signing;
    "twilio" => fuzz_twilio, roundtrip_twilio;
    "mailgun" => fuzz_mailgun, roundtrip_mailgun;
    "adyen" => fuzz_adyen, roundtrip_adyen;
    "sendgrid" => fuzz_sendgrid, roundtrip_sendgrid;
    "discord" => fuzz_discord, roundtrip_discord;
    "netlify" => fuzz_netlify, roundtrip_netlify;
    "aws-sns" => fuzz_aws_sns, roundtrip_aws_sns;
    "braintree" => fuzz_braintree, roundtrip_braintree;
    "contentful" => fuzz_contentful, roundtrip_contentful;
    "plaid" => fuzz_plaid, roundtrip_plaid;
    "ebay" => fuzz_ebay, roundtrip_ebay;
    "okta" => fuzz_okta, roundtrip_okta;
    "msgraph" => fuzz_msgraph, roundtrip_msgraph;
    "azure-eventgrid" => fuzz_azure_eventgrid, roundtrip_azure_eventgrid;
    "strava" => fuzz_strava, roundtrip_strava;
}

// Presets share one target pair: each case picks a row, so every preset's verify, handshake and
// extract paths run on junk and on mutations of its own signed example.
proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn fuzz_presets(row in 0..catalogue::PRESETS.len(), (input, skew, event_id) in input()) {
        let target = target(catalogue::PRESETS[row].name);
        exercise(target, &input, skew, &event_id)?;
        let headers = match &input {
            Input::Arbitrary(owned) => owned.header_map(),
            Input::Mutated(_) => target.valid.header_map(),
        };
        let body: &[u8] = match &input {
            Input::Arbitrary(owned) => &owned.body,
            Input::Mutated(_) => &target.valid.body,
        };
        for method in ["GET", "HEAD", "POST"] {
            let request = Request { method, url: URL, headers: &headers, body };
            let _ = target.provider.answer_handshake(&request, &target.secrets);
        }
    }

    #[test]
    fn roundtrip_presets(
        row in 0..catalogue::PRESETS.len(),
        id in "[A-Za-z0-9_.-]{1,40}",
        kind in "[a-z]{1,10}(\\.[a-z_]{1,12}){0,2}",
        index in any::<usize>(),
        bit in 0u8..8,
    ) {
        roundtrip(target(catalogue::PRESETS[row].name), &id, &kind, index, bit)?;
    }
}

#[test]
fn every_preset_has_a_property_target() {
    for name in hookgate_providers::known_providers() {
        assert!(
            hookgate_providers::BESPOKE_PROVIDERS.contains(&name)
                || catalogue::preset(name).is_some(),
            "{name} is neither bespoke nor a preset"
        );
        // Every preset builds a target (a signed example that verifies at its own time).
        if catalogue::preset(name).is_some() {
            let target = target(name);
            let headers = target.valid.header_map();
            let request = Request {
                method: "POST",
                url: &target.valid.url,
                headers: &headers,
                body: &target.valid.body,
            };
            assert_eq!(
                target.provider.verify(&request, &target.secrets, at(NOW)),
                Ok(()),
                "{name}"
            );
        }
    }
}
