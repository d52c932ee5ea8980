"""Official-SDK conformance for the preset providers (providers/src/catalogue.rs).

Each case signs a delivery with the provider's own library where it ships a signer
(standardwebhooks for the Standard Webhooks family, svix for Clerk and Resend, @sanity/webhook
through node), and otherwise by the provider's documented recipe *checked by the provider's own
verifier before it is sent* (razorpay, easypost, workos, line-bot-sdk, gocardless_pro). Against
a running `hookgate serve` configured with one source per provider, each case checks:

* the delivery is accepted (200, every event new), and the same event freshly signed again is a
  duplicate;
* one flipped body byte, and a delivery signed with another secret, are refused with 401
  problem+json `invalid_signature`, and neither was recorded (the valid one is still accepted).

Handshakes and batch dedupe of the presets are covered byte for byte by the Rust integration
tests (tests/provider_edges.rs); the batch case here (GoCardless) checks the per-item counts
with a body the official parser accepts.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import secrets as rand
import subprocess
import time
import unicodedata
import urllib.parse
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import braintree
import easypost.util
import gocardless_pro.webhooks
import pytest
import razorpay
import standardwebhooks
import svix.webhooks
from box_sdk_gen.internal.utils import compute_webhook_signature
from box_sdk_gen.managers.webhooks import WebhooksManager
from linebot.v3.webhook import SignatureValidator
from workos import WorkOSClient

from test_conformance import DEFAULT_BIN, FLIP_MARKER, _free_port, _get, _stop, post

HERE = Path(__file__).resolve().parent
RUN = uuid.uuid4().hex[:12]


def _whsec() -> str:
    return "whsec_" + base64.b64encode(rand.token_bytes(32)).decode()


@dataclasses.dataclass
class Case:
    source: str
    """The source name, which is also the provider name."""
    new_secret: Callable[[], str]
    sign: Callable[[str, str, bytes, int], dict[str, str]]
    """(secret, event id, body, now) -> headers, signed the provider's way."""
    body: Callable[[str], bytes]
    """event id -> body"""
    events: int = 1


def _hex_hmac(secret: str | bytes, message: bytes, digest=hashlib.sha256) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, digest).hexdigest()


def _sign_razorpay(secret: str, event_id: str, body: bytes, now: int) -> dict[str, str]:
    signature = _hex_hmac(secret, body)
    # The official client must accept it (it raises SignatureVerificationError otherwise).
    razorpay.Client(auth=("rzp_test_key", "unused")).utility.verify_webhook_signature(
        body.decode(), signature, secret
    )
    return {"X-Razorpay-Signature": signature, "x-razorpay-event-id": event_id}


def _sign_easypost(secret: str, event_id: str, body: bytes, now: int) -> dict[str, str]:
    key = unicodedata.normalize("NFKD", secret).encode()
    headers = {"X-Hmac-Signature": "hmac-sha256-hex=" + _hex_hmac(key, body)}
    easypost.util.validate_webhook(body, headers, secret)  # raises on a mismatch
    return headers


def _sign_workos(secret: str, event_id: str, body: bytes, now: int) -> dict[str, str]:
    ms = now * 1000
    header = f"t={ms}, v1={_hex_hmac(secret, f'{ms}.'.encode() + body)}"
    client = WorkOSClient(api_key="sk_test_conformance", client_id="client_conformance")
    client.webhooks.verify_header(event_body=body, event_signature=header, secret=secret)
    return {"WorkOS-Signature": header}


def _sign_line(secret: str, event_id: str, body: bytes, now: int) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    assert SignatureValidator(secret).validate(body.decode(), signature)
    return {"x-line-signature": signature}


def _sign_gocardless(secret: str, event_id: str, body: bytes, now: int) -> dict[str, str]:
    signature = _hex_hmac(secret, body)
    parsed = gocardless_pro.webhooks.parse(body, secret, signature)  # raises on a mismatch
    assert len(parsed) == 2
    return {"Webhook-Signature": signature}


def _sign_box(secret: str, event_id: str, body: bytes, now: int) -> dict[str, str]:
    headers = {
        "box-delivery-id": "d-" + event_id,
        "box-delivery-timestamp": datetime.fromtimestamp(now, tz=timezone.utc).isoformat(timespec="seconds"),
        "box-signature-version": "1",
        "box-signature-algorithm": "HmacSHA256",
    }
    # Signed by Box's own SDK helper, and accepted by its own validator.
    headers["box-signature-primary"] = compute_webhook_signature(body.decode(), headers, secret)
    assert WebhooksManager.validate_message(body.decode(), headers, secret)
    return headers


