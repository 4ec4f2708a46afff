"""Bot detection, the client address behind trusted proxies, and the visitor hash."""

from __future__ import annotations

import ipaddress

import pytest

from service.domain.visitors import VisitorHasher, client_ip, is_bot, visitor_hash

TRUSTED = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
PEOPLE = [
    CHROME,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 "
    "Edg/126.0",
]
BOTS = [
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Amazonbot/0.1)",
    "redditbot/1.0",
    "Bluesky Cardyb/1.1",
    "Mastodon/4.2.0 (http.rb/5.1.1; +https://mastodon.social/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36",
    "curl/8.5.0",
    "Wget/1.21",
    "python-requests/2.32.3",
    "Python/3.11 aiohttp/3.10.5",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "Java/17.0.2",
    "Scrapy/2.11 (+https://scrapy.org)",
    "UptimeRobot/2.0",
    "",
    "   ",
    None,
]


@pytest.mark.parametrize("ua", PEOPLE)
def test_people_are_not_bots(ua: str) -> None:
    assert not is_bot(ua)
    assert not is_bot(ua, "POST")


@pytest.mark.parametrize("ua", BOTS)
def test_bots(ua: str | None) -> None:
    assert is_bot(ua)


def test_head_is_a_bot() -> None:
    assert is_bot(CHROME, "HEAD")


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.5", None, "203.0.113.5"),
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # untrusted peer: XFF is not believed
        ("203.0.113.5", "10.1.1.1", "203.0.113.5"),
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),  # a chain of trusted proxies
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # spoofed left-most hop ignored
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"),
        ("10.0.0.2", " 198.51.100.1 ,10.0.0.3 ", "198.51.100.1"),
        ("10.0.0.2", "garbage", "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1, garbage", "10.0.0.2"),
        ("10.0.0.2", "10.0.0.3, 10.0.0.4", "10.0.0.3"),
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
        ("2001:db8::9", "198.51.100.1", "2001:db8::9"),
        ("10.0.0.2", "2001:db8::7", "2001:db8::7"),
        (None, "198.51.100.1", ""),
        ("not-an-ip", "198.51.100.1", "not-an-ip"),
    ],
)
def test_client_ip(peer: str | None, xff: str | None, expected: str) -> None:
    assert client_ip(peer, xff, TRUSTED) == expected


def test_client_ip_trusts_nobody_by_default() -> None:
    assert client_ip("10.0.0.2", "198.51.100.1", []) == "10.0.0.2"


def test_visitor_hash_is_keyed_and_stable() -> None:
    salt = b"s" * 32
    one = visitor_hash(salt, "198.51.100.1", CHROME)
    assert one == visitor_hash(salt, "198.51.100.1", CHROME)
    assert len(one) == 32 and int(one, 16) >= 0
    assert one != visitor_hash(b"t" * 32, "198.51.100.1", CHROME)
    assert one != visitor_hash(salt, "198.51.100.2", CHROME)
    assert one != visitor_hash(salt, "198.51.100.1", CHROME + " ")
    for secret in ("198.51.100.1", "Chrome", "Mozilla"):
        assert secret not in one


@pytest.mark.parametrize("raw", [b"Mozilla \xff\xfe", b"Mozilla \xed\xa0\x80", b"\xc3\x28"])
def test_hash_of_a_user_agent_that_was_not_utf8(raw: bytes) -> None:
    user_agent = raw.decode("utf-8", "surrogateescape")  # how aiohttp hands such a header over
    first = visitor_hash(b"s" * 32, "192.0.2.1", user_agent)
    assert first == visitor_hash(b"s" * 32, "192.0.2.1", user_agent)
    assert first != visitor_hash(b"s" * 32, "192.0.2.1", raw.decode("latin-1"))
    assert is_bot(user_agent) is False


def test_the_limiter_key_is_the_ip_alone_an_ipv6_host_by_its_64_and_never_a_visitor_hash() -> None:
    hasher, other_day = VisitorHasher(b"salt-a" * 8), VisitorHasher(b"salt-b" * 8)
    assert hasher.limiter("203.0.113.7") == hasher.limiter("203.0.113.7")  # whatever the user agent
    assert hasher.limiter("203.0.113.7") != hasher.limiter("203.0.113.8")
    assert hasher.limiter("203.0.113.7") != other_day.limiter("203.0.113.7")
    assert hasher.limiter("::ffff:203.0.113.7") == hasher.limiter("203.0.113.7")
    assert hasher.limiter("2001:db8:1:2::1") == hasher.limiter("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert hasher.limiter("2001:db8:1:2::1") != hasher.limiter("2001:db8:1:3::1")
    assert hasher.limiter("203.0.113.7") not in {hasher("203.0.113.7", ua) for ua in ("", CHROME, "limiter")}
    assert "203.0.113.7" not in hasher.limiter("203.0.113.7") and len(hasher.limiter("not an ip")) == 32
