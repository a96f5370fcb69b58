"""The fake server's state: registry, local models, blobs, loaded runners, faults, log.

Plain data plus small helpers; the HTTP layer and the endpoint logic read and change it
under `State.lock`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .faults import Faults
from .library import parameter_size
from .wire import Name, local_time, parse_name, sha256_hex

MiB = 1 << 20
MINIMUM_GPU_MEMORY = 457 * MiB  # ml/device.go MinimumMemory() for CUDA/ROCm
KV_BYTES = {"f16": 2.0, "q8_0": 1.0, "q4_0": 0.5, "f32": 4.0}

MEDIA = "application/vnd.ollama.image."


@dataclass(frozen=True)
class Layer:
    media_type: str  # model, template, system, params, messages, license
    digest: str  # sha256:<hex>
    size: int


@dataclass
class LocalModel:
    """A model in the local store, as `/api/tags` and `/api/show` describe it."""

    name: str  # short display name, e.g. "qwen2.5:7b-instruct-q4_K_M"
    model_digest: str  # the GGUF model layer
    model_size: int
    model_info: dict[str, Any]
    template: str = ""
    system: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    license: list[str] = field(default_factory=list)
    parent: str = ""  # the `from` of the create request, "" for pulled models
    files: dict[str, str] = field(default_factory=dict)
    quantization: str = "Q4_K_M"
    modified_at: float = field(default_factory=time.time)
    tensors: list[dict[str, Any]] = field(default_factory=list)  # name, type, shape (GGML)

    @property
    def architecture(self) -> str:
        return str(self.model_info.get("general.architecture", ""))

    @property
    def context_length(self) -> int | None:
        """The trained context the GGUF declares (`<arch>.context_length`)."""
        value = self.model_info.get(f"{self.architecture}.context_length")
        return int(value) if value is not None else None

    def arch_int(self, suffix: str, default: int) -> int:
        value = self.model_info.get(f"{self.architecture}.{suffix}")
        return int(value) if value is not None else default

    def layers(self) -> list[Layer]:
        """Manifest layers; content layers are digested from their JSON/text."""
        layers = [Layer("model", self.model_digest, self.model_size)]
        contents: list[tuple[str, str]] = []
        if self.template:
            contents.append(("template", self.template))
        if self.system:
            contents.append(("system", self.system))
        if self.parameters:
            contents.append(("params", json.dumps(self.parameters, sort_keys=True)))
        if self.messages:
            contents.append(("messages", json.dumps(self.messages)))
        contents.extend(("license", text) for text in self.license)
        for kind, text in contents:
            data = text.encode()
            layers.append(Layer(kind, "sha256:" + sha256_hex(data), len(data)))
        return layers

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers())

    @property
    def digest(self) -> str:
        """The manifest digest `/api/tags` reports (hex, no prefix)."""
        manifest = [(layer.media_type, layer.digest, layer.size) for layer in self.layers()]
        return sha256_hex(json.dumps(manifest).encode())

    @property
    def capabilities(self) -> list[str]:
        if f"{self.architecture}.pooling_type" in self.model_info:
            return ["embedding"]  # an embedding model (bert, nomic-bert) does not chat
        caps = ["completion"]
        if ".Tools" in self.template:
            caps.append("tools")
        if ".Suffix" in self.template:
            caps.append("insert")
        return caps

    def details(self) -> dict[str, Any]:
        family = self.architecture or "unknown"
        count = self.model_info.get("general.parameter_count")
        return {
            "parent_model": self.parent,
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": parameter_size(int(count)) if count else "",
            "quantization_level": self.quantization,
        }

    def copy(self, name: str) -> LocalModel:
        return replace(
            self,
            name=name,
            parameters=dict(self.parameters),
            messages=list(self.messages),
            license=list(self.license),
            files=dict(self.files),
            modified_at=time.time(),
        )


@dataclass
class RegistryModel:
    """A pullable tag: the model it becomes once pulled."""

    name: Name
    model: LocalModel


@dataclass
class Loaded:
    """A model in `/api/ps`."""

    model: LocalModel
    size: int
    size_vram: int
    context_length: int
    expires_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.model.name,
            "model": self.model.name,
            "size": self.size,
            "digest": self.model.digest,
            "details": self.model.details(),
            "expires_at": local_time(self.expires_at),
            "size_vram": self.size_vram,
            "context_length": self.context_length,
        }


class Headers(dict[str, str]):
    """Request headers with case-insensitive lookups (stored lower-cased)."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    json: Any
    headers: Headers

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "json": self.json,
            "headers": dict(self.headers),
        }


