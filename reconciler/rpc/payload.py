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

"""Plain payloads: frozen dataclasses to JSON types and back, bounded.

What crosses the broker is a dict of JSON types, never a pickled object:
:func:`encode` turns a value of our frozen dataclasses (reconciler.host.view)
into one, :func:`decode` builds it back from the field types, so a field a
module adds with a default travels without any change here. Decoding is
strict, as for any input from another process: every type is checked,
fields a newer sender added are ignored, a missing field without a default,
an oversized string or list, or a wrong type raises :class:`Invalid` with
the path of the offending value, in bounded time and memory.
"""

import dataclasses
import json
import types
import typing

from reconciler import exception

#: The longest string and list a payload may hold, and the most values in
#: all: far above any host's devices, far below what would hurt.
MAX_TEXT = 4096
MAX_ITEMS = 100000
MAX_VALUES = 2000000


class Invalid(exception.ReconcilerError):
    """A payload that does not have the shape its version promises."""


def encode(value):
    """``value`` as JSON types: dataclasses as dicts of their fields,
    tuples and lists as lists, sets sorted (one text per value).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name))
                for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((encode(v) for v in value),
                      key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError('cannot encode a %s' % type(value).__name__)


def decode(hint, data, path='payload'):
    """A value of type ``hint`` (a dataclass or a typing form) from
    ``data``; raises :class:`Invalid`.
    """
    return _Decoder().decode(hint, data, path)


class _Decoder(object):

    def __init__(self):
        self.left = MAX_VALUES

    def _count(self, path, n=1):
        self.left -= n
        if self.left < 0:
            raise Invalid('%s: more than %d values' % (path, MAX_VALUES))

    def decode(self, hint, data, path):
        self._count(path)
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            if data is None and type(None) in args:
                return None
            kinds = [a for a in args if a is not type(None)]
            if len(kinds) != 1:
                raise Invalid('%s: ambiguous type %s' % (path, hint))
            return self.decode(kinds[0], data, path)
        if dataclasses.is_dataclass(hint):
            return self._dataclass(hint, data, path)
        if origin in (tuple, list, frozenset, set):
            return self._sequence(origin, args, data, path)
        if hint is dict or origin is dict:
            return self._dict(args, data, path)
        if hint is float and isinstance(data, int) and not isinstance(
                data, bool):
            return float(data)
        if hint in (str, int, float, bool):
            if type(data) is not hint:
                raise Invalid('%s: %s expected, not %s'
                              % (path, hint.__name__, type(data).__name__))
            if hint is str and len(data) > MAX_TEXT:
                raise Invalid('%s: longer than %d characters'
                              % (path, MAX_TEXT))
            return data
        if hint is typing.Any:
            return self._json(data, path)
        raise Invalid('%s: no decoder for %s' % (path, hint))

    def _dataclass(self, cls, data, path):
        if not isinstance(data, dict):
            raise Invalid('%s: object expected' % path)
        hints = typing.get_type_hints(cls)
        values = {}
        for field in dataclasses.fields(cls):
            if field.name in data:
                values[field.name] = self.decode(
                    hints[field.name], data[field.name],
                    '%s.%s' % (path, field.name))
            elif (field.default is dataclasses.MISSING
                  and field.default_factory is dataclasses.MISSING):
                raise Invalid('%s: no %s' % (path, field.name))
        try:
            return cls(**values)
        except (TypeError, ValueError) as e:
            raise Invalid('%s: %s' % (path, e))

    def _list(self, data, path):
        if not isinstance(data, list):
            raise Invalid('%s: list expected' % path)
        if len(data) > MAX_ITEMS:
            raise Invalid('%s: more than %d items' % (path, MAX_ITEMS))
        return data

    def _sequence(self, origin, args, data, path):
        data = self._list(data, path)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(data) != len(args):
                raise Invalid('%s: %d items expected' % (path, len(args)))
            return tuple(self.decode(a, v, '%s[%d]' % (path, i))
                         for i, (a, v) in enumerate(zip(args, data)))
        item = args[0] if args else typing.Any
        values = [self.decode(item, v, '%s[%d]' % (path, i))
                  for i, v in enumerate(data)]
        return frozenset(values) if origin in (frozenset, set) else (
            tuple(values) if origin is tuple else values)

    def _dict(self, args, data, path):
        if not isinstance(data, dict):
            raise Invalid('%s: object expected' % path)
        if len(data) > MAX_ITEMS:
            raise Invalid('%s: more than %d items' % (path, MAX_ITEMS))
        key, value = args or (str, typing.Any)
        return {self.decode(key, k, path): self.decode(
            value, v, '%s[%s]' % (path, k)) for k, v in data.items()}

    def _json(self, data, path):
        """Any JSON value, bounded."""
        if isinstance(data, dict):
            return self._dict((str, typing.Any), data, path)
        if isinstance(data, list):
            return [self._json(v, '%s[%d]' % (path, i))
                    for i, v in enumerate(self._list(data, path))]
        if isinstance(data, str) and len(data) > MAX_TEXT:
            raise Invalid('%s: longer than %d characters' % (path, MAX_TEXT))
        if data is None or isinstance(data, (str, int, float)):
            self._count(path)
            return data
        raise Invalid('%s: not a JSON value' % path)
