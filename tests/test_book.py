"""optbook.book: glue outside a build, Markdown tables."""

import pytest

from optbook.book import glue, table


def test_table_from_dicts_renders_markdown_with_formats():
    t = table([{"method": "Adam", "loss": 0.12345}, {"method": "SGD", "loss": 1.5}],
              formats={"loss": ".3f"})
    md = t._repr_markdown_().splitlines()
    assert md[0] == "| method | loss |"
    assert md[1] == "| :--- | ---: |"
    assert md[2] == "| Adam | 0.123 |"
    assert md[3] == "| SGD | 1.500 |"
    assert "Adam" in str(t) and "0.123" in str(t)


def test_table_from_sequences_needs_columns_and_matching_rows():
    with pytest.raises(ValueError, match="need `columns`"):
        table([[1, 2]])
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        table([[1]], columns=["a", "b"])
    with pytest.raises(ValueError, match="lacks"):
        table([[1]], columns=["a"], formats={"b": ".2f"})


def test_table_escapes_pipes_and_shows_nan_as_dash():
    md = table([["a|b", float("nan")]], columns=["x", "y"])._repr_markdown_()
    assert "a\\|b" in md and "–" in md


def test_glue_returns_the_value_and_checks_the_name():
    assert glue("ok-name_1", 3) == 3
    with pytest.raises(ValueError, match="letters"):
        glue("bad name", 1)


def test_progress_bar_prints_once_finished_in_the_book(capsys, monkeypatch):
    from optbook.runtime import progress_bar

    monkeypatch.setenv("OPTBOOK_FINAL_PROGRESS", "1")
    bar = progress_bar(50, "train")
    for _ in range(50):
        bar.update(1)
    assert capsys.readouterr().out == ""
    bar.close()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "\r" not in out and "50/50" in out and "train" in out


def test_progress_bar_is_live_elsewhere_and_can_be_off(capsys, monkeypatch):
    from optbook.runtime import progress_bar

    monkeypatch.delenv("OPTBOOK_FINAL_PROGRESS", raising=False)
    bar = progress_bar(3, "live")
    bar.update(3)
    bar.close()
    assert "3/3" in capsys.readouterr().out
    off = progress_bar(3, "off", enabled=False)
    off.update(3)
    off.close()
    assert capsys.readouterr().out == ""
