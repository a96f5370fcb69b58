"""`FakeOllama`: the object tests hold — configure models and faults, start, assert."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .faults import Faults
from .handler import FakeServer
from .inprocess import AsyncFakeTransport
from .library import QWEN_LICENSE, QWEN_TEMPLATE, quantization_of, qwen2_model_info
from .state import Config, Loaded, LocalModel, ModelTable, Recorded, RegistryModel, State
from .wire import fake_digest, parse_name, sha256_hex

LIBRARY_SIZE = 4_683_073_952

#: Pullable qwen2.5 7B instruct tags with their model-layer sizes (q4_K_M exact).
QWEN_LIBRARY: dict[str, int] = {
    "qwen2.5:7b-instruct-fp16": 15_237_853_888,
    "qwen2.5:7b-instruct-q8_0": 8_098_525_888,
    "qwen2.5:7b-instruct-q6_K": 6_254_197_440,
    "qwen2.5:7b-instruct-q5_K_M": 5_444_831_936,
    "qwen2.5:7b-instruct-q4_K_M": LIBRARY_SIZE,
    "qwen2.5:7b-instruct-q3_K_M": 3_808_391_872,
    "qwen2.5:7b-instruct-q2_K": 3_015_940_800,
}
QWEN_ALIASES = ("qwen2.5:7b-instruct", "qwen2.5:7b", "qwen2.5:latest")


class FakeOllama:
    """An Ollama server double on 127.0.0.1 that follows ollama-api.md to the letter."""

    def __init__(
        self,
        version: str = "0.12.11",
        trained_ctx: int = 32768,
        *,
        vram_bytes: int | None = None,
        default_ctx: int | None = None,
        kv_cache_type: str = "f16",
        num_parallel: int = 1,
        models_dir: str = "/usr/share/ollama/.ollama/models",
        pull_steps: int = 8,
        pull_step_delay: float = 0.0,
        token_delay: float | list[float] = 0.0,
        prefill_delay: float = 0.0,
        slots: int | None = None,
        answer_words: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        log_path: str | Path | None = None,
    ) -> None:
        config = Config(
            version=version,
            trained_ctx=trained_ctx,
            default_ctx=default_ctx,
            vram_bytes=vram_bytes,
            kv_cache_type=kv_cache_type,
            num_parallel=num_parallel,
            models_dir=models_dir,
            pull_steps=pull_steps,
            pull_step_delay=pull_step_delay,
            token_delay=token_delay,
            prefill_delay=prefill_delay,
            slots=slots,
            answer_words=answer_words,
        )
        self.state = State(config=config)
        self.state.faults = Faults(_on_refuse=self._refuse, _on_restore=self._restore)
        self._address = (host, port)
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None
        self._log: IO[str] | None = None
        if log_path is not None:
            self._log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()
            self.state.log_hook = self._write_log

    # -- what tests read -------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._address
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._address[1]

    @property
    def requests(self) -> list[Recorded]:
        return self.state.requests

    @property
    def models(self) -> ModelTable:
        return self.state.models

    @property
    def blobs(self) -> dict[str, bytes]:
        return self.state.blobs

    @property
    def chat_script(self) -> list[Any]:
        return self.state.chat_script

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def loaded(self) -> list[Loaded]:
        """What `/api/ps` would list right now."""
        return self.state.ps()

    @property
    def loads(self) -> list[tuple[str, int]]:
        """Every (re)load as (model name, context length), oldest first."""
        return self.state.loads

    @property
    def partial(self) -> dict[str, int]:
        """Bytes already fetched of unfinished blob downloads."""
        return self.state.partial

    def async_transport(self) -> AsyncFakeTransport:
        """The fake in-process for `httpx.AsyncClient(transport=...)`: no socket, and pauses
        are `asyncio.sleep`, so a virtual-clock event loop runs scripted timings instantly."""
        return AsyncFakeTransport(self.state)

    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.path.split("?")[0] == path and (method is None or r.method == method)
        ]

    # -- configuring -----------------------------------------------------------------
    def add_registry_model(
        self,
        name: str,
        size: int = LIBRARY_SIZE,
        *,
        aliases: Iterable[str] = (),
        template: str = QWEN_TEMPLATE,
        system: str = "",
        parameters: dict[str, Any] | None = None,
        license: str | None = QWEN_LICENSE,
        context_length: int | None = None,
        model_info: dict[str, Any] | None = None,
    ) -> LocalModel:
        """Make `name` (and every alias, sharing its layers) pullable."""
        parsed = parse_name(name)
        if parsed is None:
            raise ValueError(f"invalid model name {name!r}")
        quant = quantization_of(name)
        model = LocalModel(
            name=parsed.short,
            model_digest=fake_digest(f"model {parsed.key}"),
            model_size=size,
            model_info=model_info
            or qwen2_model_info(context_length or self.state.config.trained_ctx, quant),
            template=template,
            system=system,
            parameters=dict(parameters or {}),
            license=[license] if license else [],
            quantization=quant,
        )
        with self.state.lock:
            for alias in (name, *aliases):
                alias_name = parse_name(alias)
                if alias_name is None:
                    raise ValueError(f"invalid model name {alias!r}")
                self.state.registry[alias_name.key] = RegistryModel(alias_name, model)
        return model

    def add_library(self) -> None:
        """Register every qwen2.5 7B instruct tag; the default aliases point at q4_K_M."""
        for tag, size in QWEN_LIBRARY.items():
            aliases = QWEN_ALIASES if tag.endswith("q4_K_M") else ()
            self.add_registry_model(tag, size, aliases=aliases)

    def add_local_model(self, name: str, size: int | None = None, **overrides: Any) -> LocalModel:
        """Put a model in the local store as if pulled (or created, with overrides).

        A registry name is copied from the registry; any other name becomes a library-like
        qwen2.5 model. `overrides` set LocalModel fields (parameters, system, template,
        messages, license, parent, model_info, …).
        """
        from .pull import install

        parsed = parse_name(name)
        if parsed is None:
            raise ValueError(f"invalid model name {name!r}")
        entry = self.state.registry.get(parsed.key)
        if entry is None:
            entry = RegistryModel(parsed, self._library_like(parsed.short, size))
        model = entry.model.copy(parsed.short)
        if size is not None:
            model.model_size = size
        for key, value in overrides.items():
            if not hasattr(model, key):
                raise TypeError(f"LocalModel has no field {key!r}")
            setattr(model, key, value)
        return install(self.state, model, parsed.short)

    def _library_like(self, name: str, size: int | None) -> LocalModel:
        quant = quantization_of(name)
        return LocalModel(
            name=name,
            model_digest=fake_digest(f"model {name}"),
            model_size=size or LIBRARY_SIZE,
            model_info=qwen2_model_info(self.state.config.trained_ctx, quant),
            template=QWEN_TEMPLATE,
            license=[QWEN_LICENSE],
            quantization=quant,
        )

    def add_blob(self, data: bytes) -> str:
        """Store bytes as if uploaded; returns `sha256:<hex>`."""
        digest = "sha256:" + sha256_hex(data)
        with self.state.lock:
            self.state.blobs[digest] = data
        return digest

    # -- running ---------------------------------------------------------------------
    def start(self) -> FakeOllama:
        if self._server is None:
            self._listen()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._shutdown()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def refuse(self) -> None:
        self.faults.refuse()

    def restore(self) -> None:
        self.faults.restore()

    def _listen(self) -> None:
        server = FakeServer(self._address, self.state)
        self._address = (self._address[0], server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def _shutdown(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def _refuse(self) -> None:
        if self._server is not None:
            self._shutdown()

    def _restore(self) -> None:
        if self._server is None:
            self._listen()

    def _write_log(self, entry: Recorded) -> None:
        if self._log is not None:
            self._log.write(json.dumps(entry.as_json()) + "\n")
            self._log.flush()
