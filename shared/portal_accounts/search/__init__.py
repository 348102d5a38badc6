"""F1, finding an account: the search index (index.py: one entry per word), the listing and
search pages over it (listing.py), and the tools that check and repair it (reindex.py,
backfill.py)."""