@dataclass
class Reply:
    """A scripted model answer for the next chat/generate request.

    `text` streams as content (it may contain `<tool_call>` blocks, which are parsed the way
    Ollama parses qwen2.5 output); `tool_calls` are `{"name", "arguments"}` dicts emitted as
    calls; `error` sends that many chunks then an `{"error": …}` line; `delay` waits before
    the first chunk; `truncate` closes the stream before the done line.
    """

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    delay: float = 0.0
    truncate: bool | str = False
    done_reason: str | None = None

    @classmethod
    def of(cls, item: ScriptItem, request: dict[str, Any]) -> Reply:
        """A Reply from a script entry: Reply, text, JSON value, or callable(request)."""
        if callable(item):
            return cls.of(item(request), request)
        if isinstance(item, Reply):
            return item
        if isinstance(item, str):
            return cls(text=item)
        return cls(text=json.dumps(item))

    @classmethod
    def from_json(cls, item: Any) -> Reply | str:
        """Script entries sent as JSON (state file, `/_fake/chat_script`): dicts are Replies."""
        return cls(**item) if isinstance(item, dict) else str(item)


ScriptItem = Reply | str | dict[str, Any] | list[Any] | Callable[[dict[str, Any]], "ScriptItem"]


class ModelTable(dict[str, LocalModel]):
    """Local models keyed by short name; lookups accept any spelling Ollama accepts."""

    @staticmethod
    def _key(name: object) -> str | None:
        parsed = parse_name(name) if isinstance(name, str) else None
        return parsed.key if parsed else None

    def find(self, name: str) -> LocalModel | None:
        wanted = self._key(name)
        for model in self.values():
            if wanted is not None and self._key(model.name) == wanted:
                return model
        return None

    def __getitem__(self, name: str) -> LocalModel:
        model = self.find(name)
        if model is None:
            raise KeyError(name)
        return model

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def put(self, model: LocalModel) -> None:
        self.remove(model.name)
        dict.__setitem__(self, model.name, model)

    def remove(self, name: str) -> LocalModel | None:
        model = self.find(name)
        if model is not None:
            dict.__delitem__(self, model.name)
        return model


@dataclass
class Config:
    version: str = "0.12.11"
    trained_ctx: int = 32768
    default_ctx: int | None = None  # None: what this version would pick
    vram_bytes: int | None = None  # None: everything fits on the GPU
    kv_cache_type: str = "f16"
    num_parallel: int = 1
    models_dir: str = "/usr/share/ollama/.ollama/models"
    pull_steps: int = 8  # progress lines per downloaded layer
    pull_step_delay: float = 0.0
    keep_alive: float = 300.0
    token_delay: float | list[float] = 0.0  # seconds between streamed chunks (a list cycles)
    prefill_delay: float = 0.0  # seconds before the first chunk, reported as prompt eval
    slots: int | None = None  # answers worked on at once (Ollama's NUM_PARALLEL); None: any
    answer_words: int = 0  # > 0: an unscripted answer is this many words (for benchmarks)

    def token_delays(self, count: int) -> list[float]:
        """The pause before each of `count` chunks after the first, then one more for the
        first token's own decode: what `eval_duration` adds up."""
        cycle = self.token_delay if isinstance(self.token_delay, list) else [self.token_delay]
        if not any(cycle):
            return []
        return [cycle[i % len(cycle)] for i in range(count)]

    def version_tuple(self) -> tuple[int, ...]:
        core = self.version.split("-")[0]
        return tuple(int(p) for p in core.split(".") if p.isdigit())


