"""Official-SDK conformance: webhooks signed by the providers' OWN libraries against the real gateway.

Signatures come from the provider's library wherever it has a signer: stripe, standardwebhooks,
svix, slack_sdk, twilio (RequestValidator.compute_signature / compute_hash), hubspot-api-client
(Signature.get_signature), Adyen (util.generate_notification_sig), paddle-python-sdk
(PaddleSignature.calculate_hmac), and @octokit/webhooks-methods through node. Where the provider
ships only a verifier, the request is signed by its documented recipe (SendGrid: ECDSA with
`cryptography`, the library SendGrid's own verifier uses; Discord: Ed25519 with PyNaCl; Square:
HMAC) and the provider's verifier (sendgrid EventWebhook, discord_interactions.verify_key,
square's webhooks_helper) must accept it before it is sent. Zoom ships neither, so its requests
follow the documented recipe alone.

For each provider the suite checks, against a running `hookgate serve`:

* a valid delivery is accepted once (200, status "accepted", our event id);
* the same event again, freshly signed, is a duplicate (200, status "duplicate", same record id);
* one flipped body byte, a delivery signed with another secret, and (where the scheme signs a
  timestamp) a 10-minute-old delivery are refused with 401 problem+json, code
  `invalid_signature` (reason `stale_timestamp` for the old one);
* none of the refused deliveries was recorded: the same event, validly signed afterwards, is
  still accepted as new.

Batches (SendGrid, HubSpot, Adyen) are answered per item (`accepted`/`duplicates` counts); a
batch with one bad Adyen item is refused whole. Handshakes (Slack url_verification, Zoom
endpoint.url_validation, Discord PING) are answered as each provider expects. Published test
vectors (reference/providers.md §5) are sent through sources whose tolerance covers their age.

The binary comes from $HOOKGATE_BIN (default /work/main/target/debug/hookgate).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import secrets as rand
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import Adyen.util
import discord_interactions
import nacl.signing
import pytest
import sendgrid
import slack_sdk.signature
import square.utils.webhooks_helper
import standardwebhooks
import stripe
import svix.webhooks
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hubspot.utils.signature import Signature as HubSpotSignature
from paddle_billing.Notifications import Secret as PaddleSecret
from paddle_billing.Notifications import Verifier as PaddleVerifier
from paddle_billing.Notifications.PaddleSignature import PaddleSignature
from twilio.request_validator import RequestValidator

HERE = Path(__file__).resolve().parent
DEFAULT_BIN = "/work/main/target/debug/hookgate"
STALE_SECONDS = 600  # 10 minutes: twice every provider's 5-minute tolerance
# Every body carries this ASCII marker; the tamper tests flip one bit of its first byte.
FLIP_MARKER = "flip-target"
RUN = uuid.uuid4().hex[:12]  # makes every event id unique to this run
# The gateway's base URL once it is up; URL-signing providers (Twilio, Square, HubSpot) sign
# `{BASE}/webhooks/{source}`, which is also each source's configured public_url.
GATEWAY: dict[str, str] = {}
# Zoom's event time: the same on every retry of one event (the request timestamp is not).
ZOOM_EVENT_TS = 1_700_000_000_123


# --------------------------------------------------------------------------------------------
# The gateway under test
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _whsec() -> str:
    """A Standard Webhooks / Svix secret in the providers' own format."""
    return "whsec_" + base64.b64encode(rand.token_bytes(32)).decode()


