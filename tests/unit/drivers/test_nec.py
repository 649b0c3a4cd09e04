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

"""The NEC driver against the simulated array: decoding, exports, look-ups."""

import logging

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler.drivers import nec as nec_driver
from reconciler.drivers import nec_ldsets
from reconciler.drivers import nec_names
from reconciler import engine
from reconciler import exception
from reconciler import model
from reconciler.simulators import nec
from reconciler.simulators.scenario import uid
from tests import nec_fixtures

R = model.ResourceType
C = model.ObjectClass
K = model.FindingKind
NAMES = nec_names.LDNames()
DRIVERS = {'iSCSI': 'cinder.volume.drivers.nec.volume.MStorageISCSIDriver',
           'FC': 'cinder.volume.drivers.nec.volume.MStorageFCDriver'}


def make_backend(test, groups):
    """BackendConf objects for ``{group: options}`` in one fresh config."""
    conf = cfg.ConfigOpts()
    reconciler_conf.register(conf)
    conf([], project='x', default_config_files=[], default_config_dirs=[])
    fixture = test.useFixture(config_fixture.Config(conf))
    for group, options in groups.items():
        fixture.load_raw_values(group=group, **options)
    return [backend_conf.BackendConf(conf, group) for group in groups]


class NecTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.array = nec.Array(pools=(0, 1, 2))
        self.nec = self.useFixture(nec_fixtures.NecArray(self.array))
        self.simulator = self.nec.simulator

    def driver(self, **overrides):
        (backend,) = make_backend(self, {'b': self.nec.options(**overrides)})
        driver = backend.create_driver()
        self.addCleanup(driver.close)
        return driver

    def listing(self, **overrides):
        with self.driver(**overrides) as driver:
            return driver.list_objects()


