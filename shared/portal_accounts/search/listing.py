"""F1: list accounts by status, or search them by a few letters; never a Scan."""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import TypeGuard

from portal_accounts.errors import InvalidInput
from portal_accounts.models import STATUS_SHARDS, AccountModel, SearchEntryModel, status_shards
from portal_accounts.pagination import Page, bad_cursor, check_key, decode_payload, encode_cursor
from portal_accounts.search.index import (
    account_words,
    all_words,
    entry_prefix,
    first_word,
    key_words,
    matches,
    parse_entry,
    partition_of,
    words_of,
)
from portal_accounts.usernames import lookup_key

# Index entries one search page reads at most (a few KB: one or two read units), in at
# most MAX_SEARCH_ROUNDS Queries that read entries (another round only when entries were
# dropped, by the other words or the re-check, or when "all" moves on to "disabled").
MAX_SEARCH_READS = 100
MAX_SEARCH_ROUNDS = 3
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
    entries, more = _merged(phase, after, limit)
    next_cursor = None
    if more and entries:
        next_cursor = encode_cursor({"username": {"S": entries[-1].username}}, s=phase)
    elif phase != phases[-1]:
        next_cursor = encode_cursor({}, s=phases[phases.index(phase) + 1])
    return Page(items=_accounts_of(entries, phase), next_cursor=next_cursor)


def _accounts_of(entries: list[AccountModel], status: str) -> list[AccountModel]:
    """The accounts the index's entries name, in their order, read from the table: the
    index holds only keys, so that a login recording its day, or a customer linked,
    writes nothing to it (docs/decisions.md, "a keys-only status index"). One
    BatchGetItem, eventually consistent: half a read unit an account, what reading the
    same row from the index cost. An account whose status moved on since the index saw
    it (the index lags its table) is left out, as the search leaves out a stale entry."""
    if not entries:
        return []
    found = {a.username: a for a in AccountModel.batch_get([e.username for e in entries])}
    return [
        account
        for account in (found.get(entry.username) for entry in entries)
        if account is not None and account.status == status
    ]


