"""F1: list accounts by status, or search them by a few letters; never a Scan."""

from __future__ import annotations

from portal_accounts.errors import InvalidInput
from portal_accounts.models import AccountModel, SearchEntryModel
from portal_accounts.pagination import Page, bad_cursor, check_key, decode_payload, encode_cursor
from portal_accounts.search import MAX_TOKEN, account_words, matches, words_of

MAX_SEARCH_READS = 100
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
