"""X-Request-ID: any printable text up to 128 characters is kept, except what may be a personal
number; a generated id (UUID, 32 hex digits) is kept whole."""

from __future__ import annotations

import pytest

from interfaces.logging import sanitised_request_id


@pytest.mark.parametrize(("given", "kept"), [
    ("trace42abc", "trace42abc"),
    ("追踪/甲 #1:a=b", "追踪/甲 #1:a=b"),                                       # any script, any printable sign
    ("550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-446655440000"),  # digits run to 12
    ("req-550e8400-e29b-41d4-a716-446655440000", "req-550e8400-e29b-41d4-a716-446655440000"),
    ("0af7651916cd43dd8448eb211c80319c", "0af7651916cd43dd8448eb211c80319c"),  # nginx's $request_id
    ("110105201205153419", "*" * 18),                                           # an ID number
    ("11010520120515341X", "*" * 17 + "X"),
    ("visit-13812345678-2", "visit-" + "*" * 11 + "-2"),                        # a mobile number
    ("00000000-0000-0000-0000-000000000000", "********-0000-0000-0000-" + "*" * 12),  # all digits: not generated
    ("110105201205153419abcdef0123456789ab", "*" * 18 + "abcdef" + "*" * 10 + "ab"),  # not a 32-digit id
    ("a\tb", "a_b"),
    ("  spaced  ", "spaced"),
    ("x" * 128, "x" * 128),
])
def test_a_printable_request_id_is_kept_with_its_digit_runs_masked(given: str, kept: str) -> None:
    assert sanitised_request_id(given.encode()) == kept


@pytest.mark.parametrize("given", [b"", b"   ", b"x" * 129, "甲".encode() * 129])
def test_an_empty_or_too_long_request_id_is_replaced(given: bytes) -> None:
    assert sanitised_request_id(given) is None


def test_bytes_that_are_not_utf8_are_kept_as_replacement_characters() -> None:
    assert sanitised_request_id(b"ab\xffcd") == "ab\ufffdcd"
