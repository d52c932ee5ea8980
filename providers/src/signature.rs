//! Signature primitives shared by every provider.
//!
//! This module owns the parts of webhook verification that do not depend on a provider:
//! computing HMACs, decoding and comparing presented signatures, checking timestamps, splitting
//! the common signature-header shapes, reading a value out of a JSON body, and decoding
//! Standard Webhooks keys. Providers compose these; none of them compares MACs on its own.
//!
//! Invariants:
//! - a presented signature is decoded to bytes before it is compared, and an undecodable or
//!   wrong-length signature simply never matches (it is not an error that names it);
//! - MAC comparison is constant-time over equal lengths ([`subtle`]);
//! - timestamp checks are symmetric: stale and far-future are both rejected.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::{ExtractError, Request, VerifyError};

/// Standard base64 that accepts input with or without `=` padding. Providers and users are
/// inconsistent about padding (the Standard Webhooks Python library pads unpadded keys), and
/// padding carries no information, so being lenient here costs nothing.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe base64, padding optional.
const BASE64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard base64 with padding, for the signatures we produce.
const BASE64_CANONICAL: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The prefix Standard Webhooks (and Svix, Clerk, GitLab signing tokens) put on a key.
pub const WHSEC_PREFIX: &str = "whsec_";

/// The HMAC hash function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    #[default]
    Sha256,
    /// Legacy schemes only (GitHub `X-Hub-Signature`, Intercom).
    Sha1,
    /// Paystack.
    Sha512,
}

impl Algorithm {
    /// HMAC of the concatenation of `parts` under `key`. Parts are fed in order so callers can
    /// sign `{ts}.{body}` without first copying the body into a new buffer.
    pub fn mac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Algorithm::Sha256 => mac_of::<Hmac<Sha256>>(key, parts),
            Algorithm::Sha1 => mac_of::<Hmac<Sha1>>(key, parts),
            Algorithm::Sha512 => mac_of::<Hmac<Sha512>>(key, parts),
        }
    }
}

fn mac_of<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail; `new_from_slice` is the only
    // constructor that takes a runtime-sized key.
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// How signature bytes are written in a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Lower- or upper-case hex.
    Hex,
    /// Standard base64, padding optional.
    Base64,
    /// URL-safe base64 (`-`, `_`), written without padding (Sanity); padding optional on input.
    Base64url,
}

impl Encoding {
    /// Decode a presented signature; `None` when it is not valid in this encoding.
    pub fn decode(self, text: &str) -> Option<Vec<u8>> {
        let text = text.trim();
        match self {
            Encoding::Hex => hex::decode(text).ok(),
            Encoding::Base64 => BASE64_LENIENT.decode(text).ok(),
            Encoding::Base64url => BASE64URL_LENIENT.decode(text).ok(),
        }
    }

    /// Encode a signature we produce (lower-case hex, padded base64).
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => BASE64_CANONICAL.encode(bytes),
            Encoding::Base64url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        }
    }
}

/// Constant-time equality of two byte strings. Lengths are compared first (a length is not a
/// secret: every MAC of one algorithm has the same length), so an empty or truncated
/// signature can never compare equal to a prefix of the real one.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Whether any presented signature equals the MAC of `parts` under any of `keys`.
///
/// This is the rotation rule: N signatures in the request × M configured keys, any pair
/// passes. Each key's MAC is computed once and compared against every presented signature.
pub fn any_signature_matches<K: AsRef<[u8]>>(
    algorithm: Algorithm,
    keys: impl IntoIterator<Item = K>,
    parts: &[&[u8]],
    presented: &[Vec<u8>],
) -> bool {
    if presented.is_empty() {
        return false;
    }
    let mut matched = false;
    for key in keys {
        let expected = algorithm.mac(key.as_ref(), parts);
        for signature in presented {
            // No early return: the work done does not depend on which pair matched.
            matched |= constant_time_eq(&expected, signature);
        }
    }
    matched
}

/// Decode every presented signature, silently dropping the ones that do not decode: they
/// cannot match, and naming them in an error would echo attacker input.
pub fn decode_all<'a>(
    encoding: Encoding,
    presented: impl IntoIterator<Item = &'a str>,
) -> Vec<Vec<u8>> {
    presented
        .into_iter()
        .filter_map(|text| encoding.decode(text))
        .collect()
}

