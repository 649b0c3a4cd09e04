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

"""The engine on what arrays alone cannot prove: names that may decode by
chance, exports whose host Cinder's data cannot tell, temporaries whose
operation is over.
"""

import collections

from oslotest import base

from reconciler import engine
from reconciler import model
from reconciler.simulators.scenario import uid
from tests.unit import test_engine as t

K = model.FindingKind
R = model.ResourceType
C = model.ObjectClass


def details(comparison):
    return {s.candidate.identity: dict(s.candidate.details)
            for s in comparison.suspects}


class OwnershipEvidenceTest(base.BaseTestCase):
    """``ownership_evidence: name`` on findings only a chance name makes."""

    def listed(self, chance_names):
        return t.views(
            [t.vol('a'), t.vol('b', 'in-use', attached=['cmp1']),
             t.vol('gone')], [],
            [t.avol('a'), t.avol('b'), t.avol('leak'),
             t.asnap('leaked', 'a'), t.aexp('b', 'cmp9'),
             t.aexp('unknown', 'cmp9'), t.atemp('t', None),
             t.atemp('u', 'a'), t.avol(None, C.FOREIGN, name='lun7')],
            chance_names=chance_names)

    def test_name_only_findings_say_so(self):
        found = details(engine.compare(*self.listed(True)))
        name_only = {i for i, d in found.items()
                     if d.get('ownership_evidence') == 'name'}
        self.assertEqual({
            (K.ARRAY_ONLY, R.VOLUME, uid('leak')),
            (K.ARRAY_ONLY, R.SNAPSHOT, uid('leaked')),
            # an export of a volume no Cinder row has
            (K.ORPHAN_EXPORT, R.EXPORT, 'volume-%s@cmp9' % uid('unknown')),
            # a temporary of an operation on no Cinder row
            (K.STALE_TEMPORARY, R.VOLUME, 'temp-t')}, name_only)
        # A Cinder row with the decoded UUID corroborates the name: b's
        # export, the temporary of volume a; Cinder-only rows and foreign
        # objects are not decoded names.
        self.assertEqual({
            (K.ORPHAN_EXPORT, R.EXPORT, 'volume-%s@cmp9' % uid('b')),
            (K.STALE_TEMPORARY, R.VOLUME, 'temp-u'),
            (K.CINDER_ONLY, R.VOLUME, uid('gone')),
            (K.FOREIGN, R.VOLUME, 'lun7')}, set(found) - name_only)

    def test_names_that_cannot_collide_carry_nothing(self):
        found = details(engine.compare(*self.listed(False)))
        self.assertEqual(8, len(found))
        self.assertFalse([d for d in found.values()
                          if 'ownership_evidence' in d])

    def test_evidence_survives_the_history(self):
        """A finding re-checked from the history keeps its details."""
        comparison = engine.compare(*self.listed(True))
        [leak] = [s for s in comparison.suspects
                  if s.candidate.resource_id == uid('leak')]
        rebuilt = engine.suspect_of(leak.candidate)
        self.assertIn(engine.NAME_ONLY, rebuilt.candidate.details)
        self.assertEqual([leak.candidate], engine.confirm(
            [rebuilt], t.FakeCinder(), t.FakeArray([t.avol('leak')]),
            t.HOST))


def rule(answers):
    """A host rule answering ``answers[host name]`` (None if absent)."""
    return lambda attachment: answers.get(attachment.host_name)


