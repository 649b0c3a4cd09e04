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

"""The engine against the false-positive traps of reference/traps.md."""

import collections
import dataclasses
import zlib

from oslotest import base

from reconciler import engine
from reconciler import model
from reconciler.simulators.scenario import uid

K = model.FindingKind
R = model.ResourceType
C = model.ObjectClass
HOST = 'h1@be1'


def vol(label, status='available', name_id=None, host=HOST + '#pool1',
        migration_status=None, attached=()):
    return model.CinderVolume(
        id=uid(label), name_id=name_id and uid(name_id), host=host,
        status=status, migration_status=migration_status, project_id='p1',
        attachments=tuple(model.CinderAttachment(host_name=h)
                          for h in attached))


def snap(label, volume, status='available', group=None):
    return model.CinderSnapshot(id=uid(label), volume_id=uid(volume),
                                status=status, group_snapshot_id=group)


def avol(key, cls=C.CINDER, pool='pool1', name=None):
    return model.ArrayObject(R.VOLUME, name or 'volume-%s' % uid(key),
                             uid(key) if cls != C.FOREIGN else None, cls,
                             pool=pool)


def asnap(label, parent, cls=C.CINDER, group=None):
    return model.ArrayObject(R.SNAPSHOT, 'snapshot-%s' % (label,),
                             None if group else uid(label), cls,
                             parent_uuid=uid(parent),
                             group_uuid=group)


def aexp(key, host, initiators=(), luns=(), rule=None):
    return model.ArrayObject(R.EXPORT, 'volume-%s@%s' % (uid(key), host),
                             uid(key), C.CINDER, host=host,
                             initiators=frozenset(initiators),
                             luns=frozenset(luns), host_rule=rule)


def atemp(label, holder, kind=R.VOLUME, holder_type=R.VOLUME):
    """A temporary Cinder made for an operation on ``holder``."""
    return model.ArrayObject(kind, 'temp-%s' % label, uid(label),
                             C.TEMPORARY, pool='pool1',
                             held_by=(holder_type, holder and uid(holder)))


def views(volumes=(), snapshots=(), objects=(), pools=None,
          chance_names=False):
    return (model.CinderView(HOST, tuple(volumes), tuple(snapshots), 0.0),
            model.ArrayView(tuple(objects), 0.0, pools=pools,
                            chance_names=chance_names))


def found(comparison):
    return sorted((s.candidate.kind, s.candidate.resource_type,
                   s.candidate.resource_id) for s in comparison.suspects)


