"""The queue of reprompts waiting for a busy agent's safe point."""

from __future__ import annotations

from tokenmaxx.sessions.state import AgentState
from tokenmaxx.agents.reprompt_queue import RepromptQueue, is_busy


def agent(status: str, turn: int = 1, name: str = "a") -> AgentState:
    return AgentState(name=name, status=status, turn=turn)  # type: ignore[arg-type]


def test_streaming_and_tool_are_busy_and_nothing_else_is() -> None:
    assert is_busy(agent("streaming")) and is_busy(agent("tool"))
    assert not any(is_busy(agent(s)) for s in ("starting", "paused", "awaiting_approval", "done", "waiting"))


def test_a_message_waits_while_the_status_holds_and_goes_when_it_changes() -> None:
    queue = RepromptQueue()
    queue.put(agent("streaming"), "hi")
    assert queue.due({"a": agent("streaming")}) == [] and queue.get("a") == "hi"
    due = queue.due({"a": agent("tool")})
    assert [(q.agent, q.text) for q in due] == [("a", "hi")] and "a" not in queue


def test_a_new_turn_is_a_safe_point_even_in_the_same_status() -> None:
    queue = RepromptQueue()
    queue.put(agent("streaming", turn=3), "hi")
    assert len(queue.due({"a": agent("streaming", turn=4)})) == 1


def test_an_edit_keeps_the_place_where_it_was_queued() -> None:
    queue = RepromptQueue()
    queue.put(agent("streaming"), "first")
    queue.put(agent("tool"), "second")
    assert queue.texts() == {"a": "second"}
    assert [q.text for q in queue.due({"a": agent("tool")})] == ["second"]


def test_dropping_and_vanished_agents() -> None:
    queue = RepromptQueue()
    queue.put(agent("streaming"), "x")
    queue.put(agent("tool", name="b"), "y")
    assert queue.drop("a") and not queue.drop("a") and len(queue) == 1
    assert [q.agent for q in queue.due({})] == ["b"]
