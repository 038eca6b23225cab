from pathlib import Path

from core.language import language_from_filename, to_iso639_2


def test_tags():
    assert to_iso639_2("en") == "eng"
    assert to_iso639_2("pt_BR") == "por"
    assert to_iso639_2("fra") == "fra"
    assert to_iso639_2("xx") is None and to_iso639_2(None) is None


def test_from_filename():
    assert language_from_filename(Path("movie.fr.srt")) == "fre"
    assert language_from_filename(Path("movie.pt-BR.forced.vtt")) == "por"
    assert language_from_filename(Path("movie.srt")) is None
    assert language_from_filename(Path("my.movie.final.srt")) is None
