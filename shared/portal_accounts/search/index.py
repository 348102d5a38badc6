"""The account search index: one entry per word of an account's names and email.

Searching "a few letters of the name or the email" is a Query on the index, so the items
read per page never grow with the table. An entry's partition is its word's first
MIN_TOKEN letters, its sort key "<status>#<word>#<username>": a search for a term reads
the partition of its first letters with begins_with("<status>#<term>"), which holds the
entries of exactly the words starting with the term, so a status filter is a key condition
too. One entry per word, not per prefix of each word: an account costs a write per word
when it is created, two when its status changes (issue 10, finding 3).

Only the words an operator looks a person up by have entries: those of the linked
customers' names and of the email's local part. The domain's words do not (`gmail`,
`com`: one provider's words in a good part of the table, read by whoever types an
address); they follow from the username in the entry's key, so they narrow a search
driven by another word ("neri gmail"), and a query that is a whole address is looked up
by key (listing.py).

An account with several words starting with a term ("Rosa Rossi" for "ros") has an entry
under each; a search shows it from one of them only, the first of its words in
alphabetical order that starts with the term (`first_word`), so it is shown once however
the pages fall.

The index is derived data: the account item records what is indexed for it
(`indexed_words`: the words that have entries; `indexed_status`), every change that moves
names, email or status calls `sync`, and results are re-checked against the accounts they
point at, so a sync cut off half-way can hide an account until its next change but never
show a wrong one.
"""

from __future__ import annotations

import json
import random
import re
import time
import unicodedata

from portal_accounts import clients
from portal_accounts.config import get_settings
from portal_accounts.dynamodb import system_fault
from portal_accounts.models import AccountModel, SearchEntryModel, linked_customers
from portal_accounts.observability import logger

MIN_TOKEN = 2
# The most characters of a word an entry's key holds: a name of 100 characters can fold
# to far more (NFKD), and DynamoDB refuses a sort key over 1,024 bytes. 100 characters of
# at most 4 bytes each, the status and a username of 320 stay under it; longer words are
# told apart by the entry's `words`.
MAX_KEY_WORD = 100
# A sync that AWS refused is tried once more after a pause of this many seconds (jittered,
# so the syncs a throttled partition refused do not come back together): short, because
# the operator's request waits for it.
RETRY_PAUSE_SECONDS = (0.05, 0.2)
_WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> set[str]:
    """Lower-case, accent-free words of at least MIN_TOKEN characters."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return {w for w in _WORD.findall(plain) if len(w) >= MIN_TOKEN}


def key_words(account: AccountModel) -> set[str]:
    """The words that have entries: the names' and the email's local part's."""
    words = words_of(account.username.rpartition("@")[0])
    for customer in linked_customers(account).values():
        words |= words_of(f"{customer['first_name']} {customer['last_name']}")
    return words


def all_words(username: str, key: set[str]) -> set[str]:
    """What a search matches against: the key words and the domain's."""
    return key | words_of(username.rpartition("@")[2])


def account_words(account: AccountModel) -> set[str]:
    return all_words(account.username, key_words(account))


def partition_of(term: str) -> str:
    """The partition holding the entries of every word that starts with the term."""
    return term[:MIN_TOKEN]


def entry_prefix(status: str, term: str) -> str:
    """What the sort keys of the status's words starting with the term begin with."""
    return f"{status}#{term[:MAX_KEY_WORD]}"


def entry_key(status: str, word: str, username: str) -> str:
    return f"{entry_prefix(status, word)}#{username}"


def parse_entry(entry: str) -> tuple[str, str, str]:
    """(status, word as the key holds it, username) of a sort key. Words have no "#"."""
    status, word, username = entry.split("#", 2)
    return status, word, username


def entry_keys(username: str, status: str, words: set[str]) -> set[tuple[str, str]]:
    """The (partition, sort key) of each entry an account with these words has: one a
    word (two words alike in their first MAX_KEY_WORD characters share one)."""
    return {(partition_of(w), entry_key(status, w, username)) for w in words}


