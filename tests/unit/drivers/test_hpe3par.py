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

"""The 3PAR driver against the loopback WSAPI, with the real client."""

import json
import logging
import os
import sys
import time

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler.drivers import bounded
from reconciler.drivers import hpe3par
from reconciler.drivers import hpe3par_hosts
from reconciler.drivers import hpe3par_names as names
from reconciler import engine
from reconciler import exception
from reconciler import model
from reconciler.simulators import hpe3par as simulator
from reconciler.simulators import scenario as scenario_mod
from reconciler.simulators.scenario import uid
from tests.unit.drivers import hostile

R = model.ResourceType
C = model.ObjectClass
K = model.FindingKind

BACKEND = '3par-1'
PASSWORD = 'pa55-w0rd-never-shown'
PLAIN, SSD, NEW_ID, OTHER, GROUPED1, GROUPED2, GROUP_SNAPSHOT = map(uid, (
    'plain', 'ssd', 'migration-destination', 'other-cpg', 'grouped-1',
    'grouped-2', 'group-snapshot'))
SCENARIO = os.path.join(os.path.dirname(scenario_mod.__file__), 'scenarios',
                        'hpe3par.yaml')


def scenario():
    return scenario_mod.Scenario.load(SCENARIO)


def cinder_view(scn, initiators=None):
    """Cinder's side of the scenario, as the inventory would list it."""
    b = scn.backend(BACKEND)
    volumes = tuple(
        model.CinderVolume(
            id=v.id, name_id=v.name_id, host=b.cinder_host(v.pool),
            status=v.status, attachments=tuple(
                model.CinderAttachment(
                    h, initiators=frozenset((initiators or {}).get(h, ())))
                for h in v.attached_to))
        for v in scn.volumes)
    snapshots = tuple(
        model.CinderSnapshot(id=s.id, volume_id=s.volume, status=s.status,
                             group_snapshot_id=s.group_snapshot_id)
        for s in scn.snapshots)
    return model.CinderView(b.backend_host, volumes, snapshots, time.time())


class HPE3PARTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger(
            level=logging.DEBUG))

    def start(self, scn=None, **kwargs):
        kwargs.setdefault('host_names', {'compute-1': 'ADMIN-NAMED-HOST'})
        kwargs.setdefault('snap_cpg', 'SnapCPG')
        self.sim = simulator.HPE3PARSimulator(
            scn or scenario(), BACKEND, password=PASSWORD, **kwargs).start()
        self.addCleanup(self.sim.stop)
        return self.sim

    def driver(self, **options):
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        # Cinder's driver of the simulated hosts' protocol.
        fc = self.sim.protocol == 'fc'
        values = {
            'volume_driver': 'cinder.volume.drivers.hpe.%s' % (
                'hpe_3par_fc.HPE3PARFCDriver' if fc
                else 'hpe_3par_iscsi.HPE3PARISCSIDriver'),
            'hpe3par_api_url': self.sim.url,
            'hpe3par_username': '3paradm',
            'hpe3par_password': PASSWORD,
            'hpe3par_cpg': 'OpenStack,SSD',
            'hpe3par_cpg_snap': 'SnapCPG',
            'hpe3par_api_timeout': 5,
        }
        values.update(options)
        self.useFixture(config_fixture.Config(conf)).load_raw_values(
            group=BACKEND, **values)
        self.backend = backend_conf.BackendConf(conf, BACKEND)
        return self.backend.create_driver()

    def listing(self, **options):
        with self.driver(**options) as d:
            return d.list_objects()

    def assertLoggedOut(self):
        self.assertEqual(self.sim.logins, self.sim.logouts)
        self.assertEqual({}, self.sim.sessions)
        for key in self.sim.issued:
            self.assertNotIn(key, self.logger.output)