class CompareTest(base.BaseTestCase):

    def test_consistent_backend_has_no_suspects(self):
        c = engine.compare(*views(
            [vol('a'), vol('b', 'in-use', attached=['cmp1'])],
            [snap('s', 'a')],
            [avol('a'), avol('b'), asnap('s', 'a'), aexp('b', 'cmp1')]))
        self.assertEqual([], found(c))
        self.assertEqual({R.VOLUME: 2, R.SNAPSHOT: 1, R.EXPORT: 1},
                         dict(c.consistent))

    def test_array_only_and_cinder_only_volumes(self):
        c = engine.compare(*views([vol('a'), vol('gone')],
                                  objects=[avol('a'), avol('leak')]))
        self.assertEqual([(K.ARRAY_ONLY, R.VOLUME, uid('leak')),
                          (K.CINDER_ONLY, R.VOLUME, uid('gone'))], found(c))

    def test_transitional_statuses_are_never_cinder_only(self):
        for status in sorted(engine.TRANSITIONAL_STATUSES) + [
                'error', 'error_restoring']:
            c = engine.compare(*views([vol('a', status)]))
            self.assertEqual([], found(c), status)
            self.assertEqual(1, sum(c.skipped.values()), status)

    def test_error_deleting_row_without_object_is_cinder_only(self):
        """A failed delete whose object is gone: safe to clean up, listed."""
        c = engine.compare(*views(
            [vol('a', 'error_deleting'), vol('b', 'error_deleting'),
             vol('p')],
            [snap('s', 'p', 'error_deleting')], [avol('b'), avol('p')]))
        self.assertEqual(sorted([(K.CINDER_ONLY, R.VOLUME, uid('a')),
                                 (K.CINDER_ONLY, R.SNAPSHOT, uid('s'))]),
                         found(c))
        self.assertEqual({'error_deleting'}, {
            dict(x.candidate.details)['status'] for x in c.suspects})
        self.assertEqual({}, dict(c.skipped))

    def test_error_deleting_is_rechecked_like_settled_rows(self):
        listed = views([vol('a', 'error_deleting'), vol('b', 'error_deleting'),
                        vol('c', 'error_deleting'), vol('p')],
                       [snap('s', 'p', 'error_deleting')], [avol('p')])
        # a: still error_deleting, object gone; b: its object is back (it
        # was never gone, the listing missed it); c: deleted meanwhile.
        now = FakeCinder([vol('a', 'error_deleting'),
                          vol('b', 'error_deleting'), vol('p')],
                         [snap('s', 'p', 'error_deleting')])
        comparison = engine.compare(*listed)
        held = engine.confirm(comparison.suspects, now,
                              FakeArray([avol('b'), avol('p')]), HOST)
        self.assertEqual(sorted([uid('a'), uid('s')]),
                         sorted(c.resource_id for c in held))

    def test_row_in_any_status_accounts_for_array_object(self):
        # T8: a volume being created or deleted has its row and its object.
        for status in ('creating', 'deleting', 'error', 'error_deleting'):
            c = engine.compare(*views([vol('a', status)], objects=[avol('a')]))
            self.assertEqual([], found(c), status)

    def test_active_migration_is_never_cinder_only(self):
        for migstat in ('migrating', 'starting', 'completing',
                        'target:%s' % uid('x'), 'deleting'):
            c = engine.compare(*views([vol('a', migration_status=migstat)]))
            self.assertEqual([], found(c), migstat)
        c = engine.compare(*views([vol('a', migration_status='success')]))
        self.assertEqual([(K.CINDER_ONLY, R.VOLUME, uid('a'))], found(c))

    def test_name_id_is_the_array_key(self):
        # T4: after a migration the object is named after name_id.
        migrated = vol('a', name_id='new')
        c = engine.compare(*views([migrated], objects=[avol('new')]))
        self.assertEqual([], found(c))
        # The object under the plain id does not stand in for it.
        c = engine.compare(*views([migrated], objects=[avol('a')]))
        self.assertEqual([(K.CINDER_ONLY, R.VOLUME, uid('a'))], found(c))

    def test_migration_source_row_keeps_its_object(self):
        # finish_volume_migration: the old row gets id=new, name_id=old.
        source = vol('new', 'deleting', name_id='a',
                     migration_status='deleting')
        c = engine.compare(*views([vol('a', name_id='new'), source],
                                  objects=[avol('a'), avol('new')]))
        self.assertEqual([], found(c))

    def test_temporaries_and_unmanaged_are_classified_not_flagged(self):
        objects = [avol('t', C.TEMPORARY), avol('u', C.UNMANAGED),
                   avol('r', C.REPLICA), avol('c', C.CONTROL),
                   asnap('clone', 'a', C.TEMPORARY)]
        c = engine.compare(*views([vol('a')], objects=[avol('a')] + objects))
        self.assertEqual([], found(c))
        self.assertEqual({'temporary volume': 1,
                          'volume renamed on unmanage': 1,
                          'replica volume': 1, 'control volume': 1,
                          'temporary snapshot': 1}, dict(c.skipped))

    def test_foreign_objects_are_their_own_kind(self):
        c = engine.compare(*views(objects=[avol('x', C.FOREIGN,
                                                name='lun-of-someone')]))
        self.assertEqual([(K.FOREIGN, R.VOLUME, 'lun-of-someone')], found(c))

    def test_volume_outside_listed_pools_is_unknown(self):
        # T6: the listing covered pool1 only.
        c = engine.compare(*views([vol('other', host=HOST + '#pool9')],
                                  pools=frozenset(['pool1'])))
        self.assertEqual([], found(c))
        self.assertEqual({'volume outside listed pools': 1}, dict(c.skipped))

    def test_snapshots(self):
        c = engine.compare(*views(
            [vol('a')],
            [snap('s1', 'a'), snap('s-gone', 'a'),
             snap('s-new', 'a', 'creating')],
            [avol('a'), asnap('s1', 'a'), asnap('s-leak', 'a')]))
        self.assertEqual([(K.ARRAY_ONLY, R.SNAPSHOT, uid('s-leak')),
                          (K.CINDER_ONLY, R.SNAPSHOT, uid('s-gone'))],
                         found(c))

    def test_snapshot_of_unsettled_volume_is_skipped(self):
        c = engine.compare(*views([vol('a', 'retyping')], [snap('s', 'a')],
                                  [avol('a')]))
        self.assertEqual([], found(c))

    def test_group_snapshot_members_resolve_through_their_parent(self):
        gs = uid('group-snap')
        c = engine.compare(*views(
            [vol('a'), vol('b')],
            [snap('sa', 'a', group=gs), snap('sb', 'b', group=gs)],
            [avol('a'), avol('b'), asnap('m0', 'a', group=gs),
             asnap('m1', 'b', group=gs), asnap('m2', 'c', group=gs)]))
        # m2's parent has no member snapshot in Cinder: array-only.
        self.assertEqual([(K.ARRAY_ONLY, R.SNAPSHOT, 'snapshot-m2')],
                         found(c))

    def test_orphan_exports(self):
        c = engine.compare(*views(
            [vol('a', 'in-use', attached=['cmp1.example.org']), vol('b')],
            objects=[avol('a'), avol('b'), avol('leak'), aexp('a', 'cmp1'),
                     aexp('a', 'cmp2'), aexp('b', 'cmp1'),
                     aexp('leak', 'cmp3')]))
        self.assertEqual(
            sorted([(K.ORPHAN_EXPORT, R.EXPORT, 'volume-%s@cmp2' % uid('a')),
                    (K.ORPHAN_EXPORT, R.EXPORT, 'volume-%s@cmp1' % uid('b')),
                    (K.ORPHAN_EXPORT, R.EXPORT,
                     'volume-%s@cmp3' % uid('leak')),
                    (K.ARRAY_ONLY, R.VOLUME, uid('leak'))]), found(c))

    def test_export_matched_by_initiator_when_host_names_differ(self):
        v = model.CinderVolume(
            id=uid('a'), name_id=None, host=HOST, status='in-use',
            attachments=(model.CinderAttachment(
                'compute-1',
                initiators=frozenset(['10:00:00:00:C9:AA:BB:01'])),))
        c = engine.compare(*views(
            [v], objects=[avol('a'), aexp('a', 'renamed-by-admin',
                                          ['10000000c9aabb01'])]))
        self.assertEqual([], found(c))

    def test_export_orphaned_when_the_array_does_not_name_hosts(self):
        nameless = model.ArrayObject(R.EXPORT, 'ld@LX:set1', uid('a'),
                                     C.CINDER, initiators=frozenset(['wwn1']))
        att = model.CinderAttachment
        detached = vol('a')
        iscsi = vol('a', 'in-use', attached=['cmp1'])
        fc = dataclasses.replace(iscsi, attachments=(
            att('cmp1', initiators=frozenset(['WWN1'])),))
        other_fc = dataclasses.replace(iscsi, attachments=(
            att('cmp1', initiators=frozenset(['wwn2'])),))
        self.assertTrue(engine.export_orphaned(detached, nameless))
        self.assertIsNone(engine.export_orphaned(iscsi, nameless))
        self.assertFalse(engine.export_orphaned(fc, nameless))
        self.assertTrue(engine.export_orphaned(other_fc, nameless))
        # Arrays that name hosts after Cinder's compare the names.
        self.assertTrue(engine.export_orphaned(iscsi, aexp('a', 'cmp2')))

    def test_driver_host_rule_decides_the_match(self):
        # A driver that models Cinder's host naming answers per attachment;
        # one True ties the export, a None among Falses leaves it unknown.
        answers = {'cmp1': False, 'cmp2': None, 'cmp3': True}

        def exp(initiators=('iqn.2010-10.org:cmp9',)):
            return dataclasses.replace(
                aexp('a', 'array-host', initiators),
                host_rule=lambda att: answers[att.host_name])
        self.assertTrue(engine.export_orphaned(vol('a'), exp()))
        for hosts, orphaned in ((['cmp1'], True), (['cmp1', 'cmp2'], None),
                                (['cmp2', 'cmp3'], False)):
            v = vol('a', 'in-use', attached=hosts)
            self.assertIs(orphaned, engine.export_orphaned(v, exp()))
        # Unknown and held by iSCSI names only: set aside, not a suspect;
        # with an FC WWN a re-check reads the attachment's and decides.
        v = vol('a', 'in-use', attached=['cmp2'])
        c = engine.compare(*views([v], objects=[avol('a'), exp()]))
        self.assertEqual([], found(c))
        self.assertEqual(1, c.skipped[
            'export of attached volume to iSCSI initiators'])
        c = engine.compare(*views([v], objects=[avol('a'),
                                                exp(['10000000c9aabb01'])]))
        self.assertEqual(1, len(c.suspects))

    def test_hostless_iscsi_export_of_attached_volume_is_not_rechecked(self):
        # No look-up can decide it (Cinder never shows an iSCSI attachment's
        # initiator), so compare sets it aside instead of making a suspect
        # that every pass would re-check in vain.
        def ldset(initiators):
            return model.ArrayObject(R.EXPORT, 'ld@LX:set1', uid('a'),
                                     C.CINDER, initiators=frozenset(
                                         initiators))
        iqn = ['iqn.1994-05.com.redhat:cmp1']
        attached = vol('a', 'in-use', attached=['cmp1'])
        c = engine.compare(*views([attached], objects=[avol('a'),
                                                       ldset(iqn)]))
        self.assertEqual([], found(c))
        self.assertEqual(
            1, c.skipped['export of attached volume to iSCSI initiators'])
        # Still judged: attached nowhere; FC initiators; an array that
        # names its hosts.
        for volume, export in ((vol('a'), ldset(iqn)),
                               (attached, ldset(['10000000c9aabb01'])),
                               (attached, aexp('a', 'cmp2', iqn))):
            c = engine.compare(*views([volume], objects=[avol('a'), export]))
            self.assertEqual([(K.ORPHAN_EXPORT, R.EXPORT, export.name)],
                             found(c))

    def test_exports_of_volumes_in_transition_are_skipped(self):
        for status in ('attaching', 'detaching', 'reserved'):
            c = engine.compare(*views([vol('a', status)],
                                      objects=[avol('a'), aexp('a', 'cmp1')]))
            self.assertEqual([], found(c), status)


