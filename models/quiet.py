"""Silence library chatter (transformers' weight-loading progress bar) in our command lines."""

from __future__ import annotations


def quiet_transformers() -> None:
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a dependency
        return
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
