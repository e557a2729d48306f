"""The running service answers every operation of its OpenAPI document as the document says.

Schemathesis reads GET /schema/openapi.json from a live API process (with a real store and
a real worker, see `contract_service.py`) and sends, for every operation, the schema's
boundary cases (its coverage phase) and generated requests, valid and invalid, as an admin
with an API key. Each answer must be:
- not a server error (no 5xx),
- a status the operation documents, with the documented content type, headers and body,
- a 4xx when the request breaks the schema (negative data rejection),
- a 2xx when the request fits the schema, except where the document cannot say what is
  valid: an id that names nothing (404), a reference to another object or a connector's
  own settings in a body (400), a conflict (409), a login's wrong password (401).
Every operation that needs credentials answers 401, as documented, to a request without
them and to one with a token that is none.

The budget is fixed: one seed, derandomized, no shrinking, `CONTRACT_EXAMPLES` generated
requests per operation (10 by default, on top of the boundary cases).
A longer hunt: `CONTRACT_EXAMPLES=500 .venv/bin/python -m pytest -p no:cacheprovider
tests/api/test_contract.py`; `CONTRACT_SEED=<n>` explores other requests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from schemathesis import AuthContext
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.schemas import OpenApiSchema

from app.auth.tokens import issue_session_token
from app.settings import Settings
from tests.api.contract_service import (
    ContractService,
    OperationCase,
    SeededObjects,
    live_contract_service,
    seed,
)
from tests.webhooks.receiver import start_receiver

# The document does not depend on the store; the fuzzer runs against PostgreSQL, the store
# that refuses more (NUL characters in text, out-of-range numbers), once per suite run.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "10"))
SEED = int(os.environ.get("CONTRACT_SEED", "20260212"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]

# A request that fits the schema may still name an object that does not exist (404), or
# conflict with the state of one (409), or be throttled (429).
VALID_REQUEST_STATUSES = ["2xx", "404", "409", "429"]
# Operations whose bodies name other objects, or hold what each connector validates itself
# (credentials, settings, a schedule's config), or an address the network policy judges:
# the document says "an object", the service says which objects it accepts (400).
JUDGED_BY_THE_SERVICE = [
    "createDataSource",
    "updateDataSource",
    "testDataSource",
    "createSchedule",
    "updateSchedule",
    "previewSync",
    "createWebhook",
    "updateWebhook",
    "register",
    "createUser",
    "changePassword",
]
# Credentials the schema cannot know: a wrong password is 401, a guessing run 429.
LOGINS = ["login", "issueToken", "startBrowserSession"]
# The same for an OAuth client's id and secret (401 invalid_client); its grant_type is any
# text to the schema, and one other than client_credentials is 400 unsupported_grant_type.
CLIENT_TOKEN = "issueClientToken"


def contract_config(examples: int, seed: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            # Timed on a machine running the rest of the suite beside it, so not a signal.
            "suppress-health-check": ["too_slow"],
            "generation": {
                "mode": "all",
                "max-examples": examples,
                "deterministic": True,
                "no-shrink": True,
                "database": "none",
                # The service refuses NUL in any text of a body (PostgreSQL cannot store
                # it), a rule of the whole API rather than of each field's schema.
                "allow-x00": False,
                # Invalid requests keep the API key, so that they reach the parameters and
                # bodies they break instead of stopping at a 401 (the authentication runs
                # first); requests without valid credentials have a test of their own.
                "with-security-parameters": False,
            },
            "phases": {
                # Other methods on a path answer 405, which no document lists and no check
                # reads: the coverage phase need not send them.
                "coverage": {"unexpected-methods": []},
            },
            "checks": {
                "positive_data_acceptance": {"expected-statuses": VALID_REQUEST_STATUSES},
            },
            "operations": [
                # Each connection test runs in a process of its own, for its hard deadline.
                {"include-operation-id": "testDataSource", "generation": {"max-examples": 3}},
                {
                    "include-operation-id": JUDGED_BY_THE_SERVICE,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*VALID_REQUEST_STATUSES, "400"]
                        }
                    },
                },
                {
                    "include-operation-id": LOGINS,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*VALID_REQUEST_STATUSES, "401"]
                        }
                    },
                },
                {
                    "include-operation-id": CLIENT_TOKEN,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*VALID_REQUEST_STATUSES, "400", "401"]
                        }
                    },
                },
            ],
        }
    )


def _bearer(case: OperationCase, token: str) -> None:
    case.headers["Authorization"] = f"Bearer {token}"


def authenticate(schema: OpenApiSchema, settings: Settings, seeded: SeededObjects) -> None:
    """The admin's API key for every operation, but: logout ends a session token minted
    for it (login is fuzzed too, and its backoff for this address would refuse the
    suite's own logins), and changePassword changes a second account's password."""
    session_user = uuid.UUID(seeded.session_account.user_id)

    class SessionToken:
        def get(self, case: OperationCase, ctx: AuthContext) -> str:
            return issue_session_token(settings, session_user, 0)[0]

        def set(self, case: OperationCase, token: str, ctx: AuthContext) -> None:
            _bearer(case, token)

    class PasswordAccountKey:
        def get(self, case: OperationCase, ctx: AuthContext) -> str:
            return seeded.password_account.api_key

        def set(self, case: OperationCase, key: str, ctx: AuthContext) -> None:
            _bearer(case, key)

    class AdminKey:
        def get(self, case: OperationCase, ctx: AuthContext) -> str:
            return seeded.api_key

        def set(self, case: OperationCase, key: str, ctx: AuthContext) -> None:
            _bearer(case, key)

    # No caching and no retry on 401: a 401 is an answer to check, not a token to refresh.
    schema.auth.auth(refresh_interval=None, retry_on=[]).apply_to(operation_id="logout")(
        SessionToken
    )
    schema.auth.auth(refresh_interval=None, retry_on=[]).apply_to(operation_id="changePassword")(
        PasswordAccountKey
    )
    schema.auth.auth(refresh_interval=None, retry_on=[])(AdminKey)


@pytest.fixture(scope="module")
def contract_service(
    database_url: str, service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ContractService]:
    directory = tmp_path_factory.mktemp("contract")
    with live_contract_service(database_url, service_env, directory) as service:
        yield service


@pytest.fixture(scope="module")
def seeded(contract_service: ContractService) -> Iterator[SeededObjects]:
    receiver, server = start_receiver()
    yield seed(contract_service, receiver.url)
    server.shutdown()


@pytest.fixture(scope="module")
def contract_schema(contract_service: ContractService, seeded: SeededObjects) -> OpenApiSchema:
    schema = schemathesis.openapi.from_url(
        f"{contract_service.url}/schema/openapi.json", config=contract_config(EXAMPLES, SEED)
    )
    authenticate(schema, contract_service.settings, seeded)
    return schema


contract = schemathesis.pytest.from_fixture("contract_schema")


@pytest.fixture(autouse=True)
def operation_report_names(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4.32 names each operation's report by rewriting the private
    `Node._nodeid` of pytest before 9.2, which pytest 9.2 no longer has; without it the
    fuzzing test errors before sending a request."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def exchange(case: OperationCase, seeded: SeededObjects) -> None:
    seeded.aim(case)
    response = case.call(timeout=60)
    seeded.observe(case, response.status_code)
    case.validate_response(response, checks=CHECKS)


def test_every_protected_operation_refuses_missing_or_invalid_credentials_as_documented(
    contract_schema: OpenApiSchema, seeded: SeededObjects
) -> None:
    refused_otherwise: list[str] = []
    for result in contract_schema.get_all_operations():
        assert isinstance(result, Ok), result  # an operation the document fails to describe
        operation = result.ok()
        if operation.definition.raw.get("security") == []:
            continue  # public: login, registration, health
        path = {p.name: seeded.pristine.get(p.name, ["0"])[0] for p in operation.path_parameters}
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            case = operation.Case(path_parameters=path, headers=headers)
            response = case.call(timeout=60)
            try:
                assert response.status_code == 401, f"answered {response.status_code}"
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, FailureGroup) as failure:
                refused_otherwise.append(
                    f"{operation.label} with {headers or 'no header'}: {failure}"
                )
    assert not refused_otherwise, "\n".join(refused_otherwise)


@contract.exclude(method="DELETE").parametrize()
def test_every_operation_answers_as_documented(case: OperationCase, seeded: SeededObjects) -> None:
    exchange(case, seeded)


# Defined after the test above: pytest runs it after every other operation was fuzzed, so
# the seeded objects are deleted last.
@contract.include(method="DELETE").parametrize()
def test_deletes_answer_as_documented_after_every_other_operation(
    case: OperationCase, seeded: SeededObjects
) -> None:
    exchange(case, seeded)
