"""EIP-4361 (Sign-In with Ethereum) messages: a grammar parser and a builder, the
nonces they carry and the EIP-191 signer of a signed message.

The `siwe` package pins web3<8, so the message grammar is implemented here: a
line-oriented recursive-descent parser following the EIP's ABNF, whose terminals
(`scheme`, `authority`, `URI`, `date-time`, `pchar`, `nonce`, ...) are regular
expressions transcribed from RFC 3986 and RFC 3339. Parsing checks syntax only;
`domain.verify_siwe_fields` checks the values against the server's expectations.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_checksum_address, to_checksum_address

PREAMBLE_SUFFIX = " wants you to sign in with your Ethereum account:"
MAX_MESSAGE_CHARS = 8192  # far above any real message; bounds the parser's work
MAX_RESOURCES = 64
NONCE_ALPHABET = string.ascii_letters + string.digits
NONCE_LENGTH = 17  # ~101 bits; the EIP asks for at least 8 alphanumerics

# --- RFC 3986 terminals ---------------------------------------------------
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"{_DEC_OCTET}\.{_DEC_OCTET}\.{_DEC_OCTET}\.{_DEC_OCTET}"
# IPv6 literals are accepted in a permissive bracketed form; hex, colons and dots only.
_IP_LITERAL = r"\[[0-9A-Fa-f:.]+\]"
_REG_NAME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_HOST = rf"(?:{_IP_LITERAL}|{_IPV4}|{_REG_NAME})"
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_AUTHORITY = rf"(?:{_USERINFO}@)?{_HOST}(?::[0-9]*)?"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_SEGMENT = rf"{_PCHAR}*"
_PATH_ABEMPTY = rf"(?:/{_SEGMENT})*"
_PATH_ABSOLUTE = rf"/(?:{_PCHAR}+(?:/{_SEGMENT})*)?"
_PATH_ROOTLESS = rf"{_PCHAR}+(?:/{_SEGMENT})*"
_QUERY = rf"(?:{_PCHAR}|[/?])*"
_HIER_PART = rf"(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}|{_PATH_ROOTLESS}|)"
_URI = rf"{_SCHEME}:{_HIER_PART}(?:\?{_QUERY})?(?:#{_QUERY})?"

# --- RFC 3339 date-time ---------------------------------------------------
_DATE_TIME = (
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt]"
    r"(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?P<frac>\.[0-9]+)?"
    r"(?P<off>[Zz]|[+\-][0-9]{2}:[0-9]{2})"
)

_RE_FIRST_LINE = re.compile(rf"^(?:(?P<scheme>{_SCHEME})://)?(?P<domain>{_AUTHORITY}){re.escape(PREAMBLE_SUFFIX)}$")
_RE_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# statement = *( reserved / unreserved / " " ): printable ASCII without LF.
_RE_STATEMENT = re.compile(rf"^[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@ ]*$")
_RE_URI = re.compile(rf"^{_URI}$")
_RE_NONCE = re.compile(r"^[A-Za-z0-9]{8,}$")
_RE_CHAIN_ID = re.compile(r"^[0-9]+$")
_RE_DATE_TIME = re.compile(rf"^{_DATE_TIME}$")
_RE_REQUEST_ID = re.compile(rf"^{_PCHAR}*$")


class SiweParseError(ValueError):
    """The text is not an EIP-4361 message; the message says which part is wrong."""


@dataclass(frozen=True)
class SiweMessage:
    """The fields of an EIP-4361 message, as written (timestamps also parsed)."""

    domain: str
    address: str
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: str
    scheme: str | None = None
    statement: str | None = None
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def issued_at_dt(self) -> datetime:
        return parse_datetime(self.issued_at)

    @property
    def expiration_time_dt(self) -> datetime | None:
        return parse_datetime(self.expiration_time) if self.expiration_time else None

    @property
    def not_before_dt(self) -> datetime | None:
        return parse_datetime(self.not_before) if self.not_before else None

    def to_text(self) -> str:
        """Render the message exactly as the ABNF prescribes (what the wallet signs)."""
        prefix = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [f"{prefix}{PREAMBLE_SUFFIX}", self.address, ""]
        if self.statement:
            lines += [self.statement, ""]
        else:
            lines += [""]
        lines += [
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        if self.expiration_time:
            lines.append(f"Expiration Time: {self.expiration_time}")
        if self.not_before:
            lines.append(f"Not Before: {self.not_before}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {r}" for r in self.resources]
        return "\n".join(lines)


def parse_datetime(value: str) -> datetime:
    """Parse an RFC 3339 date-time into an aware UTC datetime (validates ranges)."""
    m = _RE_DATE_TIME.match(value)
    if not m:
        raise SiweParseError(f"not an RFC 3339 date-time: {value!r}")
    try:
        frac = m.group("frac") or ""
        micro = int((frac[1:] + "000000")[:6]) if frac else 0
        off = m.group("off")
        if off in ("Z", "z"):
            tz = UTC
        else:
            sign = 1 if off[0] == "+" else -1
            hours, minutes = int(off[1:3]), int(off[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError("offset out of range")
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        dt = datetime(
            int(m.group("y")), int(m.group("mo")), int(m.group("d")),
            int(m.group("h")), int(m.group("mi")), min(int(m.group("s")), 59),  # leap second
            micro, tzinfo=tz,
        )
    except ValueError as exc:
        raise SiweParseError(f"not a valid date-time: {value!r} ({exc})") from None
    return dt.astimezone(UTC)


def format_datetime(dt: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision, the form SIWE libraries emit."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class _Lines:
    """A cursor over the message's lines (the grammar is LF-delimited throughout)."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.lines)

    def peek(self) -> str | None:
        return None if self.at_end() else self.lines[self.pos]

    def take(self, what: str) -> str:
        if self.at_end():
            raise SiweParseError(f"message ends before {what}")
        line = self.lines[self.pos]
        self.pos += 1
        return line

    def tagged(self, tag: str, pattern: re.Pattern[str], what: str) -> str:
        line = self.take(what)
        if not line.startswith(tag):
            raise SiweParseError(f"expected line {tag.strip()!r} ({what}), got {line[:60]!r}")
        value = line[len(tag):]
        if not pattern.match(value):
            raise SiweParseError(f"invalid {what}: {value[:80]!r}")
        return value

    def optional_tagged(self, tag: str, pattern: re.Pattern[str], what: str) -> str | None:
        line = self.peek()
        if line is None or not line.startswith(tag):
            return None
        return self.tagged(tag, pattern, what)


