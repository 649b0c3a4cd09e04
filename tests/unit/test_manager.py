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

"""Plausibility of inventories (traps T1, T3, T15), and re-checks."""

import collections
import contextlib
import sqlite3
import time
import types
from unittest import mock
import zlib

import fixtures
from oslotest import base
from sqlalchemy import exc as sa_exc

from reconciler import engine
from reconciler import exception
from reconciler import history
from reconciler import manager
from reconciler import model
from reconciler.simulators.scenario import uid
from tests.unit.history import fixtures as history_fixtures

K = model.FindingKind
R = model.ResourceType
S = model.FindingState


def views(volumes, objects, cinder_named=True):
    cls = model.ObjectClass.CINDER if cinder_named else \
        model.ObjectClass.FOREIGN
    cinder = model.CinderView('h@b', tuple(
        model.CinderVolume(uid('v%d' % i), None, 'h@b#p', 'available')
        for i in range(volumes)), (), 0.0)
    # The array holds Cinder's volumes first, then others.
    array = model.ArrayView(tuple(
        model.ArrayObject(R.VOLUME, 'o%d' % i, uid('v%d' % i), cls)
        for i in range(objects)), 0.0)
    return cinder, array


def previous(volumes, objects):
    return history.RunRecord(
        id=7, backend='b', host='h', status=model.RunStatus.OK,
        started_at=0.0, finished_at=1.0, counts={}, error=None,
        inventory={'cinder_volumes': volumes, 'array_objects': objects})


class PlausibilityTest(base.BaseTestCase):

    def check(self, prev, cinder_view, array_view, shrink=50):
        return manager.check_plausible(prev, cinder_view, array_view, shrink)

    def test_first_pass_and_steady_passes_are_plausible(self):
        self.assertEqual({'cinder_volumes': 0, 'array_objects': 0},
                         self.check(None, *views(0, 0)))
        self.check(None, *views(10, 12))
        self.check(previous(100, 100), *views(50, 50))
        self.check(previous(100, 100), *views(150, 90))

    def test_sharp_shrink_fails(self):
        for now in ((49, 100), (100, 49), (0, 100)):
            e = self.assertRaises(exception.ImplausibleInventory, self.check,
                                  previous(100, 100), *views(*now))
            self.assertIn('since run 7', str(e))
        self.check(previous(100, 100), *views(80, 80), shrink=20)
        self.assertRaises(exception.ImplausibleInventory, self.check,
                          previous(100, 100), *views(79, 80), shrink=20)

    def test_empty_cinder_beside_cinder_named_volumes_fails(self):
        e = self.assertRaises(exception.ImplausibleInventory, self.check,
                              None, *views(0, 3))
        self.assertIn('h@b', str(e))
        # Foreign objects alone say nothing about Cinder's view.
        self.check(None, *views(0, 3, cinder_named=False))


class NoHistoryPlausibilityTest(base.BaseTestCase):
    """A fresh database: the listing must still hold Cinder's volumes."""

    def check(self, cinder_view, array_view, shrink=50):
        return manager.check_plausible(None, cinder_view, array_view, shrink)

    def test_array_holding_none_of_cinders_volumes_fails(self):
        for volumes in (1, 509):
            e = self.assertRaises(exception.ImplausibleInventory, self.check,
                                  *views(volumes, 0))
            self.assertIn('lacks %d of the %d settled volumes' % (
                volumes, volumes), str(e))
        # Foreign objects do not stand for Cinder's volumes.
        self.assertRaises(exception.ImplausibleInventory, self.check,
                          *views(10, 10, cinder_named=False))

    def test_fraction_far_below_a_plausible_loss_fails(self):
        self.check(*views(100, 50))
        e = self.assertRaises(exception.ImplausibleInventory, self.check,
                              *views(100, 49))
        self.assertIn('lacks 51 of the 100', str(e))
        self.check(*views(100, 80), shrink=20)
        self.assertRaises(exception.ImplausibleInventory, self.check,
                          *views(100, 79), shrink=20)
        # 100 disables the limit, as it does the shrink rule.
        self.check(*views(100, 0), shrink=100)

    def test_volumes_already_known_missing_do_not_count(self):
        """Open Cinder-only findings: their absence says nothing new."""
        cinder, array = views(10, 4)
        known = {uid('v%d' % i) for i in range(4, 10)}
        self.assertRaises(exception.ImplausibleInventory, self.check,
                          cinder, array)
        manager.check_plausible(None, cinder, array, 50, known)
        e = self.assertRaises(exception.ImplausibleInventory,
                              manager.check_plausible, None, cinder, array,
                              50, {uid('v9')})
        self.assertIn('lacks 5 of the 9', str(e))

    def test_only_settled_volumes_in_listed_pools_count(self):
        cinder, _ = views(0, 0)
        volumes = (
            model.CinderVolume(uid('c'), None, 'h@b#p', 'creating'),
            model.CinderVolume(uid('d'), None, 'h@b#p', 'error_deleting'),
            model.CinderVolume(uid('m'), None, 'h@b#p', 'available',
                               migration_status='migrating'),
            model.CinderVolume(uid('o'), None, 'h@b#other', 'available'))
        cinder = model.CinderView('h@b', volumes, (), 0.0)
        self.check(cinder, model.ArrayView((), 0.0, pools=frozenset(['p'])))
        self.assertRaises(exception.ImplausibleInventory, self.check,
                          cinder, model.ArrayView((), 0.0))

    def test_shrink_to_nothing_names_the_host_setting(self):
        """A wrong [DEFAULT] host after a good history (issue item 12)."""
        e = self.assertRaises(exception.ImplausibleInventory,
                              manager.check_plausible, previous(100, 100),
                              *views(0, 100), max_shrink_percent=50)
        self.assertIn('cinder_volumes shrank from 100 to 0', str(e))
        self.assertIn('[DEFAULT] host / backend_host', str(e))
        self.assertIn('h@b', str(e))
        e = self.assertRaises(exception.ImplausibleInventory,
                              manager.check_plausible, previous(100, 100),
                              *views(100, 0), max_shrink_percent=50)
        self.assertIn('array_objects shrank from 100 to 0', str(e))
        self.assertIn("the backend's array options", str(e))