class FakeCinder(object):
    def __init__(self, volumes=(), snapshots=()):
        self.volumes = {v.id: v for v in volumes}
        self.snapshots = {s.id: s for s in snapshots}

    def get_volume(self, volume_id):
        return self.volumes.get(volume_id)

    def volume_with_key(self, key):
        for v in self.volumes.values():
            if key in (v.id, v.name_id):
                return v
        return None

    def get_snapshot(self, snapshot_id):
        return self.snapshots.get(snapshot_id)


class FakeArray(object):
    def __init__(self, objects=()):
        self.objects = {(o.kind, o.name): o for o in objects}

    def refresh(self, obj):
        return self.objects.get((obj.kind, obj.name))

    def volume_exports(self, export):
        return [o for o in self.objects.values()
                if o.kind == R.EXPORT and o.uuid == export.uuid]

    def find_volume(self, key):
        return self.objects.get((R.VOLUME, 'volume-%s' % key))

    def find_snapshot(self, snapshot_id, volume_key, group_snapshot_id=None):
        for o in self.objects.values():
            if o.kind == R.SNAPSHOT and (
                    o.uuid == snapshot_id or
                    (o.group_uuid and o.group_uuid == group_snapshot_id
                     and o.parent_uuid == volume_key)):
                return o
        return None


