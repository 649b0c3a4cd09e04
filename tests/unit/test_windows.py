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

"""The window arithmetic: every key in exactly one window."""

import datetime
import random

import testtools

from reconciler.inventory import windows

T0 = datetime.datetime(2026, 1, 2, 3, 4, 5)


def _cut(keys, lower, upper):
    """What one window fetches: keys above ``lower`` in order, up to the
    first past ``upper`` (as Cinder's filter or marker, then the client).
    """
    rows = []
    for key in sorted(k for k in keys if lower is None or k > lower):
        if upper is not None and key > upper:
            break
        rows.append(key)
    return rows


class BoundaryOffsetsTest(testtools.TestCase):

    def test_last_row_of_each_window_but_the_last(self):
        self.assertEqual([24, 49, 74], windows.boundary_offsets(100, 4, 10))
        self.assertEqual([2, 5], windows.boundary_offsets(10, 3, 1))

    def test_no_more_windows_than_pages(self):
        self.assertEqual([4], windows.boundary_offsets(10, 4, 5))
        self.assertEqual([], windows.boundary_offsets(10, 4, 10))
        self.assertEqual([], windows.boundary_offsets(0, 4, 10))
        self.assertEqual([], windows.boundary_offsets(1000, 1, 10))


class PageLimitTest(testtools.TestCase):

    def test_pages_fill_the_window_and_reach_past_it(self):
        for expected in (0, 1, 7, 999, 1000, 2500, 25000, 33333):
            limit = windows.page_limit(expected, 1000)
            self.assertLessEqual(limit, 1000)
            # Requests to read the window and one row past it: no more
            # than full pages would take, and little thrown away.
            pages = -(-(expected + 1) // limit)
            self.assertLessEqual(pages, -(-(expected + 1) // 1000) + 1)
            self.assertEqual(pages, -(-(expected + 1 + expected // 50)
                                      // 1000))
            self.assertLessEqual(pages * limit - expected,
                                 2 + expected // 50 + pages, expected)
        self.assertEqual(851, windows.page_limit(2500, 1000))


class SpansTest(testtools.TestCase):

    def test_unbounded_at_both_ends(self):
        self.assertEqual([(None, None)], windows.spans([]))
        self.assertEqual([(None, 1), (1, 5), (5, None)],
                         windows.spans([5, 1, 5]))

    def test_in_window_is_open_below_closed_above(self):
        self.assertFalse(windows.in_window(1, 1, 5))
        self.assertTrue(windows.in_window(5, 1, 5))
        self.assertTrue(windows.in_window(-99, None, 1))
        self.assertTrue(windows.in_window(99, 5, None))

    def test_every_key_in_exactly_one_window(self):
        """Random keys with many equal timestamps, bounds from the offsets,
        then keys created or deleted after the bounds were probed.
        """
        rng = random.Random(17)
        for trial in range(300):
            keys = sorted((T0 + datetime.timedelta(
                microseconds=rng.randrange(rng.choice((1, 5, 50, 10**6)))),)
                for _ in range(rng.randrange(0, 60)))
            offsets = windows.boundary_offsets(
                len(keys), rng.randrange(1, 6), rng.choice((1, 3, 7)))
            bounds = [keys[o] for o in offsets]
            # Churn after probing: deletions and new rows anywhere.
            keys = [k for k in keys if rng.random() > 0.1] + [
                (T0 + datetime.timedelta(microseconds=rng.randrange(10**6)),)
                for _ in range(rng.randrange(3))]
            spans = windows.spans(bounds)
            for key in keys:
                self.assertEqual(1, sum(windows.in_window(key, lo, hi)
                                        for lo, hi in spans), (trial, key))
            union = [k for lo, hi in spans for k in _cut(keys, lo, hi)]
            self.assertEqual(sorted(keys), union)

    def test_snapshot_keys_split_equal_timestamps_by_id(self):
        keys = [(T0, 'id-%02d' % i) for i in range(20)]
        spans = windows.spans([keys[4], keys[9], keys[14]])
        sizes = [len(_cut(keys, lo, hi)) for lo, hi in spans]
        self.assertEqual([5, 5, 5, 5], sizes)


class TimestampTest(testtools.TestCase):

    def test_cinder_renderings(self):
        for text, expected in (
                ('2026-01-02T03:04:05.000007', T0.replace(microsecond=7)),
                ('2026-01-02T03:04:05', T0),
                ('2026-01-02T03:04:05+00:00', T0),
                ('2026-01-02T05:04:05.5+02:00',
                 T0.replace(microsecond=500000))):
            self.assertEqual(expected,
                             windows.timestamp({'created_at': text}))

    def test_render_keeps_microseconds(self):
        moment = T0.replace(microsecond=7)
        self.assertEqual('2026-01-02T03:04:05.000007', windows.render(moment))
        self.assertEqual(moment, windows.timestamp(
            {'created_at': windows.render(moment)}))
        self.assertEqual('2026-01-02T03:04:05.000000', windows.render(T0))

    def test_missing_or_bad_timestamp_does_not_add_up(self):
        for item in ({}, {'created_at': None}, {'created_at': 'yesterday'},
                     {'created_at': 5}):
            self.assertRaises(windows.Inconsistent, windows.timestamp, item)
        # Malformed like any other listing (CinderError "malformed").
        self.assertRaises(TypeError, windows.timestamp, 'row')

    def test_keys(self):
        item = {'id': 'x', 'created_at': '2026-01-02T03:04:05'}
        self.assertEqual((T0,), windows.volume_key(item))
        self.assertEqual((T0, 'x'), windows.snapshot_key(item))
