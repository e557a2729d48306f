"""Bodies of `/api/auth`. Every string has a length bound, checked before any work (a
megabyte password is refused before it is hashed); the same bounds hold on every store."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from app.schema import CamelStruct

Email = Annotated[str, Meta(max_length=320)]
Password = Annotated[str, Meta(max_length=1024)]
Name = Annotated[str, Meta(max_length=200)]


class Register(CamelStruct):
    email: Email
    password: Password
    name: Name | None = None


class Login(CamelStruct):
    email: Email
    password: Password


class PasswordChange(CamelStruct):
    current_password: Password
    new_password: Password


class UserOut(CamelStruct):
    id: str
    email: str | None
    name: str | None
    created_at: str
    is_admin: bool = False


class ApiKeyCreate(CamelStruct):
    name: Name


class ApiKeyOut(CamelStruct, omit_defaults=True):
    """`key` is present only in the create response: it is shown once."""

    id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None
    key: str | None = None