class ConfirmTest(base.BaseTestCase):
    """Re-checks drop candidates that churn explains."""

    def confirm(self, listed, now_cinder, now_array):
        comparison = engine.compare(*listed)
        return sorted(c.resource_id for c in engine.confirm(
            comparison.suspects, now_cinder, now_array, HOST))

    def test_array_only_volume_created_in_cinder_meanwhile(self):
        listed = views([], objects=[avol('a'), avol('b')])
        now = FakeCinder([vol('a', 'creating')])
        self.assertEqual([uid('b')], self.confirm(
            listed, now, FakeArray([avol('a'), avol('b')])))

    def test_array_only_volume_found_by_name_id(self):
        listed = views([vol('x')], objects=[avol('x'), avol('new')])
        now = FakeCinder([vol('a', name_id='new')])
        self.assertEqual([], self.confirm(listed, now,
                                          FakeArray([avol('new')])))

    def test_array_only_object_deleted_meanwhile(self):
        listed = views([vol('x')], objects=[avol('x'), avol('leak')])
        self.assertEqual([], self.confirm(listed, FakeCinder([vol('x')]),
                                          FakeArray([avol('x')])))

    def test_cinder_only_volume_that_changed(self):
        listed = views([vol('a'), vol('b'), vol('c'), vol('d'), vol('e')])
        now = FakeCinder([vol('b', 'deleting'), vol('c', host='h2@be2#p'),
                          vol('d', name_id='d2'), vol('e')])
        array = FakeArray([avol('d2')])
        # a: deleted; b: deleting; c: moved to another backend; d: migrated
        # and its new object exists; e: still missing.
        self.assertEqual([uid('e')], self.confirm(listed, now, array))

    def test_cinder_only_volume_of_another_cluster_member(self):
        # Active/active: the row carries the host of the member that made
        # it; it is on this backend when its cluster is ours.
        cluster = 'cl@be1'
        listed = views([vol('a'), vol('b'), vol('c')])
        now = FakeCinder([
            dataclasses.replace(vol('a', host='other@be1#p'),
                                cluster_name=cluster + '#p'),
            dataclasses.replace(vol('b', host='other@be1#p'),
                                cluster_name='cl2@be1#p'),
            vol('c')])
        suspects = engine.compare(*listed).suspects
        self.assertEqual(sorted([uid('a'), uid('c')]), sorted(
            c.resource_id for c in engine.confirm(
                suspects, now, FakeArray([]), HOST, cluster)))
        self.assertEqual([uid('c')], self.confirm(listed, now,
                                                  FakeArray([])))

    def test_cinder_only_snapshot_recheck(self):
        listed = views([vol('a')], [snap('s1', 'a'), snap('s2', 'a'),
                                    snap('s3', 'a')], [avol('a')])
        now = FakeCinder([vol('a')], [snap('s1', 'a', 'deleting'),
                                      snap('s3', 'a')])
        self.assertEqual([uid('s3')],
                         self.confirm(listed, now, FakeArray([avol('a')])))

    def test_group_member_found_through_its_group(self):
        gs = uid('gs')
        listed = views([vol('a')], [snap('m', 'a', group=gs)], [avol('a')])
        now = FakeCinder([vol('a')], [snap('m', 'a', group=gs)])
        member = asnap('oss-member-0', 'a', group=gs)
        self.assertEqual([], self.confirm(listed, now,
                                          FakeArray([avol('a'), member])))
        self.assertEqual([uid('m')], self.confirm(listed, now,
                                                  FakeArray([avol('a')])))

    def test_orphan_export_attached_meanwhile(self):
        listed = views([vol('a'), vol('b')],
                       objects=[avol('a'), avol('b'), aexp('a', 'cmp1'),
                                aexp('b', 'cmp1')])
        now = FakeCinder([vol('a', 'in-use', attached=['cmp1']), vol('b')])
        array = FakeArray([avol('a'), avol('b'), aexp('a', 'cmp1'),
                           aexp('b', 'cmp1')])
        self.assertEqual(['volume-%s@cmp1' % uid('b')],
                         self.confirm(listed, now, array))

    def test_what_the_recheck_drops_is_counted(self):
        """Every listed object is accounted for: one whose row Cinder shows
        on another backend is counted as such, not silently dropped.
        """
        listed = views([], [], [avol('a'), avol('b'), avol('c'),
                                asnap('s', 'c')])
        now = FakeCinder([vol('a', host='h2@be2#p'), vol('b'),
                          vol('c', host='h2@be2#p')], [snap('s', 'c')])
        dropped = collections.Counter()
        self.assertEqual([], engine.confirm(
            engine.compare(*listed).suspects, now, FakeArray([avol('a')]),
            HOST, dropped=dropped))
        self.assertEqual({'volume with a row on another backend': 2,
                          'snapshot with a row on another backend': 1,
                          'volume changed since listed': 1}, dropped)

    def test_matches_are_what_the_history_keeps(self):
        c = engine.compare(*views([vol('a')], [snap('s', 'a')],
                                  [avol('a'), avol('leak'),
                                   asnap('s', 'a')]))
        self.assertEqual({(R.VOLUME, uid('a')), (R.SNAPSHOT, uid('s'))},
                         c.matched)
        self.assertEqual(c.matched | {(R.VOLUME, uid('leak'))}, c.listed)

    def test_errors_propagate(self):
        class Broken(FakeCinder):
            def volume_with_key(self, key):
                raise RuntimeError('Cinder went away')
        listed = views([], objects=[avol('a')])
        self.assertRaises(RuntimeError, self.confirm, listed, Broken(),
                          FakeArray([avol('a')]))


