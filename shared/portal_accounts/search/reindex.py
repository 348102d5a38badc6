"""Check and repair what is derived from the accounts: search entries and status shards.

Both are written after the account's own write, so either can fall behind: a sync that AWS
refused twice (search.sync queues a repair, `handle_repairs` below), a repair whose queue
refused it too, an index table replaced by a deploy, an account written before the status
shards. This walks the accounts table and puts each account's derived data in line with it
(issue 10, finding 6). With AWS credentials and the stack's table names (README, "Reindex"):

    make reindex STACK=<stack> [ARGS="--check"]
    ACCOUNTS_TABLE=… SEARCH_TABLE=… AWS_REGION=… \\
        PYTHONPATH=shared python -m portal_accounts.search.reindex [--check | --all] [options]

- `--check` reports every account that is behind, writing nothing: an entry of its words
  missing or holding other words, its record of what is indexed (`indexed_words`,
  `indexed_status`) not what it should be, its status shard missing or wrong. Each is
  confirmed on a strongly consistent read, so an account changed during the scan is not
  reported for that alone.
- by default, the accounts found behind are repaired: read again strongly consistent, all
  their entries written (search.rebuild), the entries of what they had recorded deleted,
  the shard set on the condition that the status is still the one read (backfill.fix).
- `--all` repairs every account without checking: for a new, empty search table.

Checking an account reads it and its entries (a Scan and a BatchGetItem: about 1.6 read
units for three words); repairing it writes them and its record (about 5 write units;
docs/scale.md, "Repair and reindex"). It prints a line every
PROGRESS_EVERY accounts with the last username done: `--start-after` resumes from there.
`--segments N` splits the scan N ways (a parallel Scan), in threads; `--segment I` runs
part I alone, for N processes or machines. Every run is idempotent.

Entries an account no longer has and never recorded (a deleted account's) are not found
from the accounts: they are harmless, as every search re-checks the account it shows.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from portal_accounts.models import AccountModel, SearchEntryModel, status_shard
from portal_accounts.observability import logger
from portal_accounts.search import index as search
from portal_accounts.search.backfill import fix

PROGRESS_EVERY = 1000
# Accounts checked together: their entries are read in one BatchGetItem series.
PAGE = 100
# What a check needs of an account (the hash, the links' secrets and the rest are not read).
CHECKED_ATTRIBUTES = [
    "username",
    "status",
    "status_shard",
    "customers",
    "indexed_words",
    "indexed_status",
]


@dataclass(frozen=True)
class Counts:
    read: int = 0
    behind: int = 0
    repaired: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.read + other.read, self.behind + other.behind, self.repaired + other.repaired
        )


@dataclass(frozen=True)
class Behind:
    """What one account's derived data lacks."""

    username: str
    entries: int = 0  # of its words' entries, those missing or holding other words
    of: int = 0  # its words' entries
    record: bool = False  # indexed_words / indexed_status not what the account should have
    shard: bool = False  # status_shard missing or not its status's

    def __str__(self) -> str:
        reasons = []
        if self.entries:
            reasons.append(f"{self.entries} of {self.of} search entries missing or stale")
        if self.record:
            reasons.append("indexed words or status not recorded")
        if self.shard:
            reasons.append("status shard missing or wrong")
        return f"{self.username}: {', '.join(reasons)}"


def check(accounts: list[AccountModel]) -> list[Behind]:
    """The accounts whose derived data is not what they should have, with what it lacks."""
    expected = {}
    for account in accounts:
        words = search.key_words(account)
        keys = search.entry_keys(account.username, account.status, words)
        expected[account.username] = (words, keys)
    wanted = {key for _, keys in expected.values() for key in keys}
    found = {(e.prefix, e.entry): set(e.words) for e in SearchEntryModel.batch_get(wanted)}
    behind = []
    for account in accounts:
        words, keys = expected[account.username]
        missing = sum(1 for key in keys if found.get(key) != words)
        record = (
            words != set(account.indexed_words or ()) or account.status != account.indexed_status
        )
        shard = account.status_shard != status_shard(account.username, account.status)
        if missing or record or shard:
            behind.append(Behind(account.username, missing, len(keys), record, shard))
    return behind


def repair(username: str) -> bool:
    """Put one account's entries and shard in line with it as it is now (a strongly
    consistent read); False when there is no such account (nothing to index)."""
    account = search.rebuild_current(username)
    if account is None:
        return False
    if account.status_shard != status_shard(account.username, account.status):
        fix(account)  # on the condition that the status is still the one read
    return True


def confirmed(behind: list[Behind]) -> list[Behind]:
    """Of what a scan found behind, what a strongly consistent read finds behind too."""
    fresh = []
    for found in behind:
        try:
            fresh.append(AccountModel.get(found.username, consistent_read=True))
        except AccountModel.DoesNotExist:
            continue
    return check(fresh) if fresh else []


