"""A Modelfile through the real `create` and back through `show`: nothing lost, nothing added."""

from __future__ import annotations

import shutil

import pytest

import qwenkit
from qwenkit import Modelfile
from qwenkit.setup.verify import parse_show_parameters
from tests.live.conftest import LiveModels

pytestmark = pytest.mark.live

MODELFILE = '''\
FROM ./tiny.gguf
PARAMETER num_ctx 8192
PARAMETER temperature 0.25
PARAMETER top_k 17
PARAMETER top_p 0.85
PARAMETER seed 42
PARAMETER repeat_penalty 1.1
PARAMETER stop <|im_end|>
PARAMETER stop "User:"
TEMPLATE """{{ if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}<|im_start|>user
{{ .Prompt }}<|im_end|>
<|im_start|>assistant
"""
SYSTEM """You are "careful".
Two lines, and a backslash \\ too."""
MESSAGE user Hi there
MESSAGE assistant Hello! How can I help?
LICENSE """Apache-2.0, for the test."""
'''


def test_modelfile_survives_create_and_show(live_host: str, live_models: LiveModels, tmp_path):
    shutil.copy(live_models.gguf_dir / "tiny.gguf", tmp_path / "tiny.gguf")
    (tmp_path / "Modelfile").write_text(MODELFILE)
    sent = Modelfile.parse(MODELFILE)
    with qwenkit.Client(live_host) as client:
        client.create_from_modelfile("qwenkit-live-roundtrip", tmp_path / "Modelfile")
        shown = client.show("qwenkit-live-roundtrip")
        client.delete("qwenkit-live-roundtrip")
    back = Modelfile.parse(shown.modelfile or "")
    assert back.from_ != sent.from_ and "sha256-" in back.from_  # the server's blob path
    assert back.parameters == sent.parameters
    assert parse_show_parameters(shown.parameters) == sent.parameters  # in whatever order
    assert back.template == sent.template and shown.template == sent.template
    assert back.system == sent.system and shown.system == sent.system
    assert back.messages == sent.messages
    assert back.license == sent.license
