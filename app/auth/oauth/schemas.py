"""Bodies of the OAuth client routes (camelCase, like the rest of the API) and of the token
endpoint (RFC 6749's own snake_case names and error shape)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar.params import KwargDefinition
from msgspec import Meta, Struct

from app.auth.schemas import MAX_NAME, NOT_BLANK
from app.auth.scopes import Scope
from app.schema import CamelStruct

Scopes = Annotated[
    list[Scope],
    Meta(min_length=1, description="What the client's tokens may do; each scope counts once"),
]


class ClientCreate(CamelStruct):
    name: Annotated[
        str,
        KwargDefinition(
            min_length=1,
            max_length=MAX_NAME,
            pattern=NOT_BLANK,
            description="A label to tell clients apart, not only spaces",
        ),
    ]
    scopes: Scopes


class ClientOut(CamelStruct):
    client_id: Annotated[str, Meta(description="The `client_id` to send to POST /oauth/token")]
    name: str
    scopes: Annotated[list[Scope], Meta(description="The most a token of this client may hold")]
    created_at: str


class NewClientOut(ClientOut):
    client_secret: Annotated[
        str,
        Meta(description="The `client_secret` (`ds_secret_…`): shown only in this answer"),
    ]


class ClientCreated(CamelStruct):
    success: Literal[True]
    client: NewClientOut
    message: str


class ClientList(CamelStruct):
    success: Literal[True]
    clients: list[ClientOut]
    total_count: int


class TokenRequest(Struct):
    """RFC 6749 §4.4.2, form-encoded. The client authenticates with HTTP Basic
    (`client_id:client_secret`, each form-encoded first) or with `client_id` and
    `client_secret` here, not both."""

    grant_type: Annotated[
        str, Meta(max_length=100, description="`client_credentials`, the only grant served")
    ]
    scope: (
        Annotated[
            str,
            Meta(
                max_length=1000,
                description="Space-separated scopes the token should hold, a subset of the "
                "client's; all of them when absent",
            ),
        ]
        | None
    ) = None
    client_id: Annotated[str, Meta(max_length=100)] | None = None
    client_secret: Annotated[str, Meta(max_length=200)] | None = None


class TokenResponse(Struct):
    access_token: Annotated[str, Meta(description="Send it as `Authorization: Bearer <token>`")]
    token_type: Literal["Bearer"]
    expires_in: Annotated[int, Meta(description="Seconds until the token stops working")]
    scope: Annotated[str, Meta(description="The scopes the token holds, space-separated")]


OAuthErrorCode = Literal[
    "invalid_request", "invalid_client", "invalid_scope", "unsupported_grant_type"
]


class OAuthErrorBody(Struct):
    """The token endpoint's errors, as RFC 6749 §5.2 has them."""

    error: OAuthErrorCode
    error_description: str