def suspects(*labels):
    return tuple(
        engine.Suspect(model.Candidate(K.ARRAY_ONLY, R.VOLUME, uid(label)))
        for label in labels)


class SuspectCapTest(base.BaseTestCase):

    def cap(self, new, open_findings=(), size=100, percent=25):
        cinder, array = views(size, size)
        manager.check_suspect_cap(
            suspects(*new), {(K.ARRAY_ONLY, R.VOLUME, uid(label))
                             for label in open_findings},
            cinder, array, percent)

    def test_over_the_cap_fails_and_says_why(self):
        self.cap(['n%d' % i for i in range(25)])
        e = self.assertRaises(exception.ImplausibleInventory, self.cap,
                              ['n%d' % i for i in range(26)])
        self.assertIn('would add 26 suspects on a backend of 100 objects',
                      str(e))
        self.assertIn('reconciler_max_suspect_percent = 25%', str(e))

    def test_open_findings_do_not_count(self):
        many = ['n%d' % i for i in range(60)]
        self.cap(many, open_findings=many[:40])
        self.assertRaises(exception.ImplausibleInventory, self.cap, many,
                          open_findings=many[:30])

    def test_size_is_the_larger_side(self):
        cinder, _ = views(20, 0)
        _, array = views(0, 60)
        manager.check_suspect_cap(suspects(*'abcdefghijklmno'), set(),
                                  cinder, array, 25)
        self.assertRaises(exception.ImplausibleInventory,
                          manager.check_suspect_cap,
                          suspects(*'abcdefghijklmnop'), set(), cinder,
                          array, 25)

    def test_a_few_suspects_always_pass(self):
        self.cap(['n%d' % i for i in range(10)], size=10)
        self.assertRaises(exception.ImplausibleInventory, self.cap,
                          ['n%d' % i for i in range(11)], size=10)

    def test_100_disables_the_cap(self):
        self.cap(['n%d' % i for i in range(500)], percent=100)


class _Array(object):
    """A driver over a list of volumes, recording its point look-ups."""

    def __init__(self, *labels):
        self.labels = list(labels)
        self.hidden = set()     # on the array, missing from its listing
        self.lookups = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def _object(self, label):
        return model.ArrayObject(R.VOLUME, 'volume-%s' % uid(label),
                                 uid(label), model.ObjectClass.CINDER)

    def list_objects(self):
        return model.ArrayView(tuple(
            self._object(label) for label in self.labels
            if label not in self.hidden), 0.0)

    def list_objects_reusing(self, cache):
        return self.list_objects()

    def lookup_round(self):
        return contextlib.nullcontext()

    def refresh(self, obj):
        self.lookups.append(obj.uuid)
        return next((o for o in map(self._object, self.labels)
                     if o.name == obj.name), None)


class _Cinder(object):
    """Cinder with one volume, recording its point look-ups.

    Volumes whose keys are in ``elsewhere`` exist on another host: the
    listing of ours does not show them, a look-up finds them.
    """

    def __init__(self):
        self.requests = 0
        self.lookups = []
        self.elsewhere = set()

    def view(self, host, cluster=None, cache=None):
        volume = model.CinderVolume(uid('a'), None, host + '#p', 'available')
        return model.CinderView(host, (volume,), (), 0.0)

    def volume_with_key(self, key):
        self.requests += 1
        self.lookups.append(key)
        if key in self.elsewhere:
            return model.CinderVolume(key, None, 'ctl2@be1#p', 'available')
        return None


