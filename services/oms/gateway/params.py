"""The path, query and header parameters several routes share, with the limits they check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Path, Query

from oms.limits import (
    ID_PATTERN,
    ITEM_ID_PATTERN,
    MAX_EVENT_ID,
    MAX_PAGE_SIZE,
    TOKEN_PATTERN,
)

OrderId = Annotated[str, Path(pattern=ID_PATTERN)]
ItemId = Annotated[str, Path(pattern=ITEM_ID_PATTERN)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
PageToken = Annotated[
    str, Query(pattern=TOKEN_PATTERN, description="A previous page's `next_page_token`.")
]
TrackingToken = Annotated[
    str, Query(pattern=TOKEN_PATTERN, description="The tracking link's token: no session needed.")
]
LastEventId = Annotated[
    str,
    Header(
        alias="Last-Event-ID",
        max_length=MAX_EVENT_ID,
        description="The last update a reconnecting stream saw: it resumes from there.",
    ),
]
# Routes a tracking token opens without a session: no credentials is a third way in.
OR_TRACKING_LINK: dict[str, Any] = {"security": [{}]}
