"""The operator search reads the same few items whether the table holds 2,000 or 20,000 accounts.

GET /operator/accounts?q=... is one Query on the SearchTable partition of the first
letters of the query's longest word (begins_with "<status>#<word>", Limit = the page size)
and one BatchGetItem of the accounts on the page. No request reads the whole table. This
benchmark fills moto with realistic accounts, runs a fixed set of searches and listings
through the real handler, counts the DynamoDB requests and the items they read, grows the
table and runs the same set again.

Accounts are written straight through the models (one precomputed argon2 hash, no API
call per account), and indexed with the search module's own functions (key_words,
entry_keys): exactly what search.sync() writes, checked on a sample afterwards."""

from __future__ import annotations

import argparse
import json
import random
import time
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws
from moto.dynamodb.models.table import Table as MotoTable

from bench.counting import counting
from functions.operator_list_accounts.app import handler as list_accounts_handler
from local import resources
from portal_accounts import clock
from portal_accounts.config import get_settings
from portal_accounts.credentials.passwords import hash_password
from portal_accounts.models import STATUS_SHARDS, AccountModel, SearchEntryModel
from portal_accounts.search import index as search
from portal_accounts.search import listing
from tests.helpers import FakeContext, http_event


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(","))


FIRST_NAMES = _names(
    "Marco, Alessandro, Andrea, Luca, Matteo, Giuseppe, Francesco, Lorenzo, Davide, Simone, "
    "Riccardo, Federico, Stefano, Paolo, Giovanni, Antonio, Roberto, Mario, Fabio, Nicolò, "
    "Gabriele, Tommaso, Pietro, Filippo, Leonardo, Giulia, Francesca, Chiara, Sara, Martina, "
    "Valentina, Alessia, Elena, Federica, Silvia, Laura, Anna, Maria, Giorgia, Elisa, Sofia, "
    "Aurora, Beatrice, Ilaria, Paola, Roberta, Simona, Marta, Alice, Camilla"
)
# The most frequent Italian surnames, most frequent first (weights fall with the rank).
LAST_NAMES = _names(
    "Rossi, Russo, Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, Marino, Greco, Bruno, "
    "Gallo, Conti, De Luca, Mancini, Costa, Giordano, Rizzo, Lombardi, Moretti, Barbieri, "
    "Fontana, Santoro, Mariani, Rinaldi, Caruso, Ferrara, Galli, Martini, Leone, Longo, "
    "Gentile, Martinelli, Vitale, Lombardo, Serra, Coppola, De Santis, D'Angelo, Marchetti, "
    "Parisi, Villa, Conte, Ferraro, Ferri, Fabbri, Bianco, Marini, Grasso, Valentini, Messina, "
    "Sala, De Angelis, Gatti, Pellegrini, Palumbo, Sanna, Farina, Rizzi, Monti"
)
LAST_NAME_WEIGHTS = tuple(1 / (rank + 4) for rank in range(len(LAST_NAMES)))
DOMAINS = (
    ("gmail.com", 35),
    ("libero.it", 15),
    ("hotmail.it", 12),
    ("yahoo.it", 8),
    ("outlook.it", 8),
    ("icloud.com", 6),
    ("alice.it", 5),
    ("virgilio.it", 4),
    ("tiscali.it", 3),
    ("fastwebnet.it", 2),
)
# A surname no generated account has: three accounts carry it at every size, so the rare
# search has the same three answers at 2,000 and at 20,000 accounts.
RARE = (
    (("Ottavio", "Zanzottera"),),
    (("Anna", "Zanzottera"), ("Pietro", "Zanzottera")),
    (("Ada", "Zanzottera"),),
)
RARE_AT = (137, 911, 1604)  # positions among the first accounts written
# The whole address of the account at RARE_AT[1], put on gmail.com (a third of the table)
# with a common first name: the search by it must show it first at every size.
ADDRESS = "anna.zanzottera911@gmail.com"
DISABLED_SHARE = 0.05
NOW = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Search:
    label: str
    query: dict[str, str]
    page: int = 1

    @property
    def is_search(self) -> bool:
        return bool(self.query.get("q"))


