//! The configurable HMAC verifier.
//!
//! One [`GenericConfig`] (the `[sources.<name>.generic]` table) describes a provider of the
//! "G" family of `reference/providers.md` §2: which hash, how the key is decoded, which bytes
//! are signed (a template over `{id}`, `{ts}`, `{body}`, `{method}`, `{url}`), how the signature
//! header is laid out and encoded, where the timestamp and the event id come from.
//! [`Generic::new`] validates the whole description once, at build time, and compiles it, so a
//! request never meets a half-valid configuration.
//!
//! Deliberate refusals (each a [`BuildError::Invalid`] with the reason):
//! - a template without `{body}`: the body would not be authenticated;
//! - `{ts}` or `{id}` in the template without a header to read them from;
//! - no event-id source: hashing the body must be asked for (`id_from_body_sha256 = true`),
//!   because retries that change the body (attempt counters) would then not dedupe;
//! - settings that belong to another `signature_format` (a typo would otherwise be silently
//!   ignored).
//!
//! A Stripe-shaped source, written by hand:
//!
//! ```toml
//! [sources.acme.generic]
//! signature_header = "Acme-Signature"   # required
//! signature_format = "kv_list"          # raw (default) | prefix | kv_list | space_list
//! signature_encoding = "hex"            # required: hex | base64
//! signed_content = "{ts}.{body}"        # default "{body}"
//! id_json_path = "id"                   # or id_header = "…", or id_from_body_sha256 = true
//!                                       # (id_json_paths = […] for a composite id,
//!                                       #  "events[*].id" for one event per array item)
//! type_json_path = "type"               # optional; or type_header = "…"
//! ```

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::signature::{self, Algorithm, Encoding};
use crate::{
    test_event_type, BuildError, EventMeta, ExtractError, Provider, Request, Secret, Secrets,
    SignError, SignRequest, VerifyError,
};

/// Manual replays from provider dashboards can come days later; a week covers every "G"
/// provider's documented schedule (Stripe, Paddle and Square retry for 3 days).
const RETRY_HORIZON: Duration = Duration::from_secs(7 * 24 * 3600);
/// In an `id_json_path`, `[*].` marks a JSON array with one event per element: `[*].id` for an
/// array body, `events[*].id` for an array at `events`.
const BATCH_MARKER: &str = "[*].";
/// Between the parts of a composite id (`id_json_paths`).
const COMPOSITE_SEPARATOR: &str = ":";
const DEFAULT_SIGNED_CONTENT: &str = "{body}";
const DEFAULT_PAIR_SEPARATOR: &str = ",";
const DEFAULT_KV_SEPARATOR: &str = "=";
const DEFAULT_SIGNATURE_KEY: &str = "v1";
const DEFAULT_TIMESTAMP_KEY: &str = "t";
const DEFAULT_VERSION: &str = "v1";
const BAD_KEY: &str = "the secret does not decode with the configured key_encoding";

/// The `[sources.<name>.generic]` table (see the module docs for an example).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericConfig {
    /// `sha256` (default) or `sha1`.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// How each configured secret becomes the HMAC key.
    #[serde(default)]
    pub key_encoding: KeyEncoding,
    /// The header carrying the signature(s).
    pub signature_header: String,
    /// How the signature header is laid out (default `raw`).
    #[serde(default)]
    pub signature_format: SignatureFormat,
    /// `prefix` format: the text before the signature, e.g. `sha256=` or `v0=`.
    pub signature_prefix: Option<String>,
    /// `kv_list` format: between entries (default `,`; Paddle `;`).
    pub pair_separator: Option<String>,
    /// `kv_list` format: between a key and its value (default `=`).
    pub kv_separator: Option<String>,
    /// `kv_list` format: the key of signature entries (default `v1`; Paddle `h1`).
    pub signature_key: Option<String>,
    /// `kv_list` format: the key of the timestamp entry (default `t`; Paddle `ts`). The
    /// timestamp source of a `kv_list` header unless `timestamp_header`/`timestamp_json_path`
    /// is set or `untimed` is true.
    pub timestamp_key: Option<String>,
    /// `kv_list` format: groups of pairs separated by this (Persona sends `t=…,v1=… t=…,v1=…`
    /// during rotation); the groups must agree on the timestamp.
    pub group_separator: Option<String>,
    /// `kv_list` format: the header carries signatures only, no timestamp (PagerDuty
    /// `v1=…,v1=…`).
    #[serde(default)]
    pub untimed: bool,
    /// More headers carrying signatures of the same content, in the same layout: every one
    /// present is tried (Box `BOX-SIGNATURE-SECONDARY`, DocuSign `X-DocuSign-Signature-2…`).
    #[serde(default)]
    pub extra_signature_headers: Vec<String>,
    /// A legacy signature header consulted **only when none of the signature headers above is
    /// present** (GitHub's `X-Hub-Signature: sha1=…` next to `X-Hub-Signature-256`): accepting
    /// it next to a failing primary would let a request downgrade itself to the weaker MAC.
    pub fallback_signature_header: Option<String>,
    /// The fallback header's prefix (e.g. `sha1=`); none: the whole value is the signature.
    pub fallback_signature_prefix: Option<String>,
    /// The fallback header's hash (default: `algorithm`).
    pub fallback_algorithm: Option<Algorithm>,
    /// `space_list` format: the version whose signatures count (default `v1`).
    pub version: Option<String>,
    /// `hex` or `base64`.
    pub signature_encoding: Encoding,
    /// The signed bytes, with `{id}`, `{ts}`, `{body}`, `{method}`, `{url}` (default `{body}`).
    pub signed_content: Option<String>,
    /// Timestamp from a header (Slack, Zoom, HubSpot).
    pub timestamp_header: Option<String>,
    /// Timestamp from the JSON body (Linear `webhookTimestamp`); checked after the signature.
    pub timestamp_json_path: Option<String>,
    /// `s` (default) or `ms`.
    pub timestamp_unit: Option<TimestampUnit>,
    /// `unix` (default: decimal digits in `timestamp_unit`) or `rfc3339` (Twitch, Box,
    /// Zendesk: the date-time text is signed as received and checked to the second).
    pub timestamp_format: Option<TimestampFormat>,
    /// Event id from a header (GitHub, Shopify, Svix, Linear).
    pub id_header: Option<String>,
    /// Headers tried in order when `id_header` is absent (Shopify: `Shopify-Event-Id`,
    /// `X-Shopify-Webhook-Id`, …).
    #[serde(default)]
    pub id_header_fallbacks: Vec<String>,
    /// Event id from the JSON body (`id`, `data.id`); `[*].eventId` for array bodies,
    /// `events[*].id` for an array of events at `events`.
    pub id_json_path: Option<String>,
    /// A composite event id for providers that document a tuple instead of one id
    /// (Paystack `event` + `data.id`): the values joined by `:`, every one required. The same
    /// `[*].` rule as `id_json_path` applies, with one array for all parts.
    pub id_json_paths: Option<Vec<String>>,
    /// Event id = hex SHA-256 of the body. Only for providers that document no id (Zoom,
    /// Calendly): a retry whose body differs becomes a new event.
    #[serde(default)]
    pub id_from_body_sha256: bool,
    /// Event type from a header.
    pub type_header: Option<String>,
    /// Headers tried in order when `type_header` is absent.
    #[serde(default)]
    pub type_header_fallbacks: Vec<String>,
    /// Event type from the JSON body (`[*].…` for array bodies).
    pub type_json_path: Option<String>,
}