class UndecidedExportTest(base.BaseTestCase):
    """An export no look-up can tie or untie is never dropped silently."""

    def attached(self, **attachment):
        """Volume v attached to cmp1, as a point look-up shows it."""
        return model.CinderVolume(
            uid('v'), None, t.HOST + '#pool1', 'in-use',
            attachments=(model.CinderAttachment('cmp1', **attachment),))

    def test_undecidable_at_recheck_is_counted_not_dropped(self):
        export = t.aexp('v', 'esx-9', rule=rule({}))
        listed = t.views([t.vol('v', 'in-use', attached=['cmp1'])],
                         objects=[t.avol('v'), export])
        comparison = engine.compare(*listed)
        [suspect] = comparison.suspects
        now = t.FakeCinder([self.attached()])
        dropped = collections.Counter()
        self.assertEqual([], engine.confirm(
            [suspect], now, t.FakeArray([export]), t.HOST, dropped=dropped))
        self.assertEqual({engine.UNDECIDED_EXPORT: 1}, dict(dropped))
        # A confirmed finding it cannot tell about stays as it is.
        dropped = collections.Counter()
        self.assertEqual([suspect.candidate], engine.confirm(
            [suspect], now, t.FakeArray([export]), t.HOST, dropped=dropped,
            confirmed={suspect.candidate.identity}))
        self.assertEqual({}, dict(dropped))
        self.assertEqual([suspect.candidate], engine.recheck_unlisted(
            [suspect.candidate], [], now, t.FakeArray([export]), t.HOST))
        # Decided once the rule answers: either way, nothing undecided.
        for answer, expected in ((False, 1), (True, 0)):
            decided = t.aexp('v', 'esx-9', rule=rule({'cmp1': answer}))
            dropped = collections.Counter()
            self.assertEqual(expected, len(engine.confirm(
                [suspect], now, t.FakeArray([decided]), t.HOST,
                dropped=dropped, confirmed={suspect.candidate.identity})))
            self.assertNotIn(engine.UNDECIDED_EXPORT, dropped)
            if answer:      # no longer an orphan, even confirmed
                self.assertEqual([], engine.recheck_unlisted(
                    [suspect.candidate], [], now,
                    t.FakeArray([decided]), t.HOST))

    def test_one_attachment_two_exports_told_by_the_lun(self):
        """Trap row 16: one attachment is one host. A rule ties esx-1's
        export to it, esx-2's is undecidable: the attachment's LUN (its
        connection_info) says which VLUN Cinder made for it.
        """
        tied = t.aexp('v', 'esx-1', luns=[3], rule=rule({'cmp1': True}))
        other = t.aexp('v', 'esx-2', luns=[5], rule=rule({}))
        listed = t.views([t.vol('v', 'in-use', attached=['cmp1'])],
                         objects=[t.avol('v'), tied, other])
        comparison = engine.compare(*listed)
        # Not set aside at the listing: the tied sibling makes it a suspect.
        self.assertEqual([(K.ORPHAN_EXPORT, R.EXPORT, other.name)],
                         t.found(comparison))
        array = t.FakeArray([tied, other])
        for luns, held_names, undecided in (
                ({3}, [other.name], 0),     # Cinder's VLUN is esx-1's
                ({5}, [], 1),               # esx-2's LUN: cannot tell
                ({3, 5}, [], 1),            # both: cannot tell
                (set(), [], 1)):            # no connection_info LUN
            dropped = collections.Counter()
            held = engine.confirm(
                comparison.suspects,
                t.FakeCinder([self.attached(luns=frozenset(luns))]),
                array, t.HOST, dropped=dropped)
            self.assertEqual(held_names, [c.resource_id for c in held],
                             luns)
            self.assertEqual(undecided, dropped[engine.UNDECIDED_EXPORT],
                             luns)

    def test_a_name_tie_alone_decides_nothing_of_the_sibling(self):
        """Without a LUN the tied sibling proves nothing: Cinder maps to a
        host holding the IQN before one named after the connector.
        """
        tied = t.aexp('v', 'esx-1', luns=[3], rule=rule({'cmp1': True}))
        other = t.aexp('v', 'esx-2', luns=[3], rule=rule({}))
        volume = self.attached(luns=frozenset({3}))
        self.assertIsNone(engine.export_orphaned(volume, other,
                                                 [tied, other]))
        self.assertIs(False, engine.export_orphaned(volume, tied,
                                                    [tied, other]))

    def test_two_attachments_each_tied_elsewhere(self):
        """A volume attached twice (a live migration) is exported to both
        hosts: the LUN ties an export elsewhere only for one attachment.
        """
        one = t.aexp('v', 'esx-1', luns=[3], rule=rule({'cmp1': True}))
        two = t.aexp('v', 'esx-2', luns=[5], rule=rule({}))
        volume = model.CinderVolume(
            uid('v'), None, t.HOST + '#pool1', 'in-use', attachments=(
                model.CinderAttachment('cmp1', luns=frozenset({3})),
                model.CinderAttachment('cmp2', luns=frozenset({5}))))
        self.assertIsNone(engine.export_orphaned(volume, two, [one, two]))


