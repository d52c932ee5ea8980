"""Official-SDK conformance: webhooks signed by the providers' OWN libraries against the real gateway.

Every signature in this file comes from the provider's library (stripe, standardwebhooks, svix,
slack_sdk, and @octokit/webhooks-methods through node); nothing here computes an HMAC itself.
For each provider the suite checks, against a running `hookgate serve`:

* a valid delivery is accepted once (200, status "accepted", our event id);
* the same event again, freshly signed, is a duplicate (200, status "duplicate", same record id);
* one flipped body byte, a delivery signed with another secret, and (where the scheme signs a
  timestamp) a 10-minute-old delivery are refused with 401 problem+json, code
  `invalid_signature` (reason `stale_timestamp` for the old one);
* none of the refused deliveries was recorded: the same event, validly signed afterwards, is
  still accepted as new.

The binary comes from $HOOKGATE_BIN (default /work/main/target/debug/hookgate).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets as rand
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest
import slack_sdk.signature
import standardwebhooks
import stripe
import svix.webhooks

HERE = Path(__file__).resolve().parent
DEFAULT_BIN = "/work/main/target/debug/hookgate"
STALE_SECONDS = 600  # 10 minutes: twice every provider's 5-minute tolerance
# Every body carries this ASCII marker; the tamper tests flip one bit of its first byte.
FLIP_MARKER = "flip-target"
RUN = uuid.uuid4().hex[:12]  # makes every event id unique to this run


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


def _new_secrets() -> dict[str, str]:
    return {
        "stripe": "whsec_" + rand.token_hex(16),  # Stripe's secrets are used as UTF-8 bytes
        "github": rand.token_hex(20),
        "standard": _whsec(),
        "svix": _whsec(),
        "slack": rand.token_hex(16),
    }


# A second, unrelated set: "signed with another secret" uses these.
SECRETS = _new_secrets()
WRONG_SECRETS = _new_secrets()


def _config(tmp: Path) -> str:
    refs = {}
    for name, value in SECRETS.items():
        path = tmp / f"{name}.secret"
        path.write_text(value + "\n")
        path.chmod(0o600)
        refs[name] = f"file:{path}"
    return f"""
[server]
listen = "127.0.0.1:0"

[store]
url = "sqlite://{tmp / 'hookgate.db'}"

[sources.stripe]
provider = "stripe"
secrets = ["{refs['stripe']}"]

[sources.github]
provider = "github"
secrets = ["{refs['github']}"]

[sources.standard]
provider = "standard-webhooks"
secrets = ["{refs['standard']}"]

[sources.svix]
provider = "standard-webhooks"
secrets = ["{refs['svix']}"]

[sources.slack]
provider = "generic"
secrets = ["{refs['slack']}"]

