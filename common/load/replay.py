"""Replay dead-lettered chunks once the fault that stopped them is fixed.

A chunk that could not be loaded after the maximum delivery attempts lands in the dead-letter topic
and fails its session. The dead-letter topic keeps a pull subscription (``chunks-dead-letter-audit``
on the local stack, ``<prefix>-chunks-dead-letter-hold`` in the cloud). Replaying a message moves
its session back to ``loading``, deletes the record of the chunk's failed attempts and publishes
the chunk to the chunk topic again. The loader's ledger makes a chunk that did load after all a
no-op.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

# The reason of every session failed by the dead-letter handler contains this text.
DEAD_LETTER_MARK = "moved to the dead-letter topic"


@dataclass
class ReplaySummary:
    replayed: int = 0
    skipped: list[str] = field(default_factory=list)
    sessions: set[str] = field(default_factory=set)


def reopen_session(conn, attributes: dict[str, str]) -> str | None:
    """Move the chunk's session from failed back to loading; return why not, or None when done."""
    session_id = attributes.get("session_id", "")
    rows = conn.run("SELECT session_key, status, reason FROM sessions WHERE session_id = :id",
                    id=session_id)
    if not rows:
        return f"session {session_id} no longer exists"
    session_key, status, reason = rows[0]
    if status == "failed" and DEAD_LETTER_MARK not in (reason or ""):
        return f"session {session_id} failed for another reason: {reason}"
    if status == "ready":
        return f"session {session_id} is already ready"
    try:
        seq = int(attributes.get("seq", "-1"))
    except ValueError:
        return f"session {session_id}: attribute seq is not an integer"
    conn.run("BEGIN")
    try:
        conn.run("UPDATE sessions SET status = 'loading', reason = NULL, updated_at = now() "
                 "WHERE session_key = :k AND status = 'failed'", k=session_key)
        conn.run("DELETE FROM chunk_failures WHERE session_key = :k AND seq = :s", k=session_key, s=seq)
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise
    return None


def replay(conn, project: str, subscription: str, chunk_topic: str, max_messages: int = 1000,
           timeout_s: float = 10.0) -> ReplaySummary:
    """Pull dead-lettered chunks from ``subscription`` and publish them to ``chunk_topic`` again.

    A message whose session cannot be reopened is left in the subscription, unacknowledged.
    """
    from google.cloud import pubsub_v1

    summary = ReplaySummary()
    subscriber = pubsub_v1.SubscriberClient()
    publisher = pubsub_v1.PublisherClient()
    path = subscriber.subscription_path(project, subscription)
    topic = publisher.topic_path(project, chunk_topic)
    try:
        while summary.replayed + len(summary.skipped) < max_messages:
            batch = min(100, max_messages - summary.replayed - len(summary.skipped))
            response = subscriber.pull(subscription=path, max_messages=batch, timeout=timeout_s)
            if not response.received_messages:
                break
            done = []
            for received in response.received_messages:
                message = received.message
                attributes = {k: v for k, v in message.attributes.items()
                              if not k.startswith("CloudPubSubDeadLetter")}
                problem = reopen_session(conn, attributes)
                if problem:
                    summary.skipped.append(problem)
                    logger.warning("dead-lettered chunk not replayed: %s", problem,
                                   extra={"session_id": attributes.get("session_id")})
                    continue
                publisher.publish(topic, message.data, **attributes).result(timeout=60)
                summary.replayed += 1
                summary.sessions.add(attributes.get("session_id", ""))
                done.append(received.ack_id)
            if done:
                subscriber.acknowledge(subscription=path, ack_ids=done)
            if len(done) < len(response.received_messages):
                # The rest stay for a later run; pulling again now would return them at once.
                break
    finally:
        subscriber.close()
    return summary
