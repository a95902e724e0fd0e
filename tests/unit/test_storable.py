"""Storable text: what no database refuses, with the exact bytes kept where they matter."""

from __future__ import annotations

import base64

import pytest

from core.storable import storable, storable_envelope, storable_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("grüße", "grüße"),
        ("a\x00b", "a\ufffdb"),
        ("r\udcff", "r\ufffd"),  # an undecodable byte, as surrogateescape reads it
        ("\ud800x", "\ufffdx"),  # a lone surrogate from anywhere else
    ],
)
def test_storable_replaces_nul_and_lone_surrogates(text: str, expected: str) -> None:
    assert storable(text) == expected
    storable(text).encode("utf-8")  # strict UTF-8 takes it


def test_envelope_keeps_the_exact_bytes_beside_a_readable_value() -> None:
    kept = storable_envelope({"helo": "r\udcff", "peer": "127.0.0.1", "x": "a\x00"})
    assert kept == {
        "helo": "r\ufffd",
        "helo_base64": base64.b64encode(b"r\xff").decode(),
        "peer": "127.0.0.1",
        "x": "a\ufffd",
        "x_base64": base64.b64encode(b"a\x00").decode(),
    }


def test_keys_differing_in_one_byte_stay_apart_and_storable_keys_stay_as_they_are() -> None:
    assert storable_key("delivery:a:abc") == "delivery:a:abc"
    first, second = storable_key("delivery:a:abc\udcff"), storable_key("delivery:a:abc\udcfe")
    assert first != second and first.startswith("delivery:a:abc\ufffd#sha256:")
    assert storable_key("delivery:a:abc\udcff") == first and len(storable_key("x\x00" * 300)) <= 255
