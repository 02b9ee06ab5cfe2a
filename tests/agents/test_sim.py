"""The sim provider: stream shape, pacing, determinism, usage and caching, and its behaviour knobs."""

from __future__ import annotations

import asyncio
import json
import random
import time
from contextlib import suppress
from pathlib import Path

import pytest

from tokenmaxx.agents.providers.base import (
    Message,
    Stop,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolCallRequested,
    ToolResultPart,
    UsageReport,
)
from tokenmaxx.agents.providers.sim import SimProvider, acknowledge, chunks, price_provider_for
from tokenmaxx.agents.sim import Context
from tests.agents.sim_driver import collect, drive, history_repo, request

FAST = 1000.0


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return history_repo(tmp_path / "repo")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out" / "session"


async def test_same_seed_gives_the_same_stream(repo: Path, tmp_path: Path) -> None:
    runs = []
    for attempt in range(2):
        out = tmp_path / f"out{attempt}"
        runs.append(await drive(SimProvider(speed=FAST, seed=7), agent="charts", role="chart-builder", task="LOC.", project=repo, out_root=out))
    assert runs[0].texts == runs[1].texts and runs[0].usages == runs[1].usages
    assert runs[0].messages == runs[1].messages
    first = request("charts", "chart-builder", [Message("user", (TextPart("LOC."),))])
    assert await collect(SimProvider(speed=FAST, seed=7), first) == await collect(SimProvider(speed=FAST, seed=7), first)


async def test_the_seed_varies_the_wording() -> None:
    texts = set()
    for seed in range(6):
        events = await collect(SimProvider(speed=FAST, seed=seed), request("x", "fact-checker", [Message("user", (TextPart("go"),))]))
        texts.add("".join(e.text for e in events if isinstance(e, TextDelta)))
    assert len(texts) > 1


async def test_a_reply_streams_text_then_calls_then_usage_then_stop() -> None:
    events = await collect(SimProvider(speed=FAST), request("fc", "fact-checker", [Message("user", (TextPart("go"),))]))
    kinds = [type(e).__name__ for e in events]
    assert kinds[-4:] == ["ToolCallRequested", "ToolCallRequested", "UsageReport", "Stop"]
    assert set(kinds[:-4]) == {"TextDelta"}
    assert events[-1] == Stop("tool_use")
    calls = [e for e in events if isinstance(e, ToolCallRequested)]
    assert [c.args["path"] for c in calls] == ["out:inputs/talk-notes.md", "out:inputs/sources.md"]
    assert len({c.call_id for c in calls}) == 2


async def test_text_streams_in_small_deltas_at_a_realistic_rate() -> None:
    provider = SimProvider(speed=1.0)
    started = time.monotonic()
    events = await collect(provider, request("fc", "fact-checker", [Message("user", (TextPart("go"),))]))
    elapsed = time.monotonic() - started
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    text = "".join(deltas)
    assert all(len(d) <= 12 for d in deltas) and len(deltas) >= len(text) // 12
    assert elapsed >= (len(deltas) - 1) * 0.05  # ~45 tokens/s: each delta ~9 characters, one per 50 ms


def test_chunks_break_after_spaces_and_keep_every_character() -> None:
    text = "The quick brown fox jumps over the lazy dog again and again."
    pieces = chunks(text, 9)
    assert "".join(pieces) == text
    assert all(p.endswith(" ") for p in pieces[:-1]) and max(len(p) for p in pieces) <= 9


