"""GET and POST /forgot-password (issue 11): ask for a reset link by email."""

from portal_accounts.pages import forgot
from portal_accounts.pages.web import page_handler

handler = page_handler(forgot.render, route=forgot.ROUTE)