class RecheckUnlistedTest(base.BaseTestCase):
    """Confirmed findings a listing lacks resolve only on a look-up."""

    def every_kind(self):
        """Suspects of each kind, from a listing, and their arrays."""
        objects = [avol('x'), avol('leak'), asnap('snapshot-ls', 'x'),
                   aexp('x', 'cmp9'), avol('f', C.FOREIGN, name='other')]
        objects[2] = dataclasses.replace(objects[2], uuid=uid('ls'))
        listed = views([vol('x'), vol('gone')], [snap('sg', 'x')], objects)
        return engine.compare(*listed).suspects, objects

    def test_suspect_of_a_recorded_candidate_rechecks_as_listed(self):
        suspects, objects = self.every_kind()
        self.assertEqual(6, len(suspects))
        cinder = FakeCinder([vol('x'), vol('gone')], [snap('sg', 'x')])
        array = FakeArray(objects)
        direct = engine.confirm(suspects, cinder, array, HOST)
        rebuilt = engine.confirm(
            [engine.suspect_of(s.candidate) for s in suspects], cinder,
            array, HOST)
        self.assertEqual(direct, rebuilt)
        self.assertEqual(6, len(rebuilt))

    def test_unlisted_findings_hold_while_look_ups_find_them(self):
        suspects, objects = self.every_kind()
        confirmed = [s.candidate for s in suspects]
        cinder = FakeCinder([vol('x'), vol('gone')], [snap('sg', 'x')])
        # This pass listed nothing of them: each is looked up, and holds.
        self.assertEqual(confirmed, engine.recheck_unlisted(
            confirmed, (), cinder, FakeArray(objects), HOST))
        # Listed again: not looked up here (keep_confirmed/confirm do).
        self.assertEqual([], engine.recheck_unlisted(
            confirmed, suspects, cinder, FakeArray(), HOST))
        # Really gone, or back in Cinder: they no longer hold.
        self.assertEqual([], engine.recheck_unlisted(
            confirmed, (), FakeCinder([vol('leak')]),
            FakeArray([avol('leak')]), HOST))

    def test_errors_propagate(self):
        class Broken(FakeArray):
            def refresh(self, obj):
                raise RuntimeError('array went away')
        suspects, objects = self.every_kind()
        self.assertRaises(RuntimeError, engine.recheck_unlisted,
                          [s.candidate for s in suspects], (), FakeCinder(),
                          Broken(objects), HOST)


