"""The customer's pages on the storefront API: choose a password, ask for a link (issue 11)."""
