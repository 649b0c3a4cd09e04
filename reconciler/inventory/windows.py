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

"""A full Cinder listing split into disjoint ``created_at`` windows.

One marker cursor asks cinder-api for one page at a time, so only one of its
workers is ever busy with a listing. Here the rows, ordered by
``(created_at, id)``, are cut at a few boundary rows into windows that are
fetched in parallel (``[cinder] listing_workers``), each by marker as a
single cursor is.

Why the windows neither overlap nor leave a gap. Window ``i`` holds the rows
whose key lies in ``(bound[i-1], bound[i]]`` (open below, closed above;
the first is unbounded below, the last above). Cinder can only be asked for
the lower side: its time filters (3.60, volumes only) take one condition per
field (``created_at=gt:a,lt:b`` is *or*, a repeated parameter keeps the
last), and snapshots have none. So:

- volumes: the key is ``created_at`` alone; a window starts with
  ``created_at=gt:<bound>`` (microversion 3.60, the bound as Cinder rendered
  it, microseconds included): rows with equal timestamps are on one side;
- snapshots: the key is ``(created_at, id)``; a window starts after the
  boundary row as a marker, which Cinder pages after by the sort keys;
- every window is sorted by ``created_at:asc,id:asc`` and stops at the first
  row past its upper bound, which the client compares.

A bound is a value, never re-read, so each unchanged row is in exactly one
window, whatever is created or deleted meanwhile (as with one cursor, those
may or may not be listed). Anything that does not add up (a row outside its
window, an unsorted answer, a row in two windows, a missing timestamp)
falls back to one cursor; a cinder-api older than 3.60 gets one cursor.
Cinder rewrites ``created_at`` in one case, at the end of a migration
(``finish_volume_migration`` swaps it with the target's): such a volume can
then be missed, like a row deleted meanwhile, and its array object is only
a suspect that the point re-check finds alive.
"""

import concurrent.futures
import threading
import urllib.parse

from cinderclient import exceptions as cinder_exc
from oslo_log import log as logging
from oslo_utils import timeutils

from reconciler import exception

LOG = logging.getLogger(__name__)

SORT = 'created_at:asc,id:asc'
ONE_CURSOR = 'id:asc'
TIME_FILTER_MICROVERSION = '3.60'
VOLUMES = '/volumes/detail'
SNAPSHOTS = '/snapshots/detail'


class Inconsistent(Exception):
    """The windows do not add up: the listing is done by one cursor."""


class BoundGone(Exception):
    """A window's start marker was deleted: the windows are planned again."""


class Cancelled(Exception):
    """Another window failed: this one stops at its next row."""


def timestamp(item):
    """``created_at`` as a naive UTC datetime; Inconsistent if absent."""
    if not isinstance(item, dict):
        raise TypeError('a listed item is not an object')
    value = item.get('created_at')
    if not isinstance(value, str):
        raise Inconsistent('a row without created_at')
    try:
        return timeutils.normalize_time(timeutils.parse_isotime(value))
    except ValueError:
        raise Inconsistent('created_at %r is not a time' % value[:40])


def render(moment):
    """A bound for Cinder's time filter, to the microsecond."""
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%f')


def volume_key(item):
    return (timestamp(item),)


def snapshot_key(item):
    return (timestamp(item), item['id'])