class _PassTestCase(base.BaseTestCase):
    """Passes of one backend over ``_Array`` and ``_Cinder``."""

    def setUp(self):
        super().setUp()
        self.history = self.useFixture(
            history_fixtures.History()).history
        self.array = _Array('a', 'leak')
        self.cinder = _Cinder()
        conf = types.SimpleNamespace(
            host='ctl', reconciler=types.SimpleNamespace(notify_kinds=list(K)),
            cinder=types.SimpleNamespace(changes_margin=300))
        self.backend = backend = types.SimpleNamespace(
            name='be1', cinder_host='ctl@be1', cinder_cluster=None,
            create_driver=lambda: self.array,
            reconciler_max_shrink_percent=50,
            reconciler_max_suspect_percent=100, reconciler_sightings=2,
            reconciler_grace_period=0, reconciler_confirmed_recheck_passes=4,
            reconciler_full_listing_passes=12,
            reconciler_stale_temporary_grace_period=86400)
        self.reconciler = manager.BackendReconciler(
            conf, backend, self.history,
            types.SimpleNamespace(flush=lambda history: None),
            inventory_factory=lambda conf: self.cinder)

    def run_pass(self):
        """(Cinder look-ups, array look-ups, transitions) of one pass."""
        self.cinder.lookups, self.array.lookups = [], []
        report = self.reconciler.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        return (self.cinder.lookups, self.array.lookups,
                [(t.candidate.resource_id, t.new_state)
                 for t in report.transitions])


