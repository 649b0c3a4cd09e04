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

"""The cloud scope's decisions: compare, re-checks, plausibility, actions.

Views are built as the inventories build them from Cinder's, Nova's and
Keystone's answers (shapes checked against the real services by
tests/functional/test_cloud_pass.py).
"""

import types

from oslotest import base

from reconciler.cloud import compare
from reconciler.cloud import confirm
from reconciler.cloud import manager
from reconciler.cloud import view
from reconciler import exception
from reconciler.inventory import keystone as keystone_inventory
from reconciler.inventory import nova as nova_inventory
from reconciler import model
from reconciler.remediation import cloud_actions
from reconciler import utctime
from tests.unit.history import fixtures as history_fixtures

K = model.FindingKind
R = model.ResourceType
NOW = 1_800_000_000.0
OLD = utctime.iso(NOW - 7200, microseconds=True)     # two hours ago
RECENT = utctime.iso(NOW - 60, microseconds=True)
ALL = frozenset(model.CLOUD_KINDS)
STUCK_AFTER = {'creating': 3600, 'attaching': 3600, 'reserved': 3600,
               'deleting': 3600, 'backing-up': 3600}


def volume(vid, status='in-use', project='p1', host='ctl@lvm#pool',
           updated=OLD, **kw):
    return model.CinderVolume(vid, None, host, status, project_id=project,
                              updated_at=updated, **kw)


def server(sid, volumes=(), vm_state='active', task_state=None,
           status='ACTIVE', host='compute-1'):
    return nova_inventory.Server(sid, status, vm_state, task_state, host,
                                 'p1', frozenset(volumes))


def attachment(aid, vid, instance, status='attached', host='compute-1'):
    return view.Attachment(aid, vid, instance, status, 'rw', host)


def cinder_view(volumes=(), attachments=(), snapshots=(), backups=(),
                services=()):
    return view.CinderCloudView(
        tuple(volumes), tuple(snapshots), tuple(backups), tuple(attachments),
        tuple(services) or (view.Service('cinder-volume', 'ctl@lvm', 'down',
                                         'enabled'),), now=NOW)


def nova_view(*servers, hosts=('compute-1', 'compute-2')):
    return nova_inventory.NovaView({s.id: s for s in servers},
                                   frozenset(hosts))


def ids(comparison, kind=None):
    return sorted(c.resource_id for c in comparison.candidates
                  if kind is None or c.kind == kind)


def run(cinder, nova=None, keystone=None, checks=ALL, watched=None,
        local_now=NOW, backends=None, related=None):
    return compare.compare(
        cinder, nova, keystone or keystone_inventory.KeystoneView(
            frozenset(('p1', 'p2'))), checks, STUCK_AFTER, watched or {},
        local_now, backends, related)


class StaleAttachmentTest(base.BaseTestCase):

    def test_attachment_of_a_server_nova_does_not_list(self):
        c = run(cinder_view([volume('v1')], [attachment('a1', 'v1', 's1')]),
                nova_view(server('s2')), checks={K.STALE_ATTACHMENT})
        [cand] = c.candidates
        self.assertEqual((K.STALE_ATTACHMENT, R.ATTACHMENT, 'a1'),
                         cand.identity)
        self.assertEqual({'volume_id': 'v1', 'instance_id': 's1',
                          'attach_status': 'attached', 'host': 'compute-1',
                          'mode': 'rw',
                          'reason': 'instance not listed by Nova'},
                         dict(cand.details))

    def test_server_without_the_volume_mapped(self):
        c = run(cinder_view([volume('v1')], [attachment('a1', 'v1', 's1')]),
                nova_view(server('s1', volumes=['v9'])),
                checks={K.STALE_ATTACHMENT})
        self.assertEqual(['a1'], ids(c))
        self.assertEqual('no block device mapping of the volume',
                         dict(c.candidates[0].details)['reason'])

    def test_traps_are_never_judged(self):
        cinder = cinder_view(
            [volume('mig'), volume('multi'),
             volume('shelf', status='reserved'), volume('glance'),
             volume('ironic'), volume('gone')],
            [  # a live migration: both hosts' attachments, one mapping
                attachment('m-src', 'mig', 's-mig'),
                attachment('m-dst', 'mig', 's-mig', 'attaching', None),
                # multiattach: one pair per server
                attachment('mu-1', 'multi', 's-a'),
                attachment('mu-2', 'multi', 's-b', host='compute-2'),
                # shelved-offloaded: reserved, no host
                attachment('sh', 'shelf', 's-shelf', 'reserved', None),
                # not Nova's: no instance, or a host Nova does not run
                attachment('gl', 'glance', None, host='glance-1'),
                attachment('ir', 'ironic', 'node-7', host='ironic-cond'),
                # a detached one is nobody's business
                attachment('old', 'gone', 's-a', 'detached')])
        nova = nova_view(
            server('s-mig', ['mig'], task_state='migrating',
                   status='MIGRATING'),
            server('s-a', ['multi']), server('s-b', ['multi']),
            server('s-shelf', ['shelf'], vm_state='shelved_offloaded',
                   status='SHELVED_OFFLOADED', host=None))
        c = run(cinder, nova, local_now=NOW + 10 ** 6,
                watched={'m-dst': ['attaching', NOW],
                         'sh': ['reserved', NOW]})
        self.assertEqual((), c.candidates)
        self.assertEqual(3, c.consistent['attachment'])
        self.assertEqual(3, c.consistent['bdm'])

    def test_a_down_cells_server_is_not_judged(self):
        c = run(cinder_view([volume('v1')], [attachment('a1', 'v1', 's1')]),
                nova_view(server('s1', status='UNKNOWN', vm_state=None)),
                checks={K.STALE_ATTACHMENT, K.DANGLING_BDM})
        self.assertEqual((), c.candidates)


