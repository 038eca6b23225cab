"""Silence library chatter (transformers' weight-loading progress bar) in our command lines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def quiet_transformers() -> None:
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a dependency
        return
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


@contextmanager
def transformers_errors_only() -> Iterator[None]:
    """transformers says only errors inside (its load report lists, as "unexpected", the
    weights we choose not to build)."""
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)
