from __future__ import annotations

from app.schema import CamelStruct


class Register(CamelStruct):
    email: str
    password: str
    name: str | None = None


class Login(CamelStruct):
    email: str
    password: str


class UserOut(CamelStruct):
    id: str
    email: str | None
    name: str | None
    created_at: str


class ApiKeyCreate(CamelStruct):
    name: str


class ApiKeyOut(CamelStruct, omit_defaults=True):
    """`key` is present only in the create response: it is shown once."""

    id: str
    name: str
    prefix: str
    created_at: str
    key: str | None = None
