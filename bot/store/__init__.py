"""The bots' persistent state: users, feedback events, sent messages, watchlist, job runs.

    store = await Store.open("sqlite:///data/moviebot.db")   # runs migrations
    uid = await store.user_id("telegram", "12345", "Ann")
    await store.record_feedback(FeedbackEvent(uid, 318, "like", event_id="<callback id>"))
    await store.record_reaction(ReactionChange(MessageKey("telegram", "5", "77"), "12345",
                                               "like", added=True, movie_id=318))
    engine.recommend(await store.history(uid))

Wrap it in ``spool.SpoolingStore`` so feedback survives a database outage. What the
command layer needs of either is the ``protocol.FeedbackStore`` protocol.
"""

from .protocol import FeedbackStore
from .store import Store
from .values import (
    TASTE_SIGNALS,
    FeedbackEvent,
    JobRun,
    MessageKey,
    PartyRecord,
    ReactionChange,
    SentMessage,
    StoreUnavailable,
    is_outage,
)

__all__ = ["TASTE_SIGNALS", "FeedbackEvent", "FeedbackStore", "JobRun", "MessageKey", "PartyRecord",
           "ReactionChange", "SentMessage", "Store", "StoreUnavailable", "is_outage"]
