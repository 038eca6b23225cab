"""The data files ship: a wheel built from this tree and installed elsewhere (not the
editable checkout) finds the emotion presets and the model manifest where its code looks,
and the PyInstaller spec bundles both where the same code looks in the bundle."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = (
    "resources/emotion_presets.json",
    "resources/model_manifest.json",
    "resources/released_shapes.json",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel of a copy of the tree (the build's own folders stay out of the checkout)."""
    import setuptools  # noqa: F401  (install.sh installs both: missing must fail)
    import wheel  # noqa: F401

    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("app", "core", "models", "resources"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (found,) = out.glob("dubsmith-*.whl")
    return found


def test_the_wheel_carries_the_data_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in DATA:
        assert name in names, sorted(n for n in names if not n.endswith(".py"))


def test_an_installed_copy_finds_the_presets_and_the_manifest(wheel, tmp_path):
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    probe = (
        "import json, app.gui.inspector as i, models.layout as m\n"
        "print(json.dumps({'inspector': i.__file__, 'presets_file': str(i.PRESETS_FILE),\n"
        "  'presets': [n for n, _ in i.load_presets()], 'manifest': str(m.MANIFEST),\n"
        "  'manifest_ok': m.MANIFEST.is_file()}))\n"
    )
    # Run from elsewhere, the installed copy first on the path (ahead of the editable one).
    env = {**os.environ, "PYTHONPATH": str(target), "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(seen["inspector"]).is_relative_to(target)  # the installed copy, not the tree
    assert Path(seen["presets_file"]).is_relative_to(target)
    wanted = [p["name"] for p in json.loads((ROOT / DATA[0]).read_text())["presets"]]
    assert wanted and seen["presets"] == wanted
    assert seen["manifest_ok"] and Path(seen["manifest"]).is_relative_to(target)


def test_the_bundle_spec_lists_the_data_files_where_the_code_looks():
    """In the PyInstaller bundle the packages sit at its root, as in site-packages: the
    files must go to resources/ there."""
    tree = ast.parse((ROOT / "installer/dubsmith.spec").read_text())
    (datas,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DATAS"
    ]
    from app.gui.inspector import PRESETS_FILE
    from models.layout import MANIFEST

    for path in (PRESETS_FILE, MANIFEST):
        where = path.relative_to(ROOT)
        assert (str(where), str(where.parent)) in datas
