"""GET and POST /reset-password (issue 11): the page behind the emailed links.

A saved password (a POST answered 200: every other POST answer is a 410 or a 422 page)
counts ResetLinkUsed and PasswordChanged, as POST /auth/password/reset does.
"""

from portal_accounts.observability import count
from portal_accounts.pages import password
from portal_accounts.pages.web import Page, Request, page_handler


def render(request: Request) -> Page:
    page = password.render(request)
    if request.method == "POST" and page.status == 200:
        count("ResetLinkUsed")
        count("PasswordChanged")
    return page


handler = page_handler(render, route=password.ROUTE)
