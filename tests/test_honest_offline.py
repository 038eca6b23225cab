"""The product stays off the Hugging Face Hub by itself (issue 26, item 19): the test
session no longer sets HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE for everyone, and the network
tests run with the hub switched on, every socket refused and every attempt recorded (an
attempt a library swallows still fails the test)."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import huggingface_hub
import pytest
import voxcpm.model.voxcpm2 as voxcpm_impl

from models.indextts2.engine import IndexTTS2Engine
from models.voxcpm2.engine import VoxCPM2Engine
from tests.voxcpm2_fixture import make_voxcpm2_folder

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@pytest.fixture
def hub_on(monkeypatch) -> list[str]:
    """The hub as a user's machine has it (online), with the network refused: the list
    of every attempt to reach it."""
    for name in OFFLINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    attempts: list[str] = []

    def refuse(name: str):
        def raiser(*args, **kwargs):
            attempts.append(f"{name}{args[1:3]}")
            raise OSError(f"network refused by the test ({name})")

        return raiser

    for owner, name in [
        (socket.socket, "connect"),
        (socket.socket, "connect_ex"),
        (socket, "create_connection"),
        (socket, "getaddrinfo"),
        (huggingface_hub.utils._http, "get_session"),
        (huggingface_hub, "snapshot_download"),
        (huggingface_hub, "hf_hub_download"),
    ]:
        monkeypatch.setattr(owner, name, refuse(f"{getattr(owner, '__name__', owner)}.{name}"))
    return attempts


def test_the_test_session_does_not_switch_the_hub_off_for_the_product():
    tree = ast.parse((Path(__file__).parent / "conftest.py").read_text())
    named = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not named & set(OFFLINE_VARIABLES)


def test_voxcpm2_reads_its_tokenizer_with_the_hub_off(tmp_path, hub_on, monkeypatch):
    """The package calls LlamaTokenizerFast.from_pretrained(path) without
    local_files_only: the engine must switch the hub off around it."""
    make_voxcpm2_folder(tmp_path / "voxcpm2", stop="random")
    tokenizer = voxcpm_impl.LlamaTokenizerFast
    original = tokenizer.from_pretrained.__func__
    local_only: list[bool] = []

    def spy(cls, path, *args, **kwargs):
        local_only.append(bool(kwargs.get("local_files_only")) or huggingface_hub.is_offline_mode())
        return original(cls, path, *args, **kwargs)

    monkeypatch.setattr(tokenizer, "from_pretrained", classmethod(spy))
    VoxCPM2Engine.load(tmp_path, "cpu")
    assert local_only == [True]
    assert hub_on == []
    assert not huggingface_hub.constants.HF_HUB_OFFLINE  # restored after the load


def test_the_indextts2_engine_loads_with_the_hub_on_and_no_network(tiny_model_dir, hub_on):
    engine = IndexTTS2Engine.load(tiny_model_dir, device="cpu")
    assert engine is not None
    assert hub_on == []