class DanglingBdmTest(base.BaseTestCase):

    def test_volume_gone_and_attachment_gone(self):
        c = run(cinder_view([volume('v2', status='available')]),
                nova_view(server('s1', ['v1', 'v2'])),
                checks={K.DANGLING_BDM})
        found = {x.resource_id: dict(x.details)['reason']
                 for x in c.candidates}
        self.assertEqual({
            's1/v1': 'volume not in Cinder',
            's1/v2': 'no Cinder attachment of the volume to the server'},
            found)

    def test_a_busy_server_is_not_judged(self):
        c = run(cinder_view(), nova_view(server('s1', ['v1'],
                                                task_state='rebuilding')),
                checks={K.DANGLING_BDM})
        self.assertEqual((), c.candidates)


class StuckStatusTest(base.BaseTestCase):

    def test_volumes_snapshots_backups_past_their_threshold(self):
        snap = model.CinderSnapshot('sn1', 'v1', 'deleting',
                                    project_id='p1', updated_at=OLD)
        c = run(cinder_view(
            [volume('v1', status='creating'),
             volume('v2', status='creating', updated=RECENT),
             volume('v3', status='error'),
             volume('v4', status='available',
                    migration_status='migrating')],
            snapshots=[snap], backups=[
                view.Backup('b1', 'v1', 'backing-up', OLD)]),
            checks={K.STUCK_STATUS})
        self.assertEqual(['b1', 'sn1', 'v1'], ids(c))
        details = {x.resource_id: dict(x.details) for x in c.candidates}
        self.assertEqual('cinder-volume ctl@lvm: down',
                         details['v1']['service'])
        self.assertEqual('cinder-backup: absent', details['b1']['service'])
        self.assertEqual(OLD, details['v1']['since'])

    def test_an_attachment_is_aged_from_the_pass_that_first_saw_it(self):
        cinder = cinder_view([volume('v1')], [
            attachment('a1', 'v1', 's1', 'attaching', None)])
        nova = nova_view(server('s1', ['v1']))
        first = run(cinder, nova, checks={K.STUCK_STATUS})
        self.assertEqual((), first.candidates)
        self.assertEqual({'a1': ['attaching', NOW]}, first.watched)
        later = run(cinder, nova, checks={K.STUCK_STATUS},
                    watched=first.watched, local_now=NOW + 3600)
        self.assertEqual(['a1'], ids(later))
        # Another status starts the clock again.
        moved = run(cinder, nova, checks={K.STUCK_STATUS},
                    watched={'a1': ['detaching', NOW - 10 ** 6]},
                    local_now=NOW + 3600)
        self.assertEqual((), moved.candidates)

    def test_reserved_needs_nova(self):
        cinder = cinder_view([volume('v1', status='reserved')],
                             [attachment('a1', 'v1', 's1', 'reserved', None)])
        self.assertEqual((), run(cinder, None,
                                 checks={K.STUCK_STATUS}).candidates)
        c = run(cinder, nova_view(server('s1', ['v1'])),
                checks={K.STUCK_STATUS}, watched={'a1': ['reserved', 0]})
        self.assertEqual(['a1', 'v1'], ids(c))


