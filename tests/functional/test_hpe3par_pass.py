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

"""The real pass over a 3PAR backend: cinder-api + WSAPI simulator.

A real cinder-api seeded from scenarios/hpe3par.yaml, the loopback WSAPI
serving the same scenario to the unmodified python-3parclient, and the
daemon's own pass (manager, engine, history in SQLite, notifications on the
in-memory transport).
"""

import copy
import os

from reconciler.drivers import hpe3par_hosts
from reconciler.drivers import hpe3par_names as names
from reconciler import model
from reconciler.simulators import hpe3par as simulator
from reconciler.simulators import scenario as scn
from tests.functional import fixtures

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
S = model.FindingState
BACKEND = '3par-1'
SCENARIO = os.path.join(os.path.dirname(scn.__file__), 'scenarios',
                        'hpe3par.yaml')

PLANTED = {
    (K.ARRAY_ONLY, R.VOLUME, uid('array-only')),
    (K.ARRAY_ONLY, R.SNAPSHOT, uid('snap-only')),
    (K.CINDER_ONLY, R.VOLUME, uid('lost')),
    (K.CINDER_ONLY, R.SNAPSHOT, uid('lost-snap')),
    (K.ORPHAN_EXPORT, R.EXPORT, names.volume_name(uid('plain')) +
     '@compute-9'),
    (K.FOREIGN, R.VOLUME, 'lun7'),
}
# Temporaries of no operation in progress: suspected for their own grace
# period (reconciler_stale_temporary_grace_period, a day), then confirmed.
STALE = {
    (K.STALE_TEMPORARY, R.VOLUME, names.name('tsv-', uid('tsv'))),
    (K.STALE_TEMPORARY, R.SNAPSHOT, names.name('tss-', uid('tss'))),
}
FOUND = {k: S.SUSPECTED if k in STALE else S.CONFIRMED
         for k in PLANTED | STALE}
ISCSI_INFO = {'driver_volume_type': 'iscsi', 'target_discovered': True,
              'target_iqn': 'iqn.2000-05.com.3pardata:20210002ac00383d',
              'target_portal': '10.0.0.5:3260', 'encrypted': False}


class _HPE3PARPass(fixtures.DriverPassTestCase):

    BACKEND = BACKEND
    HOST = 'ctl'
    HOST_NAMES = {}     # Cinder host -> 3PAR host name, if not Cinder's

    @classmethod
    def make_scenario(cls):
        return scn.Scenario.load(SCENARIO)

    def start_array(self):
        self.array = simulator.HPE3PARSimulator(
            self.scenario, BACKEND, password='s3cret-3par',
            snap_cpg='SnapCPG', host_names=self.HOST_NAMES).start()
        self.addCleanup(self.array.stop)
        # A group as copied from cinder.conf.
        return dict(
            volume_driver='cinder.volume.drivers.hpe.hpe_3par_iscsi.'
                          'HPE3PARISCSIDriver',
            hpe3par_api_url=self.array.url, hpe3par_username='3paradm',
            hpe3par_password='s3cret-3par', hpe3par_cpg='OpenStack,SSD',
            hpe3par_cpg_snap='SnapCPG', hpe3par_api_timeout='5')

    def assertLoggedOut(self):
        self.assertEqual(self.array.logins, self.array.logouts)
        self.assertEqual({}, self.array.sessions)