def _sign_sanity(secret: str, event_id: str, body: bytes, now: int) -> dict[str, str]:
    proc = subprocess.run(
        ["node", str(HERE / "sanity_sign.mjs"), secret, str(now * 1000), body.decode()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"sanity_sign.mjs failed: {proc.stderr}"
    return {"sanity-webhook-signature": proc.stdout.strip(), "idempotency-key": event_id}


def _sign_standard(prefix: str):
    def sign(secret: str, event_id: str, body: bytes, now: int) -> dict[str, str]:
        at = datetime.fromtimestamp(now, tz=timezone.utc)
        if prefix == "svix":
            signature = svix.webhooks.Webhook(secret).sign(event_id, at, body.decode())
        else:
            signature = standardwebhooks.Webhook(secret).sign(event_id, at, body.decode())
        return {
            f"{prefix}-id": event_id,
            f"{prefix}-timestamp": str(now),
            f"{prefix}-signature": signature,
        }

    return sign


def _json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


CASES = [
    Case("razorpay", lambda: rand.token_hex(16), _sign_razorpay,
         lambda eid: _json({"entity": "event", "event": "payment.captured", "contains": ["payment"],
                            "payload": {"note": FLIP_MARKER}, "created_at": 1700000000})),
    Case("easypost", lambda: "sécret-" + rand.token_hex(8), _sign_easypost,
         lambda eid: _json({"id": eid, "object": "Event", "description": "tracker.updated",
                            "result": {"note": FLIP_MARKER}})),
    Case("workos", lambda: rand.token_hex(16), _sign_workos,
         lambda eid: _json({"id": eid, "event": "user.created", "data": {"note": FLIP_MARKER}})),
    Case("line", lambda: rand.token_hex(16), _sign_line,
         lambda eid: _json({"destination": "U" + RUN, "events": [
             {"type": "message", "webhookEventId": eid, "message": {"text": FLIP_MARKER}}]})),
    Case("gocardless", lambda: rand.token_hex(16), _sign_gocardless,
         lambda eid: _json({"events": [
             {"id": eid + "a", "action": "created", "resource_type": "payments",
              "details": {"note": FLIP_MARKER}},
             {"id": eid + "b", "action": "confirmed", "resource_type": "payments"}]}),
         events=2),
    Case("box", lambda: rand.token_hex(16), _sign_box,
         lambda eid: _json({"type": "webhook_event", "id": eid, "trigger": "FILE.UPLOADED",
                            "source": {"id": "f-" + RUN, "type": "file", "name": FLIP_MARKER}})),
    Case("sanity", lambda: rand.token_hex(16), _sign_sanity,
         lambda eid: _json({"_id": "doc-" + RUN, "note": FLIP_MARKER})),
] + [
    Case(name, _whsec, _sign_standard("webhook"),
         lambda eid: _json({"type": "thing.created", "data": {"note": FLIP_MARKER}}))
    for name in ["render", "openai", "replicate", "polar", "supabase-auth"]
] + [
    Case(name, _whsec, _sign_standard("svix"),
         lambda eid: _json({"type": "user.created", "data": {"note": FLIP_MARKER}}))
    for name in ["clerk", "resend"]
]

SECRETS = {case.source: case.new_secret() for case in CASES}
# Braintree: the gateway holds PUBLIC:PRIVATE; the official SDK signs with the same pair.
BRAINTREE_KEYS = ("pub_" + RUN, "priv_" + rand.token_hex(16))
SECRETS["braintree"] = ":".join(BRAINTREE_KEYS)
WRONG_SECRETS = {case.source: case.new_secret() for case in CASES}
# Braintree: the gateway holds PUBLIC:PRIVATE; the official SDK signs with the same pair.
BRAINTREE_KEYS = ("pub_" + RUN, "priv_" + rand.token_hex(16))
SECRETS["braintree"] = ":".join(BRAINTREE_KEYS)


@pytest.fixture(scope="session")
def preset_gateway(tmp_path_factory) -> str:
    binary = os.environ.get("HOOKGATE_BIN", DEFAULT_BIN)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail(f"hookgate binary not found or not executable: {binary} (set HOOKGATE_BIN)")
    tmp = tmp_path_factory.mktemp("hookgate-presets")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKGATE_")}
    lines = ["[server]", 'listen = "127.0.0.1:0"', "", "[store]",
             f'url = "sqlite://{tmp / "hookgate.db"}"', ""]
    for source in [case.source for case in CASES] + ["braintree"]:
        path = tmp / f"{source}.secret"
        path.write_text(SECRETS[source] + "\n")
        path.chmod(0o600)
        lines += [f"[sources.{source.replace('-', '_')}]", f'provider = "{source}"',
                  f'secrets = ["file:{path}"]', ""]
    config = tmp / "hookgate.toml"
    config.write_text("\n".join(lines))
    log_path = tmp / "server.log"
    for attempt in range(3):
        port = _free_port()
        env["HOOKGATE_SERVER__LISTEN"] = f"127.0.0.1:{port}"
        base = f"http://127.0.0.1:{port}"
        log = open(log_path, "wb")
        proc = subprocess.Popen([binary, "serve", "--config", str(config)], env=env, cwd=tmp,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
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
            pytest.fail("hookgate did not become ready; log:\n"
                        + log_path.read_text(errors="replace")[-4000:])
    try:
        yield base
    finally:
        _stop(proc)
        log.close()


def _send(base: str, case: Case, secret: str, event_id: str, body: bytes | None = None,
          flip: bool = False):
    body = body if body is not None else case.body(event_id)
    headers = case.sign(secret, event_id, body, int(time.time()))
    headers.setdefault("Content-Type", "application/json")
    if flip:
        i = body.index(FLIP_MARKER.encode())
        body = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]
    return post(base, case.source.replace("-", "_"), body, headers)


def _ids(case: Case) -> str:
    return case.source


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_sdk_signed_delivery_is_accepted_once_then_duplicate(preset_gateway, case):
    event_id = f"evt_{RUN}_{case.source}_once"
    first = _send(preset_gateway, case, SECRETS[case.source], event_id)
    assert first.status == 200, first
    assert (first.json["accepted"], first.json["duplicates"]) == (case.events, 0), first
    again = _send(preset_gateway, case, SECRETS[case.source], event_id)
    assert again.status == 200, again
    assert (again.json["status"], again.json["duplicates"]) == ("duplicate", case.events), again


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_flipped_byte_and_other_secret_are_rejected_and_not_recorded(preset_gateway, case):
    event_id = f"evt_{RUN}_{case.source}_bad"
    for answer in (
        _send(preset_gateway, case, SECRETS[case.source], event_id, flip=True),
        _send(preset_gateway, case, WRONG_SECRETS[case.source], event_id),
    ):
        assert answer.status == 401, answer
        assert answer.content_type == "application/problem+json", answer
        assert answer.json["code"] == "invalid_signature", answer
    valid = _send(preset_gateway, case, SECRETS[case.source], event_id)
    assert valid.status == 200 and valid.json["accepted"] == case.events, valid


def _braintree_gateway(public_key: str, private_key: str) -> braintree.BraintreeGateway:
    return braintree.BraintreeGateway(braintree.Configuration(
        braintree.Environment.Sandbox, merchant_id="conformance",
        public_key=public_key, private_key=private_key))


def _form(fields: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def test_braintree_sample_notifications_signed_by_the_sdk(preset_gateway):
    """`webhook_testing.sample_notification` is the SDK's own signer; its `parse` accepts it."""
    gateway = _braintree_gateway(*BRAINTREE_KEYS)
    sample = gateway.webhook_testing.sample_notification(
        braintree.WebhookNotification.Kind.SubscriptionCanceled, "sub_" + RUN)
    parsed = gateway.webhook_notification.parse(sample["bt_signature"], sample["bt_payload"])
    assert parsed.subscription.id == "sub_" + RUN
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    first = post(preset_gateway, "braintree", _form(sample), form)
    assert first.status == 200 and first.json["status"] == "accepted", first
    again = post(preset_gateway, "braintree", _form(sample), form)
    assert again.status == 200 and again.json["status"] == "duplicate", again

    payload = sample["bt_payload"]
    payload = payload.decode() if isinstance(payload, bytes) else payload
    i = len(payload) // 2
    flipped = payload[:i] + ("A" if payload[i] != "A" else "B") + payload[i + 1:]
    tampered = post(preset_gateway, "braintree",
                    _form({**sample, "bt_payload": flipped}), form)
    assert tampered.status == 401 and tampered.json["code"] == "invalid_signature", tampered

    other = _braintree_gateway(BRAINTREE_KEYS[0], "priv_other").webhook_testing.sample_notification(
        braintree.WebhookNotification.Kind.SubscriptionCanceled, "sub_other_" + RUN)
    wrong = post(preset_gateway, "braintree", _form(other), form)
    assert wrong.status == 401 and wrong.json["code"] == "invalid_signature", wrong
