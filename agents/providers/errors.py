"""Turn what an SDK or the wire reports into one `ProviderFailure` kind, without the SDKs.

    HTTP status / in-stream error type      kind             retryable
    401, 403 / authentication, permission   auth             no   (names the env var to set)
    429 / rate_limit_error                  rate_limit       yes  (Retry-After parsed)
    529, 503 / overloaded_error             overloaded       yes
    400 naming the context length           context_length   no
    400, 404, 413, 422, other 4xx           bad_request      no
    408, transport errors, cut streams      connection       yes
    409, 500, 502, 504, other 5xx, bad JSON server           yes
    501, 505                                server           no   (the server cannot do it)

The adapters hand their SDK module to `from_exception`, so this module imports neither SDK
(nor httpx2) when it is imported. Messages never carry the API key:
`redact` removes it, and auth failures drop the server's text (OpenAI echoes part of the key).
Connection failures and 404s name the URL tried, without its credentials or query; an HTML
error page is summarised, never pasted.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from tokenmaxx.agents.providers.base import ProviderFailure, Usage
from tokenmaxx.sessions.events import ErrorKind

_CONTEXT_LENGTH = re.compile(
    r"context[ _-]?(length|window|limit)|prompt is too long|prompt too long|maximum context"
    r"|too many (input )?tokens",
    re.IGNORECASE,
)
_TYPE_KINDS: dict[str, ErrorKind] = {
    "authentication_error": "auth",
    "permission_error": "auth",
    "invalid_api_key": "auth",
    "rate_limit_error": "rate_limit",
    "rate_limit_exceeded": "rate_limit",
    "overloaded_error": "overloaded",
    "api_error": "server",
    "server_error": "server",
    "timeout_error": "connection",
    "invalid_request_error": "bad_request",
    "not_found_error": "bad_request",
    "request_too_large": "bad_request",
    "context_length_exceeded": "context_length",
}
_RETRYABLE: frozenset[ErrorKind] = frozenset({"rate_limit", "overloaded", "connection", "server"})
_NOT_IMPLEMENTED = frozenset({501, 505})
_KNOWN_PATHS = ("/chat/completions", "/messages")
_MIN_SECRET_CHARS = 16
_HTML = re.compile(r"^\s*(<!doctype html|<html|<head|<body|<\?xml)|</(html|body|head|title|h1|p|div)>", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_DESCRIPTIONS: dict[ErrorKind, str] = {
    "auth": "authentication failed",
    "rate_limit": "rate limited",
    "overloaded": "overloaded",
    "bad_request": "request rejected",
    "context_length": "the conversation exceeds the model's context length",
    "connection": "connection failed",
    "server": "server error",
}


def redact(text: str, secret: str | None) -> str:
    """Return `text` with every occurrence of `secret` replaced by a marker, if `secret` looks like a real key.

    A placeholder such as "local" is an ordinary word, and replacing it would garble the message.
    """
    if secret is None or not looks_secret(secret):
        return text
    return text.replace(secret, "[redacted]")


def looks_secret(value: str | None) -> bool:
    """Whether `value` has the length and shape of an API key: 16 or more characters, no spaces."""
    return value is not None and len(value) >= _MIN_SECRET_CHARS and not any(c.isspace() for c in value)


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, else `retry-after` (seconds or date)."""
    if not headers:
        return None
    millis = _header(headers, "retry-after-ms")
    if millis is not None and (value := _non_negative_float(millis)) is not None:
        return value / 1000.0
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    if (value := _non_negative_float(raw)) is not None:
        return value
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - (time.time() if now is None else now))


def kind_for(status: int, error_type: str | None, message: str) -> ErrorKind:
    """The failure kind of an HTTP status (200 for an in-stream error) and error type."""
    if error_type == "context_length_exceeded":
        return "context_length"
    kind = _TYPE_KINDS.get(error_type or "", "server") if status == 200 else _status_kind(status)
    if kind == "bad_request" and _CONTEXT_LENGTH.search(message):
        return "context_length"
    return kind


def _status_kind(status: int) -> ErrorKind:
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status in (503, 529):
        return "overloaded"
    if status == 408:
        return "connection"
    if status == 409 or status >= 500:
        return "server"
    return "bad_request"


def _retryable(kind: ErrorKind, status: int) -> bool:
    return kind in _RETRYABLE and status not in _NOT_IMPLEMENTED


def status_failure(
    status: int,
    *,
    error_type: str | None,
    message: str,
    headers: Mapping[str, str] | None,
    where: str,
    api_key_env: str,
    api_key: str | None,
    billed: Usage | None = None,
    url: str | None = None,
) -> ProviderFailure:
    """A failure for an HTTP error status or an in-stream error event from provider `where`."""
    kind = kind_for(status, error_type, message)
    retryable = _retryable(kind, status)
    retry_after = retry_after_seconds(headers) if retryable else None
    label = f"HTTP {status}" if status != 200 else "in-stream error"
    if error_type and error_type != str(status):
        label = f"{label}, {error_type}"
    text = f"{where}: {_DESCRIPTIONS[kind]} ({label})"
    if kind == "auth":
        text += f"; set {api_key_env} to a valid API key"
    elif message:
        text += f": {readable_body(message)}"
    if status == 404 and url:
        text += f"; {missing_v1_hint(url)}"
    if retry_after is not None:
        text += f"; retry after {round(retry_after, 1):g} s"
    return ProviderFailure(kind, redact(text, api_key), retryable=retryable, retry_after_s=retry_after, billed=billed)