class HPE3PARPassTest(_HPE3PARPass):

    def test_remediation_unexports_and_quarantines(self):
        self.check_array_side_remediation()

    def test_remediation_skips_an_export_whose_lun_was_reused(self):
        """plain's VLUNs to compute-9 went and their LUN now maps another
        VV, attached there by Cinder: the re-check finds plain's export
        gone and removes nothing.
        """
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        plain = names.volume_name(uid('plain'))
        other = names.volume_name(uid('grouped-1'))
        with self.array.lock:
            for v in self.array.vluns:
                if v['volumeName'] == plain and v['hostname'] == 'compute-9':
                    v.update(volumeName=other,
                             volumeWWN=self.array.volumes[other]['wwn'])
            before = copy.deepcopy(self.array.vluns)
        self.cloud.add_attachment(uid('grouped-1'), 'compute-9.example.org')
        self.addCleanup(self.cloud.remove_attachment, uid('grouped-1'),
                        'compute-9.example.org')
        outcome = self.remediate(kinds={'orphan_export'})
        self.assertIsNone(outcome.error)
        self.assertEqual(
            [('unexport', 'skipped',
              'already removed: the export %s@compute-9 is gone' % plain)],
            [(step.action, result, why)
             for step, (result, why) in outcome.results])
        self.assertEqual(before, self.array.vluns)
        self.assertFalse([r for r in self.array.requests
                          if r.startswith('DELETE /vluns')])

    def test_finds_every_planted_class(self):
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(set(FOUND), {c.identity for c in report.candidates})
        self.assertEqual(FOUND, self.findings())
        # Only a name that could decode by chance ties these to Cinder
        # (tss-'s parent, plain, is Cinder's; plain's export too).
        self.assertEqual(
            {(K.ARRAY_ONLY, R.VOLUME, uid('array-only')),
             (K.ARRAY_ONLY, R.SNAPSHOT, uid('snap-only')),
             (K.STALE_TEMPORARY, R.VOLUME, names.name('tsv-', uid('tsv')))},
            {c.identity for c in report.candidates
             if ('ownership_evidence', 'name') in c.details})
        # Unmanaged objects were classified, not compared; the volume in
        # OtherCPG was outside the listed pools.
        self.assertEqual(0, report.skipped.get('temporary volume', 0) +
                         report.skipped.get('temporary snapshot', 0))
        self.assertEqual(2, report.skipped['volume renamed on unmanage'] +
                         report.skipped['snapshot renamed on unmanage'])
        self.assertEqual(1, report.skipped['volume outside listed pools'])
        self.assertLoggedOut()

    def test_fault_mid_pass_fails_the_run_and_changes_nothing(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before = self.findings()
        # A new orphan: a suspect to re-check, a finding if the pass went on.
        leak = names.volume_name(uid('new-leak'))
        self.array.add_volume(leak, 'OpenStack')
        for fault, words in (
                # The listing: the connection drops on the VLUNs.
                (simulator.Fault('GET /vluns', 'drop', times=1),
                 'GET /vluns'),
                # After listing and Cinder: the new orphan's re-check fails.
                (simulator.Fault('GET /volumes/' + leak, status=500,
                                 times=1), 'HTTP 500')):
            self.array.faults[:] = [fault]
            failed = self.run_pass()
            self.assertEqual(0, fault.times, 'the fault never fired')
            self.assertEqual(model.RunStatus.FAILED, failed.status)
            self.assertIn(words, failed.error)
            self.assertNotIn('s3cret-3par', failed.error)
            self.assertEqual([], failed.candidates)
            self.assertEqual([], failed.transitions)
            self.assertEqual(before, self.findings())
            self.assertLoggedOut()
        [run] = self.store.runs(BACKEND, limit=1)
        self.assertEqual(model.RunStatus.FAILED, run.status)
        self.array.faults[:] = []
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        before[(K.ARRAY_ONLY, R.VOLUME, uid('new-leak'))] = S.CONFIRMED
        self.assertEqual(before, self.findings())

    def test_iscsi_attachment_exported_to_an_fc_host_is_an_orphan(self):
        """ssd is attached to compute-1 through Cinder's iSCSI driver, and
        mapped to a host with FC paths only, named otherwise: that driver
        looks for the IQN among iSCSI names, else uses the host named
        after the connector, so this export is no attachment's.
        """
        ssd = names.volume_name(uid('ssd'))
        self.array.add_vlun(ssd, self.array.define_host(
            'san-fc-7', wwns=['10000000C9AABB07']))
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        export = (K.ORPHAN_EXPORT, R.EXPORT, ssd + '@san-fc-7')
        self.assertIn(export, {c.identity for c in report.candidates})
        self.assertEqual(S.CONFIRMED, self.findings()[export])
        # Without Cinder's driver path, the attachment's connection_info
        # (driver_volume_type) tells the protocol at the re-check.
        self.values.load_raw_values(group=BACKEND, volume_driver='',
                                    reconciler_driver='hpe3par')
        vv = names.volume_name(uid('grouped-1'))
        self.array.add_vlun(vv, 'san-fc-7')
        self.cloud.add_attachment(uid('grouped-1'), 'compute-5',
                                  connection_info=dict(ISCSI_INFO,
                                                       target_lun=1))
        self.addCleanup(self.cloud.remove_attachment, uid('grouped-1'),
                        'compute-5')
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = {c.identity for c in report.candidates}
        self.assertIn((K.ORPHAN_EXPORT, R.EXPORT, vv + '@san-fc-7'), found)
        # ssd's attachment has no connection_info: now it cannot be told,
        # and its finding stays as it was.
        self.assertIn(export, found)
        self.assertEqual(S.CONFIRMED, self.findings()[export])

    def test_export_undecidable_at_recheck_is_counted_not_dropped(self):
        """A host holding WWNs and an IQN, named otherwise: the listing
        cannot set it aside, the re-check cannot tell (Cinder never shows
        the IQN). Not a finding, counted; a confirmed one stays so.
        """
        ssd = names.volume_name(uid('ssd'))
        host = self.array.define_host('mixed-9', wwns=['10000000C9AABB09'])
        self.array.add_vlun(ssd, host)
        export = (K.ORPHAN_EXPORT, R.EXPORT, ssd + '@mixed-9')
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        self.assertEqual(S.CONFIRMED, self.findings()[export])
        # The host now holds an IQN: it may be compute-1's. Proof of
        # nothing: the finding stays as it was, neither resolved nor new.
        with self.array.lock:
            self.array.hosts[host]['iSCSIPaths'] = [
                {'name': simulator.iqn_of('compute-77')}]
        for _ in range(2):
            report = self.run_pass()
            self.assertEqual(model.RunStatus.OK, report.status, report.error)
            self.assertEqual([], report.transitions)
            self.assertEqual(S.CONFIRMED, self.findings()[export])
        # Never seen before: no finding at all, counted as not compared.
        self.array.add_vlun(ssd, self.array.define_host(
            'mixed-10', wwns=['10000000C9AABB10'],
            iqns=[simulator.iqn_of('compute-78')]))
        report = self.run_pass()
        self.assertEqual(1, report.skipped[
            'export of attached volume undecidable at re-check'])
        self.assertNotIn((K.ORPHAN_EXPORT, R.EXPORT, ssd + '@mixed-10'),
                         self.findings())

    def test_one_attachment_two_exports(self):
        """Trap row 16: a volume attached once is mapped to the host named
        after its node and to an administrator's host holding an IQN.
        Cinder's connection_info LUN names the VLUN it made: the other is
        the orphan. With the same LUN on both, it cannot be told.
        """
        esx = self.array.define_host(
            'esx-rack3-17', iqns=[simulator.iqn_of('esx-rack3-17')])
        exports = {}
        for label, node, esx_lun in (('grouped-1', 'compute-5', 4),
                                     ('grouped-2', 'compute-6', 3)):
            vv = names.volume_name(uid(label))
            self.array.add_vlun(vv, self.array.add_host(node), lun=3)
            self.array.add_vlun(vv, esx, lun=esx_lun)
            self.cloud.add_attachment(uid(label), node, connection_info=dict(
                ISCSI_INFO, target_lun=3))
            self.addCleanup(self.cloud.remove_attachment, uid(label), node)
            exports[label] = (K.ORPHAN_EXPORT, R.EXPORT, vv + '@' + esx)
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        found = {c.identity for c in report.candidates}
        self.assertIn(exports['grouped-1'], found)
        self.assertNotIn(exports['grouped-2'], found)
        self.assertEqual(1, report.skipped[
            'export of attached volume undecidable at re-check'])
        self.assertEqual(S.CONFIRMED, self.findings()[exports['grouped-1']])

    def test_wrong_password_fails_the_run_without_the_password(self):
        self.conf.set_override('hpe3par_password', 'not-the-password',
                               group=BACKEND)
        failed = self.run_pass()
        self.assertEqual(model.RunStatus.FAILED, failed.status)
        self.assertIn('wrong user name or password', failed.error)
        self.assertNotIn('not-the-password', failed.error)
        self.assertEqual({}, self.findings())


LONG_HOST = 'compute-node-with-a-forty-char-name-0001.example.org'
IQN_HOST = hpe3par_hosts.iqn_hostname(simulator.iqn_of('compute-3'))


class HPE3PARHostNamingPassTest(_HPE3PARPass):
    """Cinder's 3PAR host naming rules, through the whole pass.

    Three attached volumes are exported to hosts Cinder's driver would use
    but not named after the compute node's first label: cut at 31
    characters, named after the reversed IQN (unique_fqdn_network =
    false), and a host an administrator made that holds the IQN.
    """

    @classmethod
    def make_scenario(cls):
        scenario = super().make_scenario()
        scenario.volumes.extend(
            scn.Volume(id=uid(name), backend=BACKEND, status='in-use',
                       attached_to=[host])
            for name, host in (('long-host', LONG_HOST),
                               ('iqn-host', 'compute-3'),
                               ('reused-host', 'compute-4')))
        return scenario

    HOST_NAMES = {'compute-3': IQN_HOST, 'compute-4': 'esx-rack3-17'}

    def test_exports_of_cinder_named_hosts_are_never_orphans(self):
        not_compared = 'export of attached volume to iSCSI initiators'
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(set(FOUND), {c.identity for c in report.candidates})
        self.assertEqual(FOUND, self.findings())
        # The 31-character host matches; the other two hold an IQN Cinder's
        # API never shows: not compared.
        self.assertEqual(2, report.skipped[not_compared])
        self.values.load_raw_values(group=BACKEND,
                                    unique_fqdn_network='false')
        report = self.run_pass()
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertEqual(FOUND, self.findings())
        # FQDNs are not unique: no host of an iSCSI attachment is told by
        # its name (ssd's, the long host's and the two others).
        self.assertEqual(4, report.skipped[not_compared])
        self.assertLoggedOut()