class RoundTest(base.BaseTestCase):
    """A re-check round whose array look-ups share one read (NEC)."""

    class OneRead(FakeArray):
        """Answers every look-up from a copy taken at the first."""

        def __init__(self, objects, log):
            super().__init__(objects)
            self.log, self.read = log, None

        def _now(self):
            if self.read is None:
                self.log.append('array read')
                self.read = FakeArray(self.objects.values())
            return self.read

        def refresh(self, obj):
            return self._now().refresh(obj)

        def find_volume(self, key):
            return self._now().find_volume(key)

        def find_snapshot(self, *args):
            return self._now().find_snapshot(*args)

    class Migrating(FakeCinder):
        """Cinder whose look-up of ``b`` finds it migrated meanwhile: a
        new object on the array, named after the row's new name_id.
        """

        def __init__(self, log, array, *args):
            super().__init__(*args)
            self.log, self.array = log, array

        def get_volume(self, volume_id):
            self.log.append('cinder %s' % volume_id)
            if volume_id == uid('b'):
                new = avol('new-b')
                self.array.objects[(new.kind, new.name)] = new
                return vol('b', name_id='new-b')
            return super().get_volume(volume_id)

    def test_cinder_only_rows_are_read_before_the_array(self):
        """A volume migrated after the round's array read and before its
        Cinder look-up would name an object the read never saw: every
        Cinder-only look-up comes first, so the read is newer than them.
        """
        log = []
        listed = views([vol('x'), vol('b'), vol('lost')], (),
                       [avol('x'), avol('leak')])
        suspects = engine.compare(*listed).suspects
        self.assertEqual(
            [K.ARRAY_ONLY, K.CINDER_ONLY, K.CINDER_ONLY],
            sorted(s.candidate.kind for s in suspects))
        array = self.OneRead([avol('x'), avol('leak')], log)
        cinder = self.Migrating(log, array, [vol('x'), vol('lost')])
        held, again = engine.confirm_round(suspects, (), suspects, cinder,
                                           array, HOST)
        self.assertEqual({uid('leak'), uid('lost')},
                         {c.resource_id for c in held})
        self.assertEqual([], again)
        # Cinder's look-ups, the read, then Cinder's again for what the
        # read lacked.
        self.assertEqual({'cinder %s' % uid('b'), 'cinder %s' % uid('lost')},
                         set(log[:2]))
        self.assertEqual(['array read', 'cinder %s' % uid('lost')], log[2:])

    class MigratedAfterLookUp(FakeCinder):
        """Cinder whose ``b`` ends a migration right after its first
        look-up: its row, settled again, names a new object, and the old
        one is deleted before the array is asked.
        """

        def __init__(self, log, array, *args):
            super().__init__(*args)
            self.log, self.array = log, array

        def get_volume(self, volume_id):
            self.log.append('cinder %s' % volume_id)
            if volume_id != uid('b'):
                return super().get_volume(volume_id)
            if self.volumes[uid('b')].name_id is None:
                # The answer names volume-b; then the migration ends.
                answer = self.volumes[uid('b')]
                self.volumes[uid('b')] = vol('b', name_id='new-b')
                new = avol('new-b')
                self.array.objects[(new.kind, new.name)] = new
                del self.array.objects[(R.VOLUME, 'volume-%s' % uid('b'))]
                return answer
            return super().get_volume(volume_id)

    def test_migration_ended_between_cinder_and_the_array(self):
        """The object Cinder's answer named was deleted by a migration
        that ended before the array look-up: Cinder is asked again, and
        the suspect holds only if its row still names the same object.
        """
        log = []
        listed = views([vol('b'), vol('lost')], (), [])
        suspects = engine.compare(*listed).suspects
        array = FakeArray([avol('b')])
        cinder = self.MigratedAfterLookUp(log, array,
                                          [vol('b'), vol('lost')])
        dropped = collections.Counter()
        held, again = engine.confirm_round(suspects, (), suspects, cinder,
                                           array, HOST, dropped=dropped)
        self.assertEqual([uid('lost')], [c.resource_id for c in held])
        self.assertEqual({'volume changed since listed': 1}, dict(dropped))
        self.assertEqual(2, log.count('cinder %s' % uid('b')))

    def test_unlisted_findings_join_the_round(self):
        suspects, objects = RecheckUnlistedTest.every_kind(self)
        confirmed = [s.candidate for s in suspects]
        cinder = FakeCinder([vol('x'), vol('gone')], [snap('sg', 'x')])
        dropped = collections.Counter()
        held, again = engine.confirm_round(
            suspects[:1], confirmed, suspects[:1], cinder,
            FakeArray(objects), HOST, dropped=dropped)
        self.assertEqual([suspects[0].candidate], held)
        self.assertEqual(confirmed[1:], again)
        self.assertEqual({}, dict(dropped))