@dataclass
class State:
    config: Config = field(default_factory=Config)
    registry: dict[str, RegistryModel] = field(default_factory=dict)
    models: ModelTable = field(default_factory=ModelTable)
    blobs: dict[str, bytes] = field(default_factory=dict)  # uploaded, by "sha256:<hex>"
    present: set[str] = field(default_factory=set)  # simulated downloaded blobs
    partial: dict[str, int] = field(default_factory=dict)  # digest -> bytes already fetched
    loaded: dict[str, Loaded] = field(default_factory=dict)  # runners by weights blob digest
    loads: list[tuple[str, int]] = field(default_factory=list)  # every (re)load: name, ctx
    requests: list[Recorded] = field(default_factory=list)
    chat_script: list[ScriptItem] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    lock: threading.RLock = field(default_factory=threading.RLock)
    log_hook: Callable[[Recorded], None] | None = None
    _slots: threading.Semaphore | None = None

    def slot(self) -> threading.Semaphore | contextlib.nullcontext[None]:
        """Hold while streaming an answer: at most `config.slots` at once, the rest wait."""
        if self.config.slots is None:
            return contextlib.nullcontext()
        with self.lock:
            if self._slots is None:
                self._slots = threading.Semaphore(self.config.slots)
        return self._slots

    def record(self, entry: Recorded) -> None:
        with self.lock:
            self.requests.append(entry)
            if self.log_hook:
                self.log_hook(entry)

    def has_blob(self, digest: str) -> bool:
        return digest in self.blobs or digest in self.present

    def registry_model(self, name: str) -> RegistryModel | None:
        parsed = parse_name(name)
        return self.registry.get(parsed.key) if parsed else None

    def next_reply(self, request: dict[str, Any]) -> Reply | None:
        with self.lock:
            item = self.chat_script.pop(0) if self.chat_script else None
        return None if item is None else Reply.of(item, request)

    def ps(self) -> list[Loaded]:
        now = time.time()
        with self.lock:
            for key in [k for k, v in self.loaded.items() if v.expires_at <= now]:
                del self.loaded[key]
            return sorted(self.loaded.values(), key=lambda m: m.expires_at, reverse=True)

    def memory(self, model: LocalModel, ctx: int) -> tuple[int, int]:
        """(size, size_vram): weights + KV cache + qwen2 graph, then the VRAM split."""
        cfg = self.config
        blocks = model.arch_int("block_count", 28)
        embed = model.arch_int("embedding_length", 3584)
        heads = model.arch_int("attention.head_count", 28)
        kv_heads = model.arch_int("attention.head_count_kv", 4)
        total_ctx = ctx * max(cfg.num_parallel, 1)
        per_elem = KV_BYTES.get(cfg.kv_cache_type, 2.0)
        kv = int(total_ctx * 2 * (embed // heads) * kv_heads * blocks * per_elem)
        batch = min(ctx, 512)
        vocab = 152064
        graph = max(
            4 * batch * (embed + vocab),
            4 * batch * (1 + 2 * embed + total_ctx + total_ctx * heads),
        )
        size = model.model_size + kv + graph + MINIMUM_GPU_MEMORY
        if cfg.vram_bytes is None or size <= cfg.vram_bytes:
            return size, size
        return size, max(0, cfg.vram_bytes - MINIMUM_GPU_MEMORY - graph)

    def load(self, model: LocalModel, ctx: int, keep_alive: float | None) -> Loaded:
        """Load (or reload when the context differs) and refresh the expiry.

        As Ollama 0.32's scheduler: one runner per weights blob, listed under the model that
        loaded it (name and digest of the time), so a second model made from the same blob
        (another system prompt, a re-created manifest) shares it without showing in ps."""
        seconds = self.config.keep_alive if keep_alive is None else keep_alive
        expires = time.time() + (10**9 if seconds < 0 else seconds)
        with self.lock:
            key = model.model_digest
            current = self.loaded.get(key)
            if current is None or current.context_length != ctx:
                size, vram = self.memory(model, ctx)
                current = Loaded(model, size, vram, ctx, expires)
                self.loaded[key] = current
                self.loads.append((model.name, ctx))
            current.expires_at = expires
            if seconds == 0:
                del self.loaded[key]
            return current

    def unload(self, model: LocalModel) -> None:
        """Stop the runner of the model's blob, whichever name ps lists it under."""
        with self.lock:
            self.loaded.pop(model.model_digest, None)
