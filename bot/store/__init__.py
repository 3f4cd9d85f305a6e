"""The bots' persistent state: users, feedback events, sent messages, watchlist, job runs.

    store = await Store.open("sqlite:///data/moviebot.db")   # runs migrations
    uid = await store.user_id("telegram", "12345", "Ann")
    await store.record_feedback(FeedbackEvent(uid, 318, "like", idempotency_key="..."))
    engine.recommend(await store.history(uid))

Wrap it in ``spool.SpoolingStore`` so feedback survives a database outage.
"""

from .store import (
    TASTE_SIGNALS,
    FeedbackEvent,
    JobRun,
    SentMessage,
    Store,
    StoreUnavailable,
    new_idempotency_key,
)

__all__ = ["TASTE_SIGNALS", "FeedbackEvent", "JobRun", "SentMessage", "Store",
           "StoreUnavailable", "new_idempotency_key"]
