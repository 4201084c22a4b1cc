"""Upload a run's ``export/`` (model, model card) to the Hugging Face Hub with ``huggingface_hub``.

Every way an upload cannot happen (offline mode, no network, no token, no permission) stops with one
:class:`~hubbleclip.errors.UserError` line that says what to do, before or instead of a traceback.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from hubbleclip.errors import UserError


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` as the user has it now (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants

    value = os.environ.get("HF_HUB_OFFLINE")
    return constants.HF_HUB_OFFLINE if value is None else value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def network_errors() -> tuple[type[BaseException], ...]:
    """Connection failures of the HTTP clients huggingface_hub may use (httpx2 from 2.x, httpx in 1.x)."""
    errors: list[type[BaseException]] = [OSError]
    for name in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(name).TransportError)
        except ImportError:
            continue
    return tuple(errors)


def push_to_hub(folder: str | Path, repo_id: str, private: bool = False, endpoint: str | None = None) -> str:
    """Create ``repo_id`` (a model repository; kept if it exists) and upload ``folder`` to it as one
    commit; returns the commit's URL.  ``endpoint``: another Hub (default ``HF_ENDPOINT``)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled

    folder = Path(folder)
    where = f"--push_to_hub {repo_id}"
    if not folder.is_dir():
        raise FileNotFoundError(f"{where}: {folder} does not exist (train or export the run first)")
    if hub_offline():
        raise UserError(f"{where}: HF_HUB_OFFLINE is set, so nothing is uploaded; unset it when online")
    api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            repo_type="model",
            commit_message=f"Upload {folder.name} with hubbleclip",
        )
    except OfflineModeIsEnabled:
        raise UserError(
            f"{where}: HF_HUB_OFFLINE is set, so nothing is uploaded; unset it when online"
        ) from None
    except HFValidationError as exc:
        raise UserError(f"{where}: not a repository id ({exc}); write it as OWNER/NAME") from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        hint = (
            "log in with `hf auth login` or set HF_TOKEN to a token with write access"
            if status in (401, 403)
            else str(exc).splitlines()[0]
        )
        raise UserError(f"{where}: the Hub refused the upload (HTTP {status}): {hint}") from None
    except network_errors() as exc:
        raise UserError(
            f"{where}: cannot reach the Hugging Face Hub at {api.endpoint} ({type(exc).__name__}); "
            "check the network, or set HF_HUB_OFFLINE=1 to skip uploads"
        ) from None
    return commit.commit_url
