"""ODBC connection strings: quoting, parsing, and keeping secrets out of messages.

ODBC separates `KEY=value` pairs with `;`. A value containing `;`, `{`, `}`, `=` or
edge spaces must be wrapped in braces, and a `}` inside braces is doubled
(`pa}ss` -> `{pa}}ss}`). Getting this wrong does not fail loudly: a password such as
`a;Encrypt=no` would silently switch off encryption.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_NEEDS_BRACES = frozenset(";{}=")


def quote_value(value: str) -> str:
    """A value as it may stand after `KEY=` in a connection string."""
    if value and not any(c in _NEEDS_BRACES for c in value) and value == value.strip():
        return value
    return "{" + value.replace("}", "}}") + "}"


def build(pairs: Mapping[str, str | None]) -> str:
    """`KEY=value;...` from pairs in order; None values are left out. Secrets are always
    braced so that their characters can never be read as syntax."""
    parts = []
    for key, value in pairs.items():
        if value is None:
            continue
        is_secret = key.upper() == "PWD"
        quoted = "{" + value.replace("}", "}}") + "}" if is_secret else quote_value(value)
        parts.append(f"{key}={quoted}")
    return ";".join(parts)


def parse(text: str) -> dict[str, str]:
    """Pairs of a connection string, braces unquoted; keys keep their spelling."""
    pairs: dict[str, str] = {}
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
            pairs[key] = value
    return pairs


def get(pairs: Mapping[str, str], key: str) -> str | None:
    """A value by case-insensitive key, as ODBC drivers read keys."""
    wanted = key.lower()
    return next((v for k, v in pairs.items() if k.lower() == wanted), None)


def with_values(pairs: Mapping[str, str], updates: Mapping[str, str | None]) -> dict[str, str]:
    """Pairs with `updates` set (replacing any spelling of the same key)."""
    lowered = {k.lower() for k in updates}
    merged = {k: v for k, v in pairs.items() if k.lower() not in lowered}
    merged.update({k: v for k, v in updates.items() if v is not None})
    return merged


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
