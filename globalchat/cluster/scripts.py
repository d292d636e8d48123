# -*- test-case-name: tests.test_cluster_store -*-
"""
Lua scripts run inside Redis: a step of several commands that must not
interleave with another node's (an id taken and its message stored, an
account and its look-alike name claimed together) runs as one script,
which Redis carries out atomically, and costs one round trip.
"""

from __future__ import annotations

import hashlib
import json
from typing import Sequence

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from txredisapi import ResponseError


class Script:
    """
    One Lua script and its SHA-1.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()


class Scripts:
    """
    Runs scripts on one connection: in full (C{EVAL}) the first time, so
    that Redis caches it, then by SHA-1 (C{EVALSHA}).  Sending the whole
    script first, rather than trying its SHA-1 and sending it after a
    C{NOSCRIPT}, keeps calls in the order they were made.  Only a Redis
    that forgot its scripts (restarted) answers C{NOSCRIPT}; the call is
    then sent again in full.
    """

    def __init__(self, redis) -> None:
        """
        @param redis: anything whose C{execute(*command)} answers with a
            L{Deferred}, as L{globalchat.cluster.connection.Redis}.
        """
        self._redis = redis
        self._cached: set[str] = set()

    def run(self, script: Script, keys: Sequence[str], args: Sequence[object] = ()) -> Deferred:
        if script.sha not in self._cached:
            self._cached.add(script.sha)
            return self._redis.execute("EVAL", script.source, len(keys), *keys, *args)
        d = self._redis.execute("EVALSHA", script.sha, len(keys), *keys, *args)

        def forgotten(failure: Failure) -> Deferred | Failure:
            failure.trap(ResponseError)
            if not str(failure.value).startswith("NOSCRIPT"):
                return failure
            self._cached.clear()
            self._cached.add(script.sha)
            return self._redis.execute("EVAL", script.source, len(keys), *keys, *args)

        return d.addErrback(forgotten)


def dumps(value: object) -> str:
    """
    C{value} (a list or a string) as the JSON kept in Redis: compact, and
    never a bare number, so that a client turning numeric replies into
    numbers cannot change what it reads.
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
