"""ODBC connection strings: quoting, parsing, and keeping secrets out of messages.

ODBC separates `KEY=value` pairs with `;`. A value containing `;`, `{`, `}`, `=` or
edge spaces must be wrapped in braces, and a `}` inside braces is doubled
(`pa}ss` -> `{pa}}ss}`). Getting this wrong does not fail loudly: a password such as
`a;Encrypt=no` would silently switch off encryption.

Drivers do not all read braces alike (measured): Microsoft's driver follows the rule above;
FreeTDS 1.3 ends a braced value at the first `};`, so `u};DUMPFILE=/x;X={` typed as a user
name smuggles in a keyword; psqlODBC keeps braces as part of the database and user name.
The connectors refuse the characters their driver cannot take (see `needs_braces`).

Control characters (CR, LF, NUL...) never reach a driver: `build` refuses them. FreeTDS
writes the connection's values into its dump file line by line, and a line break in a user
name wrote attacker-chosen lines into any file the service could write.

A tenant's own connection string is read with `allowed_keywords`: only keywords its source
type lists pass, under one canonical spelling each; the connector then writes the whole
string itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_NEEDS_BRACES = frozenset(";{}=")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9_ ]*")

CONTROL_CHARACTERS = "must not contain line breaks, NUL or other control characters"


def has_control_character(value: str) -> bool:
    return _CONTROL.search(value) is not None


def needs_braces(value: str) -> bool:
    return bool(value) and (any(c in _NEEDS_BRACES for c in value) or value != value.strip())


def quote_value(value: str) -> str:
    """A value as it may stand after `KEY=` in a connection string."""
    if value and not needs_braces(value):
        return value
    return "{" + value.replace("}", "}}") + "}"


def build(pairs: Mapping[str, str | None]) -> str:
    """`KEY=value;...` from pairs in order; None values are left out. Secrets are always
    braced so that their characters can never be read as syntax. ValueError for a control
    character anywhere or a key that is not a plain keyword (the last line of defence: the
    connectors refuse both, naming the field, before building)."""
    parts = []
    for key, value in pairs.items():
        if value is None:
            continue
        if not _KEYWORD.fullmatch(key):
            raise ValueError(f"{key!r} is not a connection-string keyword")
        if has_control_character(value):
            raise ValueError(f"the value of {key} {CONTROL_CHARACTERS}")
        is_secret = key.upper() == "PWD"
        quoted = "{" + value.replace("}", "}}") + "}" if is_secret else quote_value(value)
        parts.append(f"{key}={quoted}")
    return ";".join(parts)


def parse(text: str) -> dict[str, str]:
    """Pairs of a connection string, braces unquoted; keys keep their spelling (the last
    of a repeated spelling wins)."""
    return dict(_pairs(text))


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    at, size = 0, len(text)
    while at < size:
        equals = text.find("=", at)
        if equals < 0:
            if text[at:].strip():
                raise ValueError("connection string has a part without '='")
            break
        key = text[at:equals].strip()
        at = equals + 1
        if at < size and text[at] == "{":
            value_chars = []
            at += 1
            while True:
                if at >= size:
                    raise ValueError(f"connection string value of {key!r} has no closing '}}'")
                if text[at] == "}":
                    if at + 1 < size and text[at + 1] == "}":
                        value_chars.append("}")
                        at += 2
                        continue
                    at += 1
                    break
                value_chars.append(text[at])
                at += 1
            value = "".join(value_chars)
            semicolon = text.find(";", at)
            at = size if semicolon < 0 else semicolon + 1
        else:
            semicolon = text.find(";", at)
            end = size if semicolon < 0 else semicolon
            value = text[at:end].strip()
            at = end + 1
        if key:
            pairs.append((key, value))
    return pairs


def allowed_keywords(text: str, allowed: Mapping[str, str]) -> dict[str, str]:
    """The pairs of a tenant's connection string under their canonical keyword, when every
    keyword is in `allowed` (lower-case spelling -> canonical keyword). ValueError naming
    the first keyword that is not, or that is given twice (in any spelling)."""
    found: dict[str, str] = {}
    for key, value in _pairs(text):
        canonical = allowed.get(key.lower())
        if canonical is None:
            listed = ", ".join(sorted(set(allowed.values()), key=str.lower))
            hint = " (the driver is chosen with settings.driver)" if key.upper() == "DRIVER" else ""
            shown = key if len(key) <= 40 else key[:40] + "..."
            raise ValueError(f"keyword {shown!r} is not allowed{hint}; allowed: {listed}")
        if canonical in found:
            raise ValueError(f"keyword {canonical!r} is given more than once")
        found[canonical] = value
    return found


def tenant_pairs(
    given: object, allowed: Mapping[str, str]
) -> tuple[dict[str, str] | None, str | None]:
    """A tenant's connection string as its allowlisted pairs, each value free of control
    characters and SERVER, UID and PWD present; or None and why not."""
    if not isinstance(given, str) or not given.strip():
        return None, "must be a non-empty string"
    try:
        pairs = allowed_keywords(given, allowed)
    except ValueError as exc:
        return None, str(exc)
    for keyword, value in pairs.items():
        if has_control_character(value):
            return None, f"the value of {keyword} {CONTROL_CHARACTERS}"
    for keyword in ("SERVER", "UID", "PWD"):
        if not pairs.get(keyword):
            return None, f"must contain {keyword}="
    return pairs, None


def get(pairs: Mapping[str, str], key: str) -> str | None:
    """A value by case-insensitive key, as ODBC drivers read keys."""
    wanted = key.lower()
    return next((v for k, v in pairs.items() if k.lower() == wanted), None)


# `PWD=...` / `Password=...` inside a connection-string fragment, braced (with `}}`
# escapes) or plain up to the next `;`: whatever the value, it is a password.
_PASSWORD_VALUE = re.compile(
    r"(?P<key>\b(?:PWD|Password)\s*=\s*)(?P<value>\{(?:[^}]|\}\})*\}?|[^;\r\n]*)",
    re.IGNORECASE,
)


def _whole_occurrence(spelling: str) -> re.Pattern[str]:
    """`spelling` where it stands whole: not glued to letters or digits on an edge that is
    itself a letter or digit. So password `x` goes in `PWD=x;`, `'x'` or `user x:` but
    leaves the word "exist" alone, while `;x;` goes even in `a;x;b`."""
    before = r"(?<!\w)" if re.match(r"\w", spelling[0]) else ""
    after = r"(?!\w)" if re.match(r"\w", spelling[-1]) else ""
    return re.compile(before + re.escape(spelling) + after)


def scrub(message: str, secrets: Iterable[str | None]) -> str:
    """`message` with every password value and every whole occurrence of a secret (as
    is, `}}`-escaped, braced or quoted) replaced by ***.

    Drivers sometimes echo the connection string back in a diagnostic; the password must
    not reach a run's error, a log line or the history. Only whole occurrences are
    replaced, so a one-letter password does not turn "exist" into "e***ist"."""
    message = _PASSWORD_VALUE.sub(lambda m: m.group("key") + "***", message)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        escaped = secret.replace("}", "}}")
        spellings = {
            "{" + escaped + "}",
            quote_value(secret),
            f"'{secret}'",
            f'"{secret}"',
            escaped,
            secret,
        }
        for spelling in sorted(spellings, key=len, reverse=True):
            message = _whole_occurrence(spelling).sub("***", message)
    return message
