"""Email addresses and names as contact files give them."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline.emails import (
    InvalidEmail,
    format_address,
    is_valid_email,
    normalize_email,
    split_name,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.Lovelace@Example.COM  ", "ada.lovelace@example.com"),
        ("<ada@example.com>", "ada@example.com"),
        ("mailto:ada@example.com", "ada@example.com"),
        ("MAILTO:Ada@Example.com", "ada@example.com"),
        ("< mailto:ada@example.com >", "ada@example.com"),
        ("first.o'hara+tag@sub.example.org", "first.o'hara+tag@sub.example.org"),
        ("ana@bücher.example", "ana@xn--bcher-kva.example"),
        ("ana@BÜCHER.example", "ana@xn--bcher-kva.example"),
        ("ana@xn--bcher-kva.example", "ana@xn--bcher-kva.example"),
        ("ana@example.com.", "ana@example.com"),
    ],
)
def test_normalize_accepts_and_canonicalizes(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("<>", "is empty"),
        ("ada.example.com", "has no @"),
        ("ada@@example.com", "more than one @"),
        ("ada@host@example.com", "more than one @"),
        ("ada lovelace@example.com", "contains a space"),
        ("ada@example", "no dot"),
        ("@example.com", "nothing before the @"),
        ("ada@", "nothing after the @"),
        ("ada@.example.com", "empty label"),
        ("ada@example..com", "empty label"),
        ("ada@-example.com", "bad label"),
        ("ada@example-.com", "bad label"),
        ("ada@exa_mple.com", "bad label"),
        ("ada@example.123", "numeric top-level"),
        ("ada@[192.0.2.1]", "IP address"),
        ("josé@example.com", "'é' before the @: an internationalized address"),
        ("dörte@bücher.example", "'ö' before the @: an internationalized address"),
        ("用户@例子.广告", "an internationalized address"),
        (".ada@example.com", "misplaced dot"),
        ("ada.@example.com", "misplaced dot"),
        ("a..da@example.com", "misplaced dot"),
        ('"ada"@example.com', "cannot hold"),
        ("ada,bob@example.com", "cannot hold"),
        ("ada@example.com\r\nBcc: x@example.com", "line break"),
        ("ada@example.com\n", "line break"),
        ("Ada Lovelace <ada@example.com>", "contains a space"),
        ("a" * 65 + "@example.com", "more than 64"),
        ("ada@" + "a" * 64 + ".com", "bad label"),
        ("ada@" + ".".join(["a" * 60] * 5) + ".com", "longer than 253"),
    ],
)
def test_normalize_rejects_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidEmail, match=reason):
        normalize_email(raw)
    assert not is_valid_email(raw)


def test_whole_address_is_limited_to_254_characters() -> None:
    local = "a" * 64
    domain = ".".join(["b" * 61] * 3) + ".com"  # 189 characters
    assert len(f"{local}@{domain}") == 254
    assert normalize_email(f"{local}@{domain}") == f"{local}@{domain}"
    with pytest.raises(InvalidEmail, match="longer than 254"):
        normalize_email(f"{local}@c{domain}")


def test_invalid_email_is_a_value_error() -> None:
    assert issubclass(InvalidEmail, ValueError)


@given(st.text())
@example("Ada@Example.com")
@example("<mailto:ADA@BÜCHER.example>")
@example("İ@example.com")
def test_normalize_is_idempotent(raw: str) -> None:
    """Given any text, when it normalizes, then normalizing the result changes nothing."""
    try:
        once = normalize_email(raw)
    except InvalidEmail:
        return
    assert normalize_email(once) == once
    assert once == once.strip()


_atoms = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.+-_", min_size=1, max_size=20)


@given(
    local=_atoms,
    domain=st.sampled_from(["example.com", "example.org", "bücher.example"]),
    before=st.text(alphabet="\r\n \t", max_size=3),
    after=st.text(alphabet="\r\n \t", max_size=3),
)
def test_normalize_never_accepts_a_line_break(
    local: str, domain: str, before: str, after: str
) -> None:
    """Given an address with CR or LF anywhere, when normalized, then it is refused."""
    for raw in (f"{before}{local}@{domain}{after}", f"{local}\r@{domain}", f"{local}@\n{domain}"):
        if "\r" in raw or "\n" in raw:
            with pytest.raises(InvalidEmail):
                normalize_email(raw)


@given(st.text())
def test_normalized_addresses_hold_no_line_break(raw: str) -> None:
    try:
        address = normalize_email(raw)
    except InvalidEmail:
        return
    assert "\r" not in address and "\n" not in address


@pytest.mark.parametrize(
    ("full", "expected"),
    [
        ("Ada Lovelace", ("Ada", "Lovelace")),
        ("  Ada   Lovelace ", ("Ada", "Lovelace")),
        ("Lovelace, Ada", ("Ada", "Lovelace")),
        ("Mary Ann Evans", ("Mary Ann", "Evans")),
        ("Ludwig van Beethoven", ("Ludwig", "van Beethoven")),
        ("Oscar de la Hoya", ("Oscar", "de la Hoya")),
        ("Martin Luther King Jr.", ("Martin Luther", "King Jr.")),
        ("Cher", ("Cher", "")),
        ("", ("", "")),
        ("Jae-won Kim", ("Jae-won", "Kim")),
        ("Jane Smith, PhD", ("Jane", "Smith PhD")),
        ("King, Martin Luther, Jr.", ("Martin Luther", "King Jr.")),
    ],
)
def test_split_name(full: str, expected: tuple[str, str]) -> None:
    assert split_name(full) == expected


@pytest.mark.parametrize(
    ("name", "email", "expected"),
    [
        ("Ada Lovelace", "Ada@Example.com", "Ada Lovelace <ada@example.com>"),
        ("Lovelace, Ada", "ada@example.com", '"Lovelace, Ada" <ada@example.com>'),
        ("", "ada@example.com", "ada@example.com"),
        ("Zoë", "zoe@example.com", "Zoë <zoe@example.com>"),
    ],
)
def test_format_address(name: str, email: str, expected: str) -> None:
    assert format_address(name, email) == expected


def test_format_address_refuses_header_injection() -> None:
    with pytest.raises(InvalidEmail):
        format_address("Ada\r\nBcc: eve@example.com", "ada@example.com")
    with pytest.raises(InvalidEmail):
        format_address("Ada", "not an address")
