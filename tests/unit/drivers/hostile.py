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

"""Hostile array answers, and the memory a driver spends refusing them."""

import tracemalloc

#: Nesting far beyond any real answer; without a bound, ijson's streaming
#: parse of this alone takes about 60 MB (it grows with the square).
DEPTH = 5000
#: What refusing one may cost, tracemalloc's peak (all threads).
MAX_PEAK = 20 * 1024 * 1024


def nested_json(depth=DEPTH):
    return b'[' * depth + b']' * depth


def members(inner):
    """A WSAPI-style collection answer around ``inner``."""
    return b'{"total": 1, "members": [' + inner + b']}'


def nested_xml(depth=DEPTH):
    return (b'<?xml version="1.0"?>' + b'<a>' * depth + b'</a>' * depth)


def peak_of(call):
    """``(exception or None, peak bytes)`` of ``call()``."""
    tracemalloc.start()
    try:
        try:
            call()
        except Exception as e:
            error = e
        else:
            error = None
        return error, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
