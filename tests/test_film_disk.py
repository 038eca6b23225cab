"""The preflight's disk estimate for a film: every file the dub writes, at its real size."""

from __future__ import annotations

import pytest

from core.disk_space import DiskSpaceError, SpaceNeed, check_space, describe, film_cache_bytes

GB = 1e9


def test_a_two_hour_surround_film_counts_master_copies_stems_takes_and_mix():
    parts = film_cache_bytes(7200, 6, 3000, take_rate=22050, separate=True)
    assert parts["master"] == pytest.approx(7200 * 48000 * 6 * 4, abs=1e4)  # 8.3 GB
    assert parts["working copies"] == pytest.approx(7200 * (16000 + 22050) * 4, abs=1e4)
    # dialogue + background at the master's channels, and the dialogue's two copies
    assert parts["stems"] == pytest.approx(2 * parts["master"] + parts["working copies"], abs=1e4)
    assert parts["takes"] == pytest.approx(3000 * 22050 * 4, abs=1e4)
    assert parts["mix"] == parts["master"]  # the mix keeps the original's 5.1
    assert sum(parts.values()) > 34 * GB


def test_an_extracted_film_needs_only_takes_and_mix_and_takes_follow_the_engine_rate():
    parts = film_cache_bytes(3600, 2, 600, take_rate=48000, extract=False)
    assert set(parts) == {"takes", "mix"}
    assert parts["takes"] == pytest.approx(600 * 48000 * 4, abs=1e4)


def test_a_refusal_names_the_folder_and_what_takes_the_room(tmp_path):
    parts = film_cache_bytes(10 * 365 * 86400, 8, 60)  # a decade of 7.1: no disk holds it
    with pytest.raises(DiskSpaceError) as err:
        check_space([SpaceNeed(tmp_path, sum(parts.values()), describe("the cache", parts))])
    message = str(err.value)
    assert str(tmp_path) in message and "master" in message and "mix" in message


def test_takes_are_counted_at_the_routed_engines_own_rate(reference_dir, tmp_path):
    from core.job.preflight import take_rate_of
    from core.models.engines import RegistryFactory
    from tests.conftest import materialize_model_dir

    folder = materialize_model_dir(reference_dir / "model_dir", tmp_path / "models")
    assert take_rate_of(RegistryFactory("indextts2"), folder) == 22050
    assert take_rate_of(RegistryFactory("voxcpm2"), folder) == 48000  # VoxCPM2 speaks 48 kHz
    assert take_rate_of(lambda *a: None, folder) == 22050  # a test double: the contract's rate