def boundary_offsets(total, windows, page_size):
    """Offsets of the last row of every window but the last.

    No more windows than pages: a window of less than a page saves nothing.
    """
    pages = -(-total // page_size)
    count = min(windows, pages)
    return [i * total // count - 1 for i in range(1, count)] if count > 1 \
        else []


def page_limit(expected, page_size):
    """Rows per page for a window expected to hold ``expected`` rows.

    Its last page ends with rows of the next window, which the window
    throws away: pages sized to fill the window plus a small slack (2 %)
    waste a few rows instead of half a page, and the slack still reaches
    past its upper bound, so no extra request is needed to learn that the
    window has ended.
    """
    wanted = expected + 1 + expected // 50
    pages = -(-wanted // page_size)
    return min(page_size, -(-wanted // pages))


def spans(bounds):
    """``(lower, upper)`` of each window, ``None`` for unbounded.

    ``bounds`` may repeat or be out of order (rows created or deleted while
    they were probed): sorted and deduplicated, they still cut the key space
    into disjoint windows covering all of it.
    """
    edges = [None] + sorted(set(bounds)) + [None]
    return list(zip(edges[:-1], edges[1:]))


def in_window(key, lower, upper):
    return (lower is None or key > lower) and (upper is None or key <= upper)


class WindowedListing(object):
    """Full listings of one :class:`CinderInventory` in parallel windows."""

    def __init__(self, inventory, workers):
        self.inventory = inventory
        self.workers = workers
        # Set once cinder-api refused microversion 3.60.
        self.time_filters = True
        # The order the last listing was made in (windows or one cursor).
        self.sort = ONE_CURSOR

    def pages(self, path, key, convert, scope):
        """Every item, converted, sorted by id; as ``_pages`` does."""
        if self.workers > 1 and (path == SNAPSHOTS or self.time_filters):
            try:
                self.sort = SORT
                return self._windowed(path, key, convert, scope)
            except Inconsistent as e:
                LOG.warning('Cinder %s in windows did not add up (%s): '
                            'listing with one cursor', path, e)
        self.sort = ONE_CURSOR
        return self.inventory._pages(path, key, convert, counted=True,
                                     **scope)

    def _request(self, path):
        """Request arguments of every window and probe request.

        A new connection per request: a cinder-api worker keeps the
        connections it accepted, and one worker can accept them all at
        once, while a busy worker accepts none, so that each page goes to
        a worker that is free.
        """
        request = {'headers': {'Connection': 'close'}}
        if path == VOLUMES:
            # The client's own microversion when newer (3.61 for clusters).
            current = self.inventory.client.default_microversion
            request['microversion'] = max(
                (current, TIME_FILTER_MICROVERSION),
                key=lambda v: tuple(int(n) for n in v.split('.')))
        return request

    def _windowed(self, path, key, convert, scope):
        key_of = volume_key if path == VOLUMES else snapshot_key
        attempts = self.inventory.listing_attempts
        for _attempt in range(attempts):
            try:
                with concurrent.futures.ThreadPoolExecutor(
                        self.workers,
                        thread_name_prefix='cinder-window') as pool:
                    windows, limit = self._plan(pool, path, key, key_of,
                                                scope)
                    converted = self._fetch(pool, path, key, convert,
                                            key_of, scope, windows, limit)
            except BoundGone:
                LOG.info('Cinder %s: a window bound was deleted meanwhile, '
                         'planning again', path)
                continue
            except cinder_exc.NotAcceptable:
                LOG.info('Cinder API older than %s: no time filters, '
                         'listing volumes with one cursor',
                         TIME_FILTER_MICROVERSION)
                self.time_filters = False
                self.sort = ONE_CURSOR
                return self.inventory._pages(path, key, convert,
                                             counted=True, **scope)
            if len({c.id for c in converted}) != len(converted):
                raise Inconsistent('a row in two windows')
            converted.sort(key=lambda c: c.id)
            LOG.debug('Cinder %s: %d items in %d windows', path,
                      len(converted), len(windows))
            return converted
        raise exception.CinderError(
            'Cinder GET %s: the listing kept changing under us (%d attempts)'
            % (path, attempts))

    def _url(self, path, **params):
        return '%s?%s' % (path, urllib.parse.urlencode(params))

    @staticmethod
    def _refused(path):
        """What a probe of ``path`` raises as is: a refused microversion."""
        return (cinder_exc.NotAcceptable,) if path == VOLUMES else ()

    def _get(self, path, params):
        """One probe request (a 404 fails it: it names no marker)."""
        body = self.inventory._get(self._url(path, **params),
                                   raises=self._refused(path),
                                   **self._request(path))
        if body is None:
            raise exception.CinderError('Cinder GET %s: 404 Not Found'
                                        % path)
        return body

    def _plan(self, pool, path, key, key_of, scope):
        """The windows: a count, then the boundary rows, probed in parallel.
        """
        base = dict(scope, all_tenants=1, sort=SORT, limit=1)
        # Under the windows' microversion: a cinder-api refusing 3.60
        # says so here, before any window.
        total = self.inventory.count(path, scope, raises=self._refused(path),
                                     **self._request(path))
        offsets = boundary_offsets(total, self.workers,
                                   self.inventory.page_size)
        if not offsets:
            return spans([]), None
        bounds = []
        for body in pool.map(
                lambda offset: self._get(path, dict(base, offset=offset)),
                offsets):
            rows = body.get(key)
            if not isinstance(rows, list):
                raise exception.CinderError(
                    'Cinder GET %s returned no %s list' % (path, key))
            # Empty: rows were deleted since the count; one window fewer.
            bounds += [key_of(row) for row in rows[:1]]
        return spans(bounds), page_limit(total // (len(offsets) + 1),
                                         self.inventory.page_size)

    def _fetch(self, pool, path, key, convert, key_of, scope, windows,
               limit):
        """The converted items of every window, or the first window's
        failure.
        """
        stop = threading.Event()
        futures = [pool.submit(self._window, path, key, convert, key_of,
                               scope, lower, upper, stop,
                               limit if upper is not None else None)
                   for lower, upper in windows]
        done, _pending = concurrent.futures.wait(
            futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        failed = [f for f in futures if f.done() and f.exception()
                  and not isinstance(f.exception(), Cancelled)]
        if failed:
            stop.set()
            concurrent.futures.wait(futures)
            raise failed[0].exception()
        return [item for f in futures for item in f.result()]

    def _window(self, path, key, convert, key_of, scope, lower, upper,
                stop, limit):
        """One window's rows; a page marker deleted meanwhile restarts it.
        """
        start = dict(scope)
        if lower is not None:
            if path == VOLUMES:
                start['created_at'] = 'gt:' + render(lower[0])
            else:
                start['marker'] = lower[1]
        attempts = self.inventory.listing_attempts
        for _attempt in range(attempts):
            rows, previous = [], lower
            chain = self.inventory._chain(path, key, start, sort=SORT,
                                          limit=limit, **self._request(path))
            try:
                for item in chain:
                    if stop.is_set():
                        raise Cancelled()
                    row_key = key_of(item)
                    if previous is not None and (
                            row_key < previous or row_key == lower):
                        raise Inconsistent('rows out of order or outside '
                                           'their window')
                    if upper is not None and row_key > upper:
                        break
                    previous = row_key
                    # Converted at once: raw rows would cost ten times more.
                    rows.append(convert(item))
                else:
                    if upper is not None and (previous is None
                                              or previous < upper):
                        # Its bound row was not reached: a page cut short.
                        raise Inconsistent('a window ended before its upper '
                                           'bound')
                return rows
            except cinder_exc.NotFound:
                if not rows and 'marker' in start:
                    raise BoundGone()
                LOG.info('Cinder %s: page marker deleted meanwhile, listing '
                         'the window again', path)
            finally:
                chain.close()
        raise exception.CinderError(
            'Cinder GET %s: the listing kept changing under us (%d attempts)'
            % (path, attempts))