class ListingTest(HPE3PARTestCase):

    def test_every_class_decoded(self):
        self.start()
        view = self.listing()
        got = {(o.kind, o.name): (o.uuid, o.object_class, o.pool,
                                  o.parent_uuid, o.group_uuid)
               for o in view.objects}
        member = names.group_member_name
        expected = {
            (R.VOLUME, names.volume_name(PLAIN)):
                (PLAIN, C.CINDER, 'OpenStack', None, None),
            (R.VOLUME, names.volume_name(SSD)):
                (SSD, C.CINDER, 'SSD', None, None),
            (R.VOLUME, names.volume_name(NEW_ID)):
                (NEW_ID, C.CINDER, 'OpenStack', None, None),
            (R.VOLUME, names.volume_name(GROUPED1)):
                (GROUPED1, C.CINDER, 'OpenStack', None, None),
            (R.VOLUME, names.volume_name(GROUPED2)):
                (GROUPED2, C.CINDER, 'OpenStack', None, None),
            (R.VOLUME, names.volume_name(uid('array-only'))):
                (uid('array-only'), C.CINDER, 'OpenStack', None, None),
            (R.VOLUME, names.name('tsv-', uid('tsv'))):
                (uid('tsv'), C.TEMPORARY, 'OpenStack', None, None),
            (R.VOLUME, names.name('unm-', uid('unm'))):
                (uid('unm'), C.UNMANAGED, 'OpenStack', None, None),
            (R.VOLUME, 'lun7'): (None, C.FOREIGN, 'OpenStack', None, None),
            # Snapshots live in SnapCPG: they belong to their base's CPG.
            (R.SNAPSHOT, names.snapshot_name(uid('snap-plain'))):
                (uid('snap-plain'), C.CINDER, 'OpenStack', PLAIN, None),
            (R.SNAPSHOT, names.snapshot_name(uid('snap-migrated'))):
                (uid('snap-migrated'), C.CINDER, 'OpenStack', NEW_ID, None),
            (R.SNAPSHOT, names.snapshot_name(uid('snap-only'))):
                (uid('snap-only'), C.CINDER, 'OpenStack', PLAIN, None),
            (R.SNAPSHOT, names.name('tss-', uid('tss'))):
                (uid('tss'), C.TEMPORARY, 'OpenStack', PLAIN, None),
            (R.SNAPSHOT, names.name('ums-', uid('ums'))):
                (uid('ums'), C.UNMANAGED, 'OpenStack', PLAIN, None),
            (R.SNAPSHOT, member(GROUP_SNAPSHOT, 0)):
                (None, C.CINDER, 'OpenStack', GROUPED1, GROUP_SNAPSHOT),
            (R.SNAPSHOT, member(GROUP_SNAPSHOT, 1)):
                (None, C.CINDER, 'OpenStack', GROUPED2, GROUP_SNAPSHOT),
            (R.EXPORT, names.volume_name(SSD) + '@ADMIN-NAMED-HOST'):
                (SSD, C.CINDER, 'SSD', None, None),
            (R.EXPORT, names.volume_name(PLAIN) + '@compute-9'):
                (PLAIN, C.CINDER, 'OpenStack', None, None),
        }
        self.assertEqual(expected, got)
        self.assertEqual(frozenset(['OpenStack', 'SSD']), view.pools)
        self.assertEqual(['POST /credentials', 'GET /cpgs', 'GET /volumes',
                          'GET /vluns', 'GET /hosts'],
                         self.sim.requests[:5])
        self.assertEqual(4, view.requests)
        self.assertLoggedOut()

    def test_exports_carry_the_array_host_and_its_initiators(self):
        for protocol, initiator in (
                ('iscsi', simulator.iqn_of('compute-1')),
                ('fc', simulator.wwn_of('compute-1').lower())):
            self.start(protocol=protocol)
            exports = [o for o in self.listing().objects
                       if o.kind == R.EXPORT and o.uuid == SSD]
            # A template VLUN and two active paths: one mapping.
            self.assertEqual(3, sum(
                1 for v in self.sim.vluns
                if v['volumeName'] == names.volume_name(SSD)))
            self.assertEqual(1, len(exports))
            self.assertEqual('ADMIN-NAMED-HOST', exports[0].host)
            self.assertEqual(frozenset([initiator]), exports[0].initiators)

    def test_port_presented_vlun_is_foreign(self):
        sim = self.start()
        sim.vluns.append({'volumeName': names.volume_name(PLAIN), 'lun': 9,
                          'active': False, 'type': 2,
                          'portPos': {'node': 0, 'slot': 2, 'cardPort': 1}})
        objs = {o.name: o for o in self.listing().objects}
        export = objs[names.volume_name(PLAIN) + '@*']
        self.assertEqual((C.FOREIGN, PLAIN, None),
                         (export.object_class, export.uuid, export.host))

    def test_comment_is_only_a_hint(self):
        self.start()
        vv = self.sim.volumes[names.volume_name(PLAIN)]
        vv['comment'] = repr({'volume_id': uid('someone-else')})
        self.sim.volumes['renamed-by-admin'] = dict(
            vv, name='renamed-by-admin', id=999, baseId=999,
            comment='{"volume_id": "%s", "type": "OpenStack"}' % OTHER)
        objs = {o.name: o for o in self.listing().objects}
        plain = objs[vv['name']]
        self.assertEqual((PLAIN, C.CINDER), (plain.uuid, plain.object_class))
        self.assertEqual((None, C.FOREIGN),
                         (objs['renamed-by-admin'].uuid,
                          objs['renamed-by-admin'].object_class))
        self.assertIn('comment names Cinder volume %s' % OTHER,
                      self.logger.output)


