"""The operator JWT authorizer, locally: API Gateway's JWT authorizer with a local issuer.

On AWS the operators' identity provider signs the tokens and API Gateway checks them
(signature, exp, iss, aud) before any handler runs. Here this process is the identity
provider: GET /_local/operator-token hands out a token signed with a secret that lives
only as long as the process, and every OperatorJwt route checks it the same way. Its scopes
are in the `scope` claim, space-separated, as in a Cognito access token; like the template's
authorizer (no AuthorizationScopes), the gateway lets any valid token through and the
functions check the scope each route needs.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable

import jwt

from local import template
from local.gateway import Denied

ISSUER = "portal-accounts-local"
LIFETIME_SECONDS = 12 * 3600
DEFAULT_SUBJECT = "local-operator"
DEFAULT_EMAIL = "operator@local.test"


def _claim_text(value: object) -> str:
    """API Gateway hands claims to the function as strings; arrays as "[a b]"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    return str(value)


class OperatorTokens:
    def __init__(self, audiences: list[str], secret: bytes | None = None) -> None:
        if not audiences:
            raise ValueError("at least one audience is needed")
        self.audiences = audiences
        self._secret = secret or secrets.token_bytes(32)

    @classmethod
    def from_template(cls) -> OperatorTokens:
        """Audiences as configured on the OperatorJwt authorizer (OperatorJwtAudience)."""
        configured = template.parameter_defaults().get("OperatorJwtAudience", "")
        audiences = [a.strip() for a in configured.split(",") if a.strip()]
        return cls(audiences or ["portal-accounts-local"])

    def issue(
        self,
        subject: str = DEFAULT_SUBJECT,
        email: str = DEFAULT_EMAIL,
        scopes: Iterable[str] = (),
    ) -> str:
        """A signed token; without scopes it has no `scope` claim (like an ID token)."""
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": self.audiences[0],
            "sub": subject,
            "email": email,
            "iat": now,
            "exp": now + LIFETIME_SECONDS,
        }
        if scope := " ".join(scopes):
            claims["scope"] = scope
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, authorization: str | None) -> dict:
        """The token's claims, or Denied as API Gateway's JWT authorizer answers."""
        if not authorization:
            raise Denied(401, "Unauthorized")
        scheme, _, rest = authorization.strip().partition(" ")
        # API Gateway takes the token with or without the "Bearer " prefix.
        token = rest.strip() if scheme.lower() == "bearer" else authorization.strip()
        try:
            return jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=self.audiences,
                issuer=ISSUER,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError:
            raise Denied(401, "Unauthorized") from None

    def authorize(self, event: dict) -> dict:
        """The gateway's authorizer callable: requestContext.authorizer of the event."""
        claims = self.verify(event["headers"].get("authorization"))
        return {"jwt": {"claims": {k: _claim_text(v) for k, v in claims.items()}, "scopes": None}}
