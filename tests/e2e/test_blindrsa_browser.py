"""The browser half of the blind signatures, ``static/blindrsa.js``, in a real Chromium.

The module is imported by a page of the app served under its real CSP (``script-src 'self'``)
and must reproduce the RFC 9474 test vector, and interoperate with the Python signer in
``survey.domain.blindrsa``: the browser blinds, Python signs, the browser finalizes and Python
verifies the result as an ordinary RSASSA-PSS signature.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page

from survey.domain import blindrsa
from tests.domain.blindrsa_vector import VECTOR, flip, vector_key, vector_r
from tests.e2e.conftest import OpenPage

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODULE = "/static/blindrsa.js"
MESSAGE = "ballot for round 7"
FAVICON = "/favicon.ico"

# Helpers shared by the scripts below, defined inside each so nothing leaks between pages.
_HEX = """
  const fromHex = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
  const toHex = (u) => Array.from(u, (x) => x.toString(16).padStart(2, "0")).join("");
"""

RUN_VECTOR = f"""async (v) => {{
  {_HEX}
  const brsa = await import("{MODULE}");
  const pk = await brsa.importPublicKey(v.jwk);
  const msgPrime = brsa.prepare(fromHex(v.msg), fromHex(v.msg_prefix));
  const options = {{ salt: fromHex(v.salt), r: BigInt("0x" + v.r) }};
  const {{ blindedMsg, inv }} = await brsa.blind(pk, msgPrime, options);
  const sig = await brsa.finalize(pk, msgPrime, fromHex(v.blind_sig), inv);
  return {{
    modulusBytes: pk.modulusBytes,
    preparedMsg: toHex(msgPrime),
    blindedMsg: toHex(blindedMsg),
    inv: toHex(inv),
    sig: toHex(sig),
  }};
}}"""

# Step one of the round trip: blind a fresh message, keep the state in the page.
BLIND = f"""async ({{ jwk, msg }}) => {{
  {_HEX}
  const brsa = await import("{MODULE}");
  const pk = await brsa.importPublicKey(jwk);
  const msgPrime = brsa.prepare(new TextEncoder().encode(msg));
  const {{ blindedMsg, inv }} = await brsa.blind(pk, msgPrime);
  window.blindState = {{ pk, msgPrime, inv }};
  return {{ msgPrime: toHex(msgPrime), blindedMsg: toHex(blindedMsg) }};
}}"""

# Step two: finalize the server's answer; report a refusal as {error} instead of throwing.
FINALIZE = f"""async (blindSig) => {{
  {_HEX}
  const brsa = await import("{MODULE}");
  const {{ pk, msgPrime, inv }} = window.blindState;
  try {{
    return {{ sig: toHex(await brsa.finalize(pk, msgPrime, fromHex(blindSig), inv)) }};
  }} catch (error) {{
    return {{ error: String(error.message) }};
  }}
}}"""

B64URL = f"""async (hexes) => {{
  {_HEX}
  const brsa = await import("{MODULE}");
  return hexes.map((hex) => {{
    const text = brsa.b64urlEncode(fromHex(hex));
    return {{ text, back: toHex(brsa.b64urlDecode(text)) }};
  }});
}}"""
B64URL_SAMPLES = ["", "00", "fb", "fbff", "fbffbf", "000102030405060708090a0b0c"]


def open_module_page(open_page: OpenPage, errors: list[str]) -> Page:
    """Open a plain page of the app, checking it carries the CSP, and record console errors."""
    page = open_page()
    page.on("console", lambda message: _note_error(message, errors))
    response = page.goto("/privacy")
    assert response is not None and response.ok
    assert "script-src 'self'" in response.headers["content-security-policy"]
    module = page.request.get(MODULE)
    assert module.ok
    assert module.headers["content-type"].startswith("text/javascript")
    return page


def _note_error(message: ConsoleMessage, errors: list[str]) -> None:
    # Chromium asks for /favicon.ico on its own; the app has none, and that 404 is no error here.
    url = message.location.get("url", "")
    if message.type == "error" and not url.endswith(FAVICON):
        errors.append(f"{message.text} ({url})")


def vector_args() -> dict[str, Any]:
    """Return the RFC vector as hex strings, with the key's JWK fields and ``r``."""
    return {
        "jwk": blindrsa.public_jwk_fields(vector_key().public_key()),
        "r": format(vector_r(), "x"),
        **{name: value.hex() for name, value in VECTOR.items()},
    }


def test_rfc_vector_in_the_browser(open_page: OpenPage) -> None:
    errors: list[str] = []
    page = open_module_page(open_page, errors)
    result = page.evaluate(RUN_VECTOR, vector_args())
    assert result["modulusBytes"] == len(VECTOR["n"])
    assert result["preparedMsg"] == VECTOR["prepared_msg"].hex()
    assert result["inv"] == VECTOR["inv"].hex()
    assert result["blindedMsg"] == VECTOR["blinded_msg"].hex()
    assert result["sig"] == VECTOR["sig"].hex()
    assert errors == []


def test_browser_blinds_python_signs(open_page: OpenPage) -> None:
    key = blindrsa.generate_key()
    public = key.public_key()
    signing = blindrsa.SigningKey.from_private(key)
    errors: list[str] = []
    page = open_module_page(open_page, errors)

    blinded = page.evaluate(BLIND, {"jwk": blindrsa.public_jwk_fields(public), "msg": MESSAGE})
    msg_prime = bytes.fromhex(blinded["msgPrime"])
    assert msg_prime[blindrsa.PREFIX_BYTES :] == MESSAGE.encode()
    blind_sig = blindrsa.blind_sign(signing, bytes.fromhex(blinded["blindedMsg"]))

    refused = page.evaluate(FINALIZE, flip(blind_sig).hex())
    assert refused == {"error": "invalid signature"}
    finalized = page.evaluate(FINALIZE, blind_sig.hex())
    sig = bytes.fromhex(finalized["sig"])
    assert blindrsa.verify(public, msg_prime, sig)
    assert not blindrsa.verify(blindrsa.generate_key().public_key(), msg_prime, sig)
    assert errors == []


def test_b64url_round_trip(open_page: OpenPage) -> None:
    errors: list[str] = []
    page = open_module_page(open_page, errors)
    results = page.evaluate(B64URL, B64URL_SAMPLES)
    for data, result in zip(B64URL_SAMPLES, results, strict=True):
        assert result["back"] == data
        assert result["text"] == base64.urlsafe_b64encode(bytes.fromhex(data)).rstrip(b"=").decode()
    assert errors == []
