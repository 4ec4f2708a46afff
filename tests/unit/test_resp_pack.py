"""The link's RESP packing: the text fast path gives the same bytes as encoding each argument."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.storage.redis_link import pack

ARGS = st.lists(st.one_of(st.text(), st.integers(), st.binary(), st.text(alphabet="abc{}:\t\x1f0123")), max_size=40)


def reference(args: list[bytes | str | int]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


@given(ARGS)
def test_pack_equals_encoding_each_argument(args: list[bytes | str | int]) -> None:
    assert pack(args) == reference(args)