class EngineTest(HPE3PARTestCase):
    """The listing through the engine: what a pass would suspect."""

    def suspects(self, view, **kwargs):
        comparison = engine.compare(cinder_view(scenario(), **kwargs), view)
        return {(s.candidate.kind, s.candidate.resource_type,
                 s.candidate.resource_id) for s in comparison.suspects}

    def test_planted_orphans_and_nothing_else(self):
        self.start(protocol='fc')
        view = self.listing()
        wwn = simulator.wwn_of('compute-1').lower()
        got = self.suspects(view, initiators={'compute-1': [wwn]})
        self.assertEqual({
            (K.ARRAY_ONLY, R.VOLUME, uid('array-only')),
            (K.ARRAY_ONLY, R.SNAPSHOT, uid('snap-only')),
            (K.FOREIGN, R.VOLUME, 'lun7'),
            (K.ORPHAN_EXPORT, R.EXPORT,
             names.volume_name(PLAIN) + '@compute-9'),
            (K.CINDER_ONLY, R.VOLUME, uid('lost')),
            (K.CINDER_ONLY, R.SNAPSHOT, uid('lost-snap')),
            # No migration of a volume 'tsv', plain is cloned by nobody.
            (K.STALE_TEMPORARY, R.VOLUME, names.name('tsv-', uid('tsv'))),
            (K.STALE_TEMPORARY, R.SNAPSHOT,
             names.name('tss-', uid('tss'))),
        }, got)
        # The migrated volume (named after name_id), its snapshot, the
        # group members and the volume in OtherCPG raised nothing.

    def comparison(self, scn, **options):
        return engine.compare(cinder_view(scn), self.listing(**options))

    def assertNotCompared(self, comparison, export):
        self.assertNotIn(export, {s.candidate.resource_id
                                  for s in comparison.suspects})
        self.assertEqual(1, comparison.skipped[
            'export of attached volume to iSCSI initiators'])

    def test_host_name_cut_at_31_characters(self):
        # Cinder cuts at the first dot or at 31 characters, whichever first.
        scn = scenario()
        long_host = 'compute-node-with-a-forty-char-name-0001'
        self.assertEqual(40, len(long_host))
        scn.volume(SSD).attached_to = [long_host + '.example.org']
        self.start(scn, host_names={})
        comparison = self.comparison(scn)
        self.assertIn(long_host[:31], self.sim.hosts)
        self.assertEqual(1, comparison.consistent[R.EXPORT])
        self.assertEqual(
            {names.volume_name(PLAIN) + '@compute-9'},
            {s.candidate.resource_id for s in comparison.suspects
             if s.candidate.kind == K.ORPHAN_EXPORT})

    def test_host_named_after_the_reversed_iqn(self):
        # unique_fqdn_network = false: Cinder names the host after the
        # connector's IQN, which its API never shows: not compared.
        host = hpe3par_hosts.iqn_hostname(simulator.iqn_of('compute-1'))
        self.start(host_names={'compute-1': host})
        comparison = self.comparison(scenario(), unique_fqdn_network=False)
        self.assertNotCompared(comparison,
                               names.volume_name(SSD) + '@' + host)
        # Once the IQN is known, the rule ties the host to the attachment.
        export = [o for o in self.listing(unique_fqdn_network=False).objects
                  if o.host == host][0]
        attachment = model.CinderAttachment(
            'compute-1', initiators=frozenset([simulator.iqn_of(
                'compute-1')]))
        self.assertTrue(export.host_rule(attachment))

    def test_host_that_held_the_initiator_is_reused(self):
        # Cinder reuses a 3PAR host that holds the initiator, whatever its
        # name. iSCSI: the IQN is not shown, so it is not compared.
        self.start()
        self.assertNotCompared(self.comparison(scenario()),
                               names.volume_name(SSD) + '@ADMIN-NAMED-HOST')
        # FC: the WWNs are, and the re-check ties the export to them.
        self.start(protocol='fc')
        view = self.listing()
        [export] = [o for o in view.objects if o.host == 'ADMIN-NAMED-HOST']
        wwn = simulator.wwn_of('compute-1').lower()
        attached = model.CinderVolume(
            SSD, None, 'h@b#SSD', 'in-use', attachments=(
                model.CinderAttachment('compute-1',
                                       initiators=frozenset([wwn])),))
        self.assertIs(False, engine.export_orphaned(attached, export))

    def test_export_to_another_host_is_still_an_orphan(self):
        # FC: an attached volume also mapped to a host that holds none of
        # its attachment's WWNs and is not named after it.
        self.start(protocol='fc', host_names={})
        self.sim.add_vlun(names.volume_name(SSD),
                          self.sim.add_host('compute-7.example.org'))
        view = self.listing()
        export = [o for o in view.objects if o.host == 'compute-7'][0]
        wwn = simulator.wwn_of('compute-1').lower()
        attached = model.CinderVolume(
            SSD, None, 'h@b#SSD', 'in-use', attachments=(
                model.CinderAttachment('compute-1',
                                       initiators=frozenset([wwn])),))
        self.assertIs(True, engine.export_orphaned(attached, export))
        # The listing (no WWNs yet) makes it a suspect for that re-check.
        self.assertIn((K.ORPHAN_EXPORT, R.EXPORT,
                       names.volume_name(SSD) + '@compute-7'),
                      self.suspects(view))