impl GenericConfig {
    /// A configuration with only the two required settings; everything else takes its default
    /// (`sha256`, UTF-8 key, `raw` header, `{body}`, no timestamp, no id source). The built-in
    /// providers of the "G" family start from this and fill in their scheme.
    pub fn new(signature_header: &str, signature_encoding: Encoding) -> Self {
        GenericConfig {
            algorithm: Algorithm::default(),
            key_encoding: KeyEncoding::default(),
            signature_header: signature_header.to_owned(),
            signature_format: SignatureFormat::default(),
            signature_prefix: None,
            pair_separator: None,
            kv_separator: None,
            signature_key: None,
            timestamp_key: None,
            group_separator: None,
            untimed: false,
            extra_signature_headers: Vec::new(),
            fallback_signature_header: None,
            fallback_signature_prefix: None,
            fallback_algorithm: None,
            version: None,
            signature_encoding,
            signed_content: None,
            timestamp_header: None,
            timestamp_json_path: None,
            timestamp_unit: None,
            timestamp_format: None,
            id_header: None,
            id_header_fallbacks: Vec::new(),
            id_json_path: None,
            id_json_paths: None,
            id_from_body_sha256: false,
            type_header: None,
            type_header_fallbacks: Vec::new(),
            type_json_path: None,
        }
    }
}

/// How a configured secret becomes the HMAC key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyEncoding {
    /// The secret's bytes as they are (most providers, including Stripe's `whsec_…`).
    #[default]
    Utf8,
    /// Base64 after an optional `whsec_` (Standard Webhooks, Svix, GitLab signing tokens).
    Base64,
    /// Hex (Adyen).
    Hex,
    /// Base64 without any prefix, decoded (Airtable `macSecretBase64`, Microsoft Teams
    /// security tokens); the same decoder as `base64`.
    #[serde(rename = "base64_plain")]
    Base64Plain,
    /// The text after Unicode NFKD normalisation (EasyPost: `é` becomes `e` + U+0301).
    Nfkd,
}

impl KeyEncoding {
    fn decode(self, secret: &[u8]) -> Option<Vec<u8>> {
        let key = match self {
            KeyEncoding::Utf8 => Some(secret.to_vec()),
            KeyEncoding::Base64 | KeyEncoding::Base64Plain => signature::decode_whsec(secret),
            KeyEncoding::Nfkd => std::str::from_utf8(secret)
                .ok()
                .map(|text| text.nfkd().collect::<String>().into_bytes()),
            KeyEncoding::Hex => std::str::from_utf8(secret)
                .ok()
                .and_then(|text| hex::decode(text.trim()).ok()),
        };
        key.filter(|key| !key.is_empty())
    }
}

/// The layout of the signature header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureFormat {
    /// The whole value is one signature (Shopify, Linear, Square).
    #[default]
    Raw,
    /// `<signature_prefix><signature>` (GitHub `sha256=`, Slack `v0=`).
    Prefix,
    /// `t=…,v1=…,v1=…` (Stripe, Paddle, Calendly).
    KvList,
    /// `v1,<sig> v1,<sig>` (Standard Webhooks).
    SpaceList,
    /// `<timestamp>,<sig>[,<sig>…]`: the first entry is the timestamp (Recurly).
    TimestampList,
}

/// How a timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    #[default]
    Unix,
    Rfc3339,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TimestampUnit {
    #[default]
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "ms")]
    Milliseconds,
}

/// A compiled, validated [`GenericConfig`].
#[derive(Debug, Clone)]
pub struct Generic {
    algorithm: Algorithm,
    key_encoding: KeyEncoding,
    signature_header: &'static str,
    extra_signature_headers: &'static [&'static str],
    fallback: Option<Fallback>,
    layout: Layout,
    encoding: Encoding,
    template: Vec<Segment>,
    timestamp: Option<TimestampSource>,
    timestamp_unit: TimestampUnit,
    timestamp_format: TimestampFormat,
    id: IdSource,
    event_type: Option<TypeSource>,
    id_fallbacks: &'static [&'static str],
    type_fallbacks: &'static [&'static str],
    kept_headers: &'static [&'static str],
    /// Every header verification reads (see [`crate::Provider::credential_headers`]).
    credential_headers: &'static [&'static str],
    tolerance: Duration,
}