def connection_failure(
    where: str, detail: str, *, api_key: str | None, billed: Usage | None = None, url: str | None = None
) -> ProviderFailure:
    """A retryable failure for a refused, dropped or timed-out connection."""
    text = f"{where}: connection failed: {_squash(detail)}"
    if url:
        text += f" ({url})"
    return ProviderFailure("connection", redact(text, api_key), retryable=True, billed=billed)


def shown_url(url: object) -> str:
    """A URL as safe to show: scheme, host, port and path, without credentials or query."""
    from urllib.parse import urlsplit

    parts = urlsplit(str(url))
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def missing_v1_hint(url: str) -> str:
    """What a 404 at `url` suggests: a base_url missing `/v1` when the path is a known API path without it."""
    path = "/" + url.split("://", 1)[-1].partition("/")[2]
    if path.endswith(_KNOWN_PATHS) and "/v1/" not in path:
        return f"tried {url}; the base_url may be missing /v1"
    return f"tried {url}"


def readable_body(message: str) -> str:
    """An error body as one short line: an HTML page becomes its title and size, never raw tags."""
    if not _HTML.search(message):
        return _squash(message)
    title = _TITLE.search(message)
    named = f" titled {_squash(title.group(1), 80)!r}" if title and title.group(1).strip() else ""
    return f"HTML error page{named} ({len(message.encode())} bytes)"


def malformed_event_failure(
    where: str, detail: str, *, api_key: str | None, billed: Usage | None = None
) -> ProviderFailure:
    """A retryable failure for a streamed event that is not valid JSON or not the expected shape."""
    text = f"{where}: server sent a malformed stream event: {_squash(detail)}"
    return ProviderFailure("server", redact(text, api_key), retryable=True, billed=billed)


def from_exception(
    err: BaseException,
    *,
    sdk: ModuleType,
    where: str,
    api_key_env: str,
    api_key: str | None,
    billed: Usage | None = None,
) -> ProviderFailure:
    """Map an exception raised by SDK module `sdk` (anthropic or openai) or its transport."""
    import httpx2

    if isinstance(err, sdk.APIStatusError) or (isinstance(err, sdk.APIError) and _in_stream(err, sdk)):
        return status_failure(
            getattr(err, "status_code", 200),
            error_type=getattr(err, "code", None) or getattr(err, "type", None),
            message=_api_message(err),
            headers=err.response.headers if isinstance(err, sdk.APIStatusError) else None,
            where=where,
            api_key_env=api_key_env,
            api_key=api_key,
            billed=billed,
            url=_url_of(err),
        )
    url = _url_of(err)
    if isinstance(err, sdk.APITimeoutError | httpx2.TimeoutException):
        return connection_failure(where, "the request timed out", api_key=api_key, billed=billed, url=url)
    if isinstance(err, sdk.APIConnectionError | httpx2.TransportError):
        detail = str(err.__cause__ or err) if isinstance(err, sdk.APIConnectionError) else str(err)
        return connection_failure(where, detail or type(err).__name__, api_key=api_key, billed=billed, url=url)
    if isinstance(err, json.JSONDecodeError | sdk.APIError):
        return malformed_event_failure(where, str(err), api_key=api_key, billed=billed)
    raise TypeError(f"{where}: no failure kind for {type(err).__name__}") from err


def caught_errors(sdk: ModuleType) -> tuple[type[BaseException], ...]:
    """The exceptions `from_exception` maps for SDK module `sdk`, mid-stream ones included."""
    import httpx2

    return (sdk.APIError, httpx2.TransportError, json.JSONDecodeError)


def tool_arguments(text: str) -> dict[str, Any]:
    """Streamed tool-call arguments parsed; text that is not a JSON object becomes `{}`."""
    return parse_tool_arguments(text)[0]


MAX_ARGUMENT_DEPTH = 64
"""Tool arguments nested deeper are refused as invalid: no tool takes them, and the record could not hold them."""


def parse_tool_arguments(text: str) -> tuple[dict[str, Any], str | None]:
    """Streamed tool-call arguments parsed, and the raw text when it is not a JSON object (else None)."""
    if arguments_error(text) is not None:
        return {}, text
    return (json.loads(text) if text.strip() else {}), None


def arguments_error(text: str) -> str | None:
    """Why tool-call arguments are not a JSON object, or None when they are one (or empty)."""
    if not text.strip():
        return None
    try:
        args = json.loads(text)
    except json.JSONDecodeError as err:
        return f"invalid JSON: {err.msg} at line {err.lineno} column {err.colno}"
    except RecursionError:
        args = None
    if args is None or _depth(args) > MAX_ARGUMENT_DEPTH:
        return f"nested deeper than {MAX_ARGUMENT_DEPTH} levels"
    return None if isinstance(args, dict) else f"a JSON {type(args).__name__}, not an object"


def _depth(value: object) -> int:
    """How deeply `value`'s lists and objects nest, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _url_of(err: BaseException) -> str | None:
    """The URL of the request that failed, as safe to show, when the exception knows it."""
    try:
        request = getattr(err, "request", None)
    except RuntimeError:
        return None
    url = getattr(request, "url", None)
    return shown_url(url) if url is not None else None


def _in_stream(err: BaseException, sdk: ModuleType) -> bool:
    return not isinstance(err, sdk.APIConnectionError | sdk.APIResponseValidationError)


def _api_message(err: Any) -> str:
    explicit = getattr(err, "api_message", None)
    if isinstance(explicit, str) and explicit:
        return explicit
    body = getattr(err, "body", None)
    if isinstance(body, Mapping):
        nested = body.get("error")
        source = nested if isinstance(nested, Mapping) else body
        if isinstance(source.get("message"), str):
            return source["message"]
    if isinstance(body, str) and body.strip():
        return body
    return str(getattr(err, "message", "") or err)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _non_negative_float(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _squash(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