class NecListingTest(NecTestCase):

    def test_selected_by_cinder_volume_driver(self):
        for path in nec_driver.MStorageDriver.CINDER_VOLUME_DRIVERS:
            (backend,) = make_backend(
                self, {'b': self.nec.options(volume_driver=path)})
            self.assertIs(nec_driver.MStorageDriver, backend.driver_cls)
        self.assertIn('MStorageFCDriver', ' '.join(
            nec_driver.MStorageDriver.CINDER_VOLUME_DRIVERS))

    def test_listing_decodes_every_class(self):
        vol, snap, mig, dele, link, legacy = (
            uid('vol'), uid('snap'), uid('mig'), uid('del'), uid('link'),
            uid('legacy'))
        add = self.array.add_ld
        add(NAMES.volume(vol), 0, size_gib=3, rpl='BV')
        add(NAMES.snapshot(snap), 1, size_gib=3, rpl='SV',
            purpose='(invalid attribute)')
        add(NAMES.volume(mig) + '_m', 0, rpl='RV')
        add(NAMES.volume(dele) + '_d', 0)
        add(NAMES.volume(link) + '_l', 0)
        cv = self.array.add_control_volume(0)
        # an old DDR backup: an RV named after a snapshot in a backup pool
        add(NAMES.snapshot(legacy), 1, rpl='RV')
        for foreign in ('WN:' + nec_names.encode(vol),  # other OS type
                        'Pool0000_SYV0FFF',              # blank OS type
                        'LX:20000009910200140005',       # not a UUID
                        'LX:%s_back' % nec_names.encode(vol)):
            add(foreign, 0)
        add(NAMES.volume(uid('other-backend')), 2)        # not our pool

        view = self.listing()

        self.assertIsNone(view.pools)
        self.assertEqual(1, view.requests)
        got = [(o.kind, o.object_class, o.uuid, o.name, o.pool)
               for o in view.objects]
        self.assertEqual([
            (R.VOLUME, C.CINDER, vol, NAMES.volume(vol), '0'),
            (R.SNAPSHOT, C.CINDER, snap, NAMES.snapshot(snap), '1'),
            (R.VOLUME, C.TEMPORARY, mig, NAMES.volume(mig) + '_m', '0'),
            (R.VOLUME, C.TEMPORARY, dele, NAMES.volume(dele) + '_d', '0'),
            (R.SNAPSHOT, C.TEMPORARY, link, NAMES.volume(link) + '_l', '0'),
            (R.VOLUME, C.CONTROL, None, cv.name, '0'),
            (R.SNAPSHOT, C.CINDER, legacy, NAMES.snapshot(legacy), '1'),
            (R.VOLUME, C.FOREIGN, None, 'WN:' + nec_names.encode(vol), '0'),
            (R.VOLUME, C.FOREIGN, None, 'Pool0000_SYV0FFF', '0'),
            (R.VOLUME, C.FOREIGN, None, 'LX:20000009910200140005', '0'),
            (R.VOLUME, C.FOREIGN, None,
             'LX:%s_back' % nec_names.encode(vol), '0')], got)
        self.assertEqual(3.0, view.objects[0].size_gib)
        self.assertEqual('LX:__ControlVolume_5h', cv.name)

    def test_configured_name_formats(self):
        vol, snap = uid('vol'), uid('snap')
        self.array.add_ld('LX:v' + nec_names.encode(vol), 0)
        self.array.add_ld('LX:s' + nec_names.encode(snap), 1, rpl='SV')
        self.array.add_ld('LX:' + nec_names.encode(uid('x')), 0)
        view = self.listing(nec_ldname_format='LX:v%s',
                            nec_backup_ldname_format='LX:s%s')
        self.assertEqual([(R.VOLUME, C.CINDER, vol),
                          (R.SNAPSHOT, C.CINDER, snap),
                          (R.VOLUME, C.FOREIGN, None)],
                         [(o.kind, o.object_class, o.uuid)
                          for o in view.objects])

    def test_commands_are_cinders(self):
        self.listing()
        self.listing(nec_queryconfig_view='true')
        self.listing(nec_queryconfig_view='true',
                     nec_ismview_alloptimize='true')
        self.assertEqual(['iSMquery -cinder -xml -all',
                          'clioutmsg xml; iSMview -all',
                          'clioutmsg xml; iSMview --alloptimize'],
                         self.simulator.commands)

    def test_simulator_meters_commands_and_bytes_answered(self):
        self.array.add_ld(NAMES.volume(uid('vol')), 0)
        self.listing()
        self.listing(nec_queryconfig_view='true')
        self.assertEqual((2, sum(len(self.array.xml(c)) for c in (
            'iSMquery -cinder -xml -all', 'clioutmsg xml; iSMview -all'))
            + len(b'ExitStatus:0\n')), tuple(self.simulator.stats()))
        self.simulator.reset_stats()
        self.assertEqual((0, 0), tuple(self.simulator.stats()))

    def test_point_lookups_see_the_array_now(self):
        vol, snap = uid('vol'), uid('snap')
        self.array.add_ld(NAMES.volume(vol), 0)
        self.array.add_ld(NAMES.snapshot(snap), 1, rpl='SV')
        self.array.map(NAMES.volume(vol), 'compute-1')
        with self.driver() as driver:
            export = [o for o in driver.list_objects().objects
                      if o.kind == R.EXPORT][0]
            self.assertEqual(vol, driver.find_volume(vol).uuid)
            self.assertEqual(snap, driver.find_snapshot(snap, vol).uuid)
            self.assertEqual(export, driver.refresh(export))
            self.array.ldsets[0].luns.clear()
            self.assertIsNone(driver.refresh(export))
            self.array.remove_ld(NAMES.volume(vol))
            self.assertIsNone(driver.find_volume(vol))
            self.assertIsNone(driver.find_snapshot(uid('gone'), vol))
            # a volume's LD in a pool this backend does not list is there
            self.array.add_ld(NAMES.volume(vol), 2)
            self.assertEqual(vol, driver.find_volume(vol).uuid)
        self.assertEqual(8, len(self.simulator.commands))

    def test_lookups_of_a_round_share_one_read(self):
        """One whole-array read per re-check round, made by its first
        look-up; outside a round each look-up reads afresh.
        """
        vol = uid('vol')
        self.array.add_ld(NAMES.volume(vol), 0)
        self.array.add_ld(NAMES.volume(uid('kept')), 0)
        with self.driver() as driver:
            driver.list_objects()
            with driver.lookup_round():
                self.assertEqual(vol, driver.find_volume(vol).uuid)
                self.array.remove_ld(NAMES.volume(vol))
                for _ in range(10):
                    self.assertEqual(vol, driver.find_volume(vol).uuid)
                self.assertIsNone(driver.find_snapshot(uid('s'), vol))
            self.assertEqual(2, len(self.simulator.commands))
            self.assertIsNone(driver.find_volume(vol))
            with driver.lookup_round():
                self.assertIsNone(driver.find_volume(vol))
        self.assertEqual(4, len(self.simulator.commands))

    def test_name_mapping(self):
        driver = self.driver(nec_ldname_format='LX:%s')
        key = '52f22665-a60c-42d2-8918-5d950ee88136'
        self.assertEqual('LX:2WW25PmMhDCbR7BP0i79qo', driver.volume_name(key))
        self.assertEqual('LX:2WW25PmMhDCbR7BP0i79qo',
                         driver.snapshot_name(key))
        for name in ('LX:2WW25PmMhDCbR7BP0i79qo', '2WW25PmMhDCbR7BP0i79qo'):
            self.assertEqual((R.VOLUME, C.CINDER, key),
                             driver.decode_name(name))
        self.assertEqual((R.VOLUME, C.TEMPORARY, key),
                         driver.decode_name('2WW25PmMhDCbR7BP0i79qo_d'))
        self.assertEqual((None, C.FOREIGN, None),
                         driver.decode_name('Pool0000_SYV0FFF'))

    def test_a_listing_without_our_pools_fails(self):
        self.array.pools.pop(1)
        error = self.assertRaises(exception.ArrayResponseError, self.listing)
        self.assertIn('no pool 1', str(error))

    def test_configuration_errors(self):
        for overrides, text in (
                ({'nec_ismcli_fip': None}, 'nec_ismcli_fip'),
                ({'nec_ismcli_user': ''}, 'nec_ismcli_user'),
                ({'nec_pools': ''}, 'nec_pools'),
                ({'nec_ismcli_password': ''}, 'nec_ismcli_privkey'),
                ({'nec_backup_pools': '1,x2'}, "'x2'"),
                ({'nec_ldname_format': 'LX:'}, 'exactly once'),
                ({'nec_cv_ldname_format': 'LX:cv'}, 'exactly once')):
            error = self.assertRaises(exception.ConfigError, self.driver,
                                      **overrides)
            self.assertIn(text, str(error))

    def test_hex_pool_numbers(self):
        self.array.pools[0x1a] = 1
        self.array.add_ld(NAMES.volume(uid('v')), 0x1a)
        view = self.listing(nec_pools='1ah', nec_backup_pools='')
        self.assertEqual(['26'], [o.pool for o in view.objects])