def _shard_batch(limit: int) -> int:
    """How many entries a page reads from each shard at a time: its share of the page and
    two more, so that a second read of a shard is rare (a Query of a few entries costs
    what a Query of one does: under 4 KB, half a read unit)."""
    return min(limit, -(-limit // STATUS_SHARDS) + 2)


def status_page_bound(limit: int) -> tuple[int, int]:
    """The most a listing page reads, as (items, requests): one batch of each shard, and a
    shard is read again only after a whole batch of it was shown; then the page's
    accounts, in one BatchGetItem."""
    batch = _shard_batch(limit)
    return STATUS_SHARDS * batch + limit + limit, STATUS_SHARDS + limit // batch + 1


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
    """A page of the accounts whose words start with every word of the query.

    The query's longest word drives the Query on the index (ties: the first in alphabetical
    order, so every container picks the same), the others filter the entries; a word with
    no entry at all (a domain's word typed alone: it has none) hands over to the next.
    An account is shown from the entry of its first word starting with the driving one
    (search.first_word), so once. "all" reads active, then disabled, on the same page
    when the first runs out. A query with an "@" names part of an address: its domain's
    words only filter, and a whole address is also looked up by key, so the account it
    names comes first however many accounts share its domain. A page reads on until it is
    full, the index has nothing more, or it read MAX_SEARCH_READS entries or spent
    MAX_SEARCH_ROUNDS Queries: only then can it be short (even empty) with a cursor, and
    `partial` says so.
    """
    plan = _plan(q)
    phases = STATUSES[status]
    at = _SearchPosition(plan, phases[0], plan.driving[0])
    if cursor:
        at = _resume(plan, phases, decode_payload(cursor))

    def current(account: AccountModel | None) -> TypeGuard[AccountModel]:
        # Re-checked against the accounts themselves: a stale index entry never shows.
        return (
            account is not None
            and account.status in phases
            and matches(account_words(account), plan.terms)
        )

    def shown(account: AccountModel | None, word: str) -> bool:
        # ... nor an entry of a word the account no longer shows itself by.
        return current(account) and first_word(key_words(account), at.term) == word

    items: list[AccountModel] = []
    if plan.address and cursor is None:
        exact = _get(plan.address)
        if current(exact):
            items.append(exact)
    reads = rounds = 0
    done = False
    while len(items) < limit and reads < MAX_SEARCH_READS and rounds < MAX_SEARCH_ROUNDS:
        want = limit - len(items)
        # One word: most entries of the term are matches (not a stale one, nor an
        # account's second word starting with it), so the first round reads what the page
        # needs, a later one twice that. More words filter: read the rest of the budget
        # at once.
        if len(plan.terms) == 1:
            size = want + (plan.address is not None) if rounds == 0 else 2 * want
        else:
            size = MAX_SEARCH_READS
        size = min(size, MAX_SEARCH_READS - reads)
        results = SearchEntryModel.query(
            partition_of(at.term),
            range_key_condition=SearchEntryModel.entry.startswith(entry_prefix(at.phase, at.term)),
            limit=size,
            page_size=size,
            last_evaluated_key=at.key(),
        )
        found: list[tuple[str, str]] = []  # (username, the word of its entry)
        more = True
        for entry in results:
            reads += 1
            at.last_entry = entry.entry
            _, word, username = parse_entry(entry.entry)
            words = set(entry.words)
            if (
                username != plan.address
                and first_word(words, at.term) == word
                and matches(all_words(username, words), plan.terms)
            ):
                found.append((username, word))
                if len(found) == want:
                    break
        else:
            more = results.last_evaluated_key is not None
        if not more and at.last_entry is None and at.fallbacks:
            at.hand_over()  # nothing at all under this word: an empty Query, not a round
            continue
        rounds += 1
        if found:
            accounts = {a.username: a for a in AccountModel.batch_get([u for u, _ in found])}
            items += [accounts[u] for u, word in found if shown(accounts.get(u), word)]
        if not more:
            done = at.phase == phases[-1]
            if done:
                break
            at = _SearchPosition(plan, phases[phases.index(at.phase) + 1], plan.driving[0])
    next_cursor = None if done else at.cursor()
    return Page(
        items=items,
        next_cursor=next_cursor,
        partial=next_cursor is not None and len(items) < limit,
    )


class _SearchPosition:
    """Where a search is: the status it reads, the word driving it, the last entry read
    (None: from the start), and the words it may still hand over to."""

    def __init__(self, plan: _Plan, phase: str, term: str, last_entry: str | None = None):
        self.phase, self.term, self.last_entry = phase, term, last_entry
        # Only a phase read from its start may hand over: a cursor names its word.
        after = plan.driving[plan.driving.index(term) + 1 :]
        self.fallbacks = [] if last_entry else after

    def hand_over(self) -> None:
        self.term = self.fallbacks.pop(0)

    def key(self) -> dict | None:
        if self.last_entry is None:
            return None
        return {"prefix": {"S": partition_of(self.term)}, "entry": {"S": self.last_entry}}

    def cursor(self) -> str | None:
        return encode_cursor(self.key() or {}, s=self.phase, t=self.term)


def _resume(plan: _Plan, phases: tuple[str, ...], payload: dict) -> _SearchPosition:
    """The position a cursor names, if it is one of this query and status filter: a key
    outside the Query's key condition is a ValidationException on DynamoDB (a 500)."""
    phase, term = payload.get("s"), payload.get("t")
    if phase not in phases or term not in plan.driving:
        raise bad_cursor()  # a cursor of another query, or of another status filter
    last_entry = None
    if payload["k"]:
        key = check_key(payload["k"], {"prefix": partition_of(term)}, ("entry",))
        last_entry = key["entry"]["S"]
        if not last_entry.startswith(entry_prefix(phase, term)):
            raise bad_cursor()
    return _SearchPosition(plan, phase, term, last_entry)


def search_page_bound(limit: int, status: str) -> tuple[int, int]:
    """The most a search page reads, as (items, requests): MAX_SEARCH_READS index entries,
    `limit` accounts and the address's; a GetItem, a Query and a BatchGetItem a round,
    and in each status read an empty Query for each word that handed over to the next."""
    handovers = len(STATUSES[status]) * (MAX_DRIVING_WORDS - 1)
    return MAX_SEARCH_READS + limit + 1, 1 + 2 * MAX_SEARCH_ROUNDS + handovers


@dataclass(frozen=True)
class _Plan:
    driving: list[str]  # the words that may drive the Query, the most selective first
    terms: list[str]  # every word an account's words must start with
    address: str | None  # the username a whole address names


MAX_DRIVING_WORDS = 3  # a query's words tried in turn to drive the search


def _plan(q: str) -> _Plan:
    local, at, domain = q.strip().rpartition("@")
    if not at:
        local, domain = domain, ""
    keyed = words_of(local)
    if not keyed:
        raise InvalidInput(
            "Type at least 2 letters of a name, or of the email before its @, to search.",
            errors=[{"field": "q", "reason": "too_short"}],
        )
    # Longer words select fewer accounts; ties broken alphabetically, never by set order.
    driving = sorted(keyed, key=lambda word: (-len(word), word))[:MAX_DRIVING_WORDS]
    whole = at and local.strip() and "." in domain and not any(c.isspace() for c in q.strip())
    return _Plan(
        driving=driving,
        terms=sorted(keyed | words_of(domain)),
        address=lookup_key(q) if whole else None,
    )


def _get(username: str) -> AccountModel | None:
    try:
        return AccountModel.get(username)
    except AccountModel.DoesNotExist:
        return None
