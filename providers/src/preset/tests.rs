//! Vector tests for every preset row: each row carries at least one vector from the reference
//! (published by the provider or its SDK where one exists, derived from the documented algorithm
//! otherwise), and every vector goes through the same negatives: wrong secret, rotation,
//! tampered and re-serialised body, truncated, empty and missing signature, stale and future
//! timestamps. Handshakes and batches have their own stories below.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::*;
use crate::catalogue::PRESETS;
use crate::test_support::{at, flip_byte, pretty, secrets, TestRequest, TEST_URL};
use crate::{build, ProviderOptions};

struct Vector {
    provider: &'static str,
    secret: &'static str,
    body: &'static str,
    /// The first header is the signature header.
    headers: &'static [(&'static str, &'static str)],
    url: Option<&'static str>,
    now: u64,
    /// The expected event ids; `SHA` stands for the body's SHA-256 (no documented id).
    ids: Option<&'static [&'static str]>,
    /// Where the vector comes from.
    #[expect(dead_code, reason = "documentation of each vector's origin")]
    source: &'static str,
}

/// A secret that is valid in every key encoding (text and base64) but is nobody's key.
const WRONG_SECRET: &str = "d3Jvbmctc2VjcmV0LXZhbHVl";

const VECTORS: &[Vector] = &[
    Vector {
        provider: "asana",
        secret: "asana-hook-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Hook-Signature", "8d281c227c700b59e29fd199511a02f8da589e66e4241d9f205ee748dcabc25f")],
        url: None,
        now: 1,
        ids: None,
        source: "derived: providers-more.md 5.2 (secret as handed over in X-Hook-Secret)",
    },
    Vector {
        provider: "github",
        secret: "It's a Secret to Everybody",
        body: "Hello, World!",
        headers: &[("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"), ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")],
        url: None,
        now: 1,
        ids: Some(&["72d3162e-cc78-11e3-81ab-4c9367dc0958"]),
        source: "published: GitHub docs",
    },
    Vector {
        provider: "shopify",
        secret: "shop-secret",
        body: r#"{"id":1}"#,
        headers: &[("Shopify-Hmac-Sha256", "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0="), ("Shopify-Webhook-Id", "wh-1")],
        url: None,
        now: 1,
        ids: Some(&["wh-1"]),
        source: "derived: providers.md 5.2 (unprefixed header names)",
    },
    Vector {
        provider: "slack",
        secret: "8f742231b10e8888abcd99yyyzzz85a5",
        body: "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        headers: &[("X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"), ("X-Slack-Request-Timestamp", "1531420618")],
        url: None,
        now: 1531420618,
        ids: Some(&["398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"]),
        source: "published: Slack docs / python-slack-sdk",
    },
    Vector {
        provider: "zoom",
        secret: "zoom-secret",
        body: r#"{"id":1}"#,
        headers: &[("x-zm-signature", "v0=f7a5e93e8e2abbfb1a7ae0daba120e585bb96931fba79e0d0284fd3e802831d7"), ("x-zm-request-timestamp", "1700000000")],
        url: None,
        now: 1700000000,
        ids: None,
        source: "derived: providers.md 5.2",
    },
    Vector {
        provider: "calendly",
        secret: "calendly-signing-key",
        body: r#"{"id":1}"#,
        headers: &[("Calendly-Webhook-Signature", "t=1700000000,v1=b15f428ac73a515ae072d3b743f76211ed3c4cc6c11a77223768add631bfd9bc")],
        url: None,
        now: 1700000000,
        ids: None,
        source: "derived: providers.md 5.2",
    },
    Vector {
        provider: "lago",
        secret: "lago-hmac-token",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Lago-Signature", "zSguFpTpZejUwbOcspcv5j/bPzbJiqdY5nQzeYHR4cY="), ("X-Lago-Unique-Key", "lago-key-1")],
        url: None,
        now: 1,
        ids: Some(&["lago-key-1"]),
        source: "derived from Lago's documented HMAC recipe",
    },
    Vector {
        provider: "etsy",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        body: r#"{"test": 2432232314}"#,
        headers: &[("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330")],
        url: None,
        now: 1614265330,
        ids: Some(&["msg_p5jXN8AQM9LWM0D4loKWxJek"]),
        source: "published: standard-webhooks spec vector",
    },
    Vector {
        provider: "recurly",
        secret: "recurly-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("recurly-signature", "1700000000000,00ab,abea6c3b62e0a1c999c34a0eca67165c9f92d82dc1f97ddb2dcee3744d4c4c6e")],
        url: None,
        now: 1700000000,
        ids: Some(&["evt_1"]),
        source: "derived (ms timestamp, per docs.recurly.com), with a rotated-out first signature",
    },
    Vector {
        provider: "mollie",
        secret: "mollie-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Mollie-Signature", "sha256=72a27140a0ff1aa040734165c63e282da94a09b8187f4f2fb2c3013af06d68d7")],
        url: None,
        now: 1,
        ids: Some(&["evt_1"]),
        source: "derived; scheme as in mollie/mollie-api-php SignatureValidator",
    },
    Vector {
        provider: "persona",
        secret: "persona-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("Persona-Signature", "t=1700000000,v1=6e388c3433ed349bf348dc5106c1ff81e4d0a1dde3c47df5c7edb3170acf95e3 t=1700000000,v1=c0fdf57d45f80ceed2db24f9c50c342e1c2373c2303cb3ea374efdcf548198d3")],
        url: None,
        now: 1700000000,
        ids: None,
        source: "derived, two rotation groups (old secret first)",
    },
    Vector {
        provider: "elevenlabs",
        secret: "wsec_eleven-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("ElevenLabs-Signature", "t=1700000000,v0=3959aa6f96bf5a0ab33de1754d8f9e4bdefe2aeaa50db9c49bf55365e13dc3e4")],
        url: None,
        now: 1700000000,
        ids: None,
        source: "derived from ElevenLabs' documented scheme",
    },
    Vector {
        provider: "paddle",
        secret: "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh",
        body: "hello-world",
        headers: &[("Paddle-Signature", "ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02")],
        url: None,
        now: 1696195954,
        ids: None,
        source: "published: paddle-python-sdk test_Verifier.py",
    },
    Vector {
        provider: "square",
        secret: "Ibxx_5AKakO-3qeNVR61Dw",
        body: r#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#,
        headers: &[("x-square-hmacsha256-signature", "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=")],
        url: Some("https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"),
        now: 1700000000,
        ids: Some(&["ac3ac95b-f97d-458c-a6e6-18981597e05f"]),
        source: "published: Square docs",
    },
    Vector {
        provider: "intercom",
        secret: "intercom-client-secret",
        body: r#"{"id":1}"#,
        headers: &[("X-Hub-Signature", "sha1=9895ca0dac336600c9e133bf0df76fe9fedd8a2f")],
        url: None,
        now: 1,
        ids: Some(&["1"]),
        source: "derived: providers.md 5.2",
    },
    Vector {
        provider: "typeform",
        secret: "typeform-secret",
        body: r#"{"id":1}"#,
        headers: &[("Typeform-Signature", "sha256=DJu+9U6vGF+zgVNK10vFVcPMW7BpkElSez9XTIYqLcA=")],
        url: None,
        now: 1,
        ids: None,
        source: "derived: providers.md 5.2",
    },
    Vector {
        provider: "woocommerce",
        secret: "woo-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-WC-Webhook-Signature", "WJQIDSvTdtNmXwul/vQRO+Go6RANiKrGF4NidLZQVeI="), ("X-WC-Webhook-Topic", "order.created")],
        url: None,
        now: 1,
        ids: Some(&["SHA"]),
        source: "derived",
    },
    Vector {
        provider: "razorpay",
        secret: "rzp-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Razorpay-Signature", "647cb658d4dbe77e34e27d030ad139283f2f78a68cb8546d19f150905ec49f78"), ("x-razorpay-event-id", "EvRzp1")],
        url: None,
        now: 1,
        ids: Some(&["EvRzp1"]),
        source: "derived",
    },
    Vector {
        provider: "meta",
        secret: "meta-app-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Hub-Signature-256", "sha256=7a93983a314feaa98f178818761f5d5eb1693de27833f68c9824e13a936b625e")],
        url: None,
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "twitch",
        secret: "Twitch4J",
        body: r#"{"hello":"world"}"#,
        headers: &[("Twitch-Eventsub-Message-Signature", "sha256=2ac8d26bf60837663d8969f3cb4f22f685c8fa0a4b99d533c8bf622ed4596cc6"), ("Twitch-Eventsub-Message-Id", "7d4c39a4-10b3-4166-b1fb-56130d1f693b"), ("Twitch-Eventsub-Message-Timestamp", "2020-12-13T14:15:16.1718Z")],
        url: None,
        now: 1607868916,
        ids: Some(&["7d4c39a4-10b3-4166-b1fb-56130d1f693b"]),
        source: "published: twitch4j EventSubVerifierTest",
    },
    Vector {
        provider: "twitch",
        secret: "twitch-secret-123",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("Twitch-Eventsub-Message-Signature", "sha256=DB9E1263B503BF276E4E4EA3EFA03E062F067A59872BE3681222E7A22CB1A98F"), ("Twitch-Eventsub-Message-Id", "msg-1"), ("Twitch-Eventsub-Message-Timestamp", "2026-01-01T00:00:00.123456789Z")],
        url: None,
        now: 1767225600,
        ids: Some(&["msg-1"]),
        source: "derived, upper-case hex",
    },
    Vector {
        provider: "dropbox",
        secret: "the_secret",
        body: r#"{"delta": {"users": [12345]}}"#,
        headers: &[("X-Dropbox-Signature", "0a8c16b085420b960dc78664279fe09e936a2a01b1f91064869d9e77dfd64529")],
        url: None,
        now: 1,
        ids: Some(&["SHA"]),
        source: "3p: hapi-dropbox-webhooks test",
    },
    Vector {
        provider: "dropbox",
        secret: "dbx-app-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Dropbox-Signature", "e44615f24408cc5e84a3811454e0f358fbb28723c566b079cdfc998b0b760307")],
        url: None,
        now: 1,
        ids: Some(&["SHA"]),
        source: "derived",
    },
    Vector {
        provider: "trello",
        secret: "trello-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Trello-Webhook", "FTUtxbRVaY3MWbeJbojiaooHmUo=")],
        url: Some("https://example.com/trello/hook?x=1"),
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "box",
        secret: "SamplePrimaryKey",
        body: r#"{"type":"webhook_event","webhook":{"id":"1234567890"},"trigger":"FILE.UPLOADED","source":{"id":"1234567890","type":"file","name":"Test.txt"}}"#,
        headers: &[("BOX-SIGNATURE-PRIMARY", "6TfeAW3A1PASkgboxxA5yqHNKOwFyMWuEXny/FPD5hI="), ("BOX-SIGNATURE-SECONDARY", "v+1CD1Jdo3muIcbpv5lxxgPglOqMfsNHPV899xWYydo="), ("BOX-DELIVERY-TIMESTAMP", "2020-01-01T00:00:00-07:00")],
        url: None,
        now: 1577862000,
        ids: None,
        source: "published: box-node-sdk webhooks-test.js",
    },
    Vector {
        provider: "box",
        secret: "SampleSecondaryKey",
        body: r#"{"webhook":{"id":"1234567890"},"trigger":"FILE.UPLOADED","source":{"id":"1234567890","type":"file","name":"Test.txt"}}"#,
        headers: &[("BOX-SIGNATURE-SECONDARY", "yxxwBNk7tFyQSy95/VNKAf1o+j8WMPJuo/KcFc7OS0Q="), ("BOX-DELIVERY-TIMESTAMP", "2020-01-01T00:00:00-07:00")],
        url: None,
        now: 1577862000,
        ids: None,
        source: "published: box-python-sdk docs (secondary key)",
    },
    Vector {
        provider: "box",
        secret: "box-primary",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("BOX-SIGNATURE-PRIMARY", "/ZOLXqiN2LhW2txp47PUd7g+OlZDn+riUWOj4env7JM="), ("BOX-DELIVERY-TIMESTAMP", "2026-01-01T00:00:00Z")],
        url: None,
        now: 1767225600,
        ids: Some(&["evt_1"]),
        source: "derived",
    },
    Vector {
        provider: "x",
        secret: "x-consumer-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("x-twitter-webhooks-signature", "sha256=cQSd/zAjfWogk/dT7Ce4uyNO4hGVVHCTXGLISNkWAxw=")],
        url: None,
        now: 1,
        ids: Some(&["SHA"]),
        source: "derived",
    },
    Vector {
        provider: "xero",
        secret: "xero-webhook-key",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("x-xero-signature", "788ztS6pGjQje1GcnMif3RrR/BUc7tuCRWzISesYXeY=")],
        url: None,
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "coinbase-commerce",
        secret: "cc-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-CC-Webhook-Signature", "de01ff02257eed4115e7717fd295b4d95d5b2c264b719fbd978b5245b5889fd7")],
        url: None,
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "gocardless",
        secret: "gc-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("Webhook-Signature", "15bed27385d5895e5511c1088f4a6688c6227e771336868e49e2690339a29413")],
        url: None,
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "easypost",
        secret: "sécret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Hmac-Signature", "hmac-sha256-hex=648a648ccf2d4fb82924f631da8d92ecfb4d0e8406023c78f9a215117f1ac4d0")],
        url: None,
        now: 1,
        ids: Some(&["evt_1"]),
        source: "derived, cross-checked with easypost 10.7.0",
    },
    Vector {
        provider: "mux",
        secret: "mux-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("Mux-Signature", "t=1700000000,v1=cc23b8aac23a288b1b25f2cf7fe3eb07e3e0cf7020409a41b38606936704be9f")],
        url: None,
        now: 1700000000,
        ids: Some(&["evt_1"]),
        source: "derived",
    },
    Vector {
        provider: "workos",
        secret: "workos-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("WorkOS-Signature", "t=1700000000000, v1=85843d0cb4e3315d5f8d3977bce1422be854d8b16e8d5b41780d22825f2bd878")],
        url: None,
        now: 1700000000,
        ids: Some(&["evt_1"]),
        source: "derived, cross-checked with workos 10.8.0",
    },
    Vector {
        provider: "onfido",
        secret: "onfido-token",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-SHA2-Signature", "08fa970b5b07eef4ad4c204ce8785b80fd59a5e826af496c189871f0bfd2ecd0")],
        url: None,
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "sanity",
        secret: "test",
        body: r#"{"_id":"resume"}"#,
        headers: &[("sanity-webhook-signature", "t=1633519811129,v1=tLa470fx7qkLLEcMOcEUFuBbRSkGujyskxrNXcoh0N0"), ("idempotency-key", "idem-1")],
        url: None,
        now: 1633519811,
        ids: Some(&["idem-1"]),
        source: "published: sanity-io/webhook-toolkit signature.test.ts",
    },
    Vector {
        provider: "sanity",
        secret: "sanity-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("sanity-webhook-signature", "t=1700000000000, v1=Zow13n-mNrYHfrHV4vK5pS-bcw1neJpw6N05VHcs2gI"), ("idempotency-key", "idem-2")],
        url: None,
        now: 1700000000,
        ids: Some(&["idem-2"]),
        source: "derived",
    },
    Vector {
        provider: "docusign",
        secret: "docusign-key",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-DocuSign-Signature-2", "xwoaT7TcFO6hZjz6onfQ6svABrvXNbqM2qvTIGtNIu4=")],
        url: None,
        now: 1,
        ids: None,
        source: "derived (second key's header)",
    },
    Vector {
        provider: "quickbooks",
        secret: "qbo-verifier",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("intuit-signature", "fRDJx84sQMUq9WyoipuDrE4+NPfMNtlsgtKrDxPo4Sg=")],
        url: None,
        now: 1,
        ids: Some(&["SHA"]),
        source: "derived",
    },
    Vector {
        provider: "paystack",
        secret: "sk_test_abc",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("x-paystack-signature", "506923f979a9f4d3f5456ebd2a5cb4a79006fe10d48667fc40546d3887cb8ba2c40dd079c9c37ad50df17969f77901e8db4caefdd01e0f185d485b9543832d34")],
        url: None,
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "lemonsqueezy",
        secret: "ls-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Signature", "19ee6a5d516b38a794cbfd410ce21f0543802a3c221bcd640955581bf2fbd688")],
        url: None,
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "checkout",
        secret: "cko-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("Cko-Signature", "106392f7ee1ad97a2dc6923dd0af9f55080dc5dbd59f4bb776d9584961b77083")],
        url: None,
        now: 1,
        ids: Some(&["evt_1"]),
        source: "derived",
    },
    Vector {
        provider: "sentry",
        secret: "sentry-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("Sentry-Hook-Signature", "ac39215a4f0661aee6712f43bffa4e6ef9629cf3073be468966d65cd774a2ba9"), ("Request-ID", "req-1"), ("Sentry-Hook-Resource", "issue")],
        url: None,
        now: 1,
        ids: Some(&["req-1"]),
        source: "derived",
    },
    Vector {
        provider: "pagerduty",
        secret: "pd-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-PagerDuty-Signature", "v1=00ff,v1=cc9fa77f6d962b6635d468826fab7cb2d6e2c5b3f912de101b3f866dcd280643")],
        url: None,
        now: 1,
        ids: None,
        source: "derived, with a rotated-out first signature",
    },
    Vector {
        provider: "circleci",
        secret: "circle-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("circleci-signature", "v1=2eb4f47da2c9342d90fd9ac60a95b2ab89c3255dea5c9aaea882513408232430"), ("circleci-event-type", "workflow-completed")],
        url: None,
        now: 1,
        ids: Some(&["evt_1"]),
        source: "derived",
    },
    Vector {
        provider: "buildkite",
        secret: "bk-token",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Buildkite-Signature", "timestamp=1700000000,signature=2b78ab0c29f86956c6e0fbf579bf2bc0d57cb4b52d8583ed9905848e6b64057f"), ("X-Buildkite-Event", "build.finished")],
        url: None,
        now: 1700000000,
        ids: Some(&["SHA"]),
        source: "derived",
    },
    Vector {
        provider: "bitbucket",
        secret: "bb-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Hub-Signature", "sha256=f80f69f0d58d0f593d48dfd88538960bd2ae64ba9d20b2fb1c53ee1c563d2cc1"), ("X-Request-UUID", "uuid-1"), ("X-Event-Key", "repo:push")],
        url: None,
        now: 1,
        ids: Some(&["uuid-1"]),
        source: "derived",
    },
    Vector {
        provider: "jira",
        secret: "bb-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Hub-Signature", "sha256=f80f69f0d58d0f593d48dfd88538960bd2ae64ba9d20b2fb1c53ee1c563d2cc1"), ("X-Atlassian-Webhook-Identifier", "jira-1")],
        url: None,
        now: 1,
        ids: Some(&["jira-1"]),
        source: "derived",
    },
    Vector {
        provider: "vercel",
        secret: "vercel-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("x-vercel-signature", "8ac7d14d987dfeec58e829c0edb29854e692e4f6")],
        url: None,
        now: 1,
        ids: Some(&["evt_1"]),
        source: "derived",
    },
    Vector {
        provider: "heroku",
        secret: "heroku-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("Heroku-Webhook-Hmac-SHA256", "m9dYLbbG9C0HSgA4CVF/pjq1xDWbRIsfq71k/Mj3TtY=")],
        url: None,
        now: 1,
        ids: Some(&["evt_1"]),
        source: "derived",
    },
    Vector {
        provider: "smartsheet",
        secret: "ss-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("Smartsheet-Hmac-SHA256", "fbca086abfe8e2a4ef6f9ebe966dd9485336c3582e866ba3670f38340134dce1")],
        url: None,
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "msteams",
        secret: "dGVhbXMtc2VjdXJpdHktdG9rZW4tYnl0ZXM=",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("Authorization", "HMAC 2jZ4fa63NeQSAG6XVN3NTbVQk6b5KUbD5QywLEOC7is=")],
        url: None,
        now: 1,
        ids: Some(&["evt_1"]),
        source: "derived",
    },
    Vector {
        provider: "zendesk",
        secret: "zd-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Zendesk-Webhook-Signature", "znpLlSZCRYXqS9tqgmBdcY5LegzveD01STeYuRpPXn4="), ("X-Zendesk-Webhook-Signature-Timestamp", "2026-01-01T00:00:00Z")],
        url: None,
        now: 1767225600,
        ids: Some(&["evt_1"]),
        source: "derived",
    },
    Vector {
        provider: "customerio",
        secret: "cio-key",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-CIO-Signature", "a79669b01d3f54012d77d05efd280f6ae2e4479ad2c8ec5068817de55edee824"), ("X-CIO-Timestamp", "1700000000")],
        url: None,
        now: 1700000000,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "frameio",
        secret: "frameio-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Frameio-Signature", "v0=c5d44540fc05fcf73cc1b2f8fd76848d9dcd2ee526509a23f5953e6e4d2b9d3d"), ("X-Frameio-Request-Timestamp", "1700000000")],
        url: None,
        now: 1700000000,
        ids: Some(&["SHA"]),
        source: "derived",
    },
    Vector {
        provider: "airtable",
        secret: "YWlydGFibGUtbWFjLXNlY3JldC1ieXRlcw==",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Airtable-Content-MAC", "hmac-sha256=be950ec0cc37035dac36e81d8d8004e417d2dc798eadd125f17671d2fcb6e3b0")],
        url: None,
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "webflow",
        secret: "webflow-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("x-webflow-signature", "0ed43661c30c538f38c491fdc3a3565a355e1cd3a844cd66516ac5f1b8eb3259"), ("x-webflow-timestamp", "1700000000000")],
        url: None,
        now: 1700000000,
        ids: Some(&["SHA"]),
        source: "derived",
    },
    Vector {
        provider: "line",
        secret: "line-channel-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("x-line-signature", "B4Gtq+sTg/9pWGMv4yd83fZqboD9yo9Y8d8In0MO3Iw=")],
        url: None,
        now: 1,
        ids: None,
        source: "derived, cross-checked with line-bot-sdk 3.27.0",
    },
    Vector {
        provider: "segment",
        secret: "seg-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Signature", "b392c12840641c14ee56ecd5f398fe5a0d566eb2")],
        url: None,
        now: 1,
        ids: None,
        source: "derived",
    },
    Vector {
        provider: "clickup",
        secret: "clickup-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Signature", "2ac607543fbde3e6f5f71c3fa3944780ad4e858b773474004639804cd08c9212")],
        url: None,
        now: 1,
        ids: Some(&["SHA"]),
        source: "derived",
    },
    Vector {
        provider: "calcom",
        secret: "cal-secret",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Cal-Signature-256", "6c1b393a2fc071f58c980126fe627a5085c764fe9254de664d252389bb5e1da4")],
        url: None,
        now: 1,
        ids: Some(&["SHA"]),
        source: "derived",
    },
    Vector {
        provider: "alchemy",
        secret: "alchemy-key",
        body: r#"{"id":"evt_1"}"#,
        headers: &[("X-Alchemy-Signature", "63840f1b57fa80b4ab6199c66d6960f5d9dbf31ce1edb86016f9d0f264cff8d0")],
        url: None,
        now: 1,
        ids: Some(&["evt_1"]),
        source: "derived",
    },
    Vector {
        provider: "render",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        body: r#"{"test": 2432232314}"#,
        headers: &[("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330")],
        url: None,
        now: 1614265330,
        ids: Some(&["msg_p5jXN8AQM9LWM0D4loKWxJek"]),
        source: "published: standard-webhooks spec vector",
    },
    Vector {
        provider: "openai",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        body: r#"{"test": 2432232314}"#,
        headers: &[("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330")],
        url: None,
        now: 1614265330,
        ids: Some(&["msg_p5jXN8AQM9LWM0D4loKWxJek"]),
        source: "published: standard-webhooks spec vector",
    },
    Vector {
        provider: "replicate",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        body: r#"{"test": 2432232314}"#,
        headers: &[("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330")],
        url: None,
        now: 1614265330,
        ids: Some(&["msg_p5jXN8AQM9LWM0D4loKWxJek"]),
        source: "published: standard-webhooks spec vector",
    },
    Vector {
        provider: "polar",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        body: r#"{"test": 2432232314}"#,
        headers: &[("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330")],
        url: None,
        now: 1614265330,
        ids: Some(&["msg_p5jXN8AQM9LWM0D4loKWxJek"]),
        source: "published: standard-webhooks spec vector",
    },
    Vector {
        provider: "supabase-auth",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        body: r#"{"test": 2432232314}"#,
        headers: &[("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330")],
        url: None,
        now: 1614265330,
        ids: Some(&["msg_p5jXN8AQM9LWM0D4loKWxJek"]),
        source: "published: standard-webhooks spec vector",
    },
    Vector {
        provider: "clerk",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        body: r#"{"test": 2432232314}"#,
        headers: &[("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), ("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("svix-timestamp", "1614265330")],
        url: None,
        now: 1614265330,
        ids: Some(&["msg_p5jXN8AQM9LWM0D4loKWxJek"]),
        source: "published: standard-webhooks spec vector",
    },
    Vector {
        provider: "resend",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        body: r#"{"test": 2432232314}"#,
        headers: &[("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), ("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("svix-timestamp", "1614265330")],
        url: None,
        now: 1614265330,
        ids: Some(&["msg_p5jXN8AQM9LWM0D4loKWxJek"]),
        source: "published: standard-webhooks spec vector",
    },
];

fn provider(name: &str) -> Preset {
    let row = crate::catalogue::preset(name).unwrap_or_else(|| panic!("no preset {name}"));
    Preset::new(row, &ProviderOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

impl Vector {
    fn request(&self) -> TestRequest {
        let req = TestRequest::post(self.body.as_bytes()).url(self.url.unwrap_or(TEST_URL));
        self.headers
            .iter()
            .fold(req, |req, (name, value)| req.header(name, value))
    }

    fn verify(&self, req: &TestRequest, configured: &[&str], now: u64) -> Result<(), VerifyError> {
        provider(self.provider).verify(&req.as_request(), &secrets(configured), at(now))
    }

    fn signature_header(&self) -> &'static str {
        self.headers[0].0
    }
}

fn tolerance(name: &str) -> Duration {
    crate::catalogue::preset(name)
        .and_then(|row| row.tolerance)
        .unwrap_or(DEFAULT_TOLERANCE)
}

#[test]
fn every_preset_builds_and_has_a_vector() {
    for row in PRESETS {
        let preset = provider(row.name);
        assert_eq!(preset.name(), row.name);
        assert!(
            VECTORS.iter().any(|v| v.provider == row.name),
            "preset `{}` has no vector",
            row.name
        );
        assert!(
            !row.title.is_empty() && !row.retry_note.is_empty(),
            "{}",
            row.name
        );
    }
    let mut names: Vec<&str> = PRESETS.iter().map(|row| row.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), PRESETS.len(), "preset names are unique");
}

#[test]
fn every_vector_verifies_and_passes_under_rotation() {
    for v in VECTORS {
        let req = v.request();
        assert_eq!(v.verify(&req, &[v.secret], v.now), Ok(()), "{}", v.provider);
        assert_eq!(
            v.verify(&req, &[WRONG_SECRET, v.secret], v.now),
            Ok(()),
            "{}: the second configured secret verifies",
            v.provider
        );
    }
}

#[test]
fn every_vector_fails_under_a_wrong_secret_or_none() {
    for v in VECTORS {
        let req = v.request();
        assert_eq!(
            v.verify(&req, &[WRONG_SECRET], v.now),
            Err(VerifyError::SignatureMismatch),
            "{}",
            v.provider
        );
        assert_eq!(
            v.verify(&req, &[], v.now),
            Err(VerifyError::NoSecret),
            "{}",
            v.provider
        );
    }
}

#[test]
fn every_vector_fails_with_a_tampered_or_re_serialised_body() {
    for v in VECTORS {
        let tampered = v.request().body(flip_byte(v.body.as_bytes()));
        assert_eq!(
            v.verify(&tampered, &[v.secret], v.now),
            Err(VerifyError::SignatureMismatch),
            "{}",
            v.provider
        );
        if serde_json::from_str::<Value>(v.body).is_ok() {
            let reserialised = v.request().body(pretty(v.body.as_bytes()));
            assert_eq!(
                v.verify(&reserialised, &[v.secret], v.now),
                Err(VerifyError::SignatureMismatch),
                "{}",
                v.provider
            );
        }
    }
}

#[test]
fn every_vector_fails_with_a_truncated_empty_or_missing_signature() {
    for v in VECTORS {
        let header = v.signature_header();
        let value = v.headers[0].1;
        let truncated = v.request().set(header, &value[..value.len() - 4]);
        assert!(
            v.verify(&truncated, &[v.secret], v.now).is_err(),
            "{}: truncated",
            v.provider
        );
        let empty = v.request().set(header, "");
        assert!(
            v.verify(&empty, &[v.secret], v.now).is_err(),
            "{}: empty",
            v.provider
        );
        let missing = v.request().without(header);
        assert!(
            v.verify(&missing, &[v.secret], v.now).is_err(),
            "{}: missing",
            v.provider
        );
    }
}

#[test]
fn timestamped_vectors_fail_past_tolerance_in_both_directions() {
    let mut timestamped = 0;
    for v in VECTORS {
        if !provider(v.provider).generic().is_timestamped() {
            continue;
        }
        timestamped += 1;
        let tolerance = tolerance(v.provider).as_secs();
        let req = v.request();
        assert_eq!(
            v.verify(&req, &[v.secret], v.now + tolerance),
            Ok(()),
            "{}",
            v.provider
        );
        assert_eq!(
            v.verify(&req, &[v.secret], v.now + tolerance + 1),
            Err(VerifyError::StaleTimestamp),
            "{}",
            v.provider
        );
        assert_eq!(
            v.verify(&req, &[v.secret], v.now - tolerance - 1),
            Err(VerifyError::FutureTimestamp),
            "{}",
            v.provider
        );
    }
    assert!(timestamped >= 14, "{timestamped}");
}

#[test]
fn vectors_yield_their_documented_ids() {
    for v in VECTORS {
        let Some(expected) = v.ids else { continue };
        let events = provider(v.provider)
            .events(&v.request().as_request())
            .unwrap_or_else(|e| panic!("{}: {e}", v.provider));
        let ids: Vec<String> = events.into_iter().map(|e| e.id).collect();
        let expected: Vec<String> = expected
            .iter()
            .map(|id| match *id {
                "SHA" => hex::encode(Sha256::digest(v.body.as_bytes())),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(ids, expected, "{}", v.provider);
    }
}

#[test]
fn every_preset_signs_its_example_so_that_it_verifies() {
    for v in VECTORS {
        let p = provider(v.provider);
        let now = 1_700_000_000;
        let body = p.example_body("evt_round_1", "thing.happened");
        let req = TestRequest::signed(&p, &body, "evt_round_1", v.secret, at(now));
        assert_eq!(v.verify(&req, &[v.secret], now), Ok(()), "{}", v.provider);
        assert!(
            p.challenge(&req.as_request(), &secrets(&[v.secret]))
                .is_none(),
            "{}: an example is not a handshake",
            v.provider
        );
        let events = p
            .events(&req.as_request())
            .unwrap_or_else(|e| panic!("{}: {e}", v.provider));
        assert!(!events.is_empty(), "{}", v.provider);
        let body_hash = hex::encode(Sha256::digest(&body));
        assert!(
            events
                .iter()
                .any(|e| e.id.contains("evt_round_1") || e.id == body_hash),
            "{}: {events:?}",
            v.provider
        );
        let tampered = req.clone().body(flip_byte(&body));
        assert!(
            v.verify(&tampered, &[v.secret], now).is_err(),
            "{}",
            v.provider
        );
    }
}

#[test]
fn persona_groups_must_agree_on_the_timestamp() {
    let v = VECTORS
        .iter()
        .find(|v| v.provider == "persona")
        .expect("persona");
    let header = v.headers[0].1.replacen("t=1700000000,", "t=1700000001,", 1);
    let req = TestRequest::post(v.body.as_bytes()).header("Persona-Signature", &header);
    assert_eq!(
        v.verify(&req, &[v.secret], v.now),
        Err(VerifyError::MalformedHeader("persona-signature"))
    );
}

#[test]
fn presets_build_through_the_registry_with_their_own_tolerance() {
    let twitch = build("twitch", &ProviderOptions::default()).expect("twitch");
    assert_eq!(twitch.name(), "twitch");
    let narrow = ProviderOptions {
        tolerance: Some(Duration::from_secs(60)),
        ..ProviderOptions::default()
    };
    let row = crate::catalogue::preset("mux").expect("mux");
    let mux = Preset::new(row, &narrow).expect("mux");
    let v = VECTORS
        .iter()
        .find(|v| v.provider == "mux")
        .expect("mux vector");
    let req = v.request();
    assert_eq!(
        mux.verify(&req.as_request(), &secrets(&[v.secret]), at(v.now + 61)),
        Err(VerifyError::StaleTimestamp)
    );
}

// --- Batches ---------------------------------------------------------------------------------

fn signed(name: &str, secret: &str, body: &str) -> TestRequest {
    let p = provider(name);
    TestRequest::signed(&p, body.as_bytes(), "unused", secret, at(1_700_000_000))
}

fn ids(name: &str, req: &TestRequest) -> Vec<String> {
    provider(name)
        .events(&req.as_request())
        .expect("events")
        .into_iter()
        .map(|e| e.id)
        .collect()
}

#[test]
fn nested_batches_yield_one_event_per_item() {
    let body = r#"{"events":[{"id":"EV001","action":"created"},{"id":"EV002","action":"paid_out"}],"meta":{"webhook_id":"WB1"}}"#;
    let req = signed("gocardless", "gc-secret", body);
    let events = provider("gocardless")
        .events(&req.as_request())
        .expect("events");
    assert_eq!(
        events,
        vec![
            EventMeta {
                id: "EV001".into(),
                event_type: Some("created".into())
            },
            EventMeta {
                id: "EV002".into(),
                event_type: Some("paid_out".into())
            },
        ]
    );

    let body = r#"{"object":"page","entry":[{"id":"p1","time":1700000000,"changes":[]},{"id":"p2","time":1700000001,"messaging":[]}]}"#;
    assert_eq!(
        ids("meta", &signed("meta", "meta-app-secret", body)),
        ["p1:1700000000", "p2:1700000001"]
    );

    let body = r#"{"destination":"U1","events":[{"type":"message","webhookEventId":"01HLINE1"},{"type":"follow","webhookEventId":"01HLINE2"}]}"#;
    assert_eq!(
        ids("line", &signed("line", "line-channel-secret", body)),
        ["01HLINE1", "01HLINE2"]
    );

    let body = r#"{"events":[{"tenantId":"t1","eventCategory":"INVOICE","resourceId":"r1","eventType":"UPDATE","eventDateUtc":"2026-01-01T00:00:00"}],"firstEventSequence":1,"lastEventSequence":1,"entropy":"x"}"#;
    assert_eq!(
        ids("xero", &signed("xero", "xero-webhook-key", body)),
        ["t1:INVOICE:r1:UPDATE:2026-01-01T00:00:00"]
    );
}

#[test]
fn batch_items_without_their_id_are_refused_and_bodies_must_be_json() {
    let req = signed(
        "gocardless",
        "gc-secret",
        r#"{"events":[{"id":"EV1"},{"action":"x"}]}"#,
    );
    assert!(matches!(
        provider("gocardless").events(&req.as_request()),
        Err(ExtractError::MissingEventId(_))
    ));
    let req = signed("gocardless", "gc-secret", r#"{"events":{"id":"EV1"}}"#);
    assert!(matches!(
        provider("gocardless").events(&req.as_request()),
        Err(ExtractError::MalformedBody(_))
    ));
    let req = signed(
        "paystack",
        "sk_test_abc",
        r#"{"event":"charge.success","data":{}}"#,
    );
    assert!(matches!(
        provider("paystack").events(&req.as_request()),
        Err(ExtractError::MissingEventId(_))
    ));
    let req = signed(
        "paystack",
        "sk_test_abc",
        r#"{"event":"charge.success","data":{"id":302961}}"#,
    );
    assert_eq!(ids("paystack", &req), ["charge.success:302961"]);
}

// --- Handshakes ------------------------------------------------------------------------------

fn get(url: &str) -> TestRequest {
    let mut req = TestRequest::post(Vec::new()).url(url);
    req.method = "GET".into();
    req
}

fn answer(
    p: &Preset,
    req: &TestRequest,
    configured: &[&str],
) -> Option<Result<ChallengeResponse, VerifyError>> {
    p.answer_handshake(&req.as_request(), &secrets(configured))
}

#[test]
fn meta_answers_its_hub_challenge_only_with_the_right_verify_token() {
    let row = crate::catalogue::preset("meta").expect("meta");
    let opts = ProviderOptions {
        verify_token: Some(Secret::new("meta-verify-token")),
        ..ProviderOptions::default()
    };
    let meta = Preset::new(row, &opts).expect("meta");
    let url = "https://x/webhooks/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meta-verify-token";
    let ok = answer(&meta, &get(url), &["meta-app-secret"])
        .expect("a handshake")
        .expect("accepted");
    assert_eq!((ok.status, ok.body.as_slice()), (200, &b"1158201444"[..]));
    assert!(ok.content_type.starts_with("text/plain"));

    let wrong = url.replace("meta-verify-token", "meta-verify-tokem");
    assert_eq!(
        answer(&meta, &get(&wrong), &[]),
        Some(Err(VerifyError::SignatureMismatch))
    );
    let unsubscribe = url.replace("mode=subscribe", "mode=unsubscribe");
    assert_eq!(
        answer(&meta, &get(&unsubscribe), &[]),
        Some(Err(VerifyError::SignatureMismatch))
    );
    let no_token = "https://x/webhooks/meta?hub.mode=subscribe&hub.challenge=1";
    assert!(matches!(answer(&meta, &get(no_token), &[]), Some(Err(_))));
    // Without a configured verify token every attempt is refused.
    assert_eq!(
        answer(&provider("meta"), &get(url), &[]),
        Some(Err(VerifyError::NoSecret))
    );
    // A POST is never a hub challenge, and other presets refuse a verify token.
    assert!(answer(&meta, &TestRequest::post(Vec::new()).url(url), &[]).is_none());
    let razorpay = crate::catalogue::preset("razorpay").expect("razorpay");
    assert!(Preset::new(razorpay, &opts).is_err());
}

#[test]
fn dropbox_echoes_its_challenge_as_text_without_sniffing() {
    let dropbox = provider("dropbox");
    let ok = answer(&dropbox, &get("https://x/w?challenge=abc%20123"), &[])
        .expect("handshake")
        .expect("ok");
    assert_eq!(ok.body, b"abc 123");
    assert!(ok.content_type.starts_with("text/plain"));
    assert_eq!(
        ok.headers,
        vec![("x-content-type-options", "nosniff".to_string())]
    );
    assert!(answer(&dropbox, &get("https://x/w"), &[]).is_none());
    assert_eq!(dropbox.handshake().methods(), ["GET"]);
}

#[test]
fn x_answers_its_crc_with_the_reference_vector() {
    let x = provider("x");
    let ok = answer(
        &x,
        &get("https://x/w?crc_token=crc-token-123"),
        &["x-consumer-secret"],
    )
    .expect("handshake")
    .expect("ok");
    assert_eq!(
        String::from_utf8(ok.body).expect("utf8"),
        r#"{"response_token":"sha256=YUsT0aLbF0VtFGcLCND1EU/aQP0sjPL19cPulVY7Wes="}"#
    );
    assert_eq!(ok.content_type, "application/json");
    // Never a signing oracle: a token that could be an event body is refused.
    let forged_body = "https://x/w?crc_token=%7B%22id%22%3A%22evt_1%22%7D";
    assert_eq!(
        answer(&x, &get(forged_body), &["x-consumer-secret"]),
        Some(Err(VerifyError::MalformedHeader("crc_token")))
    );
    let long = format!("https://x/w?crc_token={}", "a".repeat(257));
    assert!(matches!(answer(&x, &get(&long), &["s"]), Some(Err(_))));
}

#[test]
fn trello_answers_head_and_nothing_else() {
    let trello = provider("trello");
    let mut head = TestRequest::post(Vec::new());
    head.method = "HEAD".into();
    let ok = answer(&trello, &head, &[]).expect("handshake").expect("ok");
    assert_eq!((ok.status, ok.body.len()), (200, 0));
    assert!(answer(&trello, &get(TEST_URL), &[]).is_none());
    assert_eq!(trello.handshake().methods(), ["HEAD"]);
}

#[test]
fn twitch_answers_its_signed_verification_with_the_raw_challenge() {
    let twitch = provider("twitch");
    let body = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387","type":"channel.follow"}}"#;
    let req = TestRequest::signed(
        &twitch,
        body,
        "msg-verify-1",
        "twitch-secret-123",
        at(1_700_000_000),
    )
    .header(
        "Twitch-Eventsub-Message-Type",
        "webhook_callback_verification",
    );
    assert_eq!(
        twitch.verify(
            &req.as_request(),
            &secrets(&["twitch-secret-123"]),
            at(1_700_000_000)
        ),
        Ok(())
    );
    let ok = twitch
        .challenge(&req.as_request(), &secrets(&[]))
        .expect("challenge");
    assert_eq!(ok.body, b"pogchamp-kappa-360noscope-vohiyo");
    assert!(ok.content_type.starts_with("text/plain"));
    let notification = req
        .clone()
        .set("Twitch-Eventsub-Message-Type", "notification");
    assert!(twitch
        .challenge(&notification.as_request(), &secrets(&[]))
        .is_none());
    // The handshake is signed like any message: a forged one never gets this far.
    assert_eq!(
        twitch.verify(
            &req.body(flip_byte(body)).as_request(),
            &secrets(&["twitch-secret-123"]),
            at(1_700_000_000)
        ),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn empty_signed_batches_are_handshakes_for_line_and_xero() {
    for (name, secret, body) in [
        (
            "line",
            "line-channel-secret",
            r#"{"destination":"U1","events":[]}"#,
        ),
        (
            "xero",
            "xero-webhook-key",
            r#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"S0M3"}"#,
        ),
    ] {
        let p = provider(name);
        let req = signed(name, secret, body);
        assert_eq!(
            p.verify(&req.as_request(), &secrets(&[secret]), at(1_700_000_000)),
            Ok(())
        );
        let ok = p
            .challenge(&req.as_request(), &secrets(&[secret]))
            .expect("handshake");
        assert_eq!((ok.status, ok.body.len()), (200, 0), "{name}");
    }
    let gocardless = provider("gocardless");
    let req = signed("gocardless", "gc-secret", r#"{"events":[]}"#);
    assert!(
        gocardless
            .challenge(&req.as_request(), &secrets(&[]))
            .is_none(),
        "not a handshake kind of GoCardless"
    );
}

#[test]
fn woocommerce_answers_only_its_unsigned_ping() {
    let woo = provider("woocommerce");
    let ping = TestRequest::post(&b"webhook_id=42"[..])
        .header("content-type", "application/x-www-form-urlencoded");
    let ok = answer(&woo, &ping, &[]).expect("handshake").expect("ok");
    assert_eq!(ok.status, 200);
    for not_a_ping in [
        &b"webhook_id=42&x=1"[..],
        b"webhook_id=",
        b"webhook_id=4a",
        b"{\"id\":1}",
    ] {
        assert!(answer(&woo, &TestRequest::post(not_a_ping), &[]).is_none());
    }
    let signed_ping = ping.header("X-WC-Webhook-Signature", "x");
    assert!(
        answer(&woo, &signed_ping, &[]).is_none(),
        "a signed request is verified, not pinged"
    );
}

#[test]
fn smartsheet_echoes_its_challenge_header() {
    let smartsheet = provider("smartsheet");
    let req = TestRequest::post(&br#"{"challenge":"c-1","webhookId":1}"#[..])
        .header("Smartsheet-Hook-Challenge", "c-1");
    let ok = answer(&smartsheet, &req, &[])
        .expect("handshake")
        .expect("ok");
    assert_eq!(
        ok.headers,
        vec![("smartsheet-hook-response", "c-1".to_string())]
    );
    assert!(answer(&smartsheet, &TestRequest::post(&b"{}"[..]), &[]).is_none());
}

#[test]
fn rows_without_a_handshake_answer_none() {
    for row in PRESETS
        .iter()
        .filter(|row| row.handshake == Handshake::None)
    {
        let p = provider(row.name);
        assert!(
            answer(&p, &get("https://x/w?challenge=1&crc_token=1"), &["s"]).is_none(),
            "{}",
            row.name
        );
        assert!(p.handshake().methods().is_empty());
    }
}