class OrphanProjectAndStuckDeletingTest(base.BaseTestCase):

    def test_resources_of_projects_keystone_lacks(self):
        snap = model.CinderSnapshot('sn1', 'v1', 'available',
                                    project_id='gone')
        c = run(cinder_view([volume('v1', project='gone'), volume('v2')],
                            snapshots=[snap]), checks={K.ORPHAN_PROJECT})
        self.assertEqual(['sn1', 'v1'], ids(c))

    def test_error_deleting_on_a_backend_reconciled_here(self):
        c = run(cinder_view(
            [volume('v1', status='error_deleting'),
             volume('v2', status='error_deleting', host='other@lvm#p'),
             volume('clone', status='available', source_volid='v1')],
            snapshots=[model.CinderSnapshot('sn1', 'v1', 'available')]),
            checks={K.STUCK_DELETING}, backends={'ctl@lvm': 'lvm'},
            related=lambda v: {'exports': '7:volume-v1@compute-9',
                               'host_findings': ''})
        [cand] = c.candidates
        self.assertEqual('v1', cand.resource_id)
        self.assertEqual({'backend': 'lvm', 'clones': 'clone',
                          'exports': '7:volume-v1@compute-9',
                          'host': 'ctl@lvm#pool', 'since': OLD,
                          'service': 'cinder-volume ctl@lvm: down',
                          'snapshots': 'sn1', 'status': 'error_deleting'},
                         dict(cand.details))
        self.assertEqual(1, c.skipped[
            'error_deleting on a backend not reconciled here'])


class _Look(object):
    """Point look-ups of a small cloud, as the inventories answer them."""

    def __init__(self, attachments=(), servers=(), deleted=(), volumes=(),
                 projects=(), objects=()):
        self.attachments_by_id = {a.id: a for a in attachments}
        self.servers = {s.id: s for s in servers}
        self.deleted_ids = set(deleted)
        self.volumes = {v.id: v for v in volumes}
        self.projects = set(projects)
        self.objects = set(objects)

    # cinder
    def get_attachment(self, aid):
        return self.attachments_by_id.get(aid)

    def volume(self, vid):
        return self.volumes.get(vid)

    def attachments_of(self, sid, vid):
        return [a.id for a in self.attachments_by_id.values()
                if (a.instance_id, a.volume_id) == (sid, vid)]

    get_snapshot = get_backup = volume

    # nova
    def server(self, sid):
        return self.servers.get(sid)

    def volume_attachments(self, sid):
        s = self.servers.get(sid)
        return None if s is None else {v: None for v in s.volumes}

    def deleted(self, sid):
        return sid in self.deleted_ids

    # keystone
    def project_exists(self, pid):
        return pid in self.projects

    # a backend's driver
    def find_volume(self, key):
        return (types.SimpleNamespace(name='volume-%s' % key)
                if key in self.objects else None)


def lookups(look, hosts=('compute-1',)):
    return confirm.Lookups(look, look, look, lambda name: look,
                           frozenset(hosts))