/// Seconds since the Unix epoch at `now` (0 before the epoch), as providers write timestamps.
pub fn unix_seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Milliseconds since the Unix epoch at `now` (0 before the epoch).
pub fn unix_millis(now: SystemTime) -> u128 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// Parse a Unix timestamp written as plain decimal digits (no sign, no fraction). Anything else
/// is `None`: a timestamp we cannot read cannot be shown to be fresh.
pub fn parse_unix_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    // 18 digits keep us far from i64 overflow while covering milliseconds for millennia.
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parse an RFC 3339 date-time (`2020-01-01T00:00:00-07:00`, `2020-12-13T14:15:16.1718Z`) to
/// whole Unix seconds; the fraction is ignored. Twitch, Box and Zendesk sign timestamps in this
/// form. `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return None;
        }
        rest = &fraction[end..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = rest[1..].split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// `now` as an RFC 3339 UTC date-time with whole seconds, e.g. `2026-01-01T00:00:00Z`.
pub fn format_rfc3339(now: SystemTime) -> String {
    let secs = i64::try_from(unix_seconds(now)).unwrap_or(i64::MAX);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Reject a timestamp (Unix seconds) more than `tolerance` older than `now` (stale: a replay)
/// or more than `tolerance` ahead of it (future: a pre-signed request waiting to be replayed,
/// or a badly wrong clock). The boundary itself passes.
pub fn check_timestamp(
    ts_secs: i64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    // Compare in whole seconds, the timestamp's own resolution, so a sub-second `now` does not
    // move the boundary.
    compare_to_window(
        i128::from(ts_secs),
        i128::from(unix_seconds(now)),
        i128::from(tolerance.as_secs()),
    )
}

/// [`check_timestamp`] for timestamps in Unix milliseconds (HubSpot, Linear).
pub fn check_timestamp_millis(
    ts_millis: i64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    compare_to_window(
        i128::from(ts_millis),
        i128::try_from(unix_millis(now)).unwrap_or(i128::MAX),
        i128::try_from(tolerance.as_millis()).unwrap_or(i128::MAX),
    )
}

fn compare_to_window(ts: i128, now: i128, tolerance: i128) -> Result<(), VerifyError> {
    if ts < now.saturating_sub(tolerance) {
        Err(VerifyError::StaleTimestamp)
    } else if ts > now.saturating_add(tolerance) {
        Err(VerifyError::FutureTimestamp)
    } else {
        Ok(())
    }
}

/// Split a `key=value` list such as Stripe's `t=1,v1=ab,v1=cd` (`,` and `=`) or Paddle's
/// `ts=1;h1=ab` (`;` and `=`). Whitespace around entries is ignored; entries without the
/// key/value separator are skipped. Repeated keys are all yielded, in order.
pub fn kv_pairs<'a>(
    header: &'a str,
    pair_separator: &'a str,
    kv_separator: &'a str,
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    header
        .split(pair_separator)
        .filter_map(move |entry| entry.split_once(kv_separator))
        .map(|(key, value)| (key.trim(), value.trim()))
}

/// The signatures of one version in a space-separated `version,signature` list, such as the
/// Standard Webhooks `v1,<b64> v1,<b64> v1a,<b64>`. Other versions are ignored.
pub fn space_list<'a>(header: &'a str, version: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    header
        .split_ascii_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(move |(v, _)| *v == version)
        .map(|(_, signature)| signature)
}

/// The text after `prefix` (e.g. `sha256=`), matched case-insensitively; `None` when the header
/// does not start with it.
pub fn strip_prefix<'a>(header: &'a str, prefix: &str) -> Option<&'a str> {
    let header = header.trim();
    let head = header.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &header[prefix.len()..])
}

