"""Issue 10, finding 3: the search index's entries rebuilt from the accounts.

A deploy that changes the index's key schema gives the stack a new, empty search table,
while every account still records the entries it had in the old one: the backfill's
search mode writes them all again, resumable from the last username it printed.
"""

from __future__ import annotations

from portal_accounts.models import SearchEntryModel
from portal_accounts.search import backfill
from tests.unit.clients import seed_account


def empty_the_index() -> None:
    """What the deploy leaves: a new table, the accounts as they were."""
    with SearchEntryModel.batch_write() as batch:
        for entry in SearchEntryModel.scan():
            batch.delete(entry)


def quiet(line: str) -> None:
    pass


def test_the_backfill_rebuilds_the_entries_of_a_new_search_table(desk):
    mario = seed_account("c1@example.com", [("Mario", "Rossi")]).username
    off = seed_account("c2@example.com", [("Luca", "Rossini")], status="disabled").username
    empty_the_index()
    assert desk.usernames(q="ross", status="all") == []
    assert backfill.run(search_entries=True, report=quiet) == backfill.Counts(read=2, fixed=2)
    assert desk.usernames(q="ross") == [mario]
    assert desk.usernames(q="ross", status="disabled") == [off]
    assert desk.usernames(q="mario rossi") == [mario]
    # Again: the same entries, nothing more.
    before = {(e.prefix, e.entry) for e in SearchEntryModel.scan()}
    assert backfill.run(search_entries=True, report=quiet) == backfill.Counts(read=2, fixed=2)
    assert {(e.prefix, e.entry) for e in SearchEntryModel.scan()} == before


def test_the_search_rebuild_resumes_after_the_last_username_it_printed(desk, monkeypatch):
    usernames = [seed_account(f"u{n}@example.com", [("Anna", "Neri")]).username for n in range(5)]
    empty_the_index()
    monkeypatch.setattr(backfill, "PROGRESS_EVERY", 2)
    lines: list[str] = []
    backfill.run(search_entries=True, report=lines.append)
    resume = lines[0].rpartition("--start-after ")[2]
    empty_the_index()
    counts = backfill.run(search_entries=True, start_after=resume, report=quiet)
    assert counts.read == 3
    shown = set(desk.usernames(q="anna"))
    assert len(shown) == 3
    assert shown <= set(usernames)


def test_the_search_rebuild_skips_an_account_deleted_since_the_scan(desk, monkeypatch):
    username = seed_account("c1@example.com", [("Mario", "Rossi")]).username
    empty_the_index()
    scanned = backfill.AccountModel.scan

    def deleted_after_the_scan(*args, **kwargs):
        for account in scanned(*args, **kwargs):
            backfill.AccountModel(username).delete()
            yield account

    monkeypatch.setattr(backfill.AccountModel, "scan", deleted_after_the_scan)
    assert backfill.run(search_entries=True, report=quiet) == backfill.Counts(read=1, fixed=0)
    assert list(SearchEntryModel.scan()) == []