class NecExportTest(NecTestCase):

    def cinder(self, *attachments, volume=None):
        volume = model.CinderVolume(
            id=volume or uid('vol'), name_id=None, host='h@b#nec',
            status='in-use' if attachments else 'available',
            attachments=attachments)
        return model.CinderView('h@b', (volume,), (), fetched_at=0)

    def export_findings(self, view, cinder):
        return [s.candidate for s in engine.compare(cinder, view).suspects
                if s.candidate.kind == K.ORPHAN_EXPORT]

    def check_protocol(self, protocol, shown):
        vol = uid('vol')
        self.array.add_ld(NAMES.volume(vol), 0)
        ldset = self.array.map(NAMES.volume(vol), 'compute-1', protocol)
        view = self.listing(volume_driver=DRIVERS[protocol])
        (export,) = [o for o in view.objects if o.kind == R.EXPORT]
        # LD sets are not named after Cinder's hosts: no host name to match.
        self.assertEqual((C.CINDER, vol, None, shown),
                         (export.object_class, export.uuid, export.host,
                          export.initiators))
        self.assertEqual('%s@%s' % (NAMES.volume(vol), ldset.name),
                         export.name)
        # Matched by the connector's initiators, as Cinder's NEC driver
        # matches LD sets. Without them the listing makes an FC export a
        # suspect and the re-check (engine.export_orphaned) decides; Cinder
        # never shows iSCSI initiators, so an iSCSI one is set aside.
        connector = frozenset(nec.host_initiators('compute-1', protocol))
        self.assertEqual([], self.export_findings(view, self.cinder(
            model.CinderAttachment('compute-1', initiators=connector))))
        unknown = self.export_findings(view, self.cinder(
            model.CinderAttachment('compute-1')))
        self.assertEqual(protocol == 'FC', bool(unknown))
        for attachments in ((model.CinderAttachment(
                                'compute-2', initiators=frozenset(
                                    nec.host_initiators('compute-2',
                                                        protocol))),),
                            ()):
            (finding,) = self.export_findings(view, self.cinder(*attachments))
            self.assertEqual(export.name, finding.resource_id)

    def test_iscsi_export(self):
        self.check_protocol('iSCSI', frozenset(
            nec.host_initiators('compute-1', 'iSCSI')))

    def test_fc_export_shows_wwpns_as_the_array_does(self):
        wwpns = nec.host_initiators('compute-1', 'FC')
        self.check_protocol('FC', frozenset(
            '-'.join(w[i:i + 4] for i in range(0, 16, 4)) for w in wwpns))

    def test_an_ld_set_of_the_other_protocol_is_no_attachments(self):
        """Cinder's iSCSI driver maps a connector to an iSCSI LD set only,
        its FC driver to an FC one: the other's LD set is an orphan export
        whatever Cinder shows of the attachment, told at the listing.
        """
        vol = uid('vol')
        self.array.add_ld(NAMES.volume(vol), 0)
        for backend, ldset in (('iSCSI', 'FC'), ('FC', 'iSCSI')):
            self.array.map(NAMES.volume(vol), 'compute-1', ldset)
            view = self.listing(volume_driver=DRIVERS[backend])
            (export,) = [o for o in view.objects if o.kind == R.EXPORT]
            (finding,) = self.export_findings(view, self.cinder(
                model.CinderAttachment('compute-1')))
            self.assertEqual(export.name, finding.resource_id)
            # The re-check reads the attachment's protocol: the same.
            for protocol in (model.ISCSI, model.FIBRE_CHANNEL):
                attached = self.cinder(model.CinderAttachment(
                    'compute-1', protocol=protocol)).volumes[0]
                self.assertIs(
                    nec_ldsets.PROTOCOLS[ldset] != protocol or None,
                    engine.export_orphaned(attached, export),
                    (backend, ldset, protocol))
            self.array.unmap(NAMES.volume(vol), 'compute-1', ldset)

    def test_export_of_an_ld_cinder_does_not_know_is_orphan(self):
        self.array.add_ld(NAMES.volume(uid('leaked')), 0)
        self.array.map(NAMES.volume(uid('leaked')), 'compute-9')
        (finding,) = self.export_findings(self.listing(), self.cinder())
        self.assertEqual(uid('leaked'),
                         dict(finding.details)['volume_uuid'])

    def test_exports_of_temporaries_and_control_volumes_are_classified(self):
        link = NAMES.volume(uid('snap')) + '_l'
        self.array.add_ld(link, 0)
        cv = self.array.add_control_volume(0)
        foreign = self.array.add_ld('WN:bootlun', 0)
        other_pool = self.array.add_ld(NAMES.volume(uid('v2')), 2)
        for ld in (cv, foreign, other_pool):
            self.array.map(ld.name, 'compute-1')
        self.array.map(link, 'compute-1')
        exports = [(o.object_class, o.name.partition('@')[0])
                   for o in self.listing().objects if o.kind == R.EXPORT]
        self.assertEqual([(C.TEMPORARY, link), (C.CONTROL, cv.name)],
                         exports)
        self.assertEqual([], self.export_findings(self.listing(),
                                                  self.cinder()))

    def test_nec_ldset_reports_no_exports(self):
        self.array.add_ld(NAMES.volume(uid('vol')), 0)
        self.array.map(NAMES.volume(uid('vol')), 'compute-1')
        log = self.useFixture(fixtures.FakeLogger(level=logging.INFO))
        view = self.listing(nec_ldset='LX:OpenStack0')
        self.assertEqual([R.VOLUME], [o.kind for o in view.objects])
        self.assertIn('nec_ldset = LX:OpenStack0', log.output)
        self.assertIn('not reported', log.output)