class LookupTest(HPE3PARTestCase):

    def test_group_member_look_up_needs_a_list_of_names(self):
        self.start()
        with self.driver() as d:
            for answer in ({'members': []}, [{'name': 'oss-x'}]):
                self.useFixture(fixtures.MockPatchObject(
                    d._client, 'getVolumeSnapshots',
                    return_value=answer))
                e = self.assertRaises(exception.ArrayResponseError,
                                      d.find_snapshot, uid('nope'), PLAIN,
                                      uid('group'))
                self.assertIn('not a list of names', str(e))

    def test_point_lookups_see_the_array_now(self):
        sim = self.start()
        with self.driver() as d:
            view = d.list_objects()
            objs = {o.name: o for o in view.objects}
            self.assertEqual(NEW_ID, d.find_volume(NEW_ID).uuid)
            self.assertIsNone(d.find_volume(uid('migrated')))
            snap = d.find_snapshot(uid('snap-plain'), PLAIN)
            self.assertEqual((uid('snap-plain'), PLAIN),
                             (snap.uuid, snap.parent_uuid))
            self.assertIsNone(d.find_snapshot(uid('nope'), PLAIN))
            export = objs[names.volume_name(PLAIN) + '@compute-9']
            self.assertEqual(export, d.refresh(export))
            volume = objs[names.volume_name(uid('array-only'))]
            self.assertEqual(volume, d.refresh(volume))

            sim.vluns = [v for v in sim.vluns if v['hostname'] != 'compute-9']
            del sim.volumes[volume.name]
            self.assertIsNone(d.refresh(export))
            self.assertIsNone(d.refresh(volume))
        self.assertLoggedOut()

    def test_volume_renamed_aside_is_not_missing(self):
        sim = self.start()
        vv = sim.volumes.pop(names.volume_name(PLAIN))
        sim.volumes[names.name('tsv-', PLAIN)] = dict(
            vv, name=names.name('tsv-', PLAIN))
        with self.driver() as d:
            found = d.find_volume(PLAIN)
        self.assertEqual((C.TEMPORARY, PLAIN),
                         (found.object_class, found.uuid))

    def test_names(self):
        self.start()
        d = self.driver()
        self.assertEqual(names.volume_name(NEW_ID), d.volume_name(NEW_ID))
        self.assertEqual(names.snapshot_name(PLAIN), d.snapshot_name(PLAIN))
        self.assertEqual((R.SNAPSHOT, C.CINDER, None), d.decode_name(
            names.group_member_name(GROUP_SNAPSHOT, 0)))
        self.assertEqual((R.VOLUME, C.UNMANAGED, PLAIN),
                         d.decode_name(names.name('unm-', PLAIN)))