def _sendgrid_key() -> str:
    """A P-256 private key (PEM). SendGrid keeps its own; the gateway gets the public half."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _new_secrets() -> dict[str, str]:
    """The signing material per source: what the provider holds."""
    return {
        "stripe": "whsec_" + rand.token_hex(16),  # Stripe's secrets are used as UTF-8 bytes
        "github": rand.token_hex(20),
        "standard": _whsec(),
        "svix": _whsec(),
        "slack": rand.token_hex(16),
        "twilio": rand.token_hex(16),  # an auth token
        "twilio_json": rand.token_hex(16),
        "paddle": "pdl_ntfset_01" + rand.token_hex(12) + "_" + rand.token_hex(16),
        "square": base64.urlsafe_b64encode(rand.token_bytes(16)).decode().rstrip("="),
        "hubspot": str(uuid.uuid4()),  # an app client secret
        "adyen": rand.token_hex(32).upper(),  # HMAC keys are shown as hex
        "sendgrid": _sendgrid_key(),
        "discord": rand.token_hex(32),  # an Ed25519 seed; Discord keeps it
        "zoom": rand.token_hex(11),
        "gitlab": _whsec(),  # a GitLab signing token
    }


def configured_secret(source: str, secret: str) -> str:
    """What the gateway is configured with: the public key for asymmetric providers (exactly as
    their dashboards show it), the shared secret for the others."""
    if source == "sendgrid":
        key = serialization.load_pem_private_key(secret.encode(), password=None)
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()
    if source == "discord":
        return nacl.signing.SigningKey(bytes.fromhex(secret)).verify_key.encode().hex()
    return secret


# A second, unrelated set: "signed with another secret" uses these.
SECRETS = _new_secrets()
WRONG_SECRETS = _new_secrets()

# Published / derived vectors (reference/providers.md §5), each on a source of its own whose
# tolerance covers the vector's age: (source, provider, secret, public_url).
VECTOR_SOURCES = [
    ("vec_stripe", "stripe", "whsec_test_secret", None),
    ("vec_github", "github", "It's a Secret to Everybody", None),
    ("vec_slack", "slack", "8f742231b10e8888abcd99yyyzzz85a5", None),
    ("vec_standard", "standard-webhooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", None),
    ("vec_v1a", "standard-webhooks", "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=", None),
    ("vec_square", "square", "Ibxx_5AKakO-3qeNVR61Dw",
     "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"),
    ("vec_twilio", "twilio", "12345", "https://mycompany.com/myapp.php?foo=1&bar=2"),
    ("vec_twilio_json", "twilio", "12345",
     "https://mycompany.com/myapp.php?foo=1&bar=2"
     "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"),
    ("vec_sendgrid", "sendgrid",
     "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
     None),
    ("vec_adyen", "adyen", "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056", None),
    ("vec_adyen_platform", "adyen", "D7DD5BA6146493707BF0BE7496F6404EC7A63616B7158EC927B9F54BB436765F", None),
    ("vec_discord", "discord", "6653787a0edd492aa2d26a17f61414937a2bacea2e2b74154129496b6e3c73f8", None),
]

# (source, provider) of the sources the SDK-signed tests use.
SOURCES = [
    ("stripe", "stripe"),
    ("github", "github"),
    ("standard", "standard-webhooks"),
    ("svix", "standard-webhooks"),
    ("slack", "slack"),
    ("twilio", "twilio"),
    ("twilio_json", "twilio"),
    ("paddle", "paddle"),
    ("square", "square"),
    ("hubspot", "hubspot"),
    ("adyen", "adyen"),
    ("sendgrid", "sendgrid"),
    ("discord", "discord"),
    ("zoom", "zoom"),
    ("gitlab", "gitlab"),
]
URL_SIGNED = {"twilio", "twilio_json", "square", "hubspot"}


def public_url(source: str) -> str:
    return f"{GATEWAY['base']}/webhooks/{source}"


def _config(tmp: Path, base: str) -> str:
    lines = [
        "[server]",
        'listen = "127.0.0.1:0"',
        "",
        "[store]",
        f'url = "sqlite://{tmp / "hookgate.db"}"',
        'dedupe_window = "31d"',  # Adyen retries for 30 days
        "",
    ]

    def secret_ref(name: str, value: str) -> str:
        path = tmp / f"{name}.secret"
        path.write_text(value + "\n")
        path.chmod(0o600)
        return f"file:{path}"

    for source, provider in SOURCES:
        ref = secret_ref(source, configured_secret(source, SECRETS[source]))
        lines += [f"[sources.{source}]", f'provider = "{provider}"', f'secrets = ["{ref}"]']
        if source in URL_SIGNED:
            lines.append(f'public_url = "{base}/webhooks/{source}"')
        lines.append("")
    for source, provider, secret, url in VECTOR_SOURCES:
        ref = secret_ref(source, secret)
        lines += [f"[sources.{source}]", f'provider = "{provider}"', f'secrets = ["{ref}"]',
                  'tolerance = "60years"']
        if url is not None:
            lines.append(f'public_url = "{url}"')
        lines.append("")
    return "\n".join(lines)


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture(scope="session")
def gateway(tmp_path_factory) -> str:
    """Start `hookgate serve` on a free loopback port; yield its base URL; stop it."""
    binary = os.environ.get("HOOKGATE_BIN", DEFAULT_BIN)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail(f"hookgate binary not found or not executable: {binary} (set HOOKGATE_BIN)")
    tmp = tmp_path_factory.mktemp("hookgate")
    config = tmp / "hookgate.toml"
    log_path = tmp / "server.log"

    # The config file is the whole truth: drop any HOOKGATE_* the caller's shell may carry.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKGATE_")}
    for attempt in range(3):  # a free port can be taken between probing and binding
        port = _free_port()
        env["HOOKGATE_SERVER__LISTEN"] = f"127.0.0.1:{port}"
        base = f"http://127.0.0.1:{port}"
        # The URL-signing sources' public_url names the port, so the config follows it.
        config.write_text(_config(tmp, base))
        GATEWAY["base"] = base
        log = open(log_path, "wb")
        proc = subprocess.Popen(
            [binary, "serve", "--config", str(config)],
            env=env,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if _get(base + "/readyz") == 200:
                    ready = True
                    break
            except OSError:
                pass
            time.sleep(0.1)
        if ready:
            break
        _stop(proc)
        log.close()
        if attempt == 2:
            pytest.fail(
                f"hookgate did not become ready on {base} (exit {proc.returncode}); log:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
    try:
        yield base
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclasses.dataclass
class Answer:
    status: int
    content_type: str
    text: str

    @property
    def json(self) -> dict:
        return json.loads(self.text)

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.content_type}: {self.text}"


def post(base: str, source: str, body: bytes, headers: dict[str, str], query: str = "") -> Answer:
    url = f"{base}/webhooks/{source}" + (f"?{query}" if query else "")
    req = urllib.request.Request(url, data=body, method="POST")
    for k, v in headers.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return Answer(resp.status, resp.headers.get("Content-Type", ""), resp.read().decode())
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.headers.get("Content-Type", ""), e.read().decode())


# --------------------------------------------------------------------------------------------
# Signers: each builds a delivery the way the provider does, signing with its own library
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]
    # Added to the request URL (Twilio's bodySHA256), already encoded.
    query: str = ""


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def stripe_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    payload = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": ts,
            "type": "payment_intent.succeeded",
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": {"id": "pi_" + RUN, "object": "payment_intent", "amount": 2000,
                                "description": f"naïve café ☕ {FLIP_MARKER}"}},
        },
        indent=2,
        ensure_ascii=False,
    )
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=ts)
    return Delivery(payload.encode(), {"Content-Type": "application/json; charset=utf-8",
                                       "Stripe-Signature": header,
                                       "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})


def stripe_self_check(d: Delivery, secret: str) -> None:
    stripe.WebhookSignature.verify_header(d.body.decode(), d.headers["Stripe-Signature"], secret, 300)


def github_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    # GitHub pretty-prints its payloads and ends them with a newline.
    payload = json.dumps(
        {
            "action": "opened",
            "issue": {"number": 1, "title": f"naïve café ☕ {FLIP_MARKER}", "created_at": _utc(ts).isoformat()},
            "repository": {"full_name": "octo-org/hello-world"},
            "sender": {"login": "octocat"},
        },
        indent=2,
        ensure_ascii=False,
    ) + "\n"
    proc = subprocess.run(
        ["node", str(HERE / "octokit_sign.mjs"), secret, payload],
        cwd=HERE, capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, f"octokit_sign.mjs failed: {proc.stderr}"
    signature = proc.stdout.strip()
    assert signature.startswith("sha256="), signature
    return Delivery(payload.encode(), {"Content-Type": "application/json",
                                       "User-Agent": "GitHub-Hookshot/abc1234",
                                       "X-GitHub-Event": "issues",
                                       "X-GitHub-Delivery": event_id,
                                       "X-GitHub-Hook-ID": "123456",
                                       "X-Hub-Signature-256": signature})


def _std_payload(event_id: str, ts: int) -> str:
    return json.dumps(
        {"type": "invoice.paid", "timestamp": _utc(ts).isoformat(),
         "data": {"invoice": "inv_" + event_id, "note": f"naïve café ☕ {FLIP_MARKER}"}},
        ensure_ascii=False,
    )


def standard_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    payload = _std_payload(event_id, ts)
    signature = standardwebhooks.Webhook(secret).sign(event_id, _utc(ts), payload)
    return Delivery(payload.encode(), {"Content-Type": "application/json",
                                       "webhook-id": event_id,
                                       "webhook-timestamp": str(ts),
                                       "webhook-signature": signature})


def standard_self_check(d: Delivery, secret: str) -> None:
    standardwebhooks.Webhook(secret).verify(d.body, d.headers)


def svix_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    payload = _std_payload(event_id, ts)
    signature = svix.webhooks.Webhook(secret).sign(event_id, _utc(ts), payload)
    # Svix's own header names (as Clerk and Resend send them), not webhook-*.
    return Delivery(payload.encode(), {"Content-Type": "application/json",
                                       "svix-id": event_id,
                                       "svix-timestamp": str(ts),
                                       "svix-signature": signature})


def svix_self_check(d: Delivery, secret: str) -> None:
    svix.webhooks.Webhook(secret).verify(d.body, d.headers)


def slack_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    payload = json.dumps(
        {
            "token": "XXYYZZ",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "event": {"type": "app_mention", "user": "U0001", "channel": "C0001",
                      "text": f"<@U0002> naïve café ☕ {FLIP_MARKER}", "ts": f"{ts}.000100"},
            "type": "event_callback",
            "event_id": event_id,
            "event_time": ts,
        },
        ensure_ascii=False,
    )
    signature = slack_sdk.signature.SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=payload)
    return Delivery(payload.encode(), {"Content-Type": "application/json",
                                       "X-Slack-Request-Timestamp": str(ts),
                                       "X-Slack-Signature": signature})


def slack_self_check(d: Delivery, secret: str) -> None:
    assert slack_sdk.signature.SignatureVerifier(secret).is_valid_request(d.body, d.headers)


def _form(pairs: list[tuple[str, str]]) -> bytes:
    return urllib.parse.urlencode(pairs).encode()


def twilio_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    # A message status callback. Without I-Twilio-Idempotency-Token the gateway's id is the
    # resource Sid and status the request carries.
    params = [("AccountSid", "AC" + RUN), ("ApiVersion", "2010-04-01"), ("Body", f"naïve café ☕ {FLIP_MARKER}"),
              ("From", "+15005550006"), ("MessageSid", event_id), ("MessageStatus", "delivered"),
              ("SmsSid", event_id), ("SmsStatus", "delivered"), ("To", "+15005550001")]
    signature = RequestValidator(secret).compute_signature(public_url("twilio"), dict(params))
    return Delivery(_form(params), {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                                    "X-Twilio-Signature": signature,
                                    "User-Agent": "TwilioProxy/1.1"})


def twilio_self_check(d: Delivery, secret: str) -> None:
    params = dict(urllib.parse.parse_qsl(d.body.decode(), keep_blank_values=True))
    assert RequestValidator(secret).validate(public_url("twilio"), params, d.headers["X-Twilio-Signature"])


def twilio_id(event_id: str) -> str:
    return f"MessageSid={event_id}&SmsSid={event_id}&MessageStatus=delivered&SmsStatus=delivered"


def twilio_json_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    # A JSON webhook: Twilio adds bodySHA256 to the URL and signs the URL alone.
    payload = json.dumps({"type": "com.twilio.messaging.message.delivered", "sid": "SM" + RUN,
                          "note": f"naïve café ☕ {FLIP_MARKER}", "timestamp": ts}, ensure_ascii=False)
    validator = RequestValidator(secret)
    query = "bodySHA256=" + validator.compute_hash(payload)
    signature = validator.compute_signature(public_url("twilio_json") + "?" + query, {})
    return Delivery(payload.encode(), {"Content-Type": "application/json",
                                       "I-Twilio-Idempotency-Token": event_id,
                                       "X-Twilio-Signature": signature}, query)


def twilio_json_self_check(d: Delivery, secret: str) -> None:
    url = public_url("twilio_json") + "?" + d.query
    assert RequestValidator(secret).validate(url, d.body.decode(), d.headers["X-Twilio-Signature"])


def paddle_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    payload = json.dumps({"event_id": event_id, "event_type": "transaction.completed",
                          "occurred_at": _utc(ts).isoformat(), "notification_id": "ntf_" + uuid.uuid4().hex,
                          "data": {"id": "txn_" + RUN, "note": f"naïve café ☕ {FLIP_MARKER}"}},
                         ensure_ascii=False)
    h1 = PaddleSignature.calculate_hmac(secret, f"{ts}:{payload}".encode()).hexdigest()
    return Delivery(payload.encode(), {"Content-Type": "application/json",
                                       "Paddle-Signature": f"ts={ts};h1={h1}"})


def paddle_self_check(d: Delivery, secret: str) -> None:
    @dataclasses.dataclass
    class Req:
        headers: dict
        body: bytes

    assert PaddleVerifier().verify(Req(d.headers, d.body), PaddleSecret(secret), verify_time_drift=False)


def square_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    payload = json.dumps({"merchant_id": "ML" + RUN, "type": "payment.updated", "event_id": event_id,
                          "created_at": _utc(ts).isoformat(),
                          "data": {"type": "payment", "id": "pay_" + RUN, "note": f"naïve café ☕ {FLIP_MARKER}"}},
                         ensure_ascii=False)
    # Square ships no signer: the documented recipe, checked by Square's own helper below.
    mac = hmac.new(secret.encode(), (public_url("square") + payload).encode(), hashlib.sha256).digest()
    return Delivery(payload.encode(), {"Content-Type": "application/json",
                                       "x-square-hmacsha256-signature": base64.b64encode(mac).decode()})


def square_self_check(d: Delivery, secret: str) -> None:
    assert square.utils.webhooks_helper.verify_signature(
        request_body=d.body.decode(), signature_header=d.headers["x-square-hmacsha256-signature"],
        signature_key=secret, notification_url=public_url("square"))


def _hubspot_event(event_id: int, ts: int) -> dict:
    return {"eventId": event_id, "subscriptionId": 4242, "portalId": 62515, "appId": 1,
            "occurredAt": 1_700_000_000_000, "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0, "objectId": 123, "propertyName": "note",
            "propertyValue": f"naïve café ☕ {FLIP_MARKER}", "changeSource": "CRM"}


def hubspot_batch(secret: str, event_ids: list[int], ts: int) -> Delivery:
    payload = json.dumps([_hubspot_event(i, ts) for i in event_ids], ensure_ascii=False)
    ts_ms = str(ts * 1000)
    signature = HubSpotSignature.get_signature(secret, payload, "v3", http_uri=public_url("hubspot"),
                                               http_method="POST", timestamp=ts_ms)
    return Delivery(payload.encode(), {"Content-Type": "application/json",
                                       "X-HubSpot-Signature-v3": signature,
                                       "X-HubSpot-Request-Timestamp": ts_ms})


def hubspot_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    return hubspot_batch(secret, [int(event_id)], ts)


def hubspot_self_check(d: Delivery, secret: str) -> None:
    assert HubSpotSignature.is_valid(d.headers["X-HubSpot-Signature-v3"], secret, d.body.decode(),
                                     public_url("hubspot"), "POST", "v3",
                                     d.headers["X-HubSpot-Request-Timestamp"])


def _adyen_item(hmac_key: str, psp: str, code: str = "AUTHORISATION") -> dict:
    item = {"pspReference": psp, "merchantAccountCode": "HookgateConformance",
            "merchantReference": f"order-{FLIP_MARKER}", "amount": {"value": 1130, "currency": "EUR"},
            "eventCode": code, "eventDate": "2024-01-01T00:00:00+01:00", "success": "true",
            "paymentMethod": "visa", "reason": "null", "additionalData": {}}
    item["additionalData"]["hmacSignature"] = Adyen.util.generate_notification_sig(item, hmac_key).decode()
    assert Adyen.util.is_valid_hmac_notification(item, hmac_key)
    return item


def adyen_batch(hmac_key: str, psps: list[str]) -> Delivery:
    payload = json.dumps({"live": "false", "notificationItems": [
        {"NotificationRequestItem": _adyen_item(hmac_key, psp)} for psp in psps]})
    return Delivery(payload.encode(), {"Content-Type": "application/json"})


def adyen_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    return adyen_batch(secret, [event_id])


def _sendgrid_event(event_id: str, ts: int) -> dict:
    return {"email": f"{FLIP_MARKER}@example.com", "event": "delivered", "sg_event_id": event_id,
            "sg_message_id": "msg." + RUN, "timestamp": ts, "response": "250 OK naïve café ☕"}


def sendgrid_batch(private_pem: str, event_ids: list[str], ts: int) -> Delivery:
    # SendGrid's bodies are a JSON array ending in CR LF; it signs timestamp + body.
    payload = json.dumps([_sendgrid_event(i, ts) for i in event_ids], ensure_ascii=False) + "\r\n"
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    der = key.sign(str(ts).encode() + payload.encode(), ec.ECDSA(hashes.SHA256()))
    return Delivery(payload.encode(), {"Content-Type": "application/json",
                                       "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(der).decode(),
                                       "X-Twilio-Email-Event-Webhook-Timestamp": str(ts)})


def sendgrid_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    return sendgrid_batch(secret, [event_id], ts)


def sendgrid_self_check(d: Delivery, secret: str) -> None:
    verifier = sendgrid.EventWebhook(configured_secret("sendgrid", secret))
    assert verifier.verify_signature(d.body.decode(), d.headers["X-Twilio-Email-Event-Webhook-Signature"],
                                     d.headers["X-Twilio-Email-Event-Webhook-Timestamp"])


def discord_delivery(seed_hex: str, event_id: str, ts: int) -> Delivery:
    payload = json.dumps({"id": event_id, "application_id": "1" + RUN[:8], "type": 2, "version": 1,
                          "token": "tok-" + RUN, "data": {"id": "1", "name": f"deploy-{FLIP_MARKER}", "type": 1}})
    return _discord_signed(seed_hex, payload.encode(), ts)


def _discord_signed(seed_hex: str, body: bytes, ts: int) -> Delivery:
    signature = nacl.signing.SigningKey(bytes.fromhex(seed_hex)).sign(str(ts).encode() + body).signature.hex()
    return Delivery(body, {"Content-Type": "application/json", "X-Signature-Ed25519": signature,
                           "X-Signature-Timestamp": str(ts)})


def discord_self_check(d: Delivery, secret: str) -> None:
    assert discord_interactions.verify_key(d.body, d.headers["X-Signature-Ed25519"],
                                           d.headers["X-Signature-Timestamp"], configured_secret("discord", secret))


def _zoom_signed(secret: str, payload: str, ts: int) -> Delivery:
    # Zoom ships no signer or verifier: the documented recipe.
    mac = hmac.new(secret.encode(), f"v0:{ts}:{payload}".encode(), hashlib.sha256).hexdigest()
    return Delivery(payload.encode(), {"Content-Type": "application/json", "x-zm-signature": f"v0={mac}",
                                       "x-zm-request-timestamp": str(ts)})


def zoom_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    payload = json.dumps({"event": "meeting.started", "event_ts": ZOOM_EVENT_TS,
                          "payload": {"account_id": "acc_" + RUN,
                                      "object": {"id": "123", "uuid": event_id, "topic": f"naïve ☕ {FLIP_MARKER}"}}},
                         ensure_ascii=False)
    return _zoom_signed(secret, payload, ts)


def gitlab_delivery(secret: str, event_id: str, ts: int) -> Delivery:
    # GitLab's signing token is Standard Webhooks; webhook-id equals Idempotency-Key.
    payload = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": RUN,
                          "commits": [{"message": f"naïve café ☕ {FLIP_MARKER}"}]}, ensure_ascii=False)
    signature = standardwebhooks.Webhook(secret).sign(event_id, _utc(ts), payload)
    return Delivery(payload.encode(), {"Content-Type": "application/json", "X-Gitlab-Event": "Push Hook",
                                       "Idempotency-Key": event_id, "webhook-id": event_id,
                                       "webhook-timestamp": str(ts), "webhook-signature": signature})


def gitlab_self_check(d: Delivery, secret: str) -> None:
    standardwebhooks.Webhook(secret).verify(d.body, d.headers)


@dataclasses.dataclass
class Provider:
    source: str
    id_prefix: str
    make: Callable[[str, str, int], Delivery]
    # The library's own verifier, run on every delivery we expect the gateway to accept:
    # proves the request is genuinely valid for the provider, not just for hookgate.
    self_check: Callable[[Delivery, str], None] | None
    timestamped: bool
    # The id the gateway records for our event id (providers that derive theirs).
    expected_id: Callable[[str], str] = lambda event_id: event_id

    def new_event_id(self) -> str:
        if self.id_prefix == "uuid":
            return str(uuid.uuid4())
        if self.id_prefix == "number":
            return str(rand.randbelow(10**15) + 1)
        return f"{self.id_prefix}{RUN}{uuid.uuid4().hex[:12]}"

    def __str__(self) -> str:
        return self.source


PROVIDERS = [
    Provider("stripe", "evt_", stripe_delivery, stripe_self_check, True),
    Provider("github", "uuid", github_delivery, None, False),
    Provider("standard", "msg_", standard_delivery, standard_self_check, True),
    Provider("svix", "msg_", svix_delivery, svix_self_check, True),
    Provider("slack", "Ev", slack_delivery, slack_self_check, True),
    Provider("twilio", "SM", twilio_delivery, twilio_self_check, False, twilio_id),
    Provider("twilio_json", "tok-", twilio_json_delivery, twilio_json_self_check, False),
    Provider("paddle", "evt_", paddle_delivery, paddle_self_check, True),
    Provider("square", "uuid", square_delivery, square_self_check, False),
    Provider("hubspot", "number", hubspot_delivery, hubspot_self_check, True,
             lambda event_id: f"62515:4242:{event_id}"),
    Provider("adyen", "PSP", adyen_delivery, None, False, lambda psp: f"{psp}:AUTHORISATION:true"),
    Provider("sendgrid", "sg", sendgrid_delivery, sendgrid_self_check, True),
    Provider("discord", "number", discord_delivery, discord_self_check, True),
    Provider("zoom", "uuid", zoom_delivery, None, True,
             lambda event_id: f"meeting.started:{ZOOM_EVENT_TS}:{event_id}"),
    Provider("gitlab", "uuid", gitlab_delivery, gitlab_self_check, True),
]
TIMESTAMPED = [p for p in PROVIDERS if p.timestamped]
BY_SOURCE = {p.source: p for p in PROVIDERS}


def _ids(p: Provider) -> str:
    return p.source


def flip_one_byte(body: bytes) -> bytes:
    i = body.index(FLIP_MARKER.encode())
    tampered = bytearray(body)
    tampered[i] ^= 0x01  # 'f' -> 'g': still valid UTF-8 and JSON, one byte different
    assert len(tampered) == len(body) and sum(a != b for a, b in zip(tampered, body)) == 1
    return bytes(tampered)


def assert_accepted(answer: Answer, event_id: str) -> str:
    assert answer.status == 200, str(answer)
    doc = answer.json
    assert doc["status"] == "accepted", str(answer)
    assert doc["event_id"] == event_id, str(answer)
    assert (doc["accepted"], doc["duplicates"]) == (1, 0), str(answer)
    assert doc["id"], str(answer)
    return doc["id"]


def assert_duplicate(answer: Answer, event_id: str, record_id: str) -> None:
    assert answer.status == 200, str(answer)
    doc = answer.json
    assert doc["status"] == "duplicate", str(answer)
    assert doc["event_id"] == event_id, str(answer)
    assert doc["id"] == record_id, str(answer)
    assert (doc["accepted"], doc["duplicates"]) == (0, 1), str(answer)


def assert_rejected(answer: Answer, reason: str | None = None) -> None:
    assert answer.status == 401, str(answer)
    assert answer.content_type.split(";")[0].strip() == "application/problem+json", str(answer)
    doc = answer.json
    assert doc["code"] == "invalid_signature", str(answer)
    if reason is not None:
        assert doc.get("reason") == reason, str(answer)


def send(base: str, source: str, d: Delivery, body: bytes | None = None) -> Answer:
    return post(base, source, d.body if body is None else body, d.headers, d.query)


def send_valid(base: str, p: Provider, event_id: str, ts: int) -> Answer:
    d = p.make(SECRETS[p.source], event_id, ts)
    if p.self_check is not None:
        p.self_check(d, SECRETS[p.source])
    return send(base, p.source, d)


# --------------------------------------------------------------------------------------------
# Tests: every provider
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", PROVIDERS, ids=_ids)
def test_valid_is_accepted_once_then_duplicate(gateway, p):
    event_id = p.new_event_id()
    expected = p.expected_id(event_id)
    now = int(time.time())
    first = send_valid(gateway, p, event_id, now - 5)
    record_id = assert_accepted(first, expected)

    # The provider's retry: same event id, signed afresh (a new timestamp where there is one).
    second = send_valid(gateway, p, event_id, now)
    assert_duplicate(second, expected, record_id)
    # Any number of further retries stay duplicates of the same record.
    third = send_valid(gateway, p, event_id, int(time.time()))
    assert_duplicate(third, expected, record_id)


@pytest.mark.parametrize("p", PROVIDERS, ids=_ids)
def test_one_flipped_body_byte_is_rejected(gateway, p):
    event_id = p.new_event_id()
    d = p.make(SECRETS[p.source], event_id, int(time.time()))
    assert_rejected(send(gateway, p.source, d, flip_one_byte(d.body)), "invalid_signature")
    # Nothing was recorded: the genuine delivery is still new.
    assert_accepted(send_valid(gateway, p, event_id, int(time.time())), p.expected_id(event_id))


@pytest.mark.parametrize("p", PROVIDERS, ids=_ids)
def test_signed_with_another_secret_is_rejected(gateway, p):
    event_id = p.new_event_id()
    d = p.make(WRONG_SECRETS[p.source], event_id, int(time.time()))
    if p.self_check is not None:
        p.self_check(d, WRONG_SECRETS[p.source])  # valid, just for somebody else's endpoint
    assert_rejected(send(gateway, p.source, d), "invalid_signature")
    assert_accepted(send_valid(gateway, p, event_id, int(time.time())), p.expected_id(event_id))


@pytest.mark.parametrize("p", TIMESTAMPED, ids=_ids)
def test_stale_timestamp_is_rejected(gateway, p):
    event_id = p.new_event_id()
    d = p.make(SECRETS[p.source], event_id, int(time.time()) - STALE_SECONDS)
    assert_rejected(send(gateway, p.source, d), "stale_timestamp")
    assert_accepted(send_valid(gateway, p, event_id, int(time.time())), p.expected_id(event_id))


@pytest.mark.parametrize("p", TIMESTAMPED, ids=_ids)
def test_future_timestamp_is_rejected(gateway, p):
    # Timestamps are checked in both directions: a pre-signed request cannot wait to be replayed.
    event_id = p.new_event_id()
    d = p.make(SECRETS[p.source], event_id, int(time.time()) + STALE_SECONDS)
    assert_rejected(send(gateway, p.source, d), "stale_timestamp")
    assert_accepted(send_valid(gateway, p, event_id, int(time.time())), p.expected_id(event_id))


@pytest.mark.parametrize("p", [p for p in PROVIDERS if p.source in ("standard", "svix")], ids=_ids)
@pytest.mark.parametrize("cut", ["empty", "truncated"])
def test_standard_webhooks_empty_or_truncated_signature_is_rejected(gateway, p, cut):
    # reference/providers.md §2: a compare without a length check accepts these.
    event_id = p.new_event_id()
    d = p.make(SECRETS[p.source], event_id, int(time.time()))
    name = next(k for k in d.headers if k.endswith("-signature"))
    version, sig = d.headers[name].split(",", 1)
    d.headers[name] = f"{version}," + ("" if cut == "empty" else sig[:4])
    answer = send(gateway, p.source, d)
    assert_rejected(answer)  # invalid or malformed: either way code invalid_signature
    assert_accepted(send_valid(gateway, p, event_id, int(time.time())), event_id)


def test_stripe_rotation_header_with_two_v1_signatures(gateway):
    # During a secret roll Stripe sends one v1 per active secret; the first may be the old one.
    p = PROVIDERS[0]
    event_id = p.new_event_id()
    ts = int(time.time())
    old = stripe_delivery(WRONG_SECRETS["stripe"], event_id, ts)
    new = stripe_delivery(SECRETS["stripe"], event_id, ts)
    assert old.body == new.body
    new_v1 = new.headers["Stripe-Signature"].split(",", 1)[1]
    old.headers["Stripe-Signature"] += "," + new_v1
    stripe_self_check(old, SECRETS["stripe"])
    assert_accepted(post(gateway, "stripe", old.body, old.headers), event_id)


def test_octokit_signer_matches_githubs_published_vector():
    # Guards the node bridge: argv must reach octokit byte for byte.
    proc = subprocess.run(
        ["node", str(HERE / "octokit_sign.mjs"), "It's a Secret to Everybody", "Hello, World!"],
        cwd=HERE, capture_output=True, text=True, timeout=30, check=True,
    )
    assert proc.stdout.strip() == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


# --------------------------------------------------------------------------------------------
# Tests: batches, one inbox record per item
# --------------------------------------------------------------------------------------------


def assert_batch(answer: Answer, accepted: int, duplicates: int, event_ids: list[str]) -> dict:
    assert answer.status == 200, str(answer)
    doc = answer.json
    assert (doc["accepted"], doc["duplicates"]) == (accepted, duplicates), str(answer)
    assert doc["status"] == ("accepted" if accepted else "duplicate"), str(answer)
    assert [e["event_id"] for e in doc["events"]] == event_ids, str(answer)
    return {e["event_id"]: (e["status"], e["id"]) for e in doc["events"]}


BATCHES = {
    # source: (signed batch from event ids, id -> recorded id)
    "sendgrid": (lambda ids, ts: sendgrid_batch(SECRETS["sendgrid"], ids, ts), lambda i: i),
    "hubspot": (lambda ids, ts: hubspot_batch(SECRETS["hubspot"], [int(i) for i in ids], ts),
                lambda i: f"62515:4242:{i}"),
    "adyen": (lambda ids, ts: adyen_batch(SECRETS["adyen"], ids), lambda i: f"{i}:AUTHORISATION:true"),
}


@pytest.mark.parametrize("source", sorted(BATCHES))
def test_batches_are_deduplicated_per_item(gateway, source):
    make, recorded = BATCHES[source]
    p = BY_SOURCE[source]
    ids = [p.new_event_id() for _ in range(3)]
    first = assert_batch(send(gateway, source, make(ids, int(time.time()))), 3, 0, [recorded(i) for i in ids])
    assert all(status == "accepted" for status, _ in first.values())
    assert len({record for _, record in first.values()}) == 3, "one record per item"

    # The same batch redelivered: every item a duplicate of its own record.
    again = assert_batch(send(gateway, source, make(ids, int(time.time()))), 0, 3, [recorded(i) for i in ids])
    assert again == {k: ("duplicate", record) for k, (_, record) in first.items()}

    # The batch with one new item: one accepted, three duplicates.
    new_id = p.new_event_id()
    mixed = ids[:1] + [new_id] + ids[1:]
    answer = assert_batch(send(gateway, source, make(mixed, int(time.time()))), 1, 3, [recorded(i) for i in mixed])
    assert answer[recorded(new_id)][0] == "accepted"


def test_sendgrid_batch_with_one_byte_flipped_is_rejected_whole(gateway):
    ids = [BY_SOURCE["sendgrid"].new_event_id() for _ in range(2)]
    d = sendgrid_batch(SECRETS["sendgrid"], ids, int(time.time()))
    assert_rejected(send(gateway, "sendgrid", d, flip_one_byte(d.body)), "invalid_signature")
    assert_batch(send(gateway, "sendgrid", d), 2, 0, ids)


def test_adyen_batch_with_one_bad_item_is_rejected_whole(gateway):
    psps = [BY_SOURCE["adyen"].new_event_id() for _ in range(3)]
    good = json.loads(adyen_batch(SECRETS["adyen"], psps).body)
    # The last item signed under another key: the whole request is refused, nothing recorded.
    good["notificationItems"][2]["NotificationRequestItem"] = _adyen_item(WRONG_SECRETS["adyen"], psps[2])
    answer = post(gateway, "adyen", json.dumps(good).encode(), {"Content-Type": "application/json"})
    assert_rejected(answer, "invalid_signature")
    # And one item's signed field changed after signing.
    tampered = json.loads(adyen_batch(SECRETS["adyen"], psps).body)
    tampered["notificationItems"][1]["NotificationRequestItem"]["amount"]["value"] = 1
    assert_rejected(post(gateway, "adyen", json.dumps(tampered).encode(), {"Content-Type": "application/json"}))
    expected = [f"{psp}:AUTHORISATION:true" for psp in psps]
    assert_batch(send(gateway, "adyen", adyen_batch(SECRETS["adyen"], psps)), 3, 0, expected)


# --------------------------------------------------------------------------------------------
# Tests: handshakes
# --------------------------------------------------------------------------------------------


def test_slack_url_verification_is_answered_with_the_challenge(gateway):
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" + RUN
    payload = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge, "type": "url_verification"})
    ts = str(int(time.time()))
    verifier = slack_sdk.signature.SignatureVerifier(SECRETS["slack"])
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
               "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=payload)}
    assert verifier.is_valid_request(payload.encode(), headers)
    answer = post(gateway, "slack", payload.encode(), headers)
    assert answer.status == 200, str(answer)
    assert answer.json == {"challenge": challenge}, str(answer)
    # An unsigned handshake is refused like any other request.
    wrong = slack_sdk.signature.SignatureVerifier(WRONG_SECRETS["slack"]).generate_signature(timestamp=ts, body=payload)
    assert_rejected(post(gateway, "slack", payload.encode(), {**headers, "X-Slack-Signature": wrong}))


def test_zoom_url_validation_returns_the_encrypted_token(gateway):
    plain = "qgg8vlvZRS6UYooatFL8Aw" + RUN
    payload = json.dumps({"payload": {"plainToken": plain}, "event_ts": int(time.time() * 1000),
                          "event": "endpoint.url_validation"})
    answer = send(gateway, "zoom", _zoom_signed(SECRETS["zoom"], payload, int(time.time())))
    assert answer.status == 200, str(answer)
    expected = hmac.new(SECRETS["zoom"].encode(), plain.encode(), hashlib.sha256).hexdigest()
    assert answer.json == {"plainToken": plain, "encryptedToken": expected}, str(answer)
    assert_rejected(send(gateway, "zoom", _zoom_signed(WRONG_SECRETS["zoom"], payload, int(time.time()))))


def test_discord_ping_is_answered_with_pong(gateway):
    body = json.dumps({"id": "1" + str(rand.randbelow(10**15)), "application_id": "1", "type": 1, "version": 1}).encode()
    d = _discord_signed(SECRETS["discord"], body, int(time.time()))
    discord_self_check(d, SECRETS["discord"])
    answer = send(gateway, "discord", d)
    assert answer.status == 200, str(answer)
    assert answer.json == {"type": 1}, str(answer)
    # Discord's own check: a deliberately bad signature must get 401, or the URL is removed.
    assert_rejected(send(gateway, "discord", _discord_signed(WRONG_SECRETS["discord"], body, int(time.time()))))


# --------------------------------------------------------------------------------------------
# Tests: published and derived vectors (reference/providers.md §5) end to end
# --------------------------------------------------------------------------------------------

SENDGRID_VECTOR_BODY = (
    b'[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address",'
    b'"sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",'
    b'"sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",'
    b'"smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]\r\n'
)
ADYEN_DOCS_ITEM = {"pspReference": "7914073381342284", "merchantAccountCode": "TestMerchant",
                   "merchantReference": "TestPayment-1407325143704", "amount": {"value": 1130, "currency": "EUR"},
                   "eventCode": "AUTHORISATION", "success": "true",
                   "additionalData": {"hmacSignature": "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="}}
ADYEN_PLATFORM_BODY = (
    b'{"data":{"balancePlatform":"Integration_tools_test","accountId":"BA32272223222H5HVKTBK4MLB",'
    b'"sweep":{"id":"SWPC42272223222H5HVKV6H8C64DP5","schedule":{"type":"balance"},"status":"active",'
    b'"targetAmount":{"currency":"EUR","value":0},"triggerAmount":{"currency":"EUR","value":0},"type":"pull",'
    b'"counterparty":{"balanceAccountId":"BA3227C223222H5HVKT3H9WLC"},"currency":"EUR"}},"environment":"test",'
    b'"type":"balancePlatform.balanceAccountSweep.updated"}'
)
TWILIO_PARAMS = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
                 ("From", "+14158675309"), ("To", "+18005551212")]
FORM = "application/x-www-form-urlencoded"

# (source, body, headers, recorded event id, or a handshake reply as a dict)
VECTORS = [
    ("vec_stripe", b'{"id":"evt_test_webhook","object":"event"}',
     {"Stripe-Signature": "t=1492774577,v1=88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a"},
     "evt_test_webhook"),
    ("vec_github", b"Hello, World!",
     {"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
      "X-GitHub-Delivery": "gh-docs-vector"}, "gh-docs-vector"),
    ("vec_slack",
     b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
     b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
     b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
     b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
     {"Content-Type": FORM, "X-Slack-Request-Timestamp": "1531420618",
      "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"},
     "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"),
    ("vec_standard", b'{"test": 2432232314}',
     {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, "msg_p5jXN8AQM9LWM0D4loKWxJek"),
    ("vec_v1a", b'{"test": 2432232314}',
     {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
      "webhook-signature": "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="},
     "msg_p5jXN8AQM9LWM0D4loKWxJek"),
    ("vec_square",
     b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f",'
     b'"created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}',
     {"x-square-hmacsha256-signature": "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="},
     "ac3ac95b-f97d-458c-a6e6-18981597e05f"),
    ("vec_twilio", _form(TWILIO_PARAMS),
     {"Content-Type": FORM, "X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, "CallSid=CA1234567890ABCDE"),
    ("vec_twilio", _form(TWILIO_PARAMS[::-1]),  # signed with :443, parameters in another order
     {"Content-Type": FORM, "X-Twilio-Signature": "kvajT1Ptam85bY51eRf/AJRuM3w="}, "CallSid=CA1234567890ABCDE"),
    ("vec_twilio_json", b'{"property": "value", "boolean": true}',
     {"Content-Type": "application/json", "X-Twilio-Signature": "a9nBmqA0ju/hNViExpshrM61xv4=",
      "I-Twilio-Idempotency-Token": "twilio-json-vector"}, "twilio-json-vector"),
    ("vec_sendgrid", SENDGRID_VECTOR_BODY,
     {"Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Timestamp": "1600112502",
      "X-Twilio-Email-Event-Webhook-Signature":
          "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="},
     "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA"),
    ("vec_adyen", json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": ADYEN_DOCS_ITEM}]}).encode(),
     {"Content-Type": "application/json"}, "7914073381342284:AUTHORISATION:true"),
    ("vec_adyen_platform", ADYEN_PLATFORM_BODY,
     {"Content-Type": "application/json", "HmacSignature": "9Qz9S/0xpar1klkniKdshxpAhRKbiSAewPpWoxKefQA="}, None),
    ("vec_discord", b'{"type":1}',
     {"Content-Type": "application/json", "X-Signature-Timestamp": "1700000000",
      "X-Signature-Ed25519": "e2716117d0d687f6276b96e5c7dd61de18698e45007213954271bdb889e74319"
                             "bedafa9ee949a1ad932785a9e6ff4301fc7ee46afdbf543204ab965bab76aa0a"}, {"type": 1}),
]


def _tamper(body: bytes) -> bytes:
    # Change the first digit or letter after the middle: the smallest change that alters data.
    tampered = bytearray(body)
    for i in range(len(body) // 2, len(body)):
        if chr(tampered[i]).isalnum():
            tampered[i] = ord("1") if tampered[i] != ord("1") else ord("2")
            return bytes(tampered)
    raise AssertionError("nothing to tamper with")


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{v[0]}-{i}" for i, v in enumerate(VECTORS)])
def test_published_vectors_are_accepted_and_their_tampered_copies_rejected(gateway, vector):
    source, body, headers, expected = vector
    if source != "vec_adyen":  # Adyen signs 8 fields, not the body: tamper with a signed one below
        assert_rejected(post(gateway, source, _tamper(body), headers))
    else:
        changed = json.loads(body)
        changed["notificationItems"][0]["NotificationRequestItem"]["merchantReference"] += "x"
        assert_rejected(post(gateway, source, json.dumps(changed).encode(), headers))
    answer = post(gateway, source, body, headers)
    assert answer.status == 200, str(answer)
    doc = answer.json
    if isinstance(expected, dict):  # a handshake
        assert doc == expected, str(answer)
        return
    assert doc["accepted"] + doc["duplicates"] == 1, str(answer)
    if expected is not None:
        assert doc["event_id"] == expected, str(answer)
    # Sent again: a duplicate of the same record.
    again = post(gateway, source, body, headers)
    assert again.status == 200 and again.json["status"] == "duplicate", str(again)
    assert again.json["id"] == doc["id"], str(again)