SEARCHES = (
    Search("q=ros     (common surname, 3 letters)", {"q": "ros"}),
    Search("q=ma      (2 letters, very common)", {"q": "ma"}),
    Search("q=ros     page 2 (with the cursor)", {"q": "ros"}, page=2),
    Search("q=zanz    (rare: 3 accounts)", {"q": "zanz"}),
    Search("q=<email> (a whole address, gmail.com)", {"q": ADDRESS}),
    Search("q=giulia gmail (a name, a domain)", {"q": "giulia gmail"}),
    Search("q=mario ros (two words)", {"q": "mario ros"}),
    Search("q=bia     status=all", {"q": "bia", "status": "all"}),
    Search("q=ma      status=disabled", {"q": "ma", "status": "disabled"}),
    Search("no q      (active)", {}),
    Search("no q      status=all", {"status": "all"}),
    Search("no q      status=disabled", {"status": "disabled"}),
)


@dataclass
class Result:
    items_read: int
    requests: str
    request_count: int
    returned: int
    scans: int
    first: str | None = None  # the username shown first
    matching: int = 0  # accounts in the table that the request's filter selects


@dataclass
class Run:
    size: int
    results: dict[str, Result] = field(default_factory=dict)
    table_items: dict[str, int] = field(default_factory=dict)


