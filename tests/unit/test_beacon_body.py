"""The beacon body's one-regex reading agrees with ViewIn (pydantic) on every body it accepts."""

from __future__ import annotations

import json
import random

import pytest
from pydantic import ValidationError

from service.api.events import BEACON_BODY, ViewIn, view_event_id
from service.domain.errors import DomainError


def widget_body(event_id: str, referrer: str | None = None) -> bytes:
    """What widget.js sends: JSON.stringify({event_id, referrer}) drops an undefined referrer."""
    fields = {"event_id": event_id} if referrer is None else {"event_id": event_id, "referrer": referrer}
    return json.dumps(fields, separators=(",", ":")).encode()


def pydantic_event_id(body: bytes) -> str | None:
    return ViewIn.model_validate_json(body or b"{}").event_id


@pytest.mark.parametrize("referrer", [None, "https://www.google.com", "https://news.example:8443", "x" * 2048])
def test_the_widgets_bodies_take_the_one_regex_path(referrer: str | None) -> None:
    event_id = random.Random(1).randbytes(16).hex()  # rid() in widget.js: 16 random bytes in hex
    body = widget_body(event_id, referrer)
    assert BEACON_BODY.fullmatch(body) is not None
    assert view_event_id(body) == pydantic_event_id(body) == event_id


EVENT_IDS = [
    "a" * 8, "b" * 128, "0123abcd-ef.01:_x", "abc", "a" * 7, "a" * 129, "bad id!!", "ünïcode-id", 'quote"inside',
    "back\\slash-id", "tab\tinside", "new\nline1", "", "null",
]
REFERRERS = [
    None, "", "https://www.google.com", "x" * 2048, "x" * 2049, 'has "quote"', "back\\slash", "ünïcode.example",
    "ctl\x01char", "line\nbreak",
]


def _bodies(rng: random.Random) -> list[bytes]:
    out: list[bytes] = [b"", b"{}", b"null", b"[]", b'{"event_id":null}', b'{"referrer":"https://a.example"}']
    for event_id in EVENT_IDS:
        for referrer in REFERRERS:
            out.append(widget_body(event_id, referrer))
            fields: dict[str, object] = {"event_id": event_id}
            if referrer is not None:
                fields["referrer"] = referrer
            out.append(json.dumps(fields).encode())  # with spaces: another shape
            out.append(json.dumps(dict(reversed(list(fields.items()))), separators=(",", ":")).encode())
            out.append(json.dumps({**fields, "extra": 1}, separators=(",", ":")).encode())
    for _ in range(2000):  # byte-level damage to good bodies
        body = bytearray(widget_body(rng.randbytes(rng.randint(4, 70)).hex()[: rng.randint(1, 140)],
                                     rng.choice(REFERRERS)))
        for _ in range(rng.randint(1, 3)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        out.append(bytes(body))
    return out


def test_every_body_the_regex_accepts_pydantic_accepts_with_the_same_event_id() -> None:
    taken = 0
    for body in _bodies(random.Random(7)):
        canonical = BEACON_BODY.fullmatch(body)
        try:
            expected: str | type[Exception] | None = pydantic_event_id(body)
        except ValidationError:
            expected = ValidationError
        if canonical is not None:
            taken += 1
            assert expected == canonical[1].decode(), body
        if expected is ValidationError:
            with pytest.raises(DomainError):  # the 4xx the endpoint answers
                view_event_id(body)
        else:
            assert view_event_id(body) == expected, body
    assert taken > 50  # the corpus exercises the regex path, not only the fallback
