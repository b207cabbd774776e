"""The route registry: each route declares its models, auth and limits once; both request
validation and the OpenAPI 3.1 document are built from that declaration.

    api = RouteRegistry()

    @api.route("POST", "/device/v1/journal", body=JournalBatch, response=UploadResult,
               auth=Auth.DEVICE, summary="Upload a journal batch", tag="device")
    async def upload(call: Call) -> UploadResult:
        batch = call.body_as(JournalBatch)
        ...

`mount(app, guards)` adds every route to an aiohttp app. For each request the wrapper: refuses a
body over the route's limit (413), authenticates through the guard of the route's `auth`
(whose answer, e.g. the device id, becomes `call.subject`), decodes and validates query and
body with msgspec (400 for malformed JSON, 422 for a body or query that breaks the model, with
msgspec's message naming the field), calls the handler and encodes its Struct as JSON.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from faregate.api.error_table import ProblemType, Table, problem_type
from faregate.api.errors import Problem
from faregate.api.problems import PROBLEM_JSON, ProblemDocument
from ticketing.users import ApiUser

T = TypeVar("T")
DEFAULT_MAX_BODY = 64 * 1024
JSON = "application/json"
_REF = "#/components/schemas/{name}"


class Auth(enum.Enum):
    """Who may call a route. DEVICE: a device's signed request. PASSENGER, OPERATOR, FINANCE,
    INSPECTOR: a bearer token of a user with that role (anyone else signed in gets 403);
    SIGNED_IN: a bearer token of any role. Passenger routes also count against the
    passenger's rate limit.
    """

    NONE = "none"
    DEVICE = "device"
    PASSENGER = "passenger"
    OPERATOR = "operator"
    FINANCE = "finance"
    INSPECTOR = "inspector"
    SIGNED_IN = "signed-in"

    @property
    def bearer(self) -> bool:
        return self in BEARER_AUTHS


BEARER_AUTHS = frozenset(
    {Auth.PASSENGER, Auth.OPERATOR, Auth.FINANCE, Auth.INSPECTOR, Auth.SIGNED_IN}
)


@dataclass(frozen=True, slots=True)
class Call:
    """One request as a handler sees it: validated body and query, and who made it."""

    request: web.Request
    raw_body: bytes
    body: object | None
    query: object | None
    subject: str | None
    principal: ApiUser | None = None

    @property
    def app(self) -> web.Application:
        return self.request.app

    def body_as(self, model: type[T]) -> T:
        if not isinstance(self.body, model):
            raise TypeError(f"route body is {type(self.body).__name__}, not {model.__name__}")
        return self.body

    def query_as(self, model: type[T]) -> T:
        if not isinstance(self.query, model):
            raise TypeError(f"route query is {type(self.query).__name__}, not {model.__name__}")
        return self.query

    @property
    def user(self) -> ApiUser:
        """The signed-in user of a route with bearer auth (`Auth.PASSENGER` etc.)."""
        if self.principal is None:
            raise TypeError("route has no signed-in user")
        return self.principal

    def require_subject(self) -> str:
        if self.subject is None:
            raise TypeError("route has no authenticated subject")
        return self.subject


Reply = msgspec.Struct | web.StreamResponse
RouteHandler = Callable[[Call], Awaitable[Reply]]
# Authenticates a request (with its raw body) and returns who made it: a device id or a signed-in
# user; raises Problem (401, 403, 429).
Guard = Callable[[web.Request, bytes], Awaitable[str | ApiUser]]
DeviceGuard = Callable[[web.Request, bytes], Awaitable[str]]

_ERROR_DESCRIPTIONS = {
    400: "Malformed JSON or query",
    401: "Missing or invalid credentials (device signature or bearer token)",
    403: "Authenticated, but not allowed to do this",
    404: "No such resource",
    409: "Conflicts with the server's state",
    413: "Request body over the route's limit",
    415: "Body of another media type than the route reads",
    422: "Body or query breaks the schema",
    429: "Rate limit exceeded; see Retry-After",
    503: "A backing service is unreachable",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    method: str
    path: str
    handler: RouteHandler
    operation_id: str
    summary: str
    tag: str
    auth: Auth = Auth.NONE
    body: type[msgspec.Struct] | None = None
    # Content type of a body passed to the handler undecoded (e.g. a signed webhook).
    raw_body: str | None = None
    query: type[msgspec.Struct] | None = None
    response: type[msgspec.Struct] | None = None
    # For routes that answer something other than a JSON Struct (e.g. Prometheus text).
    response_content_type: str | tuple[str, ...] | None = None
    # The schema of such an answer (default: a string, as for text or a file).
    response_schema: Mapping[str, Any] | None = None
    errors: frozenset[int] = frozenset()
    parameters: Sequence[Mapping[str, Any]] = ()
    max_body: int = DEFAULT_MAX_BODY
    # This route's answers to domain errors where they differ from the error table's.
    problems: Table = field(default_factory=dict)
    status: int = 200  # the answer's status when all is well (202: accepted, to follow)

    def statuses(self) -> list[int]:
        found = set(self.errors) | {kind.status for kind in self.problems.values()}
        if self.body is not None or self.raw_body is not None:
            found |= {400, 413, 415, 422}
        if self.query is not None:
            found |= {400, 422}
        if self.auth is Auth.DEVICE:
            found |= {401, 429}
        if self.auth.bearer:
            found |= {401, 403}
        if self.auth is Auth.PASSENGER:
            found |= {429}
        return sorted(found)


@dataclass
class RouteRegistry:
    routes: list[Route] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        auth: Auth = Auth.NONE,
        body: type[msgspec.Struct] | None = None,
        raw_body: str | None = None,
        query: type[msgspec.Struct] | None = None,
        response: type[msgspec.Struct] | None = None,
        response_content_type: str | tuple[str, ...] | None = None,
        response_schema: Mapping[str, Any] | None = None,
        errors: Iterable[int] = (),
        parameters: Sequence[Mapping[str, Any]] = (),
        max_body: int = DEFAULT_MAX_BODY,
        problems: Mapping[type[BaseException], ProblemType] | None = None,
        status: int = 200,
    ) -> Callable[[RouteHandler], RouteHandler]:
        def register(handler: RouteHandler) -> RouteHandler:
            self.routes.append(
                Route(
                    method=method,
                    path=path,
                    handler=handler,
                    operation_id=handler.__name__,
                    summary=summary,
                    tag=tag,
                    auth=auth,
                    body=body,
                    raw_body=raw_body,
                    query=query,
                    response=response,
                    response_content_type=response_content_type,
                    response_schema=response_schema,
                    errors=frozenset(errors),
                    parameters=parameters,
                    max_body=max_body,
                    problems=dict(problems or {}),
                    status=status,
                )
            )
            return handler

        return register

    def extend(self, other: RouteRegistry) -> None:
        self.routes.extend(other.routes)

    @property
    def max_body(self) -> int:
        return max((route.max_body for route in self.routes), default=DEFAULT_MAX_BODY)

    def mount(self, app: web.Application, guards: Mapping[Auth, Guard]) -> None:
        for route in self.routes:
            guard = guards.get(route.auth)
            if route.auth is not Auth.NONE and guard is None:
                raise LookupError(f"no guard for {route.auth} on {route.method} {route.path}")
            app.router.add_route(route.method, route.path, _endpoint(route, guard))

    def openapi(
        self,
        *,
        title: str,
        version: str,
        description: str,
        examples: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        return build_openapi(
            self.routes, title=title, version=version, description=description,
            examples=examples or {},
        )  # fmt: skip


def too_large(limit: int) -> Problem:
    # Connection: close: the rest of the body is not read, so the connection cannot be reused.
    return Problem(
        413, None, "Content Too Large", f"request body over the {limit}-byte limit",
        headers={"Connection": "close"},
    )  # fmt: skip


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The body, refused (413) once over `limit`: by its Content-Length before reading any,
    and a chunked one as soon as it has gone past the limit (not after buffering it all)."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    body = bytearray()
    try:
        async for chunk in request.content.iter_any():
            body += chunk
            if len(body) > limit:
                raise too_large(limit)
    except ConnectionResetError:
        # The client's link dropped part-way through the body: nothing to act on and nobody
        # to answer, but no server error either (a device's cut upload; it sends it again).
        raise Problem(
            400, None, "Bad Request", "the connection was lost before the body's end",
            headers={"Connection": "close"},
        ) from None  # fmt: skip
    return bytes(body)


def _check_content_type(request: web.Request, expected: str) -> None:
    """A body of another media type than the route reads is refused (415), so a form or a
    text/plain post (which a browser sends cross-site without asking) is never read as JSON.
    A request without Content-Type (no browser sends a body without one) is read."""
    if hdrs.CONTENT_TYPE not in request.headers:
        return
    sent = request.content_type
    json_like = expected == JSON and sent.startswith("application/") and sent.endswith("+json")
    if sent != expected and not json_like:
        raise Problem(
            415, "unsupported-media-type", "Unsupported Media Type",
            f"this route reads {expected}, not {sent[:60]}",
        )  # fmt: skip


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads' object hook: a ValueError naming a key given twice (msgspec keeps the last).
    dict() first and the names only when lengths differ: a journal's 10,000 records cost
    about half their typed decoding this way, against twice that with a loop per key."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(key)
            seen.add(key)
    return found


def _validation_problem(what: str, error: msgspec.ValidationError) -> Problem:
    return Problem(422, "validation", f"Invalid {what}", str(error))


def _decode_query(request: web.Request, model: type[msgspec.Struct]) -> msgspec.Struct:
    try:
        return msgspec.convert(dict(request.query), model, strict=False)
    except msgspec.ValidationError as error:
        raise _validation_problem("query", error) from error


def _decode_body(raw: bytes, model: type[msgspec.Struct]) -> msgspec.Struct:
    try:
        decoded = msgspec.json.decode(raw, type=model)
    except msgspec.ValidationError as error:
        raise _validation_problem("body", error) from error
    except msgspec.DecodeError as error:
        raise Problem(400, "malformed-json", "Malformed JSON", str(error)) from error
    # msgspec keeps the last of two equal keys, so a record could carry two device ids and be
    # read as the one a check did not see; the standard parser finds them (it has a hook).
    try:
        json.loads(raw, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError:
        pass  # msgspec read it: whatever the standard parser minds, it is not a duplicate
    except ValueError as duplicate:
        raise Problem(
            400, "duplicate-key", "Duplicate key",
            f"a JSON object names {str(duplicate)[:60]!r} twice",
        ) from None  # fmt: skip
    return decoded


async def _handle(route: Route, call: Call) -> Reply:
    """The handler's reply; a domain error the route answers its own way, as that problem
    (every other error goes on to the problems middleware and the error table)."""
    if not route.problems:
        return await route.handler(call)
    try:
        return await route.handler(call)
    except Exception as error:
        found = problem_type(error, route.problems)
        if found is None or isinstance(error, Problem):
            raise
        raise found.problem(error) from error


def _endpoint(route: Route, guard: Guard | None) -> Handler:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        if route.body is not None or route.raw_body is not None:
            _check_content_type(request, route.raw_body or JSON)
        raw = await _read_body(request, route.max_body)
        who = await guard(request, raw) if guard is not None else None
        user = who if isinstance(who, ApiUser) else None
        subject = who.username if isinstance(who, ApiUser) else who
        query = _decode_query(request, route.query) if route.query is not None else None
        body = _decode_body(raw, route.body) if route.body is not None else None
        reply = await _handle(route, Call(request, raw, body, query, subject, user))
        if isinstance(reply, web.StreamResponse):
            return reply
        if route.response is None or not isinstance(reply, route.response):
            raise TypeError(f"{route.operation_id} answered {type(reply).__name__}")
        return web.Response(
            body=msgspec.json.encode(reply), content_type="application/json", status=route.status
        )

    return endpoint


# --- OpenAPI ----------------------------------------------------------------------------------


# Statuses a route may answer with no body (declared in its `errors` like the others).
_EMPTY_ANSWERS = {
    204: "Nothing new: the client is up to date",
    304: "Not modified since the ETag given",
}


def _ref(model: type[msgspec.Struct]) -> dict[str, str]:
    return {"$ref": _REF.format(name=model.__name__)}


def _query_parameters(
    model: type[msgspec.Struct], components: Mapping[str, Any]
) -> list[dict[str, Any]]:
    schema = components[model.__name__]
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _operation(
    route: Route, components: Mapping[str, Any], example: Mapping[str, Any]
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
    }
    parameters = list(route.parameters)
    if route.query is not None:
        parameters += _query_parameters(route.query, components)
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        body: dict[str, Any] = {"schema": _ref(route.body)}
        if "request" in example:
            body["example"] = example["request"]
        operation["requestBody"] = {"required": True, "content": {"application/json": body}}
    elif route.raw_body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {route.raw_body: {"schema": {"type": "string"}}},
        }
    ok: dict[str, Any] = {"description": "OK" if route.status == 200 else "Accepted"}
    if route.response is not None:
        answer: dict[str, Any] = {"schema": _ref(route.response)}
        if "response" in example:
            answer["example"] = example["response"]
        ok["content"] = {"application/json": answer}
    elif route.response_content_type is not None:
        types = route.response_content_type
        schema = dict(route.response_schema or {"type": "string"})
        ok["content"] = {
            kind: {"schema": schema} for kind in ((types,) if isinstance(types, str) else types)
        }
    responses: dict[str, Any] = {str(route.status): ok}
    for status in route.statuses():
        if status in _EMPTY_ANSWERS:
            responses[str(status)] = {"description": _EMPTY_ANSWERS[status]}
            continue
        responses[str(status)] = {
            "description": _ERROR_DESCRIPTIONS.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": _ref(ProblemDocument)}},
        }
    operation["responses"] = responses
    if route.auth is Auth.DEVICE:
        operation["security"] = [{"deviceSignature": []}]
    elif route.auth.bearer:
        operation["security"] = [{"bearerToken": []}]
        role = "any role" if route.auth is Auth.SIGNED_IN else f"role {route.auth.value}"
        operation["description"] = f"Bearer token of a user with {role}."
    return operation


DEVICE_SIGNATURE_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-Faregate-Signature",
    "description": (
        "FG-HMAC-SHA256: the lowercase hex HMAC-SHA256, keyed with the device's own secret "
        "(hex-decoded, as POST /device/v1/enrol gave it), of the string to sign "
        '"FG-HMAC-SHA256\\n" device_id "\\n" METHOD "\\n" path-with-query "\\n" timestamp '
        '"\\n" nonce "\\n" hex(SHA-256(body)), sent with the headers X-Faregate-Device (the '
        "device id), X-Faregate-Timestamp (Unix seconds, within 5 minutes of GET "
        "/device/v1/clock) and X-Faregate-Nonce (16-64 of A-Z a-z 0-9 _ -, never reused). "
        "A revoked or never-enrolled device is refused (401). docs/DEVICE-API.md works a "
        "request through byte by byte."
    ),
}


BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A token from POST /api/v1/sessions (sign in); revocable; see docs/API.md.",
}


def build_openapi(
    routes: Sequence[Route],
    *,
    title: str,
    version: str,
    description: str,
    examples: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes`; `examples` maps (method, path) to a route's
    `{"request": ..., "response": ...}` examples."""
    examples = examples or {}
    models: list[type[msgspec.Struct]] = [ProblemDocument]
    for route in routes:
        models += [m for m in (route.body, route.query, route.response) if m is not None]
    _, components = msgspec.json.schema_components(dict.fromkeys(models), ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        example = examples.get((route.method, route.path), {})
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, components, example
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "deviceSignature": DEVICE_SIGNATURE_SCHEME,
                "bearerToken": BEARER_SCHEME,
            },
        },
    }
