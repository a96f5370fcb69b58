"""What the fake model "says": scripted or default replies, and qwen2.5 tool-call parsing."""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass, field
from typing import Any

from .state import Reply

TAG = "<tool_call>"
_TOKEN = re.compile(r"\s*\S+|\s+")


def tokens(text: str) -> list[str]:
    """Split text into 'tokens' (a word with its leading space) for streaming.

    >>> tokens("Hello there,  world")
    ['Hello', ' there,', '  world']
    """
    return _TOKEN.findall(text)


def call_id() -> str:
    """`call_` + 8 random lowercase letters/digits, as Ollama ≥ 0.12.10 assigns."""
    return "call_" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


def sample_for_schema(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A value that satisfies a (simple) JSON Schema: what a constrained model returns.

    >>> sample_for_schema({"type": "object", "properties": {"n": {"type": "integer"}}})
    {'n': 1}
    """
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "$ref" in schema:
        target: Any = root
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return sample_for_schema(target, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return sample_for_schema(schema[key][0], root, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: sample_for_schema(v, root, depth + 1) for k, v in props.items()}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        return [sample_for_schema(schema.get("items", {}), root, depth + 1)] * count
    scalars: dict[str, Any] = {"integer": 1, "number": 1.5, "boolean": True, "null": None}
    return scalars.get(str(kind), "example")


def default_reply(messages: list[dict[str, Any]], fmt: Any, tools: list[Any]) -> Reply:
    """The answer when nothing is scripted: a tool call, JSON, or an echo."""
    if tools:
        function = tools[0].get("function", {}) if isinstance(tools[0], dict) else {}
        arguments = sample_for_schema(function.get("parameters") or {"type": "object"})
        return Reply(tool_calls=[{"name": function.get("name", ""), "arguments": arguments}])
    if isinstance(fmt, dict):
        return Reply(text=json.dumps(sample_for_schema(fmt)))
    if fmt == "json":
        return Reply(text=json.dumps({"answer": "ok"}))
    last = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    said = str(last.get("content", "")) if last else ""
    return Reply(text=f"This is the fake Ollama answering: {said[:80]}".rstrip())


def render_calls(calls: list[dict[str, Any]]) -> str:
    """The text qwen2.5 emits for calls: one `<tool_call>` block per call."""
    blocks = []
    for call in calls:
        body = {"name": call.get("name", ""), "arguments": call.get("arguments", {})}
        blocks.append(f"{TAG}\n{json.dumps(body)}\n</tool_call>")
    return "".join(blocks)


@dataclass
class Answer:
    """The visible content and the parsed tool calls of one reply."""

    content: list[str] = field(default_factory=list)  # streamed chunks
    calls: list[dict[str, Any]] = field(default_factory=list)


def _balanced_objects(text: str) -> list[Any]:
    """Every balanced top-level `{…}` in text that parses as JSON."""
    found: list[Any] = []
    decoder = json.JSONDecoder()
    position = text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("{", position + 1)
            continue
        found.append(value)
        position = text.find("{", end)
    return found


def parse_output(output: str, tool_names: list[str]) -> Answer:
    """Split model output as Ollama does for qwen2.5 with tools (ollama-api.md §4.3).

    Text before `<tool_call>` is content; after it only complete calls to an offered tool
    survive; anything else (malformed JSON, unknown names) is dropped.
    """
    if not tool_names or TAG not in output:
        return Answer(content=tokens(output))
    before, after = output.split(TAG, 1)
    answer = Answer(content=tokens(before))
    for value in _balanced_objects(after):
        if not isinstance(value, dict) or value.get("name") not in tool_names:
            continue
        arguments = value.get("arguments", value.get("parameters"))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                continue
        if isinstance(arguments, dict):
            answer.calls.append({"name": value["name"], "arguments": arguments})
    return answer


def limit(output: str, num_predict: int | None) -> tuple[str, bool]:
    """Cut output at num_predict tokens; True when it was cut (done_reason "length")."""
    pieces = tokens(output)
    if num_predict is None or num_predict < 0 or len(pieces) <= num_predict:
        return output, False
    return "".join(pieces[:num_predict]), True
