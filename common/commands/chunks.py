"""``simtel chunks replay``: publish dead-lettered chunks again once their fault is fixed."""

from __future__ import annotations

import argparse
import os

from ..config import settings
from ..errors import SimtelError
from ..load.replay import replay
from .database import add_database_option, connect_for


def register(sub) -> None:
    p = sub.add_parser("chunks", help="chunk messages in Pub/Sub")
    csub = p.add_subparsers(dest="chunks_command", required=True, metavar="COMMAND")
    r = csub.add_parser(
        "replay", help="publish dead-lettered chunks to the chunk topic again",
        description="Pull chunks from the dead-letter subscription, move their sessions from failed "
                    "back to loading and publish the chunks again. Run it once the fault that stopped "
                    "them (shown in each session's reason) is fixed. Chunks whose session failed for "
                    "another reason stay in the subscription.")
    r.add_argument("--subscription",
                   help="pull subscription on the dead-letter topic; default on the local stack: "
                        "chunks-dead-letter-audit")
    r.add_argument("--max", type=int, default=1000, metavar="N",
                   help="replay at most N messages (default 1000)")
    add_database_option(r)
    r.set_defaults(func=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    subscription = args.subscription
    if not os.environ.get("PUBSUB_EMULATOR_HOST") and not subscription:
        from ..local import stack

        state = stack.running()
        if state is None:
            raise SimtelError("pass --subscription (the dead-letter hold subscription), or start the "
                              "local stack")
        os.environ.update({k: v for k, v in state.env.items() if k != "DATABASE_URL"})
        if not args.database_url and not os.environ.get("DATABASE_URL"):
            args.database_url = state.database_url
        subscription = stack.DEAD_LETTER_AUDIT
    if not subscription:
        raise SimtelError("pass --subscription: the pull subscription on the dead-letter topic")
    conn = connect_for(args)
    try:
        summary = replay(conn, settings().project, subscription, settings().chunk_topic, args.max)
    finally:
        conn.close()
    print(f"replayed {summary.replayed} chunk(s) of {len(summary.sessions)} session(s)")
    for problem in summary.skipped:
        print(f"left in the subscription: {problem}")
    return 1 if summary.skipped else 0
