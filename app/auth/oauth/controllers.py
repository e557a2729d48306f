"""`/api/auth/clients` (a user's OAuth clients) and `POST /oauth/token` (their tokens)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, JSONBody
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
from app.auth.oauth import clients, grant
from app.auth.oauth.grant import OAuthError
from app.auth.oauth.schemas import (
    ClientCreate,
    ClientCreated,
    ClientList,
    ClientOut,
    NewClientOut,
    OAuthErrorBody,
    TokenRequest,
    TokenResponse,
)
from app.auth.scopes import FULL_ACCESS, Scope
from app.db.models import ApiClient
from app.openapi import error_response
from app.schema import Done
from app.settings import Settings
from app.tenancy import owned_by_caller
from app.time_text import isoformat

FORM = RequestEncodingType.URL_ENCODED.value
# RFC 6749 §5.1: neither a token nor an error about credentials may be cached.
_NO_STORE = {"Cache-Control": "no-store"}


def client_out(client: ApiClient) -> ClientOut:
    return ClientOut(
        client_id=str(client.id),
        name=client.name,
        scopes=[Scope(s) for s in client.scopes],
        created_at=isoformat(client.created_at) or "",
    )


class ClientController(Controller):
    path = "/api/auth/clients"
    tags = ["Authentication"]
    dependencies = {"oauth_client": owned_by_caller(ApiClient, "OAuth client", "client_id")}

    @post("/", operation_id="createClient", status_code=200, opt={"scope": FULL_ACCESS})
    async def create_client(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[ClientCreate],
        db_session: NamedDependency[AsyncSession],
    ) -> ClientCreated:
        """A client for the client credentials grant: its secret is in this answer only."""
        client, secret = await clients.create_client(
            db_session, request.user.user_id, data.name, data.scopes
        )
        return ClientCreated(
            success=True,
            client=NewClientOut(**msgspec.structs.asdict(client_out(client)), client_secret=secret),
            message="OAuth client created: copy its secret now, it is not shown again",
        )

    @get("/", operation_id="listClients", opt={"scope": FULL_ACCESS})
    async def list_clients(
        self, request: Request[Principal, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> ClientList:
        found = await clients.clients(db_session, request.user.user_id)
        return ClientList(
            success=True, clients=[client_out(c) for c in found], total_count=len(found)
        )

    @delete(
        "/{client_id:str}", operation_id="deleteClient", status_code=200, opt={"scope": FULL_ACCESS}
    )
    async def delete_client(
        self, oauth_client: NamedDependency[ApiClient], db_session: NamedDependency[AsyncSession]
    ) -> Done:
        await clients.delete_client(db_session, oauth_client)
        return Done(success=True, message="OAuth client deleted: its tokens no longer work")


def _oauth_error(request: Request[Any, Any, Any], exc: OAuthError) -> Response[OAuthErrorBody]:
    return Response(
        OAuthErrorBody(error=exc.error, error_description=exc.description),
        status_code=exc.status,
        headers={**_NO_STORE, **exc.headers},
    )


def _malformed(request: Request[Any, Any, Any], exc: HTTPException) -> Response[OAuthErrorBody]:
    """Litestar's 400s (a required parameter missing, one sent twice or too long) in the
    token endpoint's own error shape."""
    problems = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict) and item.get("message"):
            key = str(item.get("key") or "")
            named = f"{key}: " if key and key != "data" else ""
            problems.append(f"{named}{item['message']}")
    return _oauth_error(
        request,
        OAuthError(
            "invalid_request",
            f"Malformed token request ({'; '.join(problems) or exc.detail}): send "
            "grant_type=client_credentials, each parameter once",
        ),
    )


async def _require_form(request: Request[Any, Any, Any]) -> None:
    """Instead of the app's JSON screening: this one route reads a form (§4.4.2)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        sent = f", not {media}" if media else ""
        raise OAuthError(
            "invalid_request", f"Send the token request form-encoded (Content-Type: {FORM}){sent}"
        )


def _oauth_error_response(description: str, example: OAuthErrorBody) -> ResponseSpec:
    return ResponseSpec(
        data_container=OAuthErrorBody,
        description=description,
        generate_examples=False,
        examples=[Example(summary=description, value=msgspec.to_builtins(example))],
    )


class TokenController(Controller):
    path = "/oauth"
    tags = ["Authentication"]

    @post(
        "/token",
        operation_id="issueClientToken",
        summary="Get an access token for an OAuth client",
        description="The client credentials grant (RFC 6749 §4.4), form-encoded. The client "
        "authenticates with HTTP Basic (`client_id:client_secret`, each form-encoded first) or "
        "with `client_id` and `client_secret` in the body, not both. The token lasts "
        "`expires_in` seconds (at most an hour): get a new one then. Deleting the client ends "
        "its tokens at once.",
        exclude_from_auth=True,
        status_code=200,
        before_request=_require_form,
        exception_handlers={OAuthError: _oauth_error, 400: _malformed},
        response_headers=[
            ResponseHeader(
                name="Cache-Control",
                value="no-store",
                description="A token is never to be cached (RFC 6749 §5.1)",
            )
        ],
        responses={
            400: _oauth_error_response(
                "invalid_request (a parameter missing or sent twice, credentials sent two "
                "ways, not form-encoded), unsupported_grant_type, or invalid_scope (a scope "
                "unknown or not granted to the client)",
                OAuthErrorBody(
                    error="invalid_scope",
                    error_description="This client was not granted webhooks:write; "
                    "it may ask for schedules:read, sync:run",
                ),
            ),
            401: _oauth_error_response(
                "invalid_client: unknown client, wrong secret, deleted client, or no client "
                "authentication (`WWW-Authenticate: Basic` when HTTP Basic was used)",
                OAuthErrorBody(
                    error="invalid_client",
                    error_description="Client authentication failed: unknown client, wrong "
                    "secret, or a deleted client",
                ),
            ),
            429: error_response(
                "Too many failed client authentications for this client or from this "
                "address, or too many requests this minute: wait `Retry-After` seconds",
                title="Too Many Requests",
                example="Too many failed client authentications: try again in 8 s",
            ),
        },
    )
    async def token(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[TokenRequest, Body(media_type=RequestEncodingType.URL_ENCODED)],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
    ) -> TokenResponse:
        return await grant.issue_token(
            db_session,
            app_settings,
            redis,
            data,
            request.headers.get("authorization", ""),
            request.client.host if request.client else "unknown",
        )
