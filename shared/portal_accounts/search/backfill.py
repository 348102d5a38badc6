"""One-offs: the status index's key for accounts written before it; the search entries.

`make reindex` (reindex.py) does both and more: it checks every account and repairs what
is behind. This stays for the runbooks of the deploys that brought the shards and the
new search table (docs/decisions.md, 2026-12-02).

The by-status index is keyed by `status_shard` (models.status_shard). An account item
written before that attribute existed has none, so the index does not hold it and the
listing does not show it (a search still finds it). Run this once after the deploy that
brings the index, with AWS credentials allowed to Scan and UpdateItem the accounts table:

    ACCOUNTS_TABLE=<the stack's accounts table> AWS_REGION=<region> \\
        PYTHONPATH=shared python -m portal_accounts.search.backfill [--segment I --segments N]

It scans the table and sets the shard where it is missing or wrong, on the condition that
the status is still the one scanned: a status written meanwhile came with its own shard.
It prints its progress with the last username read; `--start-after` resumes from there.
A second run fixes nothing. N processes with `--segment 0..N-1 --segments N` share the
table (a parallel Scan), for a large one.

`--search` rebuilds the search index instead (SEARCH_TABLE too; BatchWriteItem on it,
GetItem and UpdateItem on the accounts): after the deploy that changed its key schema,
the stack has a new, empty search table, while each account still records what it had
indexed in the old one. Every account is read again (strongly consistent, so a change
made since the scan is seen) and all its entries written (search.rebuild): a write unit
a word, about three an account. It is idempotent, and resumes and splits the same way.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError

from portal_accounts.dynamodb import condition_failed
from portal_accounts.models import AccountModel, status_shard
from portal_accounts.search import index as search

PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class Counts:
    read: int = 0
    fixed: int = 0


def fix(account: AccountModel) -> bool:
    """Set one scanned account's shard; False when its status changed since the scan."""
    try:
        AccountModel(account.username).update(
            actions=[AccountModel.status_shard.set(status_shard(account.username, account.status))],
            condition=AccountModel.status == account.status,
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
        return False
    return True


def rebuild_search(username: str) -> bool:
    """Write every search entry of one scanned account; False when it is gone."""
    return search.rebuild_current(username) is not None


def run(
    *,
    start_after: str | None = None,
    segment: int | None = None,
    segments: int | None = None,
    search_entries: bool = False,
    report: Callable[[str], object] = print,
) -> Counts:
    read = fixed = 0
    last = start_after
    accounts = AccountModel.scan(
        attributes_to_get=["username", "status", "status_shard"],
        last_evaluated_key={"username": {"S": start_after}} if start_after else None,
        segment=segment,
        total_segments=segments,
    )
    for account in accounts:
        read += 1
        last = account.username
        if search_entries:
            fixed += rebuild_search(account.username)
        elif account.status_shard != status_shard(account.username, account.status):
            fixed += fix(account)
        if read % PROGRESS_EVERY == 0:
            report(f"{read} read, {fixed} fixed; resume with --start-after {last}")
    report(f"done: {read} read, {fixed} fixed")
    return Counts(read=read, fixed=fixed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m portal_accounts.search.backfill", description=__doc__
    )
    parser.add_argument("--start-after", help="the last username a stopped run printed")
    parser.add_argument("--segment", type=int, help="this process's part of a parallel scan")
    parser.add_argument("--segments", type=int, help="how many parts the scan is split into")
    parser.add_argument(
        "--search", action="store_true", help="rebuild the search index's entries instead"
    )
    args = parser.parse_args(argv)
    if (args.segment is None) != (args.segments is None):
        parser.error("--segment and --segments go together")
    run(
        start_after=args.start_after,
        segment=args.segment,
        segments=args.segments,
        search_entries=args.search,
    )


if __name__ == "__main__":
    main()
