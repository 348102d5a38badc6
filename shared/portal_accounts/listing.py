"""F1: list accounts by status, or search them by a few letters; never a Scan."""

from __future__ import annotations

from dataclasses import dataclass

from portal_accounts.errors import InvalidInput
from portal_accounts.identity import lookup_key
from portal_accounts.models import AccountModel, SearchEntryModel
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
    """One Query per page on the status index; "all" walks active, then disabled."""
    phases = STATUSES[status]
    phase, start = phases[0], None
    if cursor:
        payload = decode_payload(cursor)
        if payload.get("s") not in phases:
            raise bad_cursor()
        phase = payload["s"]
        # An empty key means "this phase, from its beginning".
        start = check_key(payload["k"], {"status": phase}, ("username",)) if payload["k"] else None
    results = AccountModel.by_status.query(phase, limit=limit, last_evaluated_key=start)
    items = list(results)
    next_cursor = encode_cursor(results.last_evaluated_key, s=phase)
    if next_cursor is None and phase != phases[-1]:
        next_phase = phases[phases.index(phase) + 1]
        next_cursor = encode_cursor({}, s=next_phase)
    return Page(items=items, next_cursor=next_cursor)


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
        if shown(exact):
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
