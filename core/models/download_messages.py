"""What a failed model download says (core/models/download.py): gated repositories, files the
hub does not have, a transfer cut off mid-file, and a hub that could not be reached at all.

The last two differ for the user: an interrupted file resumes from its `.part` on the next
run, while a refused or unresolvable connection transferred nothing and needs the network,
a proxy or a mirror fixed first; calling that "interrupted" sends them to rerun in vain.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from models.manifest import FileSpec, ModelSpec

HUB = "https://huggingface.co"
# httpx (huggingface_hub's client) names: no connection was made / one broke mid-transfer.
_CONNECT = {"ConnectError", "ConnectTimeout", "ProxyError"}
_TRANSFER = {"TimeoutException", "RemoteProtocolError", "ReadError", "NetworkError"}


def token_message(models: Sequence[ModelSpec], endpoint: str | None) -> str:
    host = (endpoint or HUB).rstrip("/")
    repos = ", ".join(f"{host}/{m.repo}" for m in models)
    return (
        f"{', '.join(m.name for m in models)} is gated: accept its conditions at {repos} "
        "while logged in, then give a Hugging Face access token (--token, or the HF_TOKEN "
        "environment variable; create one at https://huggingface.co/settings/tokens)"
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def cannot_connect(exc: BaseException) -> bool:
    """No connection was ever made: refused, host unknown, proxy or connect timeout."""
    for e in _chain(exc):
        names = {c.__name__ for c in type(e).__mro__}
        if isinstance(e, ConnectionRefusedError | socket.gaierror) or names & _CONNECT:
            return True
    return False


def is_transient(exc: BaseException) -> bool:
    from huggingface_hub.errors import OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        return False
    names = {c.__name__ for c in type(exc).__mro__}
    return isinstance(exc, ConnectionError | TimeoutError) or bool(names & (_CONNECT | _TRANSFER))


def network_message(spec: FileSpec, exc: BaseException, endpoint: str | None = None) -> str:
    what = f"{type(exc).__name__}: {exc}"
    if cannot_connect(exc):
        host = (endpoint or HUB).rstrip("/")
        return (
            f"could not connect to {host} for {spec.repo}:{spec.file} ({what}): nothing of it "
            "was transferred. Check the network connection or proxy, or name a reachable "
            "mirror with --endpoint (or HF_ENDPOINT); files already fetched are kept"
        )
    return (
        f"download of {spec.repo}:{spec.file} was interrupted ({what}); "
        "run the same command again to continue where it stopped"
    )


def hub_message(spec: FileSpec, exc: BaseException, endpoint: str | None) -> str:
    from huggingface_hub import errors

    host = (endpoint or HUB).rstrip("/")
    if isinstance(exc, errors.GatedRepoError):
        return (
            f"{spec.repo} is gated and this token may not read it: accept its conditions at "
            f"{host}/{spec.repo}, then pass a token of that account (--token or HF_TOKEN)"
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        return f"{host}/{spec.repo} was not found (or needs a token: --token or HF_TOKEN)"
    if isinstance(exc, errors.EntryNotFoundError):
        return f"{host}/{spec.repo} has no file {spec.file}"
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return "HF_HUB_OFFLINE is set: unset it to download the model files"
    return f"download of {spec.repo}:{spec.file} failed ({type(exc).__name__}: {exc})"