class RecheckTest(base.BaseTestCase):

    def stale(self, reason='instance not listed by Nova', host='compute-1'):
        return compare.candidate(
            K.STALE_ATTACHMENT, R.ATTACHMENT, 'a1', cinder_id='v1',
            volume_id='v1', instance_id='s1', attach_status='attached',
            host=host, reason=reason)

    def test_stale_attachment_reasons(self):
        a1 = attachment('a1', 'v1', 's1')
        deleted = confirm.confirm([self.stale()], lookups(
            _Look([a1], deleted=['s1'])))
        self.assertEqual('instance deleted in Nova',
                         dict(deleted[0].details)['reason'])
        unknown = confirm.confirm([self.stale()], lookups(_Look([a1])))
        self.assertIn('instance unknown to Nova',
                      dict(unknown[0].details)['reason'])
        # Unknown to Nova, on a host Nova does not run: another service's.
        self.assertEqual([], confirm.confirm(
            [self.stale(host='baremetal-1')], lookups(_Look([a1]))))
        # The server is back with its mapping, or the attachment is gone.
        self.assertEqual([], confirm.confirm([self.stale()], lookups(_Look(
            [a1], servers=[server('s1', ['v1'])]))))
        self.assertEqual([], confirm.confirm([self.stale()], lookups(
            _Look(deleted=['s1']))))
        # Busy now: not judged.
        self.assertEqual([], confirm.confirm([self.stale()], lookups(_Look(
            [a1], servers=[server('s1', task_state='migrating')]))))

    def test_dangling_bdm(self):
        cand = compare.candidate(K.DANGLING_BDM, R.BDM, 's1/v1',
                                 server_id='s1', volume_id='v1',
                                 reason='volume not in Cinder')
        s1 = server('s1', ['v1'])
        self.assertEqual(1, len(confirm.confirm([cand], lookups(
            _Look(servers=[s1])))))
        self.assertEqual([], confirm.confirm([cand], lookups(_Look(
            [attachment('a1', 'v1', 's1')], servers=[s1],
            volumes=[volume('v1')]))))

    def test_stuck_status_that_moved_is_not_stuck(self):
        cand = compare.candidate(K.STUCK_STATUS, R.VOLUME, 'v1',
                                 status='creating', since=OLD)
        still = _Look(volumes=[volume('v1', status='creating')])
        self.assertEqual([cand], confirm.confirm([cand], lookups(still)))
        touched = _Look(volumes=[volume('v1', status='creating',
                                        updated=RECENT)])
        self.assertEqual([], confirm.confirm([cand], lookups(touched)))

    def test_orphan_project_and_stuck_deleting(self):
        orphan = compare.candidate(K.ORPHAN_PROJECT, R.VOLUME, 'v1',
                                   project_id='gone')
        v1 = volume('v1', project='gone', status='error_deleting')
        self.assertEqual([orphan], confirm.confirm([orphan], lookups(
            _Look(volumes=[v1]))))
        self.assertEqual([], confirm.confirm([orphan], lookups(
            _Look(volumes=[v1], projects=['gone']))))
        stuck = compare.candidate(K.STUCK_DELETING, R.VOLUME, 'v1',
                                  backend='lvm')
        [held] = confirm.confirm([stuck], lookups(_Look(volumes=[v1],
                                                        objects=['v1'])))
        self.assertEqual('volume-v1', dict(held.details)['array_name'])
        # The object is gone: the backend scope reports it Cinder-only.
        self.assertEqual([], confirm.confirm([stuck], lookups(
            _Look(volumes=[v1]))))


class PlausibilityTest(base.BaseTestCase):

    def test_nova_empty_while_cinder_shows_attachments(self):
        cinder = cinder_view([volume('v1')], [attachment('a1', 'v1', 's1')])
        e = self.assertRaises(exception.ImplausibleInventory,
                              manager.check_plausible, None, cinder,
                              nova_view(), None, 50)
        self.assertIn('Nova lists no server', str(e))

    def test_keystone_empty_or_another_clouds(self):
        cinder = cinder_view([volume('v1', project='a'),
                              volume('v2', project='b')])
        for projects in ((), ('x', 'y')):
            self.assertRaises(
                exception.ImplausibleInventory, manager.check_plausible,
                None, cinder, None,
                keystone_inventory.KeystoneView(frozenset(projects)), 50)

    def test_shrink_since_the_last_pass(self):
        previous = types.SimpleNamespace(id=3, inventory={
            'cinder_volumes': 20, 'nova_servers': 40})
        cinder = cinder_view([volume('v%d' % i) for i in range(20)])
        nova = nova_view(*[server('s%d' % i) for i in range(10)])
        e = self.assertRaises(exception.ImplausibleInventory,
                              manager.check_plausible, previous, cinder,
                              nova, None, 50)
        self.assertIn('nova_servers shrank from 40 to 10', str(e))

    def test_suspect_cap(self):
        cinder = cinder_view([volume('v%d' % i) for i in range(40)])
        cands = [compare.candidate(K.ORPHAN_PROJECT, R.VOLUME, 'v%d' % i)
                 for i in range(11)]
        self.assertRaises(exception.ImplausibleInventory,
                          manager.check_suspect_cap, cands, set(), cinder,
                          25)
        manager.check_suspect_cap(cands, {c.identity for c in cands[:2]},
                                  cinder, 25)