/// The legacy signature header of [`GenericConfig::fallback_signature_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fallback {
    header: &'static str,
    prefix: Option<&'static str>,
    algorithm: Algorithm,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    Raw,
    Prefix(String),
    KvList {
        group_separator: Option<String>,
        pair_separator: String,
        kv_separator: String,
        signature_key: String,
        /// `Some` when the timestamp is read from this header.
        timestamp_key: Option<String>,
    },
    SpaceList(String),
    TimestampList,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Id,
    Timestamp,
    Body,
    Method,
    Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimestampSource {
    Header(&'static str),
    /// The `timestamp_key` entry of the `kv_list` signature header.
    SignatureHeader,
    JsonPath(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdSource {
    Header(&'static str),
    /// `paths` (one, or the parts of a composite id) are relative to each element of the
    /// array at `array` (`Some("")`: the body itself is the array) or to the body.
    /// `label` is the configured path as written, for error messages.
    JsonPath {
        paths: &'static [&'static str],
        array: Option<&'static str>,
        label: &'static str,
    },
    BodySha256,
}

impl IdSource {
    fn array(self) -> Option<&'static str> {
        match self {
            IdSource::JsonPath { array, .. } => array,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeSource {
    Header(&'static str),
    /// Relative to each element for batch bodies.
    JsonPath(&'static str),
}

/// Give a configured name the `'static` lifetime the error types carry.
///
/// `VerifyError`/`ExtractError` name headers and paths as `&'static str` so that built-in
/// providers pay nothing for them. A generic source's names are configuration, built once per
/// source at start-up and kept for the life of the process, so leaking those few bytes is the
/// honest way to give them that lifetime.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn invalid(message: impl Into<String>) -> BuildError {
    BuildError::Invalid(format!("generic: {}", message.into()))
}

/// A header name as `http` stores it (lower case), or a build error naming the setting.
fn header_name(setting: &str, name: &str) -> Result<&'static str, BuildError> {
    http::HeaderName::from_bytes(name.trim().as_bytes())
        .map(|header| leak(header.as_str().to_owned()))
        .map_err(|_| invalid(format!("{setting} `{name}` is not a valid header name")))
}

/// A dotted JSON path with no empty segment.
fn json_path(setting: &str, path: &str) -> Result<&'static str, BuildError> {
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(invalid(format!(
            "{setting} `{path}` is not a dotted path like `data.id`"
        )));
    }
    Ok(leak(path.to_owned()))
}

fn parse_template(template: &str) -> Result<Vec<Segment>, BuildError> {
    let mut segments = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let literal_end = rest.find(['{', '}']).unwrap_or(rest.len());
        if literal_end > 0 {
            segments.push(Segment::Literal(leak(rest[..literal_end].to_owned())));
            rest = &rest[literal_end..];
            continue;
        }
        let Some(close) = rest.find('}').filter(|_| rest.starts_with('{')) else {
            return Err(invalid(format!(
                "signed_content `{template}` has an unmatched brace"
            )));
        };
        segments.push(match &rest[1..close] {
            "id" => Segment::Id,
            "ts" => Segment::Timestamp,
            "body" => Segment::Body,
            "method" => Segment::Method,
            "url" => Segment::Url,
            other => {
                return Err(invalid(format!(
                    "signed_content has an unknown placeholder `{{{other}}}` (known: {{id}} {{ts}} {{body}} {{method}} {{url}})"
                )))
            }
        });
        rest = &rest[close + 1..];
    }
    Ok(segments)
}

/// Settings that only mean something with one `signature_format`, as (name, is set).
fn misplaced(cfg: &GenericConfig) -> Option<&'static str> {
    let format = cfg.signature_format;
    let checks = [
        (
            "signature_prefix",
            cfg.signature_prefix.is_some(),
            SignatureFormat::Prefix,
        ),
        (
            "pair_separator",
            cfg.pair_separator.is_some(),
            SignatureFormat::KvList,
        ),
        (
            "kv_separator",
            cfg.kv_separator.is_some(),
            SignatureFormat::KvList,
        ),
        (
            "signature_key",
            cfg.signature_key.is_some(),
            SignatureFormat::KvList,
        ),
        (
            "timestamp_key",
            cfg.timestamp_key.is_some(),
            SignatureFormat::KvList,
        ),
        ("version", cfg.version.is_some(), SignatureFormat::SpaceList),
        (
            "group_separator",
            cfg.group_separator.is_some(),
            SignatureFormat::KvList,
        ),
    ];
    checks
        .into_iter()
        .find(|(_, set, wanted)| *set && *wanted != format)
        .map(|(name, _, _)| name)
}

fn non_empty(setting: &str, value: Option<&str>, default: &str) -> Result<String, BuildError> {
    let value = value.unwrap_or(default);
    if value.is_empty() {
        return Err(invalid(format!("{setting} must not be empty")));
    }
    Ok(value.to_owned())
}

/// Where the timestamp comes from: at most one explicit source; a `kv_list` header carries its
/// own (`t=` by default) as every provider using that layout does.
fn timestamp_source(cfg: &GenericConfig) -> Result<Option<TimestampSource>, BuildError> {
    let explicit = [
        cfg.timestamp_header.is_some(),
        cfg.timestamp_json_path.is_some(),
        cfg.timestamp_key.is_some(),
    ];
    if explicit.into_iter().filter(|set| *set).count() > 1 {
        return Err(invalid(
            "set at most one of timestamp_header, timestamp_json_path, timestamp_key",
        ));
    }
    let source = if let Some(name) = &cfg.timestamp_header {
        Some(TimestampSource::Header(header_name(
            "timestamp_header",
            name,
        )?))
    } else if let Some(path) = &cfg.timestamp_json_path {
        Some(TimestampSource::JsonPath(json_path(
            "timestamp_json_path",
            path,
        )?))
    } else if (cfg.signature_format == SignatureFormat::KvList && !cfg.untimed)
        || cfg.signature_format == SignatureFormat::TimestampList
    {
        Some(TimestampSource::SignatureHeader)
    } else {
        None
    };
    if cfg.untimed
        && (cfg.timestamp_key.is_some() || cfg.signature_format != SignatureFormat::KvList)
    {
        return Err(invalid(
            "untimed applies to signature_format = \"kv_list\" without timestamp_key",
        ));
    }
    if source.is_none() && (cfg.timestamp_unit.is_some() || cfg.timestamp_format.is_some()) {
        return Err(invalid(
            "timestamp_unit/timestamp_format is set but there is no timestamp source",
        ));
    }
    if cfg.timestamp_format == Some(TimestampFormat::Rfc3339) && cfg.timestamp_unit.is_some() {
        return Err(invalid(
            "timestamp_unit does not apply to rfc3339 timestamps",
        ));
    }
    Ok(source)
}

fn layout(cfg: &GenericConfig, timestamp: Option<TimestampSource>) -> Result<Layout, BuildError> {
    Ok(match cfg.signature_format {
        SignatureFormat::Raw => Layout::Raw,
        SignatureFormat::Prefix => match cfg.signature_prefix.as_deref() {
            Some(prefix) if !prefix.is_empty() => Layout::Prefix(prefix.to_owned()),
            _ => {
                return Err(invalid(
                    "signature_format = \"prefix\" needs signature_prefix (e.g. \"sha256=\")",
                ))
            }
        },
        SignatureFormat::KvList => {
            let setting =
                |name, value: &Option<String>, default| non_empty(name, value.as_deref(), default);
            let pair_separator = setting(
                "pair_separator",
                &cfg.pair_separator,
                DEFAULT_PAIR_SEPARATOR,
            )?;
            let kv_separator = setting("kv_separator", &cfg.kv_separator, DEFAULT_KV_SEPARATOR)?;
            let signature_key =
                setting("signature_key", &cfg.signature_key, DEFAULT_SIGNATURE_KEY)?;
            if pair_separator == kv_separator {
                return Err(invalid("pair_separator and kv_separator must differ"));
            }
            let timestamp_key = match timestamp {
                Some(TimestampSource::SignatureHeader) => {
                    let key = setting("timestamp_key", &cfg.timestamp_key, DEFAULT_TIMESTAMP_KEY)?;
                    if key == signature_key {
                        return Err(invalid("timestamp_key and signature_key must differ"));
                    }
                    Some(key)
                }
                _ => None,
            };
            let group_separator = match cfg.group_separator.as_deref() {
                None => None,
                Some(sep) if sep.is_empty() || sep == pair_separator || sep == kv_separator => {
                    return Err(invalid(
                        "group_separator must be non-empty and differ from the other separators",
                    ))
                }
                Some(sep) => Some(sep.to_owned()),
            };
            Layout::KvList {
                group_separator,
                pair_separator,
                kv_separator,
                signature_key,
                timestamp_key,
            }
        }
        SignatureFormat::TimestampList => Layout::TimestampList,
        SignatureFormat::SpaceList => {
            let version = non_empty("version", cfg.version.as_deref(), DEFAULT_VERSION)?;
            if version.contains([',', ' ', '\t']) {
                return Err(invalid("version must not contain commas or spaces"));
            }
            Layout::SpaceList(version)
        }
    })
}

/// The signed-content template, checked against the sources it needs.
fn template(
    cfg: &GenericConfig,
    timestamp: Option<TimestampSource>,
    id_header: bool,
) -> Result<Vec<Segment>, BuildError> {
    let template = parse_template(
        cfg.signed_content
            .as_deref()
            .unwrap_or(DEFAULT_SIGNED_CONTENT),
    )?;
    if !template.contains(&Segment::Body) {
        return Err(invalid(
            "signed_content must contain {body}; otherwise the body is not authenticated",
        ));
    }
    if template.contains(&Segment::Timestamp) {
        match timestamp {
            None => {
                return Err(invalid(
                    "signed_content uses {ts} but no timestamp source is configured \
                     (timestamp_header, timestamp_json_path, or a kv_list signature header)",
                ))
            }
            Some(TimestampSource::JsonPath(_)) => {
                return Err(invalid(
                    "signed_content cannot use {ts} from timestamp_json_path: the signature \
                     is checked before the body is parsed; use timestamp_header",
                ))
            }
            Some(_) => {}
        }
    }
    if template.contains(&Segment::Id) && !id_header {
        return Err(invalid("signed_content uses {id}, which needs id_header"));
    }
    Ok(template)
}

/// Split a configured id/type path at its `[*].` marker: (array path, element path).
fn split_batch(configured: &str) -> (Option<&str>, &str) {
    match configured.split_once(BATCH_MARKER) {
        Some((array, element)) => (Some(array), element),
        None => (None, configured),
    }
}

/// Exactly one id source; hashing the body only when asked for.
fn id_source(cfg: &GenericConfig) -> Result<IdSource, BuildError> {
    let sources = [
        cfg.id_header.is_some(),
        cfg.id_json_path.is_some(),
        cfg.id_json_paths.is_some(),
        cfg.id_from_body_sha256,
    ];
    match sources.into_iter().filter(|set| *set).count() {
        0 => {
            return Err(invalid(
                "needs an event id source: id_header, id_json_path, id_json_paths, or \
                 id_from_body_sha256 = true (only for providers that document no id)",
            ))
        }
        1 => {}
        _ => {
            return Err(invalid(
                "set exactly one of id_header, id_json_path, id_json_paths, id_from_body_sha256",
            ))
        }
    }
    if let Some(name) = &cfg.id_header {
        return Ok(IdSource::Header(header_name("id_header", name)?));
    }
    let configured: Vec<&str> = match (&cfg.id_json_path, &cfg.id_json_paths) {
        (Some(path), _) => vec![path.as_str()],
        (None, Some(paths)) if !paths.is_empty() => paths.iter().map(String::as_str).collect(),
        (None, Some(_)) => return Err(invalid("id_json_paths must not be empty")),
        (None, None) => return Ok(IdSource::BodySha256),
    };
    let array = split_batch(configured[0]).0;
    let mut paths = Vec::new();
    for text in &configured {
        let (this_array, element) = split_batch(text);
        if this_array != array {
            return Err(invalid(
                "every id_json_paths entry must name the same [*]. array",
            ));
        }
        paths.push(json_path("id_json_path", element)?);
    }
    if let Some(array) = array.filter(|a| !a.is_empty()) {
        json_path("id_json_path", array)?;
    }
    Ok(IdSource::JsonPath {
        paths: Box::leak(paths.into_boxed_slice()),
        array: array.map(|a| leak(a.to_owned())),
        label: leak(configured.join(" + ")),
    })
}

/// At most one type source; a JSON path is per element exactly when the id path is, and of
/// the same array.
fn type_source(
    cfg: &GenericConfig,
    array: Option<&'static str>,
) -> Result<Option<TypeSource>, BuildError> {
    match (&cfg.type_header, &cfg.type_json_path) {
        (Some(_), Some(_)) => Err(invalid("set at most one of type_header, type_json_path")),
        (Some(name), None) => Ok(Some(TypeSource::Header(header_name("type_header", name)?))),
        (None, Some(configured)) => {
            let (type_array, path) = split_batch(configured);
            if type_array != array {
                return Err(invalid(
                    "type_json_path must read the same [*]. array as the id (or none when the id does not)",
                ));
            }
            Ok(Some(TypeSource::JsonPath(json_path(
                "type_json_path",
                path,
            )?)))
        }
        (None, None) => Ok(None),
    }
}

impl Generic {
    /// Validate and compile `cfg`. Every mistake is a [`BuildError::Invalid`] saying which
    /// setting is wrong and why.
    pub fn new(cfg: GenericConfig, tolerance: Duration) -> Result<Self, BuildError> {
        if let Some(setting) = misplaced(&cfg) {
            return Err(invalid(format!(
                "{setting} does not apply to signature_format = \"{}\"",
                format_name(cfg.signature_format)
            )));
        }
        let signature_header = header_name("signature_header", &cfg.signature_header)?;
        let timestamp = timestamp_source(&cfg)?;
        let layout = layout(&cfg, timestamp)?;
        let id = id_source(&cfg)?;
        let template = template(&cfg, timestamp, matches!(id, IdSource::Header(_)))?;
        let event_type = type_source(&cfg, id.array())?;
        let headers =
            |setting: &str, names: &[String]| -> Result<&'static [&'static str], BuildError> {
                let names: Vec<&'static str> = names
                    .iter()
                    .map(|name| header_name(setting, name))
                    .collect::<Result<_, _>>()?;
                Ok(Box::leak(names.into_boxed_slice()))
            };
        let extra_signature_headers =
            headers("extra_signature_headers", &cfg.extra_signature_headers)?;
        let id_fallbacks = headers("id_header_fallbacks", &cfg.id_header_fallbacks)?;
        let type_fallbacks = headers("type_header_fallbacks", &cfg.type_header_fallbacks)?;
        if !id_fallbacks.is_empty() && !matches!(id, IdSource::Header(_)) {
            return Err(invalid("id_header_fallbacks needs id_header"));
        }
        if !type_fallbacks.is_empty() && !matches!(event_type, Some(TypeSource::Header(_))) {
            return Err(invalid("type_header_fallbacks needs type_header"));
        }
        let fallback = match &cfg.fallback_signature_header {
            Some(name) => Some(Fallback {
                header: header_name("fallback_signature_header", name)?,
                prefix: cfg
                    .fallback_signature_prefix
                    .as_deref()
                    .filter(|p| !p.is_empty())
                    .map(|p| leak(p.to_owned())),
                algorithm: cfg.fallback_algorithm.unwrap_or(cfg.algorithm),
            }),
            None if cfg.fallback_signature_prefix.is_some() || cfg.fallback_algorithm.is_some() => {
                return Err(invalid(
                    "fallback_signature_prefix / fallback_algorithm need fallback_signature_header",
                ))
            }
            None => None,
        };

        // Worth keeping with the event: the id and type headers (never the signature).
        let kept: Vec<&'static str> = [
            match id {
                IdSource::Header(name) => Some(name),
                _ => None,
            },
            match event_type {
                Some(TypeSource::Header(name)) => Some(name),
                _ => None,
            },
        ]
        .into_iter()
        .flatten()
        .chain(id_fallbacks.iter().copied())
        .chain(type_fallbacks.iter().copied())
        .filter(|name| *name != signature_header && !extra_signature_headers.contains(name))
        .collect();

        // Read by verification: the signature headers, the timestamp header and, when the
        // signed content includes it, the id header.
        let mut credentials: Vec<&'static str> = vec![signature_header];
        credentials.extend(extra_signature_headers.iter().copied());
        credentials.extend(fallback.map(|f| f.header));
        if let Some(TimestampSource::Header(name)) = timestamp {
            credentials.push(name);
        }
        if let (IdSource::Header(name), true) = (id, template.contains(&Segment::Id)) {
            credentials.push(name);
        }
        credentials.sort_unstable();
        credentials.dedup();

        Ok(Generic {
            credential_headers: Box::leak(credentials.into_boxed_slice()),
            algorithm: cfg.algorithm,
            key_encoding: cfg.key_encoding,
            signature_header,
            extra_signature_headers,
            fallback,
            id_fallbacks,
            type_fallbacks,
            layout,
            encoding: cfg.signature_encoding,
            template,
            timestamp,
            timestamp_unit: cfg.timestamp_unit.unwrap_or_default(),
            timestamp_format: cfg.timestamp_format.unwrap_or_default(),
            id,
            event_type,
            kept_headers: Box::leak(kept.into_boxed_slice()),
            tolerance,
        })
    }

    /// The presented signatures and, for a `kv_list` carrying it, the timestamp text.
    fn parse_signature_header<'a>(
        &'a self,
        header: &'a str,
    ) -> Result<(Vec<&'a str>, Option<&'a str>), VerifyError> {
        let malformed = VerifyError::MalformedHeader(self.signature_header);
        match &self.layout {
            Layout::Raw => Ok((vec![header.trim()], None)),
            Layout::Prefix(prefix) => {
                let signature = signature::strip_prefix(header, prefix).ok_or(malformed)?;
                Ok((vec![signature], None))
            }
            Layout::KvList {
                group_separator,
                pair_separator,
                kv_separator,
                signature_key,
                timestamp_key,
            } => {
                let groups: Vec<&str> = match group_separator {
                    Some(sep) => header.split(sep.as_str()).collect(),
                    None => vec![header],
                };
                let mut signatures = Vec::new();
                let mut timestamp = None;
                for group in groups {
                    for (key, value) in signature::kv_pairs(group, pair_separator, kv_separator) {
                        if Some(key) == timestamp_key.as_deref() {
                            // Two different timestamps make the signed content ambiguous
                            // (groups repeating the same one are rotation, not ambiguity).
                            if timestamp
                                .replace(value)
                                .is_some_and(|earlier| earlier != value)
                            {
                                return Err(malformed);
                            }
                        } else if key == signature_key {
                            signatures.push(value);
                        }
                    }
                }
                Ok((signatures, timestamp))
            }
            Layout::TimestampList => {
                let mut entries = header.split(',').map(str::trim);
                let timestamp = entries
                    .next()
                    .filter(|ts| !ts.is_empty())
                    .ok_or(malformed)?;
                Ok((entries.collect(), Some(timestamp)))
            }
            Layout::SpaceList(version) => {
                Ok((signature::space_list(header, version).collect(), None))
            }
        }
    }

    /// The header carrying the signature.
    pub fn signature_header(&self) -> &'static str {
        self.signature_header
    }

    /// Whether the template covers the URL (the source then needs its exact `public_url`).
    pub fn signs_url(&self) -> bool {
        self.template.contains(&Segment::Url)
    }

    /// Whether a timestamp is checked (the source's `tolerance` applies).
    pub fn is_timestamped(&self) -> bool {
        self.timestamp.is_some()
    }

    /// Whether `body` is a batch body whose events array is present and empty (LINE's
    /// "Verify" button, Xero's intent-to-receive, idle heartbeats).
    pub fn is_empty_batch(&self, body: &[u8]) -> bool {
        let Some(array) = self.id.array() else {
            return false;
        };
        let Ok(document) = serde_json::from_slice::<Value>(body) else {
            return false;
        };
        let items = if array.is_empty() {
            Some(&document)
        } else {
            signature::json_path(&document, array)
        };
        matches!(items, Some(Value::Array(items)) if items.is_empty())
    }

    /// A batch body with its events array present and empty (`{"events":[]}`), or `[]`.
    pub fn empty_batch_body(&self) -> Vec<u8> {
        let body = match self.id.array() {
            None | Some("") => Value::Array(Vec::new()),
            Some(path) => {
                let mut outer = Map::new();
                let segments: Vec<&str> = path.split('.').collect();
                insert_at(&mut outer, &segments, Value::Array(Vec::new()));
                Value::Object(outer)
            }
        };
        body.to_string().into_bytes()
    }

    /// The scheme in one line, e.g. ``HMAC-SHA256 hex of `{ts}.{body}` in `Mux-Signature` ``.
    pub fn describe_scheme(&self) -> String {
        let algorithm = match self.algorithm {
            Algorithm::Sha256 => "HMAC-SHA256",
            Algorithm::Sha1 => "HMAC-SHA1",
            Algorithm::Sha512 => "HMAC-SHA512",
        };
        let encoding = match self.encoding {
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
            Encoding::Base64url => "base64url",
        };
        let template: String = self
            .template
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => *text,
                Segment::Id => "{id}",
                Segment::Timestamp => "{ts}",
                Segment::Body => "{body}",
                Segment::Method => "{method}",
                Segment::Url => "{url}",
            })
            .collect();
        let layout = match &self.layout {
            Layout::Raw => String::new(),
            Layout::Prefix(prefix) => format!(" after `{prefix}`"),
            Layout::KvList {
                pair_separator,
                kv_separator,
                signature_key,
                timestamp_key,
                ..
            } => match timestamp_key {
                Some(ts) => format!(
                    " as `{ts}{kv_separator}…{pair_separator}{signature_key}{kv_separator}…`"
                ),
                None => format!(" as `{signature_key}{kv_separator}…`"),
            },
            Layout::SpaceList(version) => format!(" as `{version},…` list"),
            Layout::TimestampList => " as `{ts},sig,…`".to_string(),
        };
        let key = match self.key_encoding {
            KeyEncoding::Utf8 => "",
            KeyEncoding::Base64 => ", key base64 (`whsec_` optional)",
            KeyEncoding::Base64Plain => ", key base64-decoded",
            KeyEncoding::Hex => ", key hex-decoded",
            KeyEncoding::Nfkd => ", key NFKD-normalised",
        };
        let mut headers = vec![format!("`{}`", self.signature_header)];
        headers.extend(
            self.extra_signature_headers
                .iter()
                .map(|h| format!("`{h}`")),
        );
        let timestamp = match self.timestamp {
            Some(TimestampSource::Header(name)) => format!(", {{ts}} from `{name}`"),
            Some(TimestampSource::JsonPath(path)) => format!(", timestamp from body `{path}`"),
            _ => String::new(),
        };
        let unit = match (
            self.timestamp.is_some(),
            self.timestamp_format,
            self.timestamp_unit,
        ) {
            (false, _, _) => "",
            (true, TimestampFormat::Rfc3339, _) => " (RFC 3339)",
            (true, _, TimestampUnit::Milliseconds) => " (ms)",
            (true, _, TimestampUnit::Seconds) => "",
        };
        format!(
            "{algorithm} {encoding} of `{template}` in {}{layout}{timestamp}{unit}{key}",
            headers.join(" / ")
        )
    }

    /// Where the event id comes from, in one line.
    pub fn describe_id(&self) -> String {
        match self.id {
            IdSource::Header(name) => format!("header `{name}`"),
            IdSource::BodySha256 => "SHA-256 of the body (no documented id)".into(),
            IdSource::JsonPath { array, label, .. } => match array {
                Some(_) => format!("body `{label}` (one event per item)"),
                None => format!("body `{label}`"),
            },
        }
    }

    /// A timestamp's value in its configured format (seconds for `rfc3339`).
    fn parse_timestamp(&self, text: &str) -> Option<i64> {
        match self.timestamp_format {
            TimestampFormat::Unix => signature::parse_unix_timestamp(text),
            TimestampFormat::Rfc3339 => signature::parse_rfc3339(text),
        }
    }

    fn check_timestamp(&self, timestamp: i64, now: SystemTime) -> Result<(), VerifyError> {
        if self.timestamp_format == TimestampFormat::Rfc3339 {
            return signature::check_timestamp(timestamp, now, self.tolerance);
        }
        match self.timestamp_unit {
            TimestampUnit::Seconds => signature::check_timestamp(timestamp, now, self.tolerance),
            TimestampUnit::Milliseconds => {
                signature::check_timestamp_millis(timestamp, now, self.tolerance)
            }
        }
    }

    fn now_text(&self, now: SystemTime) -> String {
        if self.timestamp_format == TimestampFormat::Rfc3339 {
            return signature::format_rfc3339(now);
        }
        match self.timestamp_unit {
            TimestampUnit::Seconds => signature::unix_seconds(now).to_string(),
            TimestampUnit::Milliseconds => signature::unix_millis(now).to_string(),
        }
    }

    /// The signed bytes, in order, without copying the body.
    fn signed_parts<'a>(
        &'a self,
        req: SignedInput<'a>,
        id: &'a str,
        timestamp: &'a str,
    ) -> Vec<&'a [u8]> {
        self.template
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => text.as_bytes(),
                Segment::Id => id.as_bytes(),
                Segment::Timestamp => timestamp.as_bytes(),
                Segment::Body => req.body,
                Segment::Method => req.method.as_bytes(),
                Segment::Url => req.url.as_bytes(),
            })
            .collect()
    }

    fn event_type_of(&self, req: &Request<'_>, element: Option<&Value>) -> Option<String> {
        match self.event_type? {
            TypeSource::Header(name) => std::iter::once(name)
                .chain(self.type_fallbacks.iter().copied())
                .find_map(|name| req.header(name).map(str::trim).filter(|t| !t.is_empty()))
                .map(str::to_string),
            TypeSource::JsonPath(path) => match element {
                Some(value) => signature::json_path_text(value, path),
                None => signature::body_json_text(req.body, path),
            },
        }
    }
}

