"""`dubsmith models verify`: what it prints. The checks are core's (model_manager.verify
for whole and usable files, model_release.not_released for the released ones)."""

from __future__ import annotations

import time
from pathlib import Path


def report_verify(model_dir: Path, quick: bool, allow_custom: bool) -> bool:
    """Print the verification of the model folder; True when the CLI may exit 0: nothing
    missing, damaged or unusable, and every file the released one (or `allow_custom`)."""
    from core.models import installed as model_manager
    from core.models.release import not_released

    print(f"model folder: {model_dir}")
    start = time.perf_counter()
    problems = model_manager.verify(model_dir, quick=quick)
    # Only whole files are compared with the release; a full verify has just matched each
    # with its recorded sha256, which is then not computed twice.
    custom = [] if problems else not_released(model_dir, quick=quick, trust_record=not quick)
    took = time.perf_counter() - start
    known, total = model_manager.checksums_known(model_dir)
    how = "sizes, headers and configs" if quick else f"checksums known for {known} of {total}"
    print(f"checked {total} entries in {took:.2f} s ({how}, tensor shapes)")
    for p in problems:
        print(f"  {p.kind.upper():8s} {p.path}  ({p.location}): {p.detail}")
    if problems:
        for fetch in dict.fromkeys(p.fetch for p in problems):
            print(f"fix with: {fetch}")
        return False
    if custom:
        names = sorted({p.model for p in custom})
        print(f"warning: not the released checkpoint ({', '.join(names)}):")
        for p in custom:
            print(f"  CUSTOM   {p.path}  ({p.location}): {p.detail}")
        if not allow_custom:
            print(
                "These files are whole and usable, but not the released IndexTTS-2 models: "
                "dubs will not sound as the released models do. Pass --allow-custom to "
                "accept them (a fine-tuned model), or fetch the release with:"
            )
            for fetch in dict.fromkeys(p.fetch for p in custom):
                print(f"  {fetch}")
            return False
        print("verified: every model in use is whole and usable (custom files allowed)")
        return True
    print("verified: every model in use is whole and the released one")
    return True