class StaleTemporaryTest(base.BaseTestCase):
    """Temporaries are expected while what they serve is in transition."""

    def test_held_while_its_volume_or_snapshot_is_busy(self):
        busy = t.views(
            [t.vol('mig', migration_status='migrating'),
             t.vol('ret', 'retyping'), t.vol('p')],
            [t.snap('bak', 'p', 'backing-up')],
            [t.atemp('m', 'mig'), t.atemp('r', 'ret'),
             t.atemp('l', 'bak', R.SNAPSHOT, R.SNAPSHOT),
             # held by nothing Cinder shows (a clone's, its children's)
             t.avol('clone', C.TEMPORARY), t.avol('p')])
        c = engine.compare(*busy)
        self.assertEqual([], t.found(c))
        self.assertEqual({'temporary volume': 3, 'temporary snapshot': 1},
                         {k: v for k, v in c.skipped.items()
                          if k.startswith('temporary')})

    def test_stale_once_it_is_not(self):
        listed = t.views(
            [t.vol('mig', migration_status='error'), t.vol('p')],
            [t.snap('bak', 'p')],
            [t.avol('mig'), t.atemp('m', 'mig'), t.atemp('gone', 'nobody'),
             t.atemp('l', 'bak', R.SNAPSHOT, R.SNAPSHOT),
             t.atemp('tss', None, R.SNAPSHOT), t.avol('p')])
        c = engine.compare(*listed)
        found = details(c)
        self.assertEqual({
            (K.STALE_TEMPORARY, R.VOLUME, 'temp-m'):
                ('volume', uid('mig'), 'available (migration error)'),
            (K.STALE_TEMPORARY, R.VOLUME, 'temp-gone'):
                ('volume', uid('nobody'), 'no Cinder row'),
            (K.STALE_TEMPORARY, R.SNAPSHOT, 'temp-l'):
                ('snapshot', uid('bak'), 'available'),
            (K.STALE_TEMPORARY, R.SNAPSHOT, 'temp-tss'):
                ('volume', None, 'no Cinder row')},
            {i: (d['holder_type'], d.get('holder'), d['holder_state'])
             for i, d in found.items() if i[0] == K.STALE_TEMPORARY})
        self.assertEqual(uid('m'), [s.candidate.cinder_id for s in c.suspects
                                    if s.candidate.resource_id == 'temp-m'][0])

    def test_recheck_asks_cinder_and_the_array_now(self):
        temp = t.atemp('m', 'mig')
        listed = t.views([t.vol('p')], objects=[temp, t.avol('p')])
        [suspect] = engine.compare(*listed).suspects
        array = t.FakeArray([temp])
        for cinder, holds in (
                (t.FakeCinder(), True),                   # no row anywhere
                (t.FakeCinder([t.vol('mig')]), True),     # idle elsewhere
                (t.FakeCinder([t.vol('mig', 'retyping')]), False)):
            self.assertEqual(holds, bool(engine.confirm(
                [suspect], cinder, array, t.HOST)))
            # The same from the history's record of the finding.
            self.assertEqual(holds, bool(engine.confirm(
                [engine.suspect_of(suspect.candidate)], cinder, array,
                t.HOST)))
        # Gone from the array, or no longer a temporary of anything.
        for now in ([], [model.ArrayObject(R.VOLUME, 'temp-m', uid('m'),
                                           C.TEMPORARY)]):
            self.assertEqual([], engine.confirm(
                [suspect], t.FakeCinder(), t.FakeArray(now), t.HOST))