def _page_size(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError("the API's page size is 1..100")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("search_scaling")
    group.add_argument(
        "--limit", type=_page_size, default=25, help="page size of every request (default: 25)"
    )


def _slug(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


class Population:
    """Deterministic accounts: account n is the same at every size and in every run."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.password_hash = hash_password("lanterna verde sul molo antico")
        self.rare = dict(zip(RARE_AT, RARE, strict=True))
        self.usernames: list[str] = []  # account n's username
        self.facts: list[tuple[set[str], str]] = []  # account n's (search words, status)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def account(self, n: int) -> AccountModel:
        rng = self.rng
        if n in self.rare:
            people = self.rare[n]
        else:
            last = rng.choices(LAST_NAMES, LAST_NAME_WEIGHTS)[0]
            people = [(rng.choice(FIRST_NAMES), last)]
            # A parent's login also serving children: same surname, another first name.
            extra = rng.choices((0, 1, 2), (88, 10, 2))[0]
            people += [(rng.choice(FIRST_NAMES), last) for _ in range(extra)]
        first, last = people[0]
        domain = rng.choices([d for d, _ in DOMAINS], [w for _, w in DOMAINS])[0]
        username = f"{_slug(first)}.{_slug(last)}{n}@{domain}"
        if n == RARE_AT[1]:
            username = ADDRESS
        created = NOW - timedelta(days=rng.randint(1, 1500), seconds=rng.randint(0, 86399))
        logged_in = rng.random() < 0.7
        status = "active" if n in self.rare or rng.random() >= DISABLED_SHARE else "disabled"
        return AccountModel(
            username=username,
            status=status,
            password_hash=self.password_hash,
            password_temporary=False,
            password_changed_at=created,
            credential_version=1,
            created_at=created,
            last_login_at=(created + (NOW - created) * rng.random() if logged_in else None),
            customers={
                self._uuid(): {
                    "first_name": first_name,
                    "last_name": last_name,
                    "linked_at": clock.iso(created + timedelta(days=i)),
                }
                for i, (first_name, last_name) in enumerate(people)
            },
        )


def fill(population: Population, start: int, stop: int) -> int:
    """Write accounts start..stop-1 and their index entries; returns the entries written."""
    entries = 0
    step = max(1000, (stop - start) // 5)
    with (
        AccountModel.batch_write() as account_batch,
        SearchEntryModel.batch_write() as entry_batch,
    ):
        for n in range(start, stop):
            account = population.account(n)
            population.usernames.append(account.username)
            # What search.sync() writes, and records on the account, for a new account.
            words = search.key_words(account)
            matched = search.all_words(account.username, words)
            population.facts.append((matched, account.status))
            account.indexed_words = words
            account.indexed_status = account.status
            account_batch.save(account)
            for prefix, entry in search.entry_keys(account.username, account.status, words):
                entry_batch.save(SearchEntryModel(prefix, entry, words=words))
                entries += 1
            if (n + 1 - start) % step == 0 and n + 1 < stop:
                print(f"    ... {n + 1:,} accounts", flush=True)
    return entries


def check_index(population: Population, samples: int = 40) -> int:
    """The batch fill left the index exactly as search.sync() would have.

    For sampled accounts (the rare ones included): sync() finds nothing to change, and
    every word of the account has its entry. Returns the number of accounts checked.
    """
    size = len(population.usernames)
    picked = set(random.Random(size).sample(range(size), min(samples, size)))
    picked |= {n for n in RARE_AT if n < size}
    usernames = [population.usernames[n] for n in sorted(picked)]
    with counting() as log:
        for username in usernames:
            search.sync(AccountModel.get(username))
    if log.total_requests != log.requests["GetItem"]:
        raise AssertionError(f"search.sync() still had work after the fill: {log.requests}")
    for username in usernames:
        account = AccountModel.get(username)
        for prefix, entry in search.entry_keys(username, account.status, search.key_words(account)):
            SearchEntryModel.get(prefix, entry)  # raises DoesNotExist if the fill missed it
    return len(usernames)


def run_search(item: Search, limit: int) -> Result:
    """Call the real handler; count only the requests of the measured page."""
    query = {"limit": str(limit), **item.query}
    for page in range(1, item.page + 1):
        with counting() as log:
            response = list_accounts_handler(
                http_event("GET", "/operator/accounts", query=query), FakeContext()
            )
        if response["statusCode"] != 200:
            raise AssertionError(f"{item.label}: {response['statusCode']} {response['body']}")
        body = json.loads(response["body"])
        if page < item.page:
            if not body["next_cursor"]:
                raise AssertionError(f"{item.label}: there is no page {page + 1}")
            query["cursor"] = body["next_cursor"]
    return Result(
        items_read=log.total_items_read,
        requests=log.describe_requests(),
        request_count=log.total_requests,
        returned=len(body["items"]),
        scans=log.requests["Scan"],
        first=body["items"][0]["username"] if body["items"] else None,
    )


def table_items() -> dict[str, int]:
    client = boto3.client("dynamodb")
    return {
        label: client.describe_table(TableName=model.Meta.table_name)["Table"]["ItemCount"]
        for label, model in (("accounts", AccountModel), ("search entries", SearchEntryModel))
    }


def bound(item: Search, limit: int) -> tuple[int, int]:
    """The most one page may cost, as (items read, requests).

    A listing: a few entries of each shard of the status index, and more of a shard only
    after a whole batch of it was shown (listing.status_page_bound). A search:
    listing.search_page_bound (at most listing.MAX_SEARCH_READS index entries and `limit`
    accounts, in a GetItem, a Query and a BatchGetItem per round, and an empty Query for
    each word with no entry that handed over to the next, in each status it reads).
    """
    if not item.is_search:
        return listing.status_page_bound(limit)
    return listing.search_page_bound(limit, item.query.get("status", "active"))


def matching(population: Population, item: Search) -> int:
    """How many accounts of the table the request selects (what a Scan would have to find)."""
    wanted = listing.STATUSES[item.query.get("status", "active")]
    terms = list(search.words_of(item.query.get("q", "")))
    return sum(
        1
        for words, status in population.facts
        if status in wanted and (not terms or search.matches(words, terms))
    )


@contextmanager
def unsorted_moto_items() -> Iterator[None]:
    """Spare moto a sort of the whole table on every Query.

    moto's Query starts from Table.all_items(), which sorts every item of the table, keeps
    those of the partition and sorts them again by key: with 400,000 search entries that
    first sort takes seconds per search. Skipping it changes no Query result nor
    ScannedCount (the second sort sets the order); only a Scan's order would change, and
    this benchmark fails if it sees any Scan.
    """
    original = MotoTable.all_items

    def all_items(self: MotoTable) -> list:
        if not self.range_key_attr:
            return list(self.items.values())
        return [item for partition in self.items.values() for item in partition.values()]

    MotoTable.all_items = all_items
    try:
        yield
    finally:
        MotoTable.all_items = original


def run(args: argparse.Namespace) -> bool:
    sizes: list[int] = args.sizes
    limit: int = args.limit
    if sizes[0] <= max(RARE_AT):
        raise SystemExit(f"search_scaling: the smallest size must exceed {max(RARE_AT)}")
    print(
        f"  sizes {', '.join(f'{s:,}' for s in sizes)} accounts; page size {limit}; "
        f"seed {args.seed}",
        flush=True,
    )
    runs: list[Run] = []
    started_all = time.perf_counter()
    with mock_aws(), unsorted_moto_items():
        resources.create_tables()
        get_settings.cache_clear()
        population = Population(args.seed)
        for size in sizes:
            written = len(population.usernames)
            print(f"  fill {written:,} -> {size:,} accounts", flush=True)
            started = time.perf_counter()
            entries = fill(population, written, size)
            print(
                f"  filled {size - written:,} accounts and {entries:,} search entries "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            checked = check_index(population)
            print(
                f"  index checked on {checked} accounts: search.sync() finds nothing to change",
                flush=True,
            )
            current = Run(size=size, table_items=table_items())
            print(
                "  tables: "
                + ", ".join(f"{n:,} {name}" for name, n in current.table_items.items()),
                flush=True,
            )
            for item in SEARCHES:
                result = run_search(item, limit)
                result.matching = matching(population, item)
                current.results[item.label] = result
                print(
                    f"    {item.label:<37} read {result.items_read:>3} items with "
                    f"{result.requests}; {result.returned} shown of {result.matching:,} matching",
                    flush=True,
                )
            runs.append(current)
    print(f"  done in {time.perf_counter() - started_all:.0f} s", flush=True)
    return report(runs, limit)


def report(runs: list[Run], limit: int) -> bool:
    first, last = runs[0], runs[-1]
    a, b = f"{first.size:,}", f"{last.size:,}"
    print()
    print(f"  items read per request, page size {limit}: at {a} and at {b} accounts")
    print(
        f"    {'request':<37} {'read@' + a:>10} {'read@' + b:>11}  equal  "
        f"{'matching@' + a:>14} {'matching@' + b:>15}  requests"
    )
    equal = bounded = 0
    no_scan = True
    unequal, unequal_one_word, unequal_listings = [], [], []
    for item in SEARCHES:
        results = [run.results[item.label] for run in runs]
        reads = [r.items_read for r in results]
        is_equal = len(set(reads)) == 1
        equal += is_equal
        if not is_equal:
            if not item.is_search:
                kind = unequal_listings
            elif len(search.words_of(item.query["q"])) == 1:
                kind = unequal_one_word
            else:
                kind = unequal
            kind.append(item.label.split("(")[0].strip())
        most_read, most_requests = bound(item, limit)
        bounded += all(
            r.items_read <= most_read and r.request_count <= most_requests for r in results
        )
        no_scan &= all(r.scans == 0 for r in results)
        mark = "yes" if is_equal else "NO"
        print(
            f"    {item.label:<37} {reads[0]:>10} {reads[-1]:>11}  {mark:<5}  "
            f"{results[0].matching:>14,} {results[-1].matching:>15,}  "
            f"{' / '.join(dict.fromkeys(r.requests for r in results))}"
        )
    print(
        f"    (a Scan would read every item: {last.table_items['accounts']:,} accounts and "
        f"{last.table_items['search entries']:,} search entries at {b} accounts)"
    )
    if unequal:
        print(
            f"    ({', '.join(unequal)}: a multi-word search filters the entries it read by "
            "the other words in code, so how many accounts the BatchGetItem fetches depends "
            "on which entries fill the page, not on the size of the table)"
        )
    if unequal_one_word:
        print(
            f"    ({', '.join(unequal_one_word)}: an account with two words starting with the "
            "word (marco.mancini for ma) is shown from one of its entries, so a page reads "
            "on past the other: how far depends on the accounts, not on the size of the "
            "table)"
        )
    if unequal_listings:
        print(
            f"    ({', '.join(unequal_listings)}: a listing reads a few entries of each of the "
            f"{STATUS_SHARDS} shards of the status; a shard holding fewer has fewer to read)"
        )
    search_read, search_requests = bound(SEARCHES[0], limit)
    listing_read, listing_requests = listing.status_page_bound(limit)
    address_first = all(run.results[SEARCHES[4].label].first == ADDRESS for run in runs)
    print(f"    {ADDRESS} shown first at every size: {'yes' if address_first else 'NO'}")
    passed = no_scan and bounded == len(SEARCHES) and address_first
    print(
        f"  verdict: {'PASS' if passed else 'FAIL'}: "
        f"{'no Scan' if no_scan else 'a Scan was made'}; {bounded}/{len(SEARCHES)} requests "
        f"stayed within one page at every size (a search: at most {search_read} items in "
        f"{search_requests} DynamoDB requests; a listing: at most {listing_read} items in "
        f"{listing_requests}); "
        f"{equal}/{len(SEARCHES)} read exactly as many items at {b} accounts as at {a}, "
        f"while the table grew {last.size / first.size:g}x"
    )
    return passed
