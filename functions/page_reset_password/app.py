"""GET and POST /reset-password (issue 11): the page behind the emailed links."""

from portal_accounts.pages import password
from portal_accounts.pages.web import page_handler

handler = page_handler(password.render, route=password.ROUTE)
