"""F1: list accounts by status, or search them by a few letters; never a Scan."""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

from portal_accounts.errors import InvalidInput
from portal_accounts.identity import lookup_key
from portal_accounts.models import STATUS_SHARDS, AccountModel, SearchEntryModel, status_shards
from portal_accounts.pagination import Page, bad_cursor, check_key, decode_payload, encode_cursor
from portal_accounts.search import MAX_TOKEN, account_words, matches, words_of

# Index entries one search page reads at most (a few KB: one or two read units), in at
# most MAX_SEARCH_ROUNDS Queries (another round only when re-checking dropped entries).
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
    """A page of the accounts whose words start with every word of the query.

    The query's longest word drives the Query on the index (ties: the first in alphabetical
    order, so every container picks the same), the others filter the entries; a word with
    no entry at all (a domain's word typed alone: it has no tokens) hands over to the
    next. A query with an "@" names part of an address: its domain's words only filter,
    and a whole address is also looked up by key, so the account it names comes first
    however many accounts share its domain. A page reads on until it is full, the index
    has nothing more, or it read MAX_SEARCH_READS entries: only then can it be short (even
    empty) with a cursor, and `partial` says so.
    """
    plan = _plan(q)
    prefix = "" if status == "all" else f"{status}#"
    token, last_entry = plan.tokens[0], None
    if cursor:
        key = check_key(decode_payload(cursor)["k"], {}, ("token", "entry"))
        token, last_entry = key["token"]["S"], key["entry"]["S"]
        if token not in plan.tokens or not last_entry.startswith(prefix):
            raise bad_cursor()  # a cursor of another query, or of another status filter
    wanted = STATUSES[status]

    def shown(account: AccountModel | None) -> bool:
        # Re-checked against the accounts themselves: a stale index entry never shows.
        return (
            account is not None
            and account.status in wanted
            and matches(account_words(account), plan.terms)
        )

    items: list[AccountModel] = []
    if plan.address and cursor is None:
        exact = _get(plan.address)
        if exact is not None and shown(exact):
            items.append(exact)
    fallbacks = [] if cursor else list(plan.tokens[1:])
    condition = SearchEntryModel.entry.startswith(prefix) if prefix else None
    reads, more = 0, True
    for _ in range(MAX_SEARCH_ROUNDS + len(fallbacks)):
        if len(items) == limit or reads >= MAX_SEARCH_READS:
            break
        want = limit - len(items)
        # One word: every entry of the token matches it (bar a stale one), so read what
        # the page still needs. More words filter: read the rest of the budget at once.
        size = want + (plan.address is not None) if len(plan.terms) == 1 else MAX_SEARCH_READS
        size = min(size, MAX_SEARCH_READS - reads)
        results = SearchEntryModel.query(
            token,
            range_key_condition=condition,
            limit=size,
            page_size=size,
            last_evaluated_key=_entry_key(token, last_entry),
        )
        usernames: list[str] = []
        for entry in results:
            reads += 1
            last_entry = entry.entry
            username = entry.entry.partition("#")[2]
            if username != plan.address and matches(set(entry.words), plan.terms):
                usernames.append(username)
                if len(usernames) == want:
                    break
        else:
            more = results.last_evaluated_key is not None
        if not more and last_entry is None and fallbacks:
            token, more = fallbacks.pop(0), True  # nothing at all under this word
            continue
        accounts = {a.username: a for a in AccountModel.batch_get(usernames)} if usernames else {}
        items += [accounts[u] for u in usernames if shown(accounts.get(u))]
        if not more:
            break
    next_key = _entry_key(token, last_entry) if more and last_entry else None
    return Page(
        items=items,
        next_cursor=encode_cursor(next_key),
        partial=next_key is not None and len(items) < limit,
    )


@dataclass(frozen=True)
class _Plan:
    tokens: list[str]  # index partitions the search may read, the most selective first
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
    driving = sorted(keyed, key=lambda word: (-len(word), word))
    tokens = list(dict.fromkeys(word[:MAX_TOKEN] for word in driving))[:MAX_DRIVING_WORDS]
    whole = at and local.strip() and "." in domain and not any(c.isspace() for c in q.strip())
    return _Plan(
        tokens=tokens,
        terms=sorted(keyed | words_of(domain)),
        address=lookup_key(q) if whole else None,
    )


def _get(username: str) -> AccountModel | None:
    try:
        return AccountModel.get(username)
    except AccountModel.DoesNotExist:
        return None


def _entry_key(token: str, entry: str | None) -> dict | None:
    return {"token": {"S": token}, "entry": {"S": entry}} if entry else None
