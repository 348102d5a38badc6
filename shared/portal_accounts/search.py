"""The account search index: prefix tokens of the email and of linked customers' names.

Searching "a few letters of the name or the email" is one Query on the token of the
query's longest word, so the items read per page never grow with the table. Each entry's
sort key is "<status>#<username>", so a status filter is a key condition, not a filter.

The index is derived data: the account item records what is indexed for it
(`indexed_words`, `indexed_status`), every change that moves names, email or status calls
`sync`, and results are re-checked against the accounts they point at, so a sync cut off
half-way can hide an account until its next change but never show a wrong one.
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


def account_words(account: AccountModel) -> set[str]:
    words = words_of(account.username)
    for customer in linked_customers(account).values():
        words |= words_of(f"{customer['first_name']} {customer['last_name']}")
    return words


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
    words = account_words(account)
    old_words = set(account.indexed_words or ())
    old_status = account.indexed_status
    if words == old_words and account.status == old_status:
        return
    old_status = old_status or account.status
    new_tokens = tokens_of(words)
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
                SearchEntryModel(token, entry_key(account.status, account.username), words=words)
            )
    account.update(
        actions=[
            AccountModel.indexed_words.set(words) if words else AccountModel.indexed_words.remove(),
            AccountModel.indexed_status.set(account.status),
        ]
    )


def matches(words: set[str], terms: list[str]) -> bool:
    return all(any(word.startswith(term) for word in words) for term in terms)
