"""Paced reads: a stream that lets chunks wait between reads (a large fleet) yields the same events, text and tool calls alike."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tokenmaxx.agents.providers.anthropic import AnthropicProvider
from tokenmaxx.agents.providers.base import Message, ModelRequest, TextDelta, TextPart
from tokenmaxx.agents.providers.openai import OpenAIProvider
from tests import fakes
from tests.fakes import Call, Stream
from tests.fakes import anthropic_server, openai_server
from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.openai_server import OpenAIFakeServer

REQUEST = ModelRequest(model="m", system="s", messages=(Message("user", (TextPart("Go."),)),))
PACED = dataclasses.replace(REQUEST, read_pace_s=0.05)
KINDS = {
    "openai": (OpenAIFakeServer, openai_server, OpenAIProvider),
    "anthropic": (AnthropicFakeServer, anthropic_server, AnthropicProvider),
}


def slowed(reply: Stream) -> Stream:
    return dataclasses.replace(reply, gap_s=0.01)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_paced_stream_yields_what_an_unpaced_one_does(kind: str) -> None:
    server_type, wire, provider_type = KINDS[kind]
    replies = [wire.text_reply("one two three four five six seven eight", chunks=8),
               wire.tool_reply(Call("c1", "read_file", {"path": "a.md"}), text="Reading.", pieces=4)]
    with server_type() as server:
        provider: Any = provider_type("p", api_key="k", base_url=server.base_url)
        try:
            for reply in replies:
                server.enqueue(slowed(reply), slowed(reply))
                unpaced = await fakes.collect(provider, REQUEST)
                paced = await fakes.collect(provider, PACED)
                assert paced == unpaced
                assert any(isinstance(event, TextDelta) for event in paced)
        finally:
            await provider.aclose()