class FaultTest(HPE3PARTestCase):

    def fails(self, error, *words, **options):
        """A listing fails with ``error`` naming ``words``; logged out."""
        exc = self.assertRaises(error, self.listing, **options)
        for word in words:
            self.assertIn(word, str(exc))
        self.assertNotIn(PASSWORD, str(exc))
        self.assertLoggedOut()
        return exc

    def test_server_error_on_each_listing_call(self):
        for call in ('GET /cpgs', 'GET /volumes', 'GET /vluns', 'GET /hosts'):
            self.start().faults.append(simulator.Fault(call, times=1))
            self.fails(exception.ArrayResponseError, call, 'HTTP 500',
                       'code 1', BACKEND)
            self.assertEqual(1, self.sim.logouts)

    def test_slow_response_times_out(self):
        self.start().faults.append(
            simulator.Fault('GET /volumes', 'slow', delay=30))
        start = time.monotonic()
        self.fails(exception.ArrayUnreachable, 'GET /volumes', 'timed out',
                   hpe3par_api_timeout=1)
        self.assertLess(time.monotonic() - start, 10)

    def test_dropped_connection(self):
        self.start().faults.append(
            simulator.Fault('GET /vluns', 'drop', times=1))
        self.fails(exception.ArrayUnreachable, 'GET /vluns', 'unreachable')
        # One attempt per request: the next pass is the retry.
        self.assertEqual(1, self.sim.requests.count('GET /vluns'))

    def test_spent_client_is_an_error_not_an_empty_listing(self):
        # After a connection error python-3parclient returns None from
        # every call without sending anything.
        sim = self.start()
        sim.faults.append(simulator.Fault('GET /hosts', 'drop', times=1))
        with self.driver() as d:
            self.assertRaises(exception.ArrayUnreachable, d.list_objects)
            sent = len(sim.requests)
            exc = self.assertRaises(exception.ArrayResponseError,
                                    d.list_objects)
            self.assertIn('gave up after an earlier connection error',
                          str(exc))
            self.assertEqual(sent, len(sim.requests))
        self.assertLoggedOut()

    def test_empty_answer_is_an_error(self):
        self.start().faults.append(simulator.Fault('GET /hosts', 'empty'))
        self.fails(exception.ArrayResponseError, 'GET /hosts',
                   'returned nothing')

    def test_cut_or_inconsistent_listing_is_an_error(self):
        member = json.dumps({'name': names.volume_name(PLAIN),
                             'userCPG': 'OpenStack'})
        for call, body, words in (
                ('GET /volumes', '{"total": 2, "members": [%s, ' % member,
                 ('GET /volumes', 'cut or malformed')),
                ('GET /volumes', '{"total": 2, "members": [%s]}' % member,
                 ('GET /volumes', 'has 1 members, its total says 2')),
                ('GET /volumes', '{"members": [%s]}' % member,
                 ('GET /volumes', 'its total says nothing')),
                ('GET /volumes', '{"total": 1, "members": [%s]}'
                 % json.dumps(member), ('malformed volume entry',)),
                ('GET /vluns', '{"total": 1, "members": [7]}',
                 ('malformed VLUN entry',)),
                ('GET /vluns', '', ('GET /vluns', 'cut or malformed'))):
            self.start().faults.append(simulator.Fault(
                call, 'payload', payload=body.encode()))
            self.fails(exception.ArrayResponseError, *words)

    def test_big_listings_are_read_as_a_stream(self):
        # Members are parsed as the answer arrives: every VV of a listing
        # far larger than one read gets through, with its pool.
        scn = scenario_mod.Scenario(backends=[scenario_mod.Backend(
            BACKEND, driver='hpe3par', pools=['OpenStack'])])
        ids = [uid('stream-%d' % i) for i in range(2000)]
        scn.volumes += [scenario_mod.Volume(id=i, backend=BACKEND)
                        for i in ids]
        self.start(scn)
        view = self.listing(hpe3par_cpg='OpenStack')
        self.assertEqual(set(ids), {o.uuid for o in view.objects})
        self.assertEqual({'OpenStack'}, {o.pool for o in view.objects})
        self.assertGreater(len(json.dumps(list(self.sim.volumes.values()))),
                           4 * hpe3par._CHUNK)

    def test_expired_session_is_renewed(self):
        for status in (401, 403):
            sim = self.start()
            sim.session_lifetime, sim.expired_status = 2, status
            view = self.listing()
            self.assertEqual(2, sim.logins)
            self.assertEqual(1, sim.logouts)
            self.assertEqual({}, sim.sessions)
            self.assertIn(names.volume_name(PLAIN),
                          {o.name for o in view.objects})

    def test_session_that_keeps_expiring(self):
        sim = self.start()
        sim.session_lifetime = 0
        self.assertRaises(exception.ArrayAuthError, self.listing)
        # Logging out the dead session made the client log in again; that
        # new session was logged out too.
        self.assertEqual({}, sim.sessions)
        for key in sim.issued:
            self.assertNotIn(key, self.logger.output)

    def test_wrong_password(self):
        sim = self.start()
        sim.password = 'the-right-one'
        exc = self.fails(exception.ArrayAuthError, 'wrong user name or '
                         'password', '3paradm', hpe3par_debug=True)
        self.assertEqual(0, sim.logins)
        self.assertNotIn(PASSWORD, self.logger.output)
        self.assertIn('login took', self.logger.output)
        self.assertNotIn(PASSWORD, repr(exc.args))

    def test_array_down(self):
        self.start()
        driver = self.driver()
        self.sim.stop()
        self.assertRaises(exception.ArrayUnreachable, driver.open)

    def test_configured_cpg_missing_on_the_array(self):
        self.start()
        self.fails(exception.ArrayError, 'Gold', hpe3par_cpg='OpenStack,Gold')


