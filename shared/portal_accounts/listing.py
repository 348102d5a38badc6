"""F1: list accounts by status, or search them by a few letters; never a Scan."""

from __future__ import annotations

import heapq
from collections import deque

from portal_accounts.errors import InvalidInput
from portal_accounts.models import STATUS_SHARDS, AccountModel, SearchEntryModel, status_shards
from portal_accounts.pagination import Page, bad_cursor, check_key, decode_payload, encode_cursor
from portal_accounts.search import MAX_TOKEN, account_words, matches, words_of

MAX_SEARCH_READS = 100
STATUSES = {"active": ("active",), "disabled": ("disabled",), "all": ("active", "disabled")}


def list_accounts(*, q: str | None, status: str, limit: int, cursor: str | None) -> Page:
    if q is not None and q.strip():
        return _search(q, status=status, limit=limit, cursor=cursor)
    return _by_status(status=status, limit=limit, cursor=cursor)


def _by_status(*, status: str, limit: int, cursor: str | None) -> Page:
    """One page of a status's accounts in username order, merged from its shards; "all"
    walks active, then disabled.

    The cursor holds the phase and the last username shown: the next page is what comes
    after it in every shard. One username is enough (the merge has shown everything up to
    it), and an account added behind it is not shown, as with a single Query."""
    phases = STATUSES[status]
    phase, after = phases[0], None
    if cursor:
        payload = decode_payload(cursor)
        if payload.get("s") not in phases:
            raise bad_cursor()
        phase = payload["s"]
        # An empty key means "this phase, from its beginning".
        if payload["k"]:
            after = check_key(payload["k"], {}, ("username",))["username"]["S"]
    items, more = _merged(phase, after, limit)
    next_cursor = None
    if more and items:
        next_cursor = encode_cursor({"username": {"S": items[-1].username}}, s=phase)
    elif phase != phases[-1]:
        next_cursor = encode_cursor({}, s=phases[phases.index(phase) + 1])
    return Page(items=items, next_cursor=next_cursor)


def _shard_batch(limit: int) -> int:
    """How many entries a page reads from each shard at a time: its share of the page and
    two more, so that a second read of a shard is rare (a Query of a few entries costs
    what a Query of one does: under 4 KB, half a read unit)."""
    return min(limit, -(-limit // STATUS_SHARDS) + 2)


def status_page_bound(limit: int) -> tuple[int, int]:
    """The most a listing page reads, as (index entries, Queries): one batch of each shard,
    and a shard is read again only after a whole batch of it was shown."""
    batch = _shard_batch(limit)
    return STATUS_SHARDS * batch + limit, STATUS_SHARDS + limit // batch


class _Shard:
    """One by-status key, read in batches in username order, from after a username on."""

    def __init__(self, key: str, after: str | None, batch: int) -> None:
        self.key, self.after, self.batch = key, after, batch
        self.entries: deque[AccountModel] = deque()
        self.more = True

    def read(self) -> None:
        condition = AccountModel.username > self.after if self.after else None
        results = AccountModel.by_status.query(
            self.key, range_key_condition=condition, limit=self.batch, page_size=self.batch
        )
        self.entries.extend(results)
        self.more = results.last_evaluated_key is not None
        if self.entries:
            self.after = self.entries[-1].username


def _merged(status: str, after: str | None, limit: int) -> tuple[list[AccountModel], bool]:
    """The first `limit` accounts of the status after `after` across its shards, and
    whether any are left. A shard is read again only when its next entry is needed."""
    batch = _shard_batch(limit)
    shards = [_Shard(key, after, batch) for key in status_shards(status)]
    for shard in shards:
        shard.read()
    heads = [(shard.entries[0].username, n) for n, shard in enumerate(shards) if shard.entries]
    heapq.heapify(heads)
    items: list[AccountModel] = []
    while heads and len(items) < limit:
        _, n = heapq.heappop(heads)
        shard = shards[n]
        items.append(shard.entries.popleft())
        if not shard.entries and shard.more and len(items) < limit:
            shard.read()
        if shard.entries:
            heapq.heappush(heads, (shard.entries[0].username, n))
    return items, any(shard.entries or shard.more for shard in shards)


def _search(q: str, *, status: str, limit: int, cursor: str | None) -> Page:
    terms = sorted(words_of(q), key=len, reverse=True)
    if not terms:
        raise InvalidInput(
            "Type at least 2 letters of a name or of the email to search.",
            errors=[{"field": "q", "reason": "too_short"}],
        )
    token = terms[0][:MAX_TOKEN]
    start = None
    if cursor:
        start = check_key(decode_payload(cursor)["k"], {"token": token}, ("entry",))
    prefix = "" if status == "all" else f"{status}#"
    if start is not None and not start["entry"]["S"].startswith(prefix):
        raise bad_cursor()  # a cursor of another status filter
    condition = SearchEntryModel.entry.startswith(prefix) if prefix else None
    # One page of the index is enough for one word (every entry matches it). More words
    # filter the entries, so read on, boundedly, to fill the page.
    max_reads = limit if len(terms) == 1 else min(MAX_SEARCH_READS, 4 * limit)
    results = SearchEntryModel.query(
        token, range_key_condition=condition, page_size=limit, last_evaluated_key=start
    )
    usernames: list[str] = []
    last_entry = None
    for read, entry in enumerate(results, start=1):
        last_entry = entry.entry
        if matches(set(entry.words), terms):
            usernames.append(entry.entry.partition("#")[2])
        if len(usernames) == limit or read >= max_reads:
            break
    else:
        last_entry = None  # the index has nothing more for this query
    accounts = {a.username: a for a in AccountModel.batch_get(usernames)} if usernames else {}
    wanted = STATUSES[status]
    # Re-checked against the accounts themselves: a stale index entry never shows.
    items = [
        accounts[u]
        for u in usernames
        if u in accounts
        and accounts[u].status in wanted
        and matches(account_words(accounts[u]), terms)
    ]
    next_key = {"token": {"S": token}, "entry": {"S": last_entry}} if last_entry else None
    return Page(items=items, next_cursor=encode_cursor(next_key))
