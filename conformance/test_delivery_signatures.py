"""Deliveries from hookgate to a handler verify with the official Standard Webhooks library.

The other side of the contract: hookgate signs what it delivers to internal handlers in Standard
Webhooks format with the handler's secret. Here a real handler (a small HTTP server in this
process) verifies every delivery with `standardwebhooks.Webhook(secret).verify(...)` — code we
did not write — and the test checks the idempotency key, the original body, and that a
duplicate webhook is not delivered twice.
"""

from __future__ import annotations

import base64
import http.server
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import stripe
from standardwebhooks import Webhook, WebhookVerificationError

DEFAULT_BIN = str(Path(__file__).resolve().parent.parent / "target" / "debug" / "hookgate")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []
    secret = ""

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            Webhook(Handler.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        Handler.received.append({"headers": headers, "body": body, "verified": verified})
        self.send_response(204 if verified else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    binary = os.environ.get("HOOKGATE_BIN", DEFAULT_BIN)
    tmp = tmp_path_factory.mktemp("delivery")
    handler_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    stripe_secret = "whsec_" + secrets.token_hex(16)
    Handler.secret = handler_secret
    Handler.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp / "handler").write_text(handler_secret)
    (tmp / "stripe").write_text(stripe_secret)
    port = _free_port()
    (tmp / "hookgate.toml").write_text(
        f"""
[server]
listen = "127.0.0.1:{port}"
[store]
url = "sqlite://{tmp}/hookgate.db"
[dispatch]
poll_interval = "100ms"
[sources.stripe]
provider = "stripe"
secrets = ["file:{tmp}/stripe"]
[handlers.billing]
kind = "http"
url = "http://127.0.0.1:{server.server_address[1]}/events"
sources = ["stripe"]
secret = "file:{tmp}/handler"
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKGATE_")}
    proc = subprocess.Popen(
        [binary, "serve", "--config", str(tmp / "hookgate.toml")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                if r.status == 200:
                    break
        except (OSError, urllib.error.HTTPError):
            pass
        assert time.monotonic() < deadline, "hookgate did not become ready"
        time.sleep(0.1)
    try:
        yield base, stripe_secret
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.shutdown()


def _send_stripe(base: str, secret: str, body: str) -> int:
    ts = int(time.time())
    sig = stripe.WebhookSignature._compute_signature(f"{ts}.{body}", secret)
    req = urllib.request.Request(
        base + "/webhooks/stripe",
        data=body.encode(),
        headers={"Stripe-Signature": f"t={ts},v1={sig}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status


def test_deliveries_verify_with_the_standard_webhooks_library(setup):
    base, stripe_secret = setup
    event_id = "evt_" + secrets.token_hex(8)
    body = f'{{"id":"{event_id}","object":"event","type":"invoice.paid"}}'
    assert _send_stripe(base, stripe_secret, body) == 200
    assert _send_stripe(base, stripe_secret, body) == 200  # a provider retry: a duplicate

    deadline = time.monotonic() + 10
    while not Handler.received:
        assert time.monotonic() < deadline, "no delivery arrived"
        time.sleep(0.05)
    time.sleep(0.5)  # room for a (wrong) second delivery to show up
    assert len(Handler.received) == 1, "the duplicate must not be delivered again"
    got = Handler.received[0]
    assert got["verified"], "standardwebhooks rejected hookgate's signature"
    assert got["headers"]["idempotency-key"] == f"stripe:{event_id}"
    assert got["headers"]["webhook-id"] == f"stripe:{event_id}"
    assert got["headers"]["hookgate-event-type"] == "invoice.paid"
    assert got["headers"]["hookgate-attempt"] == "1"
    assert got["body"] == body.encode(), "the original body, byte for byte"