class KeepConfirmedTest(base.BaseTestCase):
    """Confirmed findings still listed are re-checked on their turn only."""

    def every_kind(self):
        listed = views(
            [vol('a'), vol('gone'), vol('b')], [snap('lost', 'a')],
            [avol('a'), avol('b'), avol('leak'), asnap('leaked', 'a'),
             aexp('b', 'cmp1'), aexp('deleted', 'cmp1'),
             avol(None, C.FOREIGN, name='lun7'), atemp('mig', 'gone-mig')]
            + [avol('leak%d' % i) for i in range(300)])
        suspects = engine.compare(*listed).suspects
        # Unmanaged ones come from Cinder's events (weigh_events).
        self.assertEqual(set(K) - model.HOST_KINDS - model.CLOUD_KINDS
                         - {K.UNMANAGED},
                         {s.candidate.kind for s in suspects})
        return suspects

    def rechecked(self, suspects, confirmed, passes, every):
        """How many times each identity is re-checked over ``passes``."""
        counts = collections.Counter()
        for pass_number in passes:
            kept, others = engine.keep_confirmed(suspects, confirmed,
                                                 pass_number, every)
            # Each suspect is either kept as listed or re-checked.
            self.assertEqual(len(suspects), len(kept) + len(others))
            self.assertEqual(
                [s.candidate for s in suspects if s not in others], kept)
            counts.update(s.candidate.identity for s in others)
        return counts

    def test_each_confirmed_finding_is_rechecked_once_in_n_passes(self):
        suspects = self.every_kind()
        confirmed = {s.candidate.identity for s in suspects}
        for every in (2, 3, 7, 10):
            for first in (0, 1, 13, 1000):
                counts = self.rechecked(suspects, confirmed,
                                        range(first, first + every), every)
                self.assertEqual({i: 1 for i in confirmed}, dict(counts),
                                 (every, first))

    def test_each_pass_rechecks_about_one_nth(self):
        suspects = self.every_kind()
        confirmed = {s.candidate.identity for s in suspects}
        every = 10
        for pass_number in range(every):
            kept, others = engine.keep_confirmed(suspects, confirmed,
                                                 pass_number, every)
            self.assertLess(abs(len(others) - len(suspects) / every),
                            len(suspects) / every / 2,
                            (pass_number, len(others)))

    def test_one_pass_in_one_rechecks_all(self):
        suspects = self.every_kind()
        confirmed = {s.candidate.identity for s in suspects}
        for pass_number in (0, 1, 2, 77):
            self.assertEqual(
                ([], list(suspects)),
                engine.keep_confirmed(suspects, confirmed, pass_number, 1))

    def test_turn_is_stable_and_from_the_resource_id(self):
        identity = (K.ARRAY_ONLY, R.VOLUME, uid('leak'))
        # crc32 is the same in every process, unlike hash().
        turn = zlib.crc32(uid('leak').encode()) % 10
        self.assertEqual(
            [p for p in range(30) if p % 10 == turn],
            [p for p in range(30) if engine.recheck_due(identity, p, 10)])

    def test_other_suspects_are_rechecked(self):
        listed = views([vol('a')], objects=[avol('a'), avol('known'),
                                            avol('new'), avol('vanished')])
        suspects = engine.compare(*listed).suspects
        known = (K.ARRAY_ONLY, R.VOLUME, uid('known'))
        not_due = next(p for p in range(10)
                       if not engine.recheck_due(known, p, 10))
        kept, others = engine.keep_confirmed(suspects, {known}, not_due, 10)
        self.assertEqual([known], [c.identity for c in kept])
        # The re-check drops the one deleted since the listing.
        now = FakeArray([avol('a'), avol('known'), avol('new')])
        self.assertEqual([uid('new')], [c.resource_id for c in engine.confirm(
            others, FakeCinder([vol('a')]), now, HOST)])
        # Findings not confirmed are re-checked on every pass.
        for pass_number in range(10):
            kept, others = engine.keep_confirmed(suspects, set(),
                                                 pass_number, 10)
            self.assertEqual(([], list(suspects)), (kept, others))

    def test_export_of_an_attached_volume_is_rechecked(self):
        """Only a re-check reads its attachments' initiators."""
        listed = views([vol('a', 'in-use', attached=['cmp1'])],
                       objects=[avol('a'), aexp('a', 'ADMIN-NAMED')])
        [suspect] = engine.compare(*listed).suspects
        for pass_number in range(10):
            kept, others = engine.keep_confirmed(
                [suspect], {suspect.candidate.identity}, pass_number, 10)
            self.assertEqual(([], [suspect]), (kept, others))


