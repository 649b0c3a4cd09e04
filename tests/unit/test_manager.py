"""Plausibility of inventories (traps T1, T3, T15), and re-checks."""

import sqlite3
import types
import zlib

import fixtures
from oslotest import base
from sqlalchemy import exc as sa_exc

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
    array = model.ArrayView(tuple(
        model.ArrayObject(R.VOLUME, 'o%d' % i, uid('o%d' % i), cls)
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


class _Array(object):
    """A driver over a list of volumes, recording its point look-ups."""

    def __init__(self, *labels):
        self.labels = list(labels)
        self.lookups = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def _object(self, label):
        return model.ArrayObject(R.VOLUME, 'volume-%s' % uid(label),
                                 uid(label), model.ObjectClass.CINDER)

    def list_objects(self):
        return model.ArrayView(tuple(map(self._object, self.labels)), 0.0)

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

    def view(self, host):
        volume = model.CinderVolume(uid('a'), None, host + '#p', 'available')
        return model.CinderView(host, (volume,), (), 0.0)

    def volume_with_key(self, key):
        self.requests += 1
        self.lookups.append(key)
        if key in self.elsewhere:
            return model.CinderVolume(key, None, 'ctl2@be1#p', 'available')
        return None


class RecheckTest(base.BaseTestCase):
    """A pass re-checks suspects, and confirmed findings on their turn."""

    def setUp(self):
        super().setUp()
        self.history = self.useFixture(
            history_fixtures.History()).history
        self.array = _Array('a', 'leak')
        self.cinder = _Cinder()
        conf = types.SimpleNamespace(
            host='ctl', reconciler=types.SimpleNamespace(notify_kinds=list(K)))
        self.backend = backend = types.SimpleNamespace(
            name='be1', cinder_host='ctl@be1',
            create_driver=lambda: self.array,
            reconciler_max_shrink_percent=50, reconciler_sightings=2,
            reconciler_grace_period=0, reconciler_confirmed_recheck_passes=4)
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
        # Gone from the listing: resolved; a new suspect is re-checked.
        self.array.labels = ['a', 'new']
        self.assertEqual(
            ([new], [new], [(new, S.SUSPECTED), (leak, S.RESOLVED)]),
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