async def test_usage_is_plausible_and_caching_starts_on_the_second_request(repo: Path, out: Path) -> None:
    provider = SimProvider(speed=FAST)
    transcript = await drive(provider, agent="charts", role="chart-builder", task="Chart LOC.", project=repo, out_root=out)
    first, second, third = transcript.usages
    req = request("charts", "chart-builder", transcript.messages[:1])
    tools = sum(len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in req.tools)
    prompt_chars = len(req.system) + len(transcript.messages[0].text) + tools
    assert prompt_chars / 4 <= first.input_tokens <= prompt_chars / 4 * 1.2
    assert (first.cache_read_tokens, first.cache_write_tokens) == (0, first.input_tokens)
    assert second.cache_read_tokens == first.input_tokens
    assert third.cache_read_tokens == second.input_tokens
    for usage in (second, third):
        assert usage.cache_read_tokens + usage.cache_write_tokens == usage.input_tokens and usage.reasoning_tokens == 0
    svg_chars = len((out / "charts" / "loc.svg").read_text())
    assert second.output_tokens >= svg_chars / 4 and first.output_tokens >= len(transcript.texts[0]) / 4


async def test_a_fresh_start_still_reads_the_cached_system_prompt(repo: Path, tmp_path: Path) -> None:
    provider = SimProvider(speed=FAST)
    done = await drive(provider, agent="charts", role="chart-builder", task="LOC.", project=repo, out_root=tmp_path / "a")
    again = await collect(provider, request("charts", "chart-builder", [Message("user", (TextPart("LOC."),))]))
    usage = next(e.usage for e in again if isinstance(e, UsageReport))
    assert usage.cache_read_tokens == done.usages[0].input_tokens and usage.cache_write_tokens == 0
    assert provider.runs("charts") == 2


# --- behaviour knobs ------------------------------------------------------------------------------------------


def answered(messages: list[Message], events: list, output: str = "same output") -> list[Message]:
    """The conversation after a reply and a canned result for each of its calls."""
    calls = [e for e in events if isinstance(e, ToolCallRequested)]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assistant = Message("assistant", (TextPart(text), *(ToolCallPart(c.call_id, c.name, c.args) for c in calls)))
    results = Message("user", tuple(ToolResultPart(c.call_id, output) for c in calls))
    return [*messages, assistant, results]


async def test_stall_hangs_until_cancelled_then_continues_after_a_reprompt() -> None:
    provider = SimProvider(speed=FAST)
    provider.configure("fc", {"stall_at_turn": 2})
    messages = [Message("user", (TextPart("check"),))]
    messages = answered(messages, await collect(provider, request("fc", "fact-checker", messages)), "- claim 1\n")
    stream = provider.stream(request("fc", "fact-checker", messages)).__aiter__()
    partial = await stream.__anext__()
    assert isinstance(partial, TextDelta) and partial.text
    pending = asyncio.ensure_future(stream.__anext__())
    done, _ = await asyncio.wait({pending}, timeout=0.5)
    assert not done, "a stalled stream sends nothing more"
    pending.cancel()
    with suppress(asyncio.CancelledError):
        await pending
    await stream.aclose()
    nudged = [*messages, Message("assistant", (TextPart(partial.text),)), Message("user", (TextPart("[supervisor] You seem stuck: carry on."),))]
    events = await collect(provider, request("fc", "fact-checker", nudged))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert '"You seem stuck: carry on."' in text
    normal = await collect(SimProvider(speed=FAST), request("fc", "fact-checker", messages))
    assert [(c.name, c.args) for c in events if isinstance(c, ToolCallRequested)] == [
        (c.name, c.args) for c in normal if isinstance(c, ToolCallRequested)
    ]
    assert events[-1] == Stop("tool_use")


async def test_loop_repeats_one_call_on_the_first_run_and_behaves_after_a_fresh_start(repo: Path, out: Path) -> None:
    provider = SimProvider(speed=FAST)
    provider.configure("charts", {"loop_on_first_run": True})
    messages = [Message("user", (TextPart("LOC."),))]
    seen = []
    for _ in range(4):
        events = await collect(provider, request("charts", "chart-builder", messages))
        seen += [(c.name, json.dumps(c.args)) for c in events if isinstance(c, ToolCallRequested)]
        messages = answered(messages, events)
    assert len(seen) == 4 and len(set(seen)) == 1 and seen[0][0] == "run_command"
    transcript = await drive(provider, agent="charts", role="chart-builder", task="LOC.", project=repo, out_root=out)
    assert provider.runs("charts") == 2 and len(transcript.texts) == 3
    assert (out / "charts" / "loc.svg").exists()


