"""Bodies of `/api/auth`. Every string has a length bound, checked before any work (a
megabyte password is refused before it is hashed); the same bounds hold on every store.

Where a rule is msgspec's (`Meta`) it is enforced while decoding. Where the account rules
check several fields at once and name each problem (`accounts.email_problem`,
`accounts.password_problem`), the annotation only documents the same limits
(`KwargDefinition`), from the same constants.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar.params import KwargDefinition
from msgspec import Meta

from app.auth.accounts import EMAIL_PATTERN, MAX_EMAIL, MAX_PASSWORD, MIN_PASSWORD
from app.auth.scopes import Scope
from app.schema import CamelStruct

MAX_NAME = 200
# A name must have something besides spaces; the server applies this same pattern.
NOT_BLANK = r"\S"

Email = Annotated[str, Meta(max_length=MAX_EMAIL)]
Password = Annotated[str, Meta(max_length=MAX_PASSWORD)]
NewEmail = Annotated[
    str,
    KwargDefinition(
        max_length=MAX_EMAIL,
        pattern=EMAIL_PATTERN,
        description="An email address like name@example.com; stored in lower case",
    ),
]
NewPassword = Annotated[
    str,
    KwargDefinition(
        min_length=MIN_PASSWORD,
        max_length=MAX_PASSWORD,
        description=f"At least {MIN_PASSWORD} characters and hard to guess: common passwords, "
        "repeats, sequences and keyboard walks are refused (a passphrase of uncommon words "
        "passes)",
    ),
]
Token = Annotated[str, Meta(description="Send it as `Authorization: Bearer <token>`")]
Expiry = Annotated[str, Meta(description="When the token stops working (ISO 8601 UTC)")]


class Register(CamelStruct):
    email: NewEmail
    password: NewPassword
    name: Annotated[str, Meta(max_length=MAX_NAME, description="Shown in the dashboard")] | None = (
        None
    )


class Login(CamelStruct):
    email: Email
    password: Password


class PasswordChange(CamelStruct):
    current_password: Password
    new_password: NewPassword


class ApiKeyCreate(CamelStruct):
    name: Annotated[
        str,
        KwargDefinition(
            min_length=1,
            max_length=MAX_NAME,
            pattern=NOT_BLANK,
            description="A label to tell keys apart, not only spaces",
        ),
    ]
    scopes: (
        Annotated[
            list[Scope],
            Meta(
                min_length=1,
                description="Limit the key to these scopes, as an OAuth client's tokens are; "
                "without them the key has full access",
            ),
        ]
        | None
    ) = None


class UserOut(CamelStruct):
    id: str
    email: str | None
    name: str | None
    created_at: str
    is_admin: Annotated[
        bool, Meta(description="The admin creates accounts when registration is closed")
    ]


class ApiKeyOut(CamelStruct):
    id: str
    name: str
    prefix: Annotated[str, Meta(description="The key's first characters, to recognise it")]
    created_at: str
    last_used_at: Annotated[
        str | None, Meta(description="Recorded at most once a minute; null if never used")
    ]
    scopes: Annotated[
        list[Scope] | None, Meta(description="The scopes the key is limited to; null: full access")
    ]


class NewApiKeyOut(ApiKeyOut):
    key: Annotated[
        str, Meta(description="The key (`ds_live_…`): shown only in this answer, stored as a hash")
    ]


class AccountCreated(CamelStruct):
    success: Literal[True]
    user: UserOut
    message: str


class SessionToken(CamelStruct):
    success: Literal[True]
    token: Token
    expiry: Expiry


class IssuedToken(SessionToken):
    """A session token with OAuth2-style fields too, for generic clients."""

    access_token: Token = msgspec.field(name="access_token")
    token_type: Literal["bearer"] = msgspec.field(name="token_type")


class BrowserSession(CamelStruct):
    """The session token itself is in the HttpOnly cookie, not here."""

    success: Literal[True]
    user: UserOut
    expiry: Expiry


class PasswordChanged(CamelStruct):
    success: Literal[True]
    message: str
    expiry: Expiry
    token: Annotated[
        str | msgspec.UnsetType,
        Meta(description="The caller's new session token; a browser session gets a cookie instead"),
    ] = msgspec.UNSET


class CurrentUser(CamelStruct):
    success: Literal[True]
    user: UserOut


class ApiKeyCreated(CamelStruct):
    success: Literal[True]
    api_key: NewApiKeyOut
    message: str


class ApiKeyList(CamelStruct):
    success: Literal[True]
    api_keys: list[ApiKeyOut]
    total_count: int