class ActionTest(base.BaseTestCase):

    def finding(self, kind, rtype=R.VOLUME, **details):
        return types.SimpleNamespace(id=7, kind=kind, resource_type=rtype,
                                     details=details)

    def test_actions(self):
        act = cloud_actions.action
        self.assertEqual('detach', act(self.finding(
            K.STALE_ATTACHMENT, R.ATTACHMENT))[0])
        chosen, why = act(self.finding(K.DANGLING_BDM, R.BDM,
                                       server_id='s1', volume_id='v1'))
        self.assertIsNone(chosen)
        self.assertIn('nova-manage volume_attachment show s1 v1', why)
        self.assertIn('nova-manage volume_attachment refresh s1 v1', why)
        self.assertEqual((None, 'reset-state to error only for a finding '
                                'named with --finding 7'),
                         act(self.finding(K.STUCK_STATUS)))
        self.assertEqual('reset', act(self.finding(K.STUCK_STATUS),
                                      named={7})[0])
        self.assertIsNone(act(self.finding(K.STUCK_STATUS, R.ATTACHMENT),
                              named={7})[0])
        self.assertIsNone(act(self.finding(K.ORPHAN_PROJECT))[0])
        self.assertEqual('runbook', act(self.finding(K.STUCK_DELETING))[0])

    def test_runbook_findings(self):
        f = self.finding(K.STUCK_DELETING, exports='12:volume-x@c9',
                         host_findings='3:host:c9 /dev/sdc,4:host:c9 dm-1')
        self.assertEqual(([3, 4], [12]),
                         cloud_actions.runbook_findings(f))


class _Inventories(object):
    """Stand-ins for the cloud pass's inventories: the listings and look-ups
    of one small cloud, which a test edits between passes.
    """

    def __init__(self):
        self.look = _Look(projects=['p1'])
        self.cinder = cinder_view([volume('v1', project='gone')])
        self.requests = 0

    def cloud_view(self):
        return self.cinder

    def view(self):
        return keystone_inventory.KeystoneView(frozenset(self.look.projects))

    def __getattr__(self, name):
        return getattr(self.look, name)


class CloudPassTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.store = self.useFixture(history_fixtures.History()).history
        self.inv = _Inventories()
        self.inv.look.volumes['v1'] = volume('v1', project='gone')
        self.checks = 'orphan_project'
        self.notifier = types.SimpleNamespace(flush=lambda *a, **k: 0)

    def conf(self):
        return types.SimpleNamespace(
            host='ctl', enabled_backends=[],
            reconciler=types.SimpleNamespace(notify_kinds=list(K)),
            cloud=types.SimpleNamespace(
                checks=self.checks.split(','), sightings=1, grace_period=0,
                max_shrink_percent=50, max_suspect_percent=25,
                confirmed_recheck_passes=1, stuck_after={}))

    def run_pass(self):
        factory = lambda conf: self.inv  # noqa: E731
        return manager.CloudReconciler(
            self.conf(), self.store, self.notifier, cinder_factory=factory,
            nova_factory=factory, keystone_factory=factory).run_pass()

    def states(self):
        return {f.resource_id: str(f.state)
                for f in self.store.findings(backend='cloud')}

    def test_lifecycle_and_a_check_no_longer_made(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual({'v1': 'confirmed'}, self.states())
        # The check is switched off: its finding stays as it is.
        self.checks = 'stuck_status'
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        self.assertEqual({'v1': 'confirmed'}, self.states())
        # Back on, the listings lack it and a look-up says it still holds:
        # it stays; once its project is back, it resolves.
        self.checks = 'orphan_project'
        self.inv.cinder = cinder_view([volume('v2', project='p1')])
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        self.assertEqual({'v1': 'confirmed'}, self.states())
        self.inv.look.projects.add('gone')
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        self.assertEqual({'v1': 'resolved'}, self.states())

    def test_a_failed_look_up_fails_the_pass_and_moves_nothing(self):
        self.run_pass()
        self.inv.cinder = cinder_view([volume('v2', project='p1')])
        self.inv.look.project_exists = lambda pid: 1 / 0
        report = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertEqual({'v1': 'confirmed'}, self.states())