def first_word(words: set[str], term: str) -> str | None:
    """The one of an account's words whose entry shows it in a search for the term: the
    first, alphabetically, that starts with it, as its entry's key holds it."""
    term = term[:MAX_KEY_WORD]
    starting = [w[:MAX_KEY_WORD] for w in words if w.startswith(term)]
    return min(starting, default=None)


def sync(account: AccountModel) -> None:
    """Bring the index in line with the account, then record what it holds.

    It runs once the change it follows is written, so AWS failing here (throttling, a
    timeout) must not turn that change into an error whose retry would answer 409 or 404.
    A refused sync is tried once more; refused again, the index stays behind, the account
    says so (its `indexed_words`/`indexed_status` differ from what it should have), and a
    repair is queued (`queue_repair`): the search_repair function syncs it again in a few
    seconds. Should the queue refuse too, `make reindex` finds it (reindex.py).
    """
    if _attempt(account) is None:
        return
    time.sleep(random.uniform(*RETRY_PAUSE_SECONDS))  # noqa: S311 (a jitter, not a secret)
    code = _attempt(account)
    if code is None:
        return
    logger.warning("search index left behind", extra={"error_code": code})
    queue_repair(account.username)


def _attempt(account: AccountModel) -> str | None:
    """One sync: None when it went through, the fault's code when AWS refused it."""
    try:
        _sync(account)
    except Exception as error:
        code = system_fault(error)
        if code is None:
            raise
        return code
    return None


def queue_repair(username: str) -> None:
    """Ask the search_repair function to index the account again (reindex.handle_repairs).

    The message names the account only: the repair reads it afresh, so whatever changed
    since is indexed as it is then. Best effort, as the sync it follows: a refusal is
    logged, never the operator's error, and leaves the account for `make reindex`."""
    try:
        clients.sqs().send_message(
            QueueUrl=get_settings().index_repair_queue_url,
            MessageBody=json.dumps({"username": username}),
        )
    except Exception as error:
        logger.error(
            "search repair not queued: make reindex will find the account",
            extra={"error_code": system_fault(error) or type(error).__name__},
        )


def rebuild(account: AccountModel) -> None:
    """Write every entry of the account, whatever it records as indexed: for an index
    that lost entries or is new, and for a repair (reindex.py). Errors are raised, for
    the caller to retry or report."""
    _sync(account, rebuild=True)


def rebuild_current(username: str) -> AccountModel | None:
    """Rebuild the entries of the account as it is now (a strongly consistent read, so a
    change made since a scan or a queued repair is seen); None when there is no such
    account (nothing to index)."""
    try:
        account = AccountModel.get(username, consistent_read=True)
    except AccountModel.DoesNotExist:
        return None
    rebuild(account)
    return account


def _sync(account: AccountModel, *, rebuild: bool = False) -> None:
    words = key_words(account)
    old_words = set(account.indexed_words or ())
    old_status = account.indexed_status or account.status
    recorded = words == old_words and account.status == account.indexed_status
    if recorded and not rebuild:
        return
    # Every entry carries the whole word set (a search of several words filters on it),
    # so a change of words rewrites them all. The status is in the key: a change of it
    # deletes every entry and puts it again under the new one. DynamoDB refuses a batch
    # that deletes and puts the same key, hence the difference.
    fresh = entry_keys(account.username, account.status, words)
    stale = entry_keys(account.username, old_status, old_words) - fresh
    with SearchEntryModel.batch_write() as batch:
        for partition, entry in stale:
            batch.delete(SearchEntryModel(partition, entry))
        for partition, entry in fresh:
            batch.save(SearchEntryModel(partition, entry, words=words))
    if recorded:
        return
    account.update(
        actions=[
            AccountModel.indexed_words.set(words) if words else AccountModel.indexed_words.remove(),
            AccountModel.indexed_status.set(account.status),
        ]
    )


def matches(words: set[str], terms: list[str]) -> bool:
    return all(any(word.startswith(term) for word in words) for term in terms)
