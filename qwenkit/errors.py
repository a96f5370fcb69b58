"""Every failure qwenkit raises, in one tree.

```
QwenkitError                      root; `.hint` says what to do, `.exit_code` is the CLI's
├── ModelfileError                a Modelfile Ollama would refuse, or a value no Modelfile can hold
├── OllamaError                   anything between us and the server: Ollama, or for
│   │                             `OpenAIClient` any OpenAI-compatible one (vLLM, Ollama's /v1)
│   ├── OllamaUnavailableError    nothing listening / DNS failure / connection dropped
│   │                             (also a `ConnectionError`, as the `ollama` client raises)
│   ├── OllamaTimeoutError        connect or read timeout
│   ├── ProtocolError             truncated or malformed response or stream
│   │   └── IncompleteAnswerError a chat/generate answer that ended without `done: true`
│   └── ResponseError             Ollama answered with an error (HTTP status or mid-stream line)
│       ├── ModelNotFoundError    404 for a model
│       └── CapabilityError       the model cannot do what was asked (tools, thinking, embeddings)
├── InvalidRequestError           a request qwenkit refuses to send: an unknown option, a malformed
│                                 host or URL, a model name Ollama refuses (also a `ValueError`)
├── StructuredOutputError         the answer never validated into the requested model
│   └── TruncatedOutputError      the answer stopped at the length limit (`done_reason == "length"`)
├── ToolError                     a tool call that cannot be run
├── PlanError                     no plan fits, or a forced choice cannot fit
├── GGUFError                     a GGUF file that cannot be read or rewritten as asked
├── VerificationError             Ollama does not run a model the way it was planned
├── WebUIError                    Open WebUI unreachable, refusing, or misconfigured
├── SetupError                    a setup step that failed for a reason not covered above
└── BenchError                    a benchmark that could not measure, or not save what it did

EmptyToolAnswerWarning            (a `UserWarning`, not an error) tools were offered and the
                                  answer is empty: Ollama dropped a call it could not use
```

The same failure raises the same class whether a call streams or not. Where the official
`ollama` client raises a builtin for the same failure, the qwenkit class also is one
(`OllamaUnavailableError` is a `ConnectionError`, `InvalidRequestError` a `ValueError`), and
`.error` is the message as on ollama's errors, so code written for `ollama` catches them.
"""

from __future__ import annotations

from typing import Any


class QwenkitError(Exception):
    """Root of every qwenkit error; `str()` is one line, `hint` is the next step."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    @property
    def error(self) -> str:
        """The message, by the name `ollama`'s errors give it (`e.error`)."""
        return self.message