class ConfigTest(HPE3PARTestCase):

    def test_selected_by_either_cinder_driver_path(self):
        self.start()
        for path in (
                'cinder.volume.drivers.hpe.hpe_3par_fc.HPE3PARFCDriver',
                'cinder.volume.drivers.hpe.hpe_3par_iscsi.HPE3PARISCSIDriver'):
            self.assertEqual('HPE3PARDriver',
                             type(self.driver(volume_driver=path)).__name__)

    def test_bad_options(self):
        self.start()
        for options in ({'hpe3par_api_url': ''}, {'hpe3par_password': ''},
                        {'hpe3par_cpg': ','},
                        {'hpe3par_snapshot_expiration': 'soon'},
                        {'hpe3par_snapshot_expiration': '0'}):
            self.assertRaises(exception.ConfigError, self.driver, **options)
        self.assertEqual(
            48, self.driver(hpe3par_snapshot_expiration='48')
            .snapshot_expiration)

    def test_https_url_to_plain_http_is_a_protocol_mismatch(self):
        # The client reports any TLS failure as a certificate problem.
        self.start()
        url = self.sim.url.replace('http://', 'https://')
        e = self.assertRaises(exception.ArrayUnreachable, self.listing,
                              hpe3par_api_url=url)
        self.assertIn('protocol mismatch', str(e))
        self.assertIn('hpe3par_api_url', str(e))
        self.assertNotIn('certificate', str(e))

    def test_tls_verification_reaches_the_client(self):
        self.start()
        with self.driver(driver_ssl_cert_path='/etc/ssl/3par-ca.pem') as d:
            self.assertEqual('/etc/ssl/3par-ca.pem', d._client.http.secure)

    def test_client_import_does_not_monkey_patch(self):
        # python-3parclient's ssh module imports eventlet.greenthread.
        import reconciler.drivers.hpe3par  # noqa: F401
        patcher = sys.modules.get('eventlet.patcher')
        if patcher is None:
            self.skipTest('eventlet is not installed')
        for module in ('socket', 'thread', 'time', 'select', 'os'):
            self.assertFalse(patcher.is_monkey_patched(module), module)


