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

"""When a full Cinder listing adds up, churn or no churn.

The functional tests (tests.functional.test_cinder_listing) cut pages of
a real cinder-api; here, the arithmetic under churn, which a real API
shows only by chance.
"""

from cinderclient import exceptions as cinder_exc
from oslotest import base

from reconciler.inventory import cinder as cinder_inventory
from reconciler.inventory import windows
from reconciler import model

OLD, LISTING = '2026-01-01T00:00:00.000000', 1767312000.0   # 2026-01-02
NEW = '2026-01-02T00:00:05.000000'


class _Inventory(cinder_inventory.CinderInventory):
    """No client: ``past`` is what Cinder has past a listing's end."""

    def __init__(self, past):
        self.page_size = 100
        self.past = past
        self.asked = []

    def _get(self, url, missing_ok=True, **request):
        self.asked.append(url)
        if self.past is None:
            raise cinder_exc.NotFound(404)
        return {'volumes': self.past}


def volumes(*ids, created=OLD):
    return [model.CinderVolume(i, None, 'h@b#p', 'available',
                               created_at=created) for i in ids]


class AddsUpTest(base.BaseTestCase):

    def adds_up(self, rows, before, after, past=(), sort=windows.ONE_CURSOR):
        inventory = _Inventory(None if past is None else [
            {'id': i, 'created_at': c} for i, c in past])
        return inventory._adds_up('/volumes/detail', 'volumes', rows, sort,
                                  {'host': 'h@b'}, before, after,
                                  LISTING), inventory.asked

    def test_counts_that_did_not_move(self):
        self.assertEqual((True, []),
                         self.adds_up(volumes('a', 'b', 'c'), 3, 3))
        # A page cut short on a quiet backend.
        for rows in (volumes('a', 'b'), volumes('a', 'b', 'c', 'd')):
            self.assertEqual((False, []), self.adds_up(rows, 3, 3,
                                                       past=[('c', NEW)]))

    def test_counts_that_moved_and_only_new_rows_past_the_end(self):
        # Rows came and went while it was listed: whole.
        ok, asked = self.adds_up(volumes('a', 'b'), 4, 5,
                                 past=[('c', NEW), ('d', NEW)])
        self.assertTrue(ok)
        self.assertIn('marker=b', asked[0])
        self.assertIn('sort=id%3Aasc', asked[0])

    def test_an_older_row_past_the_end_is_a_page_cut_short(self):
        self.assertFalse(self.adds_up(volumes('a', 'b'), 4, 5,
                                      past=[('c', NEW), ('d', OLD)])[0])
        self.assertFalse(self.adds_up(volumes('a', 'b'), 4, 5,
                                      past=[('c', None)])[0])

    def test_its_last_row_gone_it_cannot_tell(self):
        self.assertFalse(self.adds_up(volumes('a', 'b'), 4, 5,
                                      past=None)[0])

    def test_windows_end_at_their_newest_row(self):
        rows = (volumes('z', created=OLD)
                + volumes('a', created='2026-01-01T12:00:00.000000'))
        ok, asked = self.adds_up(rows, 4, 5, past=[],
                                 sort=windows.SORT)
        self.assertTrue(ok)
        self.assertIn('marker=a', asked[0])
        self.assertIn('sort=created_at%3Aasc%2Cid%3Aasc', asked[0])

    def test_counts_that_moved_prove_nothing_alone(self):
        # An empty page whose count is as wrong as its list: what follows
        # holds rows older than the listing.
        ok, asked = self.adds_up([], 0, 3, past=[('a', OLD), ('b', OLD)])
        self.assertFalse(ok)
        self.assertNotIn('marker', asked[0])
        self.assertFalse(self.adds_up(volumes('a'), 2, 3,
                                      past=[('b', OLD)])[0])
