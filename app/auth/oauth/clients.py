"""A user's OAuth clients: created with the scopes they may ask for, listed, deleted, and
recognised by their id and secret at the token endpoint."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.scopes import Scope, granted
from app.auth.secrets import hash_client_secret, new_client_secret
from app.auth.service import checked_name
from app.db.models import ApiClient


async def create_client(
    db: AsyncSession, user_id: uuid.UUID, name: str, scopes: Sequence[Scope]
) -> tuple[ApiClient, str]:
    """The stored client and its secret, which only its hash keeps afterwards."""
    secret = new_client_secret()
    client = ApiClient(
        user_id=user_id,
        name=checked_name(name, "client"),
        secret_hash=hash_client_secret(secret),
        scopes=granted(scopes),
    )
    db.add(client)
    await db.flush()
    return client, secret


async def clients(db: AsyncSession, user_id: uuid.UUID) -> Sequence[ApiClient]:
    """The user's clients, oldest first."""
    query = select(ApiClient).where(ApiClient.user_id == user_id).order_by(ApiClient.created_at)
    return (await db.scalars(query)).all()


async def delete_client(db: AsyncSession, client: ApiClient) -> None:
    await db.delete(client)


async def authenticated_client(db: AsyncSession, client_id: str, secret: str) -> ApiClient | None:
    """The client with this id and secret, else None (unknown id and wrong secret alike)."""
    try:
        key = uuid.UUID(client_id)
    except ValueError:
        return None
    client = await db.get(ApiClient, key)
    offered = hash_client_secret(secret)
    if client is None or not hmac.compare_digest(offered, client.secret_hash):
        return None
    return client