def parse_message(text: str) -> SiweMessage:
    """Parse an EIP-4361 message; raise `SiweParseError` naming the offending part.

    Follows the ABNF production `sign-in-with-ethereum` line by line. The statement
    section is either `statement LF LF` or a lone `LF` (so "no statement" and the
    empty statement have one spelling each, as in the EIP's revised grammar).
    """
    if len(text) > MAX_MESSAGE_CHARS:
        raise SiweParseError("message too long")
    if "\r" in text:
        raise SiweParseError("message must use LF line endings")
    cur = _Lines(text)

    first = _RE_FIRST_LINE.match(cur.take("the preamble"))
    if not first or not first.group("domain"):
        raise SiweParseError("first line must be '[scheme://]domain wants you to sign in with your Ethereum account:'")
    scheme, domain = first.group("scheme"), first.group("domain")

    address = cur.take("the address")
    if not _RE_ADDRESS.match(address):
        raise SiweParseError(f"invalid address: {address[:60]!r}")
    if cur.take("the blank line after the address") != "":
        raise SiweParseError("expected a blank line after the address")

    statement: str | None = None
    line = cur.take("the statement or URI")
    if line != "":
        if line.startswith("URI: "):
            raise SiweParseError("expected a blank line or a statement before 'URI:'")
        if not _RE_STATEMENT.match(line):
            raise SiweParseError("statement contains characters outside the EIP-4361 set")
        statement = line
        if cur.take("the blank line after the statement") != "":
            raise SiweParseError("expected a blank line after the statement (statements are one line)")

    uri = cur.tagged("URI: ", _RE_URI, "URI")
    version = cur.tagged("Version: ", re.compile(r"^1$"), "version (must be 1)")
    chain_id_text = cur.tagged("Chain ID: ", _RE_CHAIN_ID, "chain ID")
    nonce = cur.tagged("Nonce: ", _RE_NONCE, "nonce (8+ letters or digits)")
    issued_at = cur.tagged("Issued At: ", _RE_DATE_TIME, "issued-at date-time")
    expiration_time = cur.optional_tagged("Expiration Time: ", _RE_DATE_TIME, "expiration-time date-time")
    not_before = cur.optional_tagged("Not Before: ", _RE_DATE_TIME, "not-before date-time")
    request_id = cur.optional_tagged("Request ID: ", _RE_REQUEST_ID, "request ID")

    resources: list[str] = []
    if cur.peek() == "Resources:":
        cur.take("resources")
        while not cur.at_end():
            if len(resources) >= MAX_RESOURCES:
                raise SiweParseError("too many resources")
            res = cur.take("a resource")
            if not res.startswith("- ") or not _RE_URI.match(res[2:]):
                raise SiweParseError(f"invalid resource line: {res[:80]!r}")
            resources.append(res[2:])
    if not cur.at_end():
        raise SiweParseError(f"unexpected line: {cur.peek()!r:.80}")

    # EIP-4361: the address is in its EIP-55 checksummed form. All-lower/upper case carries
    # no checksum, so it is refused as well (the reference implementation's vectors agree).
    if not is_checksum_address(address):
        raise SiweParseError("address must be in EIP-55 checksummed form")

    msg = SiweMessage(
        domain=domain, address=address, uri=uri, version=version, chain_id=int(chain_id_text),
        nonce=nonce, issued_at=issued_at, scheme=scheme, statement=statement,
        expiration_time=expiration_time, not_before=not_before, request_id=request_id,
        resources=tuple(resources),
    )
    # Validate ranges (month 13, etc.) now so callers get a parse error, not later.
    msg.issued_at_dt, msg.expiration_time_dt, msg.not_before_dt  # noqa: B018
    return msg


def checksum(address: str) -> str:
    """EIP-55 form of an address (raises ValueError for malformed input)."""
    if not _RE_ADDRESS.match(address or ""):
        raise ValueError("address must be 0x followed by 40 hex digits")
    return to_checksum_address(address)


def new_nonce() -> str:
    """A fresh random SIWE nonce (alphanumeric, as the grammar requires)."""
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))


def recover_signer(text: str, signature: bytes) -> str | None:
    """The EIP-191 personal_sign signer of `text`, or None if the signature is not an EOA one."""
    if len(signature) != 65:
        return None
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception:  # noqa: BLE001 - any malformed (r, s, v) simply recovers nobody
        return None