/// The value at a dotted path (`data.object.id`) in a JSON document. A segment that is a
/// number indexes an array. Keys that themselves contain dots cannot be addressed.
pub fn json_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(value, |current, segment| match current {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// A JSON string, or a number written as text (ids such as HubSpot's `eventId` are numbers).
/// Empty strings count as absent: an empty id identifies nothing.
pub fn json_scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// [`json_scalar_text`] of the value at `path`.
pub fn json_path_text(value: &Value, path: &str) -> Option<String> {
    json_path(value, path).and_then(json_scalar_text)
}

/// The string at `path` in `body` if the body is JSON; `None` otherwise. For optional fields
/// such as an event type, where a non-JSON body is not an error.
pub fn body_json_text(body: &[u8], path: &str) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    json_path_text(&value, path)
}

/// Parse a body that must be a JSON object (providers that read the id from the body).
pub fn json_object_body(body: &[u8]) -> Result<Value, ExtractError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(ExtractError::MalformedBody("expected a JSON object")),
        Err(_) => Err(ExtractError::MalformedBody("body is not JSON")),
    }
}

/// The [`json_scalar_text`] of each of `names` among a JSON object body's top-level members
/// (`None` where absent; the last occurrence wins, as with a parsed [`Value`]). Equivalent to
/// [`json_object_body`] then [`json_path_text`] per name, without building the document: the
/// other members are skipped as they are read, so a large body allocates nothing for them.
pub fn json_object_fields<const N: usize>(
    body: &[u8],
    names: [&str; N],
) -> Result<[Option<String>; N], ExtractError> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    use std::fmt;

    /// A member's value as [`json_scalar_text`] sees it; anything else is read and dropped.
    struct ScalarText(Option<String>);
    impl<'de> Deserialize<'de> for ScalarText {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = ScalarText;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_str<E>(self, v: &str) -> Result<ScalarText, E> {
                    Ok(ScalarText((!v.is_empty()).then(|| v.to_string())))
                }
                fn visit_i64<E>(self, v: i64) -> Result<ScalarText, E> {
                    Ok(ScalarText(Some(v.to_string())))
                }
                fn visit_u64<E>(self, v: u64) -> Result<ScalarText, E> {
                    Ok(ScalarText(Some(v.to_string())))
                }
                fn visit_f64<E>(self, v: f64) -> Result<ScalarText, E> {
                    Ok(ScalarText(
                        serde_json::Number::from_f64(v).map(|n| n.to_string()),
                    ))
                }
                fn visit_bool<E>(self, _: bool) -> Result<ScalarText, E> {
                    Ok(ScalarText(None))
                }
                fn visit_unit<E>(self) -> Result<ScalarText, E> {
                    Ok(ScalarText(None))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    seq: A,
                ) -> Result<ScalarText, A::Error> {
                    IgnoredAny.visit_seq(seq).map(|_| ScalarText(None))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ScalarText, A::Error> {
                    IgnoredAny.visit_map(map).map(|_| ScalarText(None))
                }
            }
            d.deserialize_any(V)
        }
    }

    struct Fields<'n, const N: usize>([&'n str; N]);
    impl<'de, const N: usize> Visitor<'de> for Fields<'_, N> {
        type Value = [Option<String>; N];
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found: [Option<String>; N] = std::array::from_fn(|_| None);
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match self.0.iter().position(|n| *n == key) {
                    Some(i) => found[i] = map.next_value::<ScalarText>()?.0,
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(found)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = de
        .deserialize_any(Fields(names))
        .and_then(|found| de.end().map(|()| found));
    parsed.map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ExtractError::MalformedBody("expected a JSON object"),
        _ => ExtractError::MalformedBody("body is not JSON"),
    })
}

/// Decode an `application/x-www-form-urlencoded` body into `(name, value)` pairs, in order:
/// `+` is a space, `%XX` a byte, a `%` not followed by two hex digits stands for itself; empty
/// segments are skipped and a segment without `=` is a name with an empty value (what web
/// frameworks hand to the providers' validators). `None` when a decoded name or value is not
/// UTF-8: providers sign text, and a lossy decoding would let different bodies sign alike.
pub fn form_pairs(body: &[u8]) -> Option<Vec<(String, String)>> {
    body.split(|&b| b == b'&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = match segment.iter().position(|&b| b == b'=') {
                Some(eq) => (&segment[..eq], &segment[eq + 1..]),
                None => (segment, &b""[..]),
            };
            Some((form_decode(name)?, form_decode(value)?))
        })
        .collect()
}

