"""The customer's way in, on the storefront: log in and out, change the password (auth.py),
recover it with an emailed link (recovery.py)."""