@dataclass
class _Segment:
    """One part of the scan and its progress."""

    segment: int | None
    segments: int | None
    start_after: str | None
    report: Callable[[str], object]
    counts: Counts = field(default_factory=Counts)
    last: str | None = None

    def say(self, line: str) -> None:
        where = "" if self.segment is None else f"segment {self.segment}/{self.segments}: "
        self.report(where + line)

    def resume_hint(self) -> str:
        part = (
            "" if self.segment is None else f"--segment {self.segment} --segments {self.segments} "
        )
        return f"resume with {part}--start-after {self.last}"

    def pages(self) -> Iterator[list[AccountModel]]:
        accounts = AccountModel.scan(
            attributes_to_get=CHECKED_ATTRIBUTES,
            last_evaluated_key={"username": {"S": self.start_after}} if self.start_after else None,
            segment=self.segment,
            total_segments=self.segments,
        )
        return _chunks(accounts, PAGE)


def _chunks(items: Iterable[AccountModel], size: int) -> Iterator[list[AccountModel]]:
    chunk: list[AccountModel] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _run_segment(part: _Segment, *, check_only: bool, everything: bool) -> Counts:
    read = behind = repaired = 0
    for page in part.pages():
        if everything:
            todo = [account.username for account in page]
        else:
            found = check(page)
            if check_only:
                found = confirmed(found)
            for lagging in found:
                part.say(f"behind: {lagging}")
            behind += len(found)
            todo = [] if check_only else [lagging.username for lagging in found]
        repaired += sum(repair(username) for username in todo)
        # Reported after whole pages: every account up to the last username is done.
        before = read
        read += len(page)
        part.last = page[-1].username
        if read // PROGRESS_EVERY > before // PROGRESS_EVERY:
            part.say(f"{read} read, {behind} behind, {repaired} repaired; {part.resume_hint()}")
    part.counts = Counts(read, behind, repaired)
    part.say(f"done: {read} read, {behind} behind, {repaired} repaired")
    return part.counts


def run(
    *,
    check_only: bool = False,
    everything: bool = False,
    start_after: str | None = None,
    segment: int | None = None,
    segments: int | None = None,
    report: Callable[[str], object] = print,
) -> Counts:
    """Check (and unless `check_only`, repair) every account, or one segment of them.

    `segments` without `segment` runs every segment, each in its own thread."""
    if check_only and everything:
        raise ValueError("--check and --all do not go together")
    if segments is None or segment is not None:
        part = _Segment(segment, segments, start_after, report)
        return _run_segment(part, check_only=check_only, everything=everything)
    if start_after is not None:
        raise ValueError("--start-after resumes one segment: give its --segment too")
    lock = threading.Lock()

    def locked(line: str) -> None:
        with lock:
            report(line)

    parts = [_Segment(n, segments, None, locked) for n in range(segments)]
    with ThreadPoolExecutor(max_workers=segments) as pool:
        done = pool.map(
            lambda part: _run_segment(part, check_only=check_only, everything=everything), parts
        )
        total = sum(done, Counts())
    report(
        f"all {segments} segments done: {total.read} read, {total.behind} behind, "
        f"{total.repaired} repaired"
    )
    return total


def handle_repairs(event: dict) -> dict:
    """The search_repair function: each queued account repaired from a consistent read.

    A repair that fails is reported back, for SQS to retry and, past the queue's receive
    count, to dead-letter (`make reindex` repairs those too). A message that names no
    account, or an account that is gone, is dropped: there is nothing to index."""
    failures = []
    for record in event.get("Records") or []:
        message_id = record.get("messageId", "")
        try:
            username = json.loads(record["body"])["username"]
            if not isinstance(username, str) or not username:
                raise ValueError("no username")
        except (KeyError, TypeError, ValueError):
            logger.error("unreadable repair message dropped", extra={"message_id": message_id})
            continue
        try:
            if not repair(username):
                logger.info(
                    "repair of an unknown account dropped", extra={"message_id": message_id}
                )
        except Exception as error:  # this record only: SQS retries it
            logger.warning(
                "repair left for retry",
                extra={"message_id": message_id, "error": type(error).__name__},
            )
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def main(argv: list[str] | None = None) -> int:
    """1 when `--check` found an account behind (for a script to act on), else 0."""
    parser = argparse.ArgumentParser(
        prog="python -m portal_accounts.search.reindex",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report what is behind, write nothing")
    mode.add_argument("--all", action="store_true", help="repair every account, without checking")
    parser.add_argument("--start-after", help="the last username a stopped run printed")
    parser.add_argument("--segment", type=int, help="run this part of the scan alone (0..N-1)")
    parser.add_argument("--segments", type=int, help="how many parts the scan is split into")
    args = parser.parse_args(argv)
    if args.segment is not None and args.segments is None:
        parser.error("--segment needs --segments")
    if args.segments is not None and not (
        args.segments >= 1 and (args.segment is None or 0 <= args.segment < args.segments)
    ):
        parser.error("--segments must be at least 1, and --segment one of 0..N-1")
    if args.start_after is not None and args.segments is not None and args.segment is None:
        parser.error("--start-after resumes one segment: give its --segment too")
    counts = run(
        check_only=args.check,
        everything=args.all,
        start_after=args.start_after,
        segment=args.segment,
        segments=args.segments,
    )
    return 1 if args.check and counts.behind else 0


if __name__ == "__main__":
    raise SystemExit(main())