[sources.slack.generic]
algorithm = "sha256"
key_encoding = "utf8"
signature_header = "X-Slack-Signature"
signature_format = "prefix"
signature_prefix = "v0="
signature_encoding = "hex"
signed_content = "v0:{{ts}}:{{body}}"
timestamp_header = "X-Slack-Request-Timestamp"
timestamp_unit = "s"
id_json_path = "event_id"
type_json_path = "event.type"
"""


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
    config.write_text(_config(tmp))
    log_path = tmp / "server.log"

    # The config file is the whole truth: drop any HOOKGATE_* the caller's shell may carry.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKGATE_")}
    for attempt in range(3):  # a free port can be taken between probing and binding
        port = _free_port()
        env["HOOKGATE_SERVER__LISTEN"] = f"127.0.0.1:{port}"
        base = f"http://127.0.0.1:{port}"
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


def post(base: str, source: str, body: bytes, headers: dict[str, str]) -> Answer:
    req = urllib.request.Request(f"{base}/webhooks/{source}", data=body, method="POST")
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


@dataclasses.dataclass
class Provider:
    source: str
    id_prefix: str
    make: Callable[[str, str, int], Delivery]
    # The library's own verifier, run on every delivery we expect the gateway to accept:
    # proves the request is genuinely valid for the provider, not just for hookgate.
    self_check: Callable[[Delivery, str], None] | None
    timestamped: bool

    def new_event_id(self) -> str:
        if self.id_prefix == "uuid":
            return str(uuid.uuid4())
        return f"{self.id_prefix}{RUN}{uuid.uuid4().hex[:12]}"

    def __str__(self) -> str:
        return self.source


PROVIDERS = [
    Provider("stripe", "evt_", stripe_delivery, stripe_self_check, True),
    Provider("github", "uuid", github_delivery, None, False),
    Provider("standard", "msg_", standard_delivery, standard_self_check, True),
    Provider("svix", "msg_", svix_delivery, svix_self_check, True),
    Provider("slack", "Ev", slack_delivery, slack_self_check, True),
]
TIMESTAMPED = [p for p in PROVIDERS if p.timestamped]


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


def send_valid(base: str, p: Provider, event_id: str, ts: int) -> Answer:
    d = p.make(SECRETS[p.source], event_id, ts)
    if p.self_check is not None:
        p.self_check(d, SECRETS[p.source])
    return post(base, p.source, d.body, d.headers)


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", PROVIDERS, ids=_ids)
def test_valid_is_accepted_once_then_duplicate(gateway, p):
    event_id = p.new_event_id()
    now = int(time.time())
    first = send_valid(gateway, p, event_id, now - 5)
    record_id = assert_accepted(first, event_id)

    # The provider's retry: same event id, signed afresh (a new timestamp where there is one).
    second = send_valid(gateway, p, event_id, now)
    assert_duplicate(second, event_id, record_id)
    # Any number of further retries stay duplicates of the same record.
    third = send_valid(gateway, p, event_id, int(time.time()))
    assert_duplicate(third, event_id, record_id)


@pytest.mark.parametrize("p", PROVIDERS, ids=_ids)
def test_one_flipped_body_byte_is_rejected(gateway, p):
    event_id = p.new_event_id()
    d = p.make(SECRETS[p.source], event_id, int(time.time()))
    assert_rejected(post(gateway, p.source, flip_one_byte(d.body), d.headers), "invalid_signature")
    # Nothing was recorded: the genuine delivery is still new.
    assert_accepted(send_valid(gateway, p, event_id, int(time.time())), event_id)


@pytest.mark.parametrize("p", PROVIDERS, ids=_ids)
def test_signed_with_another_secret_is_rejected(gateway, p):
    event_id = p.new_event_id()
    d = p.make(WRONG_SECRETS[p.source], event_id, int(time.time()))
    if p.self_check is not None:
        p.self_check(d, WRONG_SECRETS[p.source])  # valid, just for somebody else's endpoint
    assert_rejected(post(gateway, p.source, d.body, d.headers), "invalid_signature")
    assert_accepted(send_valid(gateway, p, event_id, int(time.time())), event_id)


@pytest.mark.parametrize("p", TIMESTAMPED, ids=_ids)
def test_stale_timestamp_is_rejected(gateway, p):
    event_id = p.new_event_id()
    d = p.make(SECRETS[p.source], event_id, int(time.time()) - STALE_SECONDS)
    assert_rejected(post(gateway, p.source, d.body, d.headers), "stale_timestamp")
    assert_accepted(send_valid(gateway, p, event_id, int(time.time())), event_id)


@pytest.mark.parametrize("p", [p for p in PROVIDERS if p.source in ("standard", "svix")], ids=_ids)
def test_standard_webhooks_future_timestamp_is_rejected(gateway, p):
    # The Standard Webhooks libraries refuse timestamps more than 5 minutes ahead, too.
    event_id = p.new_event_id()
    d = p.make(SECRETS[p.source], event_id, int(time.time()) + STALE_SECONDS)
    assert_rejected(post(gateway, p.source, d.body, d.headers), "stale_timestamp")
    assert_accepted(send_valid(gateway, p, event_id, int(time.time())), event_id)


@pytest.mark.parametrize("p", [p for p in PROVIDERS if p.source in ("standard", "svix")], ids=_ids)
@pytest.mark.parametrize("cut", ["empty", "truncated"])
def test_standard_webhooks_empty_or_truncated_signature_is_rejected(gateway, p, cut):
    # reference/providers.md §2: a compare without a length check accepts these.
    event_id = p.new_event_id()
    d = p.make(SECRETS[p.source], event_id, int(time.time()))
    name = next(k for k in d.headers if k.endswith("-signature"))
    version, sig = d.headers[name].split(",", 1)
    d.headers[name] = f"{version}," + ("" if cut == "empty" else sig[:4])
    answer = post(gateway, p.source, d.body, d.headers)
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