class HelpersTest(base.BaseTestCase):

    def test_host_parts(self):
        self.assertEqual('h@b', engine.backend_of('h@b#p'))
        self.assertEqual('p', engine.pool_of('h@b#p'))
        self.assertIsNone(engine.pool_of('h@b'))

    def test_counter_types(self):
        c = engine.compare(*views())
        self.assertIsInstance(c.consistent, collections.Counter)


class SnapshotLifetimeTest(base.BaseTestCase):
    """3PAR deletes snapshots after hpe3par_snapshot_expiration hours."""

    def compare(self, created_at, lifetime):
        s = model.CinderSnapshot(id=uid('s'), volume_id=uid('a'),
                                 status='available', created_at=created_at)
        cinder = model.CinderView(HOST, (vol('a'),), (s,), 0.0)
        array = model.ArrayView((avol('a'),), fetched_at=1_800_000_000.0,
                                snapshot_lifetime=lifetime)
        return found(engine.compare(cinder, array))

    def test_expired_snapshot_is_expected_to_be_gone(self):
        # 2027-01-15T08:00:00Z is 1,800,000,000 s after the epoch.
        self.assertEqual([], self.compare('2027-01-15T06:00:00.000000', 3600))
        self.assertEqual([], self.compare('2027-01-15T07:00:00+00:00', 3600))

    def test_younger_snapshot_or_no_expiry_is_cinder_only(self):
        expected = [(K.CINDER_ONLY, R.SNAPSHOT, uid('s'))]
        self.assertEqual(expected,
                         self.compare('2027-01-15T07:30:00.000000', 3600))
        self.assertEqual(expected,
                         self.compare('2027-01-15T06:00:00.000000', None))