class RecheckTest(_PassTestCase):
    """A pass re-checks suspects, and confirmed findings on their turn."""

    def other_runs(self):
        """Runs that take run ids: another backend's, a failed one of ours."""
        self.history.start_run('be2', 'ctl', 0.0)
        failed = self.history.start_run('be1', 'ctl', 0.0)
        self.history.fail_run(failed, 1.0, 'boom', [])

    def test_confirmed_findings_are_rechecked_on_their_turn_until_unlisted(
            self):
        leak, new = uid('leak'), uid('new')
        every = self.backend.reconciler_confirmed_recheck_passes
        turn = zlib.crc32(leak.encode()) % every
        # Ok passes 0 and 1 of be1: suspected, then confirmed, re-checked.
        self.assertEqual(([leak], [leak], [(leak, S.SUSPECTED)]),
                         self.run_pass())
        self.assertEqual(([leak], [leak], [(leak, S.CONFIRMED)]),
                         self.run_pass())
        events = self.history.pending_notifications()
        writes = self.useFixture(history_fixtures.Writes()).statements
        for number in range(2, 2 + 2 * every):
            self.other_runs()
            del writes[:]
            # Re-checked on one ok pass in every: it still holds.
            due = [leak] if number % every == turn else []
            self.assertEqual((due, due, []), self.run_pass(), number)
            self.assertEqual([('INSERT INTO runs', 1),
                              ('UPDATE runs SET', 1)], writes)
        self.assertEqual(events, self.history.pending_notifications())
        # Gone from the listing: re-checked, gone, resolved; a new suspect
        # is re-checked.
        self.array.labels = ['a', 'new']
        self.assertEqual(
            ([new, leak], [new, leak],
             [(new, S.SUSPECTED), (leak, S.RESOLVED)]),
            self.run_pass())
        self.assertEqual({(K.ARRAY_ONLY, R.VOLUME, new): S.SUSPECTED,
                          (K.ARRAY_ONLY, R.VOLUME, leak): S.RESOLVED},
                         {(f.kind, f.resource_type, f.resource_id): f.state
                          for f in self.history.findings()})

    def test_one_pass_in_one_rechecks_every_pass(self):
        self.backend.reconciler_confirmed_recheck_passes = 1
        leak = uid('leak')
        self.run_pass()
        self.run_pass()
        for _ in range(3):
            self.assertEqual(([leak], [leak], []), self.run_pass())

    def test_finding_found_in_cinder_elsewhere_resolves_on_its_turn(self):
        """Its row moved to another host: the listing still shows it.

        Only a re-check finds the row, so the finding resolves on its
        turn, within reconciler_confirmed_recheck_passes ok passes.
        """
        leak = uid('leak')
        every = self.backend.reconciler_confirmed_recheck_passes
        turn = zlib.crc32(leak.encode()) % every
        self.assertNotEqual(2 % every, turn, 'no pass waits for its turn')
        self.run_pass()
        self.assertEqual([(leak, S.CONFIRMED)], self.run_pass()[2])
        self.cinder.elsewhere.add(leak)
        for number in range(2, 2 + every):
            self.other_runs()
            lookups, _, transitions = self.run_pass()
            if number % every == turn:
                break
            self.assertEqual(([], []), (lookups, transitions), number)
        self.assertEqual(([leak], [(leak, S.RESOLVED)]),
                         (lookups, transitions))
        # No longer confirmed: re-checked on every pass, stays resolved.
        self.assertEqual(([leak], [], []), self.run_pass())

    def test_partial_listing_does_not_resolve_confirmed_findings(self):
        """A listing lacking 40% of the array, within the shrink limit."""
        leaks = ['leak%d' % i for i in range(4)]
        self.array.labels = ['a'] + leaks
        self.run_pass()
        self.assertEqual(4, sum(t[1] == S.CONFIRMED
                                for t in self.run_pass()[2]))
        self.array.hidden = {'leak0', 'leak1'}
        for _ in range(3):
            self.other_runs()
            cinder, array, transitions = self.run_pass()
            # Looked up (only those missing from the listing), still there.
            self.assertEqual([], transitions)
            self.assertLessEqual({uid('leak0'), uid('leak1')}, set(array))
        self.assertEqual({uid(label): S.CONFIRMED for label in leaks},
                         {f.resource_id: f.state
                          for f in self.history.findings()})
        # Really gone: the look-up says so and they resolve.
        self.array.labels = ['a', 'leak2', 'leak3']
        self.assertEqual(
            sorted([(uid('leak0'), S.RESOLVED), (uid('leak1'), S.RESOLVED)]),
            sorted(self.run_pass()[2]))

    def test_too_many_new_suspects_fail_the_pass_before_any_look_up(self):
        self.backend.reconciler_max_suspect_percent = 25
        self.array.labels = ['a'] + ['leak%d' % i for i in range(11)]
        self.cinder.lookups, self.array.lookups = [], []
        report = self.reconciler.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertIn('would add 11 suspects on a backend of 12 objects',
                      report.error)
        self.assertEqual(([], []), (self.cinder.lookups, self.array.lookups))
        self.assertEqual([], self.history.findings())
        # Findings already open do not count against the cap.
        self.backend.reconciler_max_suspect_percent = 100
        self.run_pass()
        self.backend.reconciler_max_suspect_percent = 25
        self.array.labels.append('leak3')
        report = self.reconciler.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)

    def test_objects_cinder_unmanaged_do_not_count_against_the_cap(self):
        self.backend.reconciler_max_suspect_percent = 25
        leaks = ['leak%d' % i for i in range(11)]
        self.array.labels = ['a'] + leaks
        self.history.record_events([model.CinderEvent(
            'be1', 'volume.unmanage.end', 'volume', uid(label), 'ctl@be1',
            1.0, message_id='m-%s' % label) for label in leaks], 1.0)
        report = self.reconciler.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual({K.UNMANAGED: 11}, collections.Counter(
            c.kind for c in report.candidates))

    def test_database_error_mid_pass_is_one_line(self):
        full = sa_exc.OperationalError(
            'INSERT INTO findings (resource_id) VALUES (?)', ('secret-ish',),
            sqlite3.OperationalError('database or disk is full'))

        def complete_run(*args, **kwargs):
            raise full

        self.useFixture(fixtures.MonkeyPatch(
            'reconciler.history.api.History.complete_run', complete_run))
        log = self.useFixture(fixtures.FakeLogger(
            format='%(levelname)s %(message)s'))
        report = self.reconciler.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        error = ('history database error: (sqlite3.OperationalError) '
                 'database or disk is full')
        self.assertEqual(error, report.error)
        [run] = self.history.runs()
        self.assertEqual(error, run.error)
        self.assertNotIn('INSERT', log.output)
        self.assertNotIn('Traceback', log.output)


class WallClockJumpTest(_PassTestCase):
    """The daemon's passes with time.time jumped: grace stays honest."""

    def setUp(self):
        super().setUp()
        self.backend.reconciler_grace_period = 600
        self.log = self.useFixture(fixtures.FakeLogger())

    def pass_with_clock(self, offset):
        real = time.time
        with mock.patch('time.time', lambda: real() + offset):
            return self.run_pass()[2]

    def test_a_clock_jumped_forward_confirms_nothing(self):
        leak = uid('leak')
        self.assertEqual([(leak, S.SUSPECTED)], self.pass_with_clock(0))
        self.assertEqual([], self.pass_with_clock(3600))
        self.assertIn('no finding is confirmed in this pass',
                      self.log.output)
        self.assertEqual([], self.pass_with_clock(3600))
        self.assertEqual([], self.pass_with_clock(0))
        [f] = [f for f in self.history.findings() if f.resource_id == leak]
        self.assertEqual((S.SUSPECTED, 4), (f.state, f.sightings))
