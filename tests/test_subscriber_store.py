"""The subscriber store: normalised addresses, no doubles, CSV import with bad rows, export, CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from encounter_habit.subscribers import cli
from encounter_habit.subscribers.errors import SubscribersError
from encounter_habit.subscribers.settings import load_settings
from encounter_habit.subscribers.store import SqliteStore, normalise_email

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path):
    with SqliteStore(tmp_path / "var" / "subscribers.sqlite3") as opened:
        yield opened


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path / "pelicanconf.py")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_addresses_are_validated_and_normalised():
    assert normalise_email("  Reader@Example.COM ") == "reader@example.com"
    assert normalise_email("leser@bücher.de") == "leser@xn--bcher-kva.de"
    for bad in ("not-an-address", "a@@example.com", "a@localhost", ""):
        with pytest.raises(SubscribersError, match="not a valid email address"):
            normalise_email(bad)


def test_adding_the_same_person_twice_keeps_one_row(store):
    first, created = store.add(normalise_email("Reader@Example.com"))
    again, created_again = store.add(normalise_email("reader@example.COM"))
    assert (created, created_again) == (True, False)
    assert first.id == again.id
    assert store.counts()["confirmed"] == 1


def test_import_skips_and_reports_bad_rows_with_line_numbers_and_never_doubles(store, tmp_path):
    store.add("existing@example.com")
    source = write(
        tmp_path / "mailchimp.csv",
        "First Name,Email Address,Tags\n"  # line 1: header, email in the second column
        "Ann,ann@example.com,vip\n"  # 2
        "Bob,not an email,\n"  # 3: invalid
        "\n"  # 4: blank, ignored
        "Cy,EXISTING@example.com,\n"  # 5: already present
        "Di,di@example,\n"  # 6: invalid (no dot in domain)
        "Ann again,Ann@Example.com,\n"  # 7: duplicate of line 2
        '"Eve, Jr.",eve@example.com,\n',  # 8: quoted comma
    )
    report = store.import_csv(source)
    assert report.added == 2
    assert report.already_present == 2
    assert [(line, raw) for line, raw, _ in report.invalid] == [
        (3, "not an email"),
        (6, "di@example"),
    ]
    emails = sorted(s.email for s in store.iter_subscribers())
    assert emails == ["ann@example.com", "eve@example.com", "existing@example.com"]


def test_import_without_a_header_row_finds_the_address_column(store, tmp_path):
    source = write(tmp_path / "plain.csv", "ann@example.com\nbob@example.com,Bob\n")
    assert store.import_csv(source).added == 2


def test_import_refuses_a_file_without_an_email_column_in_one_line(store, tmp_path):
    source = write(tmp_path / "names.csv", "name,city\nAnn,Chicago\n")
    with pytest.raises(SubscribersError, match=r"names\.csv:1: no email column"):
        store.import_csv(source)
    assert store.counts()["confirmed"] == 0


def test_import_refuses_a_file_that_is_not_utf8_and_imports_nothing(store, tmp_path):
    source = write(tmp_path / "latin1.csv", "email\nann@example.com\nrené@example.com\n", "latin-1")
    with pytest.raises(SubscribersError, match="UTF-8"):
        store.import_csv(source)
    assert store.counts()["confirmed"] == 0


def test_import_never_resubscribes_someone_who_left(store, tmp_path):
    subscriber, _ = store.add("left@example.com")
    store.unsubscribe(subscriber.id)
    report = store.import_csv(write(tmp_path / "old.csv", "email\nleft@example.com\n"))
    assert report.already_present == 1
    assert store.get(subscriber.id).status == "unsubscribed"


def test_export_then_import_into_an_empty_store_gives_the_same_list(store, tmp_path):
    for address in ("a@example.com", "b@example.com", "c@example.com"):
        store.add(address)
    exported = tmp_path / "export.csv"
    assert store.export_csv(exported) == 3
    with exported.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["status"] for row in rows] == ["confirmed"] * 3
    with SqliteStore(tmp_path / "other.sqlite3") as other:
        assert other.import_csv(exported).added == 3
        assert [s.email for s in other.iter_subscribers()] == [
            s.email for s in store.iter_subscribers()
        ]


def test_cli_import_prints_each_bad_row_as_one_line_and_a_summary(settings, tmp_path, capsys):
    source = write(tmp_path / "in.csv", "email\nann@example.com\nbroken\n")
    assert cli.import_subscribers(source, settings) == 0
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [
        f"{source}:3: skipped 'broken': 'broken' is not a valid email address: "
        "An email address must have an @-sign."
    ]
    assert "imported 1, already present 0, invalid 1" in out


def test_cli_add_list_and_remove(settings, capsys):
    assert cli.add_subscribers(["Ann@Example.com", "nope"], settings) == 1
    assert cli.list_subscribers(None, settings) == 0
    out, err = capsys.readouterr()
    assert "ann@example.com\tconfirmed" in out.splitlines()
    assert "'nope' is not a valid email address" in err
    assert cli.remove_subscribers(["ann@example.com"], settings) == 0
    assert cli.remove_subscribers(["ann@example.com"], settings) == 1
    with SqliteStore(settings.path("db_path")) as store:
        assert store.counts()["confirmed"] == 0


def test_a_missing_csv_file_is_one_line_not_a_traceback(tmp_path):
    (tmp_path / "pelicanconf.py").write_text("SUBSCRIBERS = {'db_path': 'subs.sqlite3'}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "encounter_habit.subscribers",
            "--settings",
            str(tmp_path / "pelicanconf.py"),
            "import",
            str(tmp_path / "missing.csv"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "missing.csv: cannot read the CSV file" in result.stderr
    assert (tmp_path / "subs.sqlite3").exists()


def test_a_bad_setting_is_reported_in_one_line(tmp_path):
    with pytest.raises(SubscribersError, match=r"SUBSCRIBERS\['transport'\] is 'smpt'"):
        load_settings(tmp_path / "pelicanconf.py", {"transport": "smpt"})
    with pytest.raises(SubscribersError, match=r"unknown setting SUBSCRIBERS\['db'\]"):
        load_settings(tmp_path / "pelicanconf.py", {"db": "x"})


SUBSCRIBER_TASKS = (
    "subscribe-server",
    "send",
    "subscribers-add",
    "subscribers-remove",
    "subscribers-list",
    "subscribers-import",
    "subscribers-export",
)


def test_every_setting_and_task_is_documented():
    from invoke import Collection

    sys.path.insert(0, str(ROOT))
    import tasks
    from encounter_habit.subscribers.settings import DEFAULTS

    docs = (ROOT / "README.md").read_text()
    names = Collection.from_module(tasks).task_names
    for task in SUBSCRIBER_TASKS:
        assert task in names, task
        assert f"`./dev {task}" in docs, task
    for key in DEFAULTS:
        assert f"`{key}`" in docs, key
