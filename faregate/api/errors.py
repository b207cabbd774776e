"""The HTTP layer's own error: `Problem`, an answer a handler or guard gives as it stands.

Domain errors (`ticketing.errors`, `parking.errors`, ...) are not raised as problems: the
error table in `faregate.api.problems` turns them into problem documents. `Problem` is for
what only the HTTP layer knows: a missing token, a rate limit, a malformed request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

PROBLEM_BASE = "urn:faregate:problem:"


class Problem(Exception):
    """Raise in a handler to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str | None,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.type = "about:blank" if slug is None else PROBLEM_BASE + slug
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        # Each (field, reason) of a document with several errors (a tariff file): an
        # extension member of the problem (RFC 9457 §3.2), so a form can show each by its field.
        self.errors = tuple(errors)