class ModelfileError(QwenkitError):
    """A Modelfile that Ollama's parser or `ollama create` would refuse.

    `line` is set where Ollama reports one; `field` names the value that cannot be written.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.line = line
        self.field = field


class OllamaError(QwenkitError):
    """Something went wrong between qwenkit and the Ollama server at `host`."""

    def __init__(self, message: str, *, host: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.host = host


#: The official client's words for a refused connection, kept so its users' checks still match.
CONNECTION_ERROR_MESSAGE = (
    "Failed to connect to Ollama. Please check that Ollama is downloaded, running and "
    "accessible. https://ollama.com/download"
)


class OllamaUnavailableError(OllamaError, ConnectionError):
    """No Ollama server answered at `host`.

    Also a `ConnectionError` with the `ollama` client's message, so `except ConnectionError`
    written for it still works; the hint names the host, what failed and how to start Ollama.
    """

    exit_code = 3

    def __init__(
        self,
        host: str,
        *,
        detail: str | None = None,
        server: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = f"nothing answered at {host}" + (f" ({detail})" if detail else "")
        self.unresolved = _is_name_failure(detail)
        if self.unresolved:  # a typo in the host, not a missing Ollama
            hint = f"{host}: the host name does not resolve; check --host / OLLAMA_HOST"
        if server is None:  # Ollama, in the `ollama` client's words
            message = CONNECTION_ERROR_MESSAGE
            hint = hint or (
                f"{where}: start it with `ollama serve` (install from ollama.com), or point "
                "OLLAMA_HOST / --host at a running server"
            )
        else:  # another server (`OpenAIClient`): say which
            message = f"cannot reach {server}: {where}"
        super().__init__(message, host=host, hint=hint)
        self.detail = detail


#: How a failed DNS lookup reads in a connect error (glibc, musl, macOS, Windows).
_NAME_FAILURES = (
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "temporary failure in name resolution",
    "no address associated",
)


def _is_name_failure(detail: str | None) -> bool:
    """Whether a connect error's text is a failed DNS lookup.

    >>> _is_name_failure("[Errno -2] Name or service not known"), _is_name_failure("refused")
    (True, False)
    """
    return bool(detail) and any(w in (detail or "").lower() for w in _NAME_FAILURES)


class OllamaTimeoutError(OllamaError):
    """The server did not answer (or stopped sending) within the timeout."""

    def __init__(
        self,
        host: str,
        *,
        phase: str = "read",
        timeout: float | None = None,
        server: str = "Ollama",
    ) -> None:
        after = f" after {timeout:g}s" if timeout is not None else ""
        super().__init__(
            f"{server} at {host} timed out ({phase}){after}",
            host=host,
            hint="the server may be loading a model or overloaded; retry or raise the timeout",
        )
        self.phase = phase


class ProtocolError(OllamaError):
    """The response was cut off or was not the JSON Ollama sends."""


class IncompleteAnswerError(ProtocolError):
    """The server ended a chat or generate answer without finishing it, though with HTTP 200.

    Ollama 0.32 does this when its model runner gives up mid-answer (seen when the model
    emits bytes that are not valid UTF-8): a stream just stops, and a non-streamed call
    returns `done: false` with whatever text there was. `partial` is that text; a reader
    that counts the pieces instead of keeping them (the benchmark) gives `pieces`.
    """

    def __init__(
        self, host: str | None, *, partial: str = "", pieces: int = 0, server: str = "Ollama"
    ) -> None:
        got = "before any text"
        if partial:
            got = f"after {len(partial)} characters"
        elif pieces:
            got = f"after {pieces} piece{'s' * (pieces != 1)} of text"
        super().__init__(
            f"the answer from {server} at {host} ended before it was finished ({got})",
            host=host,
            hint=(
                "the model runner stopped mid-answer or the server restarted; the server log "
                "says which (Ollama 0.32 cuts answers that are not valid UTF-8); retry"
            ),
        )
        self.partial = partial


class ResponseError(OllamaError):
    """Ollama answered with an error: an HTTP status, or an `{"error": ...}` stream line.

    `status_code` is the HTTP status; a mid-stream error carries the 200 already sent.
    `-1` (the default, as in `ollama.ResponseError`) means no status is known.
    """

    def __init__(
        self,
        message: str,
        status_code: int = -1,
        *,
        host: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, host=host, hint=hint)
        self.status_code = status_code

    def __str__(self) -> str:
        return f"{self.message} (status code: {self.status_code})"


class ModelNotFoundError(ResponseError):
    """Ollama does not have the model (HTTP 404)."""

    def __init__(self, message: str, model: str | None = None, *, host: str | None = None) -> None:
        target = f"`ollama pull {model}`" if model else "`ollama pull <model>`"
        super().__init__(
            message,
            404,
            host=host,
            hint=f"pull it with {target}, or create the qwenkit variants with `qwenkit setup`",
        )
        self.model = model


class CapabilityError(ResponseError):
    """The model cannot do what the request needs (Ollama's 400 "does not support tools" or
    "thinking", 501 for embeddings); `capability` names it, `hint` says which model can."""

    def __init__(
        self,
        message: str,
        status_code: int,
        capability: str,
        *,
        model: str | None = None,
        host: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, status_code, host=host, hint=hint)
        self.capability = capability
        self.model = model


class InvalidRequestError(QwenkitError, ValueError):
    """A request qwenkit refuses to send: unknown option, wrong type, malformed message or
    image, a host or URL that can never be dialled, a model name Ollama refuses; a
    `ValueError` as the `ollama` client's validation errors are. The CLI's usage exit code."""

    exit_code = 2


class StructuredOutputError(QwenkitError):
    """The model's answer did not validate into the requested type.

    `raw` is the last answer text, `errors` the last validation errors.
    """

    def __init__(
        self,
        message: str,
        *,
        raw: str,
        errors: list[Any] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.raw = raw
        self.errors = errors or []


class TruncatedOutputError(StructuredOutputError):
    """The answer hit the length limit before the JSON was complete."""


class ToolError(QwenkitError):
    """A tool definition or call that qwenkit cannot turn into a schema or run."""


class ToolRoundsError(ToolError):
    """The model was still calling tools after `max_tool_rounds` rounds.

    Nothing is lost: `messages` is the whole transcript (every tool result included) and
    `response` the last reply, whose `tool_calls` were not run.
    """

    def __init__(
        self, message: str, *, messages: list[Any], response: Any, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.messages = messages
        self.response = response


class PlanError(QwenkitError):
    """No plan fits the hardware, or a forced choice cannot fit; the message has the numbers."""

    exit_code = 4


class GGUFError(QwenkitError):
    """A GGUF file that is not what the operation needs (not GGUF, wrong arch, truncated...)."""


class VerificationError(QwenkitError):
    """Ollama does not run a created model the way the plan says."""

    exit_code = 5


class WebUIError(QwenkitError):
    """Open WebUI is unreachable, refused a request, or is wired up wrongly."""


class SetupError(QwenkitError):
    """A setup step failed; `step` names it."""

    def __init__(self, message: str, *, step: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.step = step


class BenchError(QwenkitError):
    """`qwenkit bench` could not measure (its first request failed: the request's own error is
    the `__cause__`, and its exit code is kept) or could not save what it measured."""


class EmptyToolAnswerWarning(UserWarning):
    """The model answered nothing although tools were offered (Ollama drops a call to a tool
    that was not offered, or one it cannot parse, without a trace)."""


__all__ = [
    "CONNECTION_ERROR_MESSAGE",
    "BenchError",
    "CapabilityError",
    "EmptyToolAnswerWarning",
    "GGUFError",
    "IncompleteAnswerError",
    "InvalidRequestError",
    "ModelNotFoundError",
    "ModelfileError",
    "OllamaError",
    "OllamaTimeoutError",
    "OllamaUnavailableError",
    "PlanError",
    "ProtocolError",
    "QwenkitError",
    "ResponseError",
    "SetupError",
    "StructuredOutputError",
    "ToolError",
    "ToolRoundsError",
    "TruncatedOutputError",
    "VerificationError",
    "WebUIError",
]