fn format_name(format: SignatureFormat) -> &'static str {
    match format {
        SignatureFormat::Raw => "raw",
        SignatureFormat::Prefix => "prefix",
        SignatureFormat::KvList => "kv_list",
        SignatureFormat::SpaceList => "space_list",
        SignatureFormat::TimestampList => "timestamp_list",
    }
}

/// The request parts a template may sign; both verification and signing have them.
#[derive(Clone, Copy)]
struct SignedInput<'a> {
    method: &'a str,
    url: &'a str,
    body: &'a [u8],
}

/// The id at `paths` in `element`: one value, or every part of a composite joined by `:`.
fn composite_id(element: &Value, paths: &[&str]) -> Option<String> {
    let parts: Option<Vec<String>> = paths
        .iter()
        .map(|path| signature::json_path_text(element, path))
        .collect();
    Some(parts?.join(COMPOSITE_SEPARATOR))
}

/// Put `leaf` at the dotted `path` in `map`, creating objects on the way.
fn insert_at(map: &mut Map<String, Value>, path: &[&str], leaf: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert((*last).to_owned(), leaf);
        }
        [first, rest @ ..] => {
            let child = map
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(child) = child {
                insert_at(child, rest, leaf);
            }
        }
    }
}

impl Provider for Generic {
    fn credential_headers(&self) -> &'static [&'static str] {
        self.credential_headers
    }

    fn name(&self) -> &'static str {
        "generic"
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        if secrets.is_empty() {
            return Err(VerifyError::NoSecret);
        }
        let mut presented = Vec::new();
        let mut kv_timestamp = None;
        let mut found = false;
        for &name in std::iter::once(&self.signature_header).chain(self.extra_signature_headers) {
            let header = match signature::required_header(req, name) {
                Ok(header) => header,
                Err(VerifyError::MissingHeader(_)) => continue,
                Err(e) => return Err(e),
            };
            found = true;
            let (signatures, timestamp) = self.parse_signature_header(header)?;
            presented.extend(signatures);
            kv_timestamp = kv_timestamp.or(timestamp);
        }
        let mut algorithm = self.algorithm;
        if !found {
            let fallback = self
                .fallback
                .filter(|fb| req.headers.contains_key(fb.header))
                .ok_or(VerifyError::MissingHeader(self.signature_header))?;
            let header = signature::required_header(req, fallback.header)?;
            let value = match fallback.prefix {
                Some(prefix) => signature::strip_prefix(header, prefix)
                    .ok_or(VerifyError::MalformedHeader(fallback.header))?,
                None => header.trim(),
            };
            presented.push(value);
            algorithm = fallback.algorithm;
        }

        // The timestamp text goes into the MAC exactly as received; its value is checked
        // only after the MAC, so `stale_timestamp` counts authentic requests only.
        let header_timestamp = match self.timestamp {
            Some(TimestampSource::Header(name)) => {
                let text = signature::required_header(req, name)?.trim();
                let value = self
                    .parse_timestamp(text)
                    .ok_or(VerifyError::MalformedHeader(name))?;
                Some((text, value))
            }
            Some(TimestampSource::SignatureHeader) => {
                let malformed = VerifyError::MalformedHeader(self.signature_header);
                let text = kv_timestamp.ok_or(malformed.clone())?;
                let value = self.parse_timestamp(text).ok_or(malformed)?;
                Some((text, value))
            }
            Some(TimestampSource::JsonPath(_)) | None => None,
        };
        let id = match (self.template.contains(&Segment::Id), self.id) {
            (true, IdSource::Header(name)) => signature::required_header(req, name)?,
            _ => "",
        };

        let keys: Vec<Vec<u8>> = secrets
            .iter()
            .filter_map(|secret| self.key_encoding.decode(secret.expose()))
            .collect();
        let presented = signature::decode_all(self.encoding, presented);
        let input = SignedInput {
            method: req.method,
            url: req.url,
            body: req.body,
        };
        let parts = self.signed_parts(input, id, header_timestamp.map_or("", |(text, _)| text));
        if !signature::any_signature_matches(algorithm, &keys, &parts, &presented) {
            return Err(VerifyError::SignatureMismatch);
        }

        match (self.timestamp, header_timestamp) {
            (_, Some((_, value))) => self.check_timestamp(value, now),
            (Some(TimestampSource::JsonPath(path)), None) => {
                // A signed body without a readable timestamp cannot be shown to be fresh, so
                // it is refused as stale (there is no header to call missing).
                let value = signature::body_json_text(req.body, path)
                    .and_then(|text| self.parse_timestamp(&text))
                    .ok_or(VerifyError::StaleTimestamp)?;
                self.check_timestamp(value, now)
            }
            _ => Ok(()),
        }
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        match self.id {
            IdSource::Header(name) => {
                let id = std::iter::once(name)
                    .chain(self.id_fallbacks.iter().copied())
                    .find_map(|name| req.header(name).map(str::trim).filter(|id| !id.is_empty()))
                    .ok_or(ExtractError::MissingEventId(name))?;
                Ok(vec![EventMeta {
                    id: id.to_string(),
                    event_type: self.event_type_of(req, None),
                }])
            }
            IdSource::BodySha256 => Ok(vec![EventMeta {
                id: hex::encode(Sha256::digest(req.body)),
                event_type: self.event_type_of(req, None),
            }]),
            IdSource::JsonPath {
                paths,
                array,
                label,
            } => {
                let document: Value = serde_json::from_slice(req.body)
                    .map_err(|_| ExtractError::MalformedBody("body is not JSON"))?;
                let elements: Vec<&Value> = match array {
                    Some(array) => {
                        let items = if array.is_empty() {
                            Some(&document)
                        } else {
                            signature::json_path(&document, array)
                        };
                        match items {
                            Some(Value::Array(items)) if !items.is_empty() => {
                                items.iter().collect()
                            }
                            Some(Value::Array(_)) => {
                                return Err(ExtractError::MissingEventId(label))
                            }
                            _ => {
                                return Err(ExtractError::MalformedBody(
                                    "expected a JSON array of events",
                                ))
                            }
                        }
                    }
                    None => vec![&document],
                };
                elements
                    .into_iter()
                    .map(|element| {
                        let id = composite_id(element, paths)
                            .ok_or(ExtractError::MissingEventId(label))?;
                        Ok(EventMeta {
                            id,
                            event_type: self.event_type_of(req, Some(element)),
                        })
                    })
                    .collect()
            }
        }
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        self.kept_headers
    }

    /// A JSON object with `event_id` at `id_json_path` (inside a one-element array for batch
    /// paths) and `event_type` at `type_json_path`, or `{"id", "type"}` for header-id sources.
    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        let mut element = Map::new();
        match self.event_type {
            Some(TypeSource::JsonPath(path)) => {
                let segments: Vec<&str> = path.split('.').collect();
                insert_at(&mut element, &segments, Value::from(event_type));
            }
            _ => {
                element.insert("type".into(), Value::from(event_type));
            }
        }
        // The id goes in last so that it wins if the paths overlap; every part of a composite
        // id carries the event id.
        let (id_paths, array): (&[&str], _) = match self.id {
            IdSource::JsonPath { paths, array, .. } => (paths, array),
            _ => (&["id"], None),
        };
        for path in id_paths {
            let segments: Vec<&str> = path.split('.').collect();
            insert_at(&mut element, &segments, Value::from(event_id));
        }
        let body = match array {
            None => Value::Object(element),
            Some("") => Value::Array(vec![Value::Object(element)]),
            Some(path) => {
                let mut outer = Map::new();
                let segments: Vec<&str> = path.split('.').collect();
                insert_at(
                    &mut outer,
                    &segments,
                    Value::Array(vec![Value::Object(element)]),
                );
                Value::Object(outer)
            }
        };
        body.to_string().into_bytes()
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let key = self
            .key_encoding
            .decode(secret.expose())
            .ok_or(SignError::BadSecret(BAD_KEY))?;
        let timestamp = match self.timestamp {
            Some(TimestampSource::Header(_) | TimestampSource::SignatureHeader) => {
                self.now_text(now)
            }
            Some(TimestampSource::JsonPath(path)) => {
                // The timestamp lives in the body, which the caller wrote; without it the
                // request could never verify.
                if signature::body_json_text(req.body, path).is_none() {
                    return Err(SignError::Unsupported(
                        "this source reads its timestamp from the body (timestamp_json_path); give a body that carries a current timestamp there",
                    ));
                }
                String::new()
            }
            None => String::new(),
        };
        let input = SignedInput {
            method: req.method,
            url: req.url,
            body: req.body,
        };
        let parts = self.signed_parts(input, req.event_id, &timestamp);
        let mac = self.encoding.encode(&self.algorithm.mac(&key, &parts));
        let value = match &self.layout {
            Layout::Raw => mac,
            Layout::Prefix(prefix) => format!("{prefix}{mac}"),
            Layout::KvList {
                pair_separator,
                kv_separator,
                signature_key,
                timestamp_key,
                ..
            } => match timestamp_key {
                Some(ts_key) => format!("{ts_key}{kv_separator}{timestamp}{pair_separator}{signature_key}{kv_separator}{mac}"),
                None => format!("{signature_key}{kv_separator}{mac}"),
            },
            Layout::SpaceList(version) => format!("{version},{mac}"),
            Layout::TimestampList => format!("{timestamp},{mac}"),
        };

        let mut headers = vec![(self.signature_header.to_owned(), value)];
        if let Some(TimestampSource::Header(name)) = self.timestamp {
            headers.push((name.to_owned(), timestamp));
        }
        if let IdSource::Header(name) = self.id {
            headers.push((name.to_owned(), req.event_id.to_owned()));
        }
        if let Some(TypeSource::Header(name)) = self.event_type {
            headers.push((name.to_owned(), test_event_type(req.body)));
        }
        Ok(headers)
    }

    fn retry_horizon(&self) -> Duration {
        RETRY_HORIZON
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        self.key_encoding
            .decode(secret.expose())
            .map(drop)
            .ok_or_else(|| invalid(BAD_KEY))
    }
}

#[cfg(test)]
mod tests;
