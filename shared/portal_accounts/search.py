"""The account search index: prefix tokens of the email's local part and of names.

Searching "a few letters of the name or the email" is a Query on the token of one of the
query's words, so the items read per page never grow with the table. Each entry's sort
key is "<status>#<username>", so a status filter is a key condition, not a filter.

Only the words an operator looks a person up by get tokens: those of the linked
customers' names and of the email's local part. The domain's words do not (`gmail`,
`com`: one partition per provider, holding a good part of the table, read by whoever types
an address); they are kept in each entry's `words`, so they narrow a search driven by
another word ("neri gmail"), and a query that is a whole address is looked up by key
(listing.py).

The index is derived data: the account item records what is indexed for it
(`indexed_words`: the words that have tokens; `indexed_status`), every change that moves
names, email or status calls `sync`, and results are re-checked against the accounts they
point at, so a sync cut off half-way can hide an account until its next change but never
show a wrong one.
"""

from __future__ import annotations

import re
import unicodedata

from portal_accounts.models import AccountModel, SearchEntryModel, linked_customers
from portal_accounts.observability import logger
from portal_accounts.store import system_fault

MIN_TOKEN = 2
MAX_TOKEN = 12
_WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> set[str]:
    """Lower-case, accent-free words of at least MIN_TOKEN characters."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return {w for w in _WORD.findall(plain) if len(w) >= MIN_TOKEN}


def key_words(account: AccountModel) -> set[str]:
    """The words that have tokens: the names' and the email's local part's."""
    words = words_of(account.username.rpartition("@")[0])
    for customer in linked_customers(account).values():
        words |= words_of(f"{customer['first_name']} {customer['last_name']}")
    return words


def all_words(username: str, key: set[str]) -> set[str]:
    """What a search matches against: the key words and the domain's."""
    return key | words_of(username.rpartition("@")[2])


def account_words(account: AccountModel) -> set[str]:
    return all_words(account.username, key_words(account))


def tokens_of(words: set[str]) -> set[str]:
    return {w[:n] for w in words for n in range(MIN_TOKEN, min(len(w), MAX_TOKEN) + 1)}


def entry_key(status: str, username: str) -> str:
    return f"{status}#{username}"


def sync(account: AccountModel) -> None:
    """Bring the index in line with the account, then record what it holds.

    It runs once the change it follows is written, so AWS failing here (throttling, a
    timeout) must not turn that change into an error whose retry would answer 409 or 404:
    the index stays behind, the account says so, and its next sync catches up.
    """
    try:
        _sync(account)
    except Exception as error:
        code = system_fault(error)
        if code is None:
            raise
        logger.warning("search index left behind", extra={"error_code": code})


def _sync(account: AccountModel) -> None:
    words = key_words(account)
    # Items indexed before the domain lost its tokens hold its words here too: their
    # first sync deletes those tokens.
    old_words = set(account.indexed_words or ())
    old_status = account.indexed_status
    if words == old_words and account.status == old_status:
        return
    old_status = old_status or account.status
    new_tokens = tokens_of(words)
    matched = all_words(account.username, words)
    # DynamoDB refuses a batch that deletes and puts the same key: with the status
    # unchanged, only tokens that went away are deleted (the rest are overwritten).
    stale = (
        tokens_of(old_words) if old_status != account.status else tokens_of(old_words) - new_tokens
    )
    with SearchEntryModel.batch_write() as batch:
        for token in stale:
            batch.delete(SearchEntryModel(token, entry_key(old_status, account.username)))
        for token in new_tokens:
            batch.save(
                SearchEntryModel(token, entry_key(account.status, account.username), words=matched)
            )
    account.update(
        actions=[
            AccountModel.indexed_words.set(words) if words else AccountModel.indexed_words.remove(),
            AccountModel.indexed_status.set(account.status),
        ]
    )


def matches(words: set[str], terms: list[str]) -> bool:
    return all(any(word.startswith(term) for word in words) for term in terms)
