#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Limits on what an array may answer: size and nesting depth.

No real answer nests more than a handful of levels, but a hostile or broken
one can: a streaming JSON parser that tracks its position costs memory
quadratic in the depth (29 KB of ``[`` took 4.5 GB), and recursive parsers
raise RecursionError. Every driver passes its answers through these checks
before parsing them, and a breach fails the pass with an error naming the
limit. Only limits live here; what an answer must contain is each parser's
business.
"""

import json

import ijson

from reconciler import exception

#: Deepest nesting of arrays and objects (JSON) or elements (XML) accepted.
MAX_DEPTH = 64
#: Largest answer held in memory whole (a streamed listing may be larger).
MAX_BYTES = 256 * 1024 * 1024
#: Largest answer read as a stream.
MAX_STREAM_BYTES = 4 * 1024 * 1024 * 1024


class LimitExceeded(exception.ArrayResponseError):
    """An answer broke a size or depth limit."""


def too_deep(what, limit=None):
    limit = MAX_DEPTH if limit is None else limit
    return LimitExceeded('%s: answer nested deeper than %d levels (the '
                         'limit); refused' % (what, limit))


def check_size(size, what, limit=None):
    limit = MAX_BYTES if limit is None else limit
    if size > limit:
        raise LimitExceeded('%s: answer larger than %d bytes (the limit); '
                            'refused' % (what, limit))


def check_depth(depth, what, limit=None):
    limit = MAX_DEPTH if limit is None else limit
    if depth > limit:
        raise too_deep(what, limit)


class _DepthSink(object):
    """ijson event target that only counts nesting."""

    def __init__(self, what, limit):
        self.what, self.limit, self.depth = what, limit, 0

    def send(self, event):
        kind = event[0]
        if kind == 'start_map' or kind == 'start_array':
            self.depth += 1
            if self.depth > self.limit:
                raise too_deep(self.what, self.limit)
        elif kind == 'end_map' or kind == 'end_array':
            self.depth -= 1


class JSONGuard(object):
    """Checks a JSON text chunk by chunk, before any other parser sees it.

    Feed each chunk here first: the event parser it uses keeps no path, so
    its own cost is linear, and it stops at the first level too deep.
    Malformed JSON raises ValueError, as ``json.loads`` would.
    """

    def __init__(self, what, max_bytes=None, max_depth=None):
        self.what, self.max_bytes, self.size = what, max_bytes, 0
        self._events = ijson.basic_parse_coro(_DepthSink(
            what, MAX_DEPTH if max_depth is None else max_depth))

    def feed(self, chunk):
        self.size += len(chunk)
        check_size(self.size, self.what, self.max_bytes)
        try:
            self._events.send(chunk)
        except ijson.JSONError as e:
            raise ValueError(str(e))

    def close(self):
        try:
            self._events.close()
        except ijson.JSONError as e:
            raise ValueError(str(e))


def loads(text, what, max_bytes=None, max_depth=None):
    """``json.loads(text)`` once its size and depth are within limits."""
    data = text.encode('utf-8', 'surrogatepass') if isinstance(
        text, str) else text
    guard = JSONGuard(what, max_bytes, max_depth)
    try:
        guard.feed(data)
        guard.close()
    except ValueError:
        pass    # json decides what is JSON: yajl refuses lone surrogates
    try:
        return json.loads(text)
    except RecursionError:
        # Past the point yajl stopped at, the json module's own bound.
        raise too_deep(what, max_depth)


def guard_client(http, what):
    """Bound every answer of a python-3parclient or python-lefthandclient.

    Both clients read a whole body and hand it to ``_http_log_resp`` just
    before their own ``json.loads``; checking it there refuses an answer
    too large or too deep before that parse. A body that is not JSON is
    left to the client, which keeps it as text.
    """
    log_response = http._http_log_resp

    def checked(resp, body):
        if body:
            guard = JSONGuard(what)
            try:
                guard.feed(body.encode('utf-8', 'surrogatepass')
                           if isinstance(body, str) else body)
                guard.close()
            except ValueError:
                pass
        return log_response(resp, body)

    http._http_log_resp = checked
