"""The Hugging Face Hub switched off around third-party loaders that take no
`local_files_only` (the `voxcpm` package calls `LlamaTokenizerFast.from_pretrained(path)`).

huggingface_hub reads HF_HUB_OFFLINE once, at import, into `constants.HF_HUB_OFFLINE`;
transformers asks `huggingface_hub.is_offline_mode()`, which returns that constant, and the
hub's HTTP session refuses every request while it is set. So the constant is what this
sets (with the variable, for any child process), restoring both afterwards: a local folder
loads as before, and anything that would reach for the hub fails instead of downloading.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    from huggingface_hub import constants

    saved_env, saved_flag = os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved_flag
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env
