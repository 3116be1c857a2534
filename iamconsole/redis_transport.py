"""kombu's Redis transport, with a channel that still closes when Redis is gone.

With kombu 5.7.0 and celery 5.7.0, a Redis outage while a worker holds unacknowledged messages
(acks_late: always, while it works) ends the worker: "Unrecoverable error:
AttributeError("'NoneType' object has no attribute 'hostname'")". On the lost connection,
celery's consumer calls `Connection.collect()`, then `Connection.close()`:

1. `collect()` closes the channel, whose `close()` first reads the BRPOP reply it is waiting
   for; Redis is down, so that read raises a ConnectionError (which `collect()` ignores) before
   the channel is marked closed; then `collect()` detaches the transport (`client = None`);
2. `close()` closes the same channel again: it now gets as far as restoring the unacknowledged
   messages, which builds a connection pool from `transport.client.hostname`: AttributeError,
   not a connection error, so celery gives up.

Here the channel's last BRPOP read may fail like any read on a lost connection, and the close
goes on: the channel is closed once, in step 1, while the transport still has its parameters.
Its unacknowledged messages stay in Redis's unacked set (a restore needs Redis too), from where
kombu restores them after the visibility timeout; the job sweeper (users/tasks.py) resends the
job items they carried long before that.

Used for `redis://` and `rediss://` brokers (settings.CELERY_BROKER_TRANSPORT).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from queue import Empty
from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    # kombu's, which its type stubs leave out.
    _in_poll: Any
    _brpop_read: Callable[[], Any]
    connection_errors: tuple[type[Exception], ...]

    def close(self) -> None:
        if self._in_poll:
            # The reply of the BRPOP in flight (kombu's own close catches only Empty).
            with suppress(Empty, *self.connection_errors):
                self._brpop_read()  # clears _in_poll, whatever happens
        super().close()


class Transport(redis.Transport):
    Channel = Channel