class SimulatorTest(HPE3PARTestCase):
    """What else the unmodified client asks the simulated WSAPI."""

    def test_client_calls_beyond_the_driver(self):
        from hpe3parclient import client
        from hpe3parclient import exceptions as hpe_exc
        self.start(host_names={})
        cl = client.HPE3ParClient(self.sim.url)
        cl.login('3paradm', PASSWORD)
        self.addCleanup(cl.logout)
        self.assertGreater(cl.getWsApiVersion()['build'], 30103230)
        self.assertIn('sessionsTimeout', cl.getWSAPIConfigurationInfo())
        plain = names.volume_name(PLAIN)
        self.assertEqual(
            {names.snapshot_name(uid('snap-plain')),
             names.snapshot_name(uid('snap-only')),
             names.name('tss-', uid('tss')), names.name('ums-', uid('ums'))},
            set(cl.getVolumeSnapshots(plain)))
        self.assertEqual(set(cl.getVolumeSnapshots(plain)),
                         set(cl.getSnapshotsOfVolume('SnapCPG', plain)))
        self.assertEqual({names.volume_name(SSD)},
                         {v['volumeName']
                          for v in cl.getHostVLUNs('compute-1')})
        self.assertRaises(hpe_exc.HTTPNotFound, cl.getVolume, 'nope')
        # Host queries are not simulated: INV_INPUT, as for a bad query.
        self.assertRaises(hpe_exc.HTTPBadRequest, cl.queryHost,
                          iqns=[simulator.iqn_of('compute-1')])


class HostileAnswerTest(HPE3PARTestCase):
    """Answers nested or sized beyond any real one: refused, cheaply."""

    def refused(self, call, payload, *words):
        self.start().faults.append(
            simulator.Fault(call, 'payload', payload=payload))
        error, peak = hostile.peak_of(self.listing)
        self.assertIsInstance(error, bounded.LimitExceeded)
        for word in words:
            self.assertIn(word, str(error))
        self.assertLess(peak, hostile.MAX_PEAK)
        self.assertLoggedOut()

    def test_deep_streamed_listing(self):
        for call in ('GET /volumes', 'GET /vluns'):
            self.refused(call, hostile.members(hostile.nested_json()),
                         call, 'nested deeper than 64 levels')

    def test_deep_answer_to_the_client(self):
        self.refused('GET /cpgs', hostile.members(hostile.nested_json()),
                     BACKEND, 'nested deeper than 64 levels')

    def test_oversized_streamed_listing(self):
        self.useFixture(fixtures.MockPatch(
            'reconciler.drivers.bounded.MAX_STREAM_BYTES', 1000))
        self.refused('GET /volumes', hostile.members(b'0,' * 1000 + b'0'),
                     'GET /volumes', 'larger than 1000 bytes')

    def test_deep_comment_is_only_a_hint(self):
        self.assertEqual({}, hpe3par.comment_of(
            {'comment': hostile.nested_json().decode()}))
