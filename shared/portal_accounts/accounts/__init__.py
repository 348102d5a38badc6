"""The operator's side of a login: the account's lifecycle (create, associate, dissociate,
set a password, disable, enable), the customer registry it links, the emails an operator
sends (credentials, resets) and bulk imports. A username is an email (../usernames.py)."""