fn form_decode(bytes: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|pair| {
                    let text = std::str::from_utf8(pair).ok()?;
                    u8::from_str_radix(text, 16)
                        .ok()
                        .filter(|_| pair.iter().all(u8::is_ascii_hexdigit))
                });
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Encode `(name, value)` pairs as `application/x-www-form-urlencoded` (space as `+`, every
/// byte outside `A-Z a-z 0-9 * - . _` as `%XX`), the inverse of [`form_pairs`].
pub fn form_encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    fn encode(text: &str, out: &mut String) {
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(char::from(byte))
                }
                b' ' => out.push('+'),
                other => out.push_str(&format!("%{other:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(name, &mut out);
        out.push('=');
        encode(value, &mut out);
    }
    out
}

/// The first non-empty value of query parameter `name` in `url` (decoded as a form value),
/// ignoring any fragment.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let (_, query) = without_fragment.split_once('?')?;
    form_pairs(query.as_bytes())?
        .into_iter()
        .find(|(key, value)| key == name && !value.is_empty())
        .map(|(_, value)| value)
}

/// The media type of a `Content-Type` value, lower-cased, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Lower-case hex SHA-256 of `bytes` (the body-hash event id of providers that document none).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lower-case hex SHA-256 of `value` written as canonical JSON: object keys sorted by their
/// UTF-8 bytes, no whitespace. Documents equal as data hash equally whatever their key order or
/// spacing (serde_json's own map order depends on a crate feature, so it is not relied on).
/// Depth is bounded by the parser's recursion limit.
pub fn canonical_json_sha256(value: &Value) -> String {
    let mut hasher = Sha256::new();
    write_canonical(value, &mut hasher);
    hex::encode(hasher.finalize())
}

fn write_canonical(value: &Value, out: &mut Sha256) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.update(b"{");
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.update(b",");
                }
                out.update(Value::String(key.clone()).to_string().as_bytes());
                out.update(b":");
                write_canonical(item, out);
            }
            out.update(b"}");
        }
        Value::Array(items) => {
            out.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.update(b",");
                }
                write_canonical(item, out);
            }
            out.update(b"]");
        }
        scalar => out.update(scalar.to_string().as_bytes()),
    }
}

/// Decode a Standard Webhooks key: strip an optional `whsec_`, then base64 (padding optional).
/// `None` when it does not decode or decodes to nothing.
pub fn decode_whsec(secret: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(secret).ok()?.trim();
    let encoded = text.strip_prefix(WHSEC_PREFIX).unwrap_or(text);
    BASE64_LENIENT
        .decode(encoded)
        .ok()
        .filter(|key| !key.is_empty())
}

/// A compact JWS (`header.claims.signature`, each part base64url) as Netlify and Plaid send
/// it: the decoded JOSE header and claims, the signature bytes, and the signing input
/// (`header.claims`, exactly as received). `None` unless it has exactly three decodable parts.
#[derive(Debug, Clone)]
pub struct CompactJws<'a> {
    pub signing_input: &'a str,
    pub header: Value,
    pub claims: Value,
    pub signature: Vec<u8>,
}

impl<'a> CompactJws<'a> {
    pub fn parse(token: &'a str) -> Option<Self> {
        let token = token.trim();
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let decode = |part: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part.trim_end_matches('='))
                .ok()
        };
        let json = |part: &str| serde_json::from_slice::<Value>(&decode(part)?).ok();
        Some(CompactJws {
            signing_input: &token[..header.len() + 1 + claims.len()],
            header: json(header)?,
            claims: json(claims)?,
            // An undecodable signature is not malformed structure: it just never matches.
            signature: decode(signature).unwrap_or_default(),
        })
    }

    /// The JOSE header's `alg`.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }
}

/// The value of a required header: `MissingHeader` when absent or blank, `MalformedHeader`
/// when present but not visible ASCII (it cannot carry a signature we would accept).
pub fn required_header<'a>(req: &Request<'a>, name: &'static str) -> Result<&'a str, VerifyError> {
    let Some(raw) = req.headers.get(name) else {
        return Err(VerifyError::MissingHeader(name));
    };
    let text = raw
        .to_str()
        .map_err(|_| VerifyError::MalformedHeader(name))?;
    if text.trim().is_empty() {
        return Err(VerifyError::MissingHeader(name));
    }
    Ok(text)
}

