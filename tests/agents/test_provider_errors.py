"""Failure kinds, Retry-After parsing and the backoff policy, without any server."""

from __future__ import annotations

import email.utils
import random

import pytest

from tokenmaxx.agents.providers.errors import kind_for, redact, retry_after_seconds, status_failure, tool_arguments
from tokenmaxx.agents.providers.retry import RETRY_AFTER_CAP_S, backoff_delay


@pytest.mark.parametrize(
    ("status", "error_type", "message", "kind"),
    [
        (401, "authentication_error", "", "auth"),
        (403, "permission_error", "", "auth"),
        (429, "rate_limit_error", "", "rate_limit"),
        (529, "overloaded_error", "", "overloaded"),
        (503, None, "", "overloaded"),
        (500, "api_error", "", "server"),
        (502, None, "", "server"),
        (504, None, "", "server"),
        (400, "invalid_request_error", "messages: text content blocks must be non-empty", "bad_request"),
        (404, "not_found_error", "model: claude-nope", "bad_request"),
        (422, None, "", "bad_request"),
        (400, "invalid_request_error", "prompt is too long: 201000 tokens > 200000 maximum", "context_length"),
        (400, "invalid_request_error", "This model's maximum context length is 8192 tokens", "context_length"),
        (400, "context_length_exceeded", "", "context_length"),
        (408, None, "", "connection"),
        (200, "overloaded_error", "Overloaded", "overloaded"),
        (200, "api_error", "", "server"),
        (200, "rate_limit_error", "", "rate_limit"),
        (400, "invalid_request_error", "input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000",
         "context_length"),
        (200, "invalid_request_error", "tool_use ids must be unique", "bad_request"),
        (200, "something_new", "", "server"),
    ],
)
def test_kind_for(status, error_type, message, kind):
    assert kind_for(status, error_type, message) == kind


def test_retry_after_forms():
    assert retry_after_seconds({"retry-after": "12"}) == 12.0
    assert retry_after_seconds({"Retry-After": "0.5"}) == 0.5
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after-ms": "soon", "retry-after": "9"}) == 9.0
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=1_000_000) == 30.0
    assert retry_after_seconds({"retry-after": "whenever"}) is None
    assert retry_after_seconds({"retry-after": "-3"}) is None
    assert retry_after_seconds({}) is None


def test_auth_failure_names_the_env_var_and_drops_the_server_text():
    failure = status_failure(
        401, error_type="invalid_api_key", message="Incorrect API key provided: sk-ab***yz",
        headers=None, where="openai provider 'gpt'", api_key_env="GPT_KEY", api_key="sk-abcdefxyz",
    )
    assert failure.message == "openai provider 'gpt': authentication failed (HTTP 401, invalid_api_key); set GPT_KEY to a valid API key"
    assert (failure.kind, failure.retryable, failure.retry_after_s) == ("auth", False, None)


def test_retry_after_is_only_kept_for_retryable_kinds():
    bad = status_failure(400, error_type=None, message="no", headers={"retry-after": "5"}, where="w", api_key_env="K", api_key="k")
    slow = status_failure(503, error_type=None, message="busy", headers={"retry-after": "5"}, where="w", api_key_env="K", api_key="k")
    assert (bad.retry_after_s, slow.retry_after_s) == (None, 5.0)
    assert slow.message == "w: overloaded (HTTP 503): busy; retry after 5 s"


def test_redact_removes_every_copy_of_the_secret():
    key = "sk-0123456789abcdef"
    assert redact(f"a {key} b {key}", key) == "a [redacted] b [redacted]"
    assert redact("nothing", "") == "nothing"


@pytest.mark.parametrize("placeholder", ["local", "ollama", "EMPTY", "not a key at all, words"])
def test_redact_never_replaces_an_ordinary_word(placeholder):
    text = "openai provider 'local' at ollama: EMPTY reply, not a key at all, words"
    assert redact(text, placeholder) == text


@pytest.mark.parametrize(
    ("text", "args"),
    [('{"path": "a"}', {"path": "a"}), ("", {}), ("  ", {}), ('{"path": ', {}), ("[1, 2]", {}), ("null", {})],
)
def test_tool_arguments(text, args):
    assert tool_arguments(text) == args


def test_backoff_without_retry_after_is_full_jitter_under_an_exponential_ceiling():
    rng = random.Random(7)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (3, 8.0), (10, 60.0), (500, 60.0)]:
        delays = [backoff_delay(attempt, None, rng=rng) for _ in range(200)]
        assert 0.0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8


def test_backoff_honours_retry_after_with_a_small_spread_and_a_cap():
    rng = random.Random(3)
    delays = [backoff_delay(0, 5.0, rng=rng) for _ in range(100)]
    assert all(5.0 <= d <= 5.5 for d in delays) and len(set(delays)) > 50
    assert backoff_delay(4, 3600.0, rng=rng) == RETRY_AFTER_CAP_S
    assert backoff_delay(2, 0.0, base=1.0, rng=random.Random(1)) <= 4.0


def test_backoff_rejects_a_negative_attempt():
    with pytest.raises(ValueError, match="attempt must be >= 0"):
        backoff_delay(-1, None)