async def test_loop_gives_up_after_its_limit_of_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tokenmaxx.agents.providers.sim.MAX_LOOP_TURNS", 20)
    provider = SimProvider(speed=FAST)
    provider.configure("fc", {"loop_on_first_run": True})
    messages = [Message("user", (TextPart("check"),))]
    for turn in range(1, 30):
        events = await collect(provider, request("fc", "fact-checker", messages))
        if events[-1] == Stop("end_turn"):
            break
        messages = answered(messages, events)
    assert turn == 21
    assert "20 times" in "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_a_reprompt_breaks_the_loop() -> None:
    provider = SimProvider(speed=FAST)
    provider.configure("fc", {"loop_on_first_run": True})
    messages = [Message("user", (TextPart("check"),))]
    for _ in range(3):
        events = await collect(provider, request("fc", "fact-checker", messages))
        assert [c.args["path"] for c in events if isinstance(c, ToolCallRequested)] == ["out:inputs/talk-notes.md"]
        messages = answered(messages, events, "- a claim\n")
    last = messages[-1]
    messages[-1] = Message("user", (*last.parts, TextPart("[supervisor] Stop repeating yourself.")))
    events = await collect(provider, request("fc", "fact-checker", messages))
    calls = [c.args["path"] for c in events if isinstance(c, ToolCallRequested)]
    assert calls == ["out:inputs/sources.md"], "the policy reads what it still lacks"
    assert "Stop repeating yourself." in "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_fail_ends_the_turn_saying_it_failed() -> None:
    provider = SimProvider(speed=FAST)
    provider.configure("x", {"fail": True})
    events = await collect(provider, request("x", "critic", [Message("user", (TextPart("go"),))]))
    assert events[-1] == Stop("end_turn") and not [e for e in events if isinstance(e, ToolCallRequested)]
    assert "Task failed." in "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stall_at": 2}, 'sim: unknown option "stall_at"; known: stall_at_turn, loop_on_first_run, fail'),
        ({"stall_at_turn": "2"}, "sim.stall_at_turn: expected int, got str"),
        ({"stall_at_turn": 0}, "sim.stall_at_turn: must be 1 or more, got 0"),
        ({"loop_on_first_run": 1}, "sim.loop_on_first_run: expected bool, got int"),
        ({"fail": "yes"}, "sim.fail: expected bool, got str"),
    ],
)
def test_configure_rejects_bad_options(options: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        SimProvider().configure("a", options)
    assert str(error.value) == message


def test_provider_prices_as_a_real_model() -> None:
    provider = SimProvider("fast", price_as="gpt-5", speed=2, seed=3)
    assert (provider.name, provider.kind, provider.simulated, provider.price_as) == ("fast", "sim", True, "gpt-5")
    assert provider.price_provider_id == "openai"
    assert [price_provider_for(m) for m in ("claude-sonnet-4-6", "o3-mini", "gemini-2.5-pro", "glm-5")] == [
        "anthropic", "openai", "google", None,
    ]
    with pytest.raises(ValueError, match="speed must be more than 0"):
        SimProvider(speed=0)


@pytest.mark.parametrize(("said", "quoted"), [("Please finish the report now.", '"Please finish the report now." '), ("Stop looping", '"Stop looping". ')])
def test_the_acknowledgement_quotes_the_message_with_one_full_stop(said: str, quoted: str) -> None:
    for seed in range(6):
        ctx = Context(agent="a", role="critic", task="t", turn=2, exchanges=(), reprompt=said, reprompts=1, rng=random.Random(seed))
        text = acknowledge(ctx)
        assert quoted + "Picking up where I left off." in text and '.".' not in text