/// The first of several alternative header names that is present and non-blank, with the
/// name it was found under.
pub fn first_header<'a>(
    req: &Request<'a>,
    names: &[&'static str],
) -> Option<(&'static str, &'a str)> {
    names.iter().find_map(|&name| {
        req.header(name)
            .filter(|value| !value.trim().is_empty())
            .map(|value| (name, value))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_object_fields_reads_what_the_parsed_document_holds() {
        let bodies: &[&[u8]] = &[
            br#"{"id":"evt_1","type":"a.b","data":{"id":"inner","list":[1,{"x":null}]}}"#,
            br#"{"type":"t","id":42}"#,
            br#"{"id":1.5e3,"type":null}"#,
            br#"{"id":"","type":true}"#,
            br#"{"id":"first","id":"second"}"#,
            br#"{"i\u0064":"escaped","type":["x"]}"#,
            br#"{"other":{"id":"nested only"}}"#,
            br#"{}"#,
            br#"{"id":-7,"type":"x"}   "#,
            br#"[{"id":"in an array"}]"#,
            br#""just a string""#,
            br#"{"id":"x"} trailing"#,
            br#"{"id":"unterminated"#,
            b"not json",
            b"",
        ];
        for body in bodies {
            let fast = json_object_fields(body, ["id", "type"]);
            let slow = json_object_body(body)
                .map(|v| [json_path_text(&v, "id"), json_path_text(&v, "type")]);
            assert_eq!(fast, slow, "{}", String::from_utf8_lossy(body));
        }
    }

    use super::*;
    use crate::test_support::at;

    const GITHUB_DOCS_SECRET: &[u8] = b"It's a Secret to Everybody";
    const GITHUB_DOCS_BODY: &[u8] = b"Hello, World!";

    #[test]
    fn hmac_sha256_and_sha1_match_the_github_docs_vectors() {
        let sha256 = Algorithm::Sha256.mac(GITHUB_DOCS_SECRET, &[GITHUB_DOCS_BODY]);
        assert_eq!(
            hex::encode(sha256),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        let sha1 = Algorithm::Sha1.mac(GITHUB_DOCS_SECRET, &[GITHUB_DOCS_BODY]);
        assert_eq!(
            hex::encode(sha1),
            "01dc10d0c83e72ed246219cdd91669667fe2ca59"
        );
    }

    #[test]
    fn mac_over_parts_equals_mac_over_the_concatenation() {
        let split = Algorithm::Sha256.mac(b"k", &[b"123", b".", b"body"]);
        let whole = Algorithm::Sha256.mac(b"k", &[b"123.body"]);
        assert_eq!(split, whole);
    }

    #[test]
    fn comparison_is_length_checked() {
        let mac = Algorithm::Sha256.mac(b"k", &[b"body"]);
        assert!(constant_time_eq(&mac, &mac.clone()));
        assert!(!constant_time_eq(&mac, &[]), "empty signature");
        assert!(!constant_time_eq(&mac, &mac[..16]), "truncated signature");
        let mut longer = mac.clone();
        longer.push(0);
        assert!(!constant_time_eq(&mac, &longer), "extended signature");
    }

    #[test]
    fn any_signature_matches_tries_every_key_against_every_signature() {
        let good = Algorithm::Sha256.mac(b"new", &[b"body"]);
        let presented = vec![vec![0u8; 32], good];
        assert!(any_signature_matches(
            Algorithm::Sha256,
            [b"old".as_slice(), b"new"],
            &[b"body"],
            &presented
        ));
        assert!(!any_signature_matches(
            Algorithm::Sha256,
            [b"old".as_slice()],
            &[b"body"],
            &presented
        ));
        assert!(!any_signature_matches(
            Algorithm::Sha256,
            [b"new".as_slice()],
            &[b"body"],
            &[]
        ));
    }

    #[test]
    fn decoding_accepts_both_hex_cases_and_unpadded_base64() {
        assert_eq!(Encoding::Hex.decode("ABcd"), Some(vec![0xab, 0xcd]));
        assert_eq!(Encoding::Hex.decode("abc"), None, "odd length");
        assert_eq!(Encoding::Hex.decode("zz"), None);
        assert_eq!(Encoding::Base64.decode("AAE="), Some(vec![0, 1]));
        assert_eq!(Encoding::Base64.decode("AAE"), Some(vec![0, 1]));
        assert_eq!(Encoding::Base64.decode("A*E="), None);
        assert_eq!(
            Encoding::Base64.decode(""),
            Some(vec![]),
            "empty decodes to nothing, which never matches"
        );
    }

    #[test]
    fn timestamps_outside_the_window_are_rejected_in_both_directions() {
        let now = at(1_000_000);
        let tol = Duration::from_secs(300);
        assert_eq!(check_timestamp(1_000_000, now, tol), Ok(()));
        assert_eq!(
            check_timestamp(1_000_000 - 300, now, tol),
            Ok(()),
            "boundary passes"
        );
        assert_eq!(
            check_timestamp(1_000_000 + 300, now, tol),
            Ok(()),
            "boundary passes"
        );
        assert_eq!(
            check_timestamp(1_000_000 - 301, now, tol),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            check_timestamp(1_000_000 + 301, now, tol),
            Err(VerifyError::FutureTimestamp)
        );
        assert_eq!(
            check_timestamp(0, now, tol),
            Err(VerifyError::StaleTimestamp)
        );
    }

    #[test]
    fn second_resolution_ignores_the_fraction_of_now() {
        let now = at(1_000_000) + Duration::from_millis(999);
        let tol = Duration::from_secs(300);
        assert_eq!(check_timestamp(1_000_000 - 300, now, tol), Ok(()));
    }

    #[test]
    fn millisecond_timestamps_are_checked_in_milliseconds() {
        let now = at(1_000_000);
        let tol = Duration::from_secs(60);
        assert_eq!(check_timestamp_millis(1_000_000_000, now, tol), Ok(()));
        assert_eq!(
            check_timestamp_millis(1_000_000_000 - 60_001, now, tol),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            check_timestamp_millis(1_000_000_000 + 60_001, now, tol),
            Err(VerifyError::FutureTimestamp)
        );
        // Seconds passed where milliseconds are expected look ancient, not fresh.
        assert_eq!(
            check_timestamp_millis(1_000_000, now, tol),
            Err(VerifyError::StaleTimestamp)
        );
    }

    #[test]
    fn timestamps_must_be_plain_digits() {
        assert_eq!(parse_unix_timestamp(" 1492774577 "), Some(1_492_774_577));
        assert_eq!(parse_unix_timestamp("-5"), None);
        assert_eq!(parse_unix_timestamp("+5"), None);
        assert_eq!(parse_unix_timestamp("1.5"), None);
        assert_eq!(parse_unix_timestamp(""), None);
        assert_eq!(parse_unix_timestamp("9999999999999999999"), None);
    }

    #[test]
    fn kv_lists_yield_every_pair_in_order() {
        let stripe: Vec<_> = kv_pairs("t=1, v1=aa,v1=bb,v0=cc,junk", ",", "=").collect();
        assert_eq!(
            stripe,
            [("t", "1"), ("v1", "aa"), ("v1", "bb"), ("v0", "cc")]
        );
        let paddle: Vec<_> = kv_pairs("ts=1696195954;h1=dummy;h1=d9", ";", "=").collect();
        assert_eq!(
            paddle,
            [("ts", "1696195954"), ("h1", "dummy"), ("h1", "d9")]
        );
        // Base64 values may contain `=`: only the first separator splits.
        let padded: Vec<_> = kv_pairs("s=AAE=", ",", "=").collect();
        assert_eq!(padded, [("s", "AAE=")]);
    }

    #[test]
    fn space_lists_keep_only_the_wanted_version() {
        let sigs: Vec<_> = space_list("v1,aaa v1a,bbb  v2,ccc v1,ddd", "v1").collect();
        assert_eq!(sigs, ["aaa", "ddd"]);
        assert_eq!(space_list("v1a,bbb", "v1").count(), 0);
    }

    #[test]
    fn prefixes_are_matched_case_insensitively() {
        assert_eq!(strip_prefix("sha256=abc", "sha256="), Some("abc"));
        assert_eq!(strip_prefix("SHA256=abc", "sha256="), Some("abc"));
        assert_eq!(strip_prefix("sha256=", "sha256="), Some(""));
        assert_eq!(strip_prefix("sha1=abc", "sha256="), None);
        assert_eq!(strip_prefix("sha", "sha256="), None);
    }

    #[test]
    fn json_paths_read_strings_and_numbers() {
        let doc: Value = serde_json::json!({
            "id": "evt_1",
            "data": {"object": {"id": 42, "empty": "", "flag": true}},
            "items": [{"id": "a"}, {"id": "b"}]
        });
        assert_eq!(json_path_text(&doc, "id").as_deref(), Some("evt_1"));
        assert_eq!(
            json_path_text(&doc, "data.object.id").as_deref(),
            Some("42")
        );
        assert_eq!(json_path_text(&doc, "items.1.id").as_deref(), Some("b"));
        assert_eq!(json_path_text(&doc, "data.object.empty"), None);
        assert_eq!(json_path_text(&doc, "data.object.flag"), None);
        assert_eq!(json_path_text(&doc, "data.missing.id"), None);
        assert_eq!(json_path_text(&doc, "data"), None, "objects are not ids");
        assert_eq!(body_json_text(b"not json", "id"), None);
    }

    #[test]
    fn form_bodies_decode_strictly() {
        let pairs = form_pairs(b"a=1&b=x+y%2Bz&&c&d=%zz%4&e=%C3%A9").unwrap();
        let expected = [
            ("a", "1"),
            ("b", "x y+z"),
            ("c", ""),
            ("d", "%zz%4"),
            ("e", "\u{e9}"),
        ];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(form_pairs(b"a=%80"), None, "not UTF-8");
        assert_eq!(form_pairs(b"a=\xff"), None, "not UTF-8");
        assert_eq!(form_pairs(b""), Some(vec![]));
        let encoded = form_encode([("To", "+1 555"), ("Body", "caf\u{e9}&=")]);
        assert_eq!(encoded, "To=%2B1+555&Body=caf%C3%A9%26%3D");
        assert_eq!(
            form_pairs(encoded.as_bytes()).unwrap(),
            [
                ("To".to_string(), "+1 555".to_string()),
                ("Body".to_string(), "caf\u{e9}&=".to_string())
            ]
        );
    }

    #[test]
    fn query_params_ignore_fragments_and_blanks() {
        let url = "https://x/p?a=1&bodySHA256=ab%63&z=#bodySHA256=zz";
        assert_eq!(query_param(url, "bodySHA256").as_deref(), Some("abc"));
        assert_eq!(query_param(url, "z"), None);
        assert_eq!(query_param("https://x/p#a=1", "a"), None);
        assert_eq!(
            media_type("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
            "application/x-www-form-urlencoded"
        );
    }

    #[test]
    fn whsec_keys_decode_with_or_without_prefix_and_padding() {
        let expected = BASE64_CANONICAL
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        assert_eq!(
            decode_whsec(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Some(expected.clone())
        );
        assert_eq!(
            decode_whsec(b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Some(expected)
        );
        assert_eq!(
            decode_whsec(b"whsec_AAE"),
            Some(vec![0, 1]),
            "missing padding tolerated"
        );
        assert_eq!(decode_whsec(b"whsec_not base64!"), None);
        assert_eq!(decode_whsec(b"whsec_"), None, "empty key");
    }

    #[test]
    fn rfc3339_timestamps_parse_with_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(
            parse_rfc3339("2020-01-01T00:00:00-07:00"),
            Some(1_577_862_000)
        );
        assert_eq!(
            parse_rfc3339("2020-12-13T14:15:16.1718Z"),
            Some(1_607_868_916)
        );
        assert_eq!(
            parse_rfc3339("2026-01-01T00:00:00.123456789Z"),
            Some(1_767_225_600)
        );
        for bad in [
            "",
            "2026-01-01",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+0100",
            "１９７０-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(format_rfc3339(at(1_767_225_600)), "2026-01-01T00:00:00Z");
        for secs in [0, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(at(secs))), Some(secs as i64));
        }
    }
}
