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

"""The LeftHand driver with the real python-lefthandclient and the simulator.

Every test talks HTTP to a LeftHandSimulator on 127.0.0.1; nothing is mocked.
"""

import dataclasses
import datetime
import logging
import os
import socket
import sys
import threading

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler.drivers import bounded
from reconciler.drivers import lefthand
from reconciler import engine
from reconciler import exception
from reconciler import model
from reconciler.simulators import lefthand as sim_lefthand
from reconciler.simulators import scenario as scn
from tests.unit.drivers import hostile

R = model.ResourceType
C = model.ObjectClass
K = model.FindingKind
uid = scn.uid
Fault = sim_lefthand.Fault

USER, PASSWORD = 'lhadmin', 'S3cret-LH-Passw0rd'
CLUSTER = 'cluster-a'
HOST1, HOST9 = 'compute-1.example.org', 'compute-9.example.org'
V1, V2, V3 = uid('lh:v1'), uid('lh:v2'), uid('lh:v3')
V2_KEY = uid('lh:v2-moved')     # V2's name_id after a migration
S1, S3, GS, G1, G2 = (uid('lh:s1'), uid('lh:s3'), uid('lh:gs'), uid('lh:g1'),
                      uid('lh:g2'))
AO, AOS = uid('lh:array-only'), uid('lh:array-only-snap')
UNM, UMS, REP = uid('lh:unm'), uid('lh:ums'), uid('lh:replica')


def _scenario():
    return scn.Scenario.from_dict({
        'backends': [{'name': 'lh1', 'driver': 'hpelefthand',
                      'pools': [CLUSTER]}],
        'volumes': [
            {'id': V1, 'backend': 'lh1', 'size': 3, 'attached_to': [HOST1]},
            {'id': V2, 'backend': 'lh1', 'name_id': V2_KEY},  # migrated
            {'id': V3, 'backend': 'lh1', 'on_array': False}],
        'snapshots': [
            {'id': S1, 'volume': V1},
            {'id': S3, 'volume': V1, 'on_array': False},
            {'id': G1, 'volume': V1, 'group_snapshot_id': GS},
            {'id': G2, 'volume': V2, 'group_snapshot_id': GS}],
        'array_objects': [
            {'backend': 'lh1', 'kind': 'volume', 'uuid': AO},
            {'backend': 'lh1', 'kind': 'snapshot', 'uuid': AOS,
             'parent': V1},
            {'backend': 'lh1', 'kind': 'volume', 'uuid': UNM,
             'class': 'unmanaged'},
            {'backend': 'lh1', 'kind': 'snapshot', 'uuid': UMS,
             'parent': V1, 'class': 'unmanaged'},
            {'backend': 'lh1', 'kind': 'volume', 'uuid': REP,
             'class': 'replica'},
            {'backend': 'lh1', 'kind': 'snapshot', 'parent': V1,
             'class': 'replica'},
            {'backend': 'lh1', 'kind': 'volume', 'name': 'scratch-lun',
             'class': 'foreign'},
            {'backend': 'lh1', 'kind': 'snapshot', 'name': 'nightly',
             'parent': V1, 'class': 'foreign'},
            {'backend': 'lh1', 'kind': 'export', 'uuid': V2_KEY,
             'host': HOST9}]})


def _iqn(host):
    return frozenset(['iqn.1993-08.org.debian:01:%s' % host])


# (kind, name, class, uuid, parent, group, host, initiators), written out
# independently of the driver's and the simulator's naming code.
EXPECTED = {
    (R.VOLUME, 'volume-%s' % V1, C.CINDER, V1, None, None, None, frozenset()),
    (R.VOLUME, 'volume-%s' % V2_KEY, C.CINDER, V2_KEY, None, None, None,
     frozenset()),
    (R.VOLUME, 'volume-%s' % AO, C.CINDER, AO, None, None, None, frozenset()),
    (R.VOLUME, 'unm-%s' % UNM, C.UNMANAGED, UNM, None, None, None,
     frozenset()),
    (R.VOLUME, 'volume-%s' % REP, C.REPLICA, REP, None, None, None,
     frozenset()),
    (R.VOLUME, 'scratch-lun', C.FOREIGN, None, None, None, None, frozenset()),
    (R.SNAPSHOT, 'snapshot-%s' % S1, C.CINDER, S1, V1, None, None,
     frozenset()),
    (R.SNAPSHOT, 'snapshot-%s' % AOS, C.CINDER, AOS, V1, None, None,
     frozenset()),
    (R.SNAPSHOT, 'snapshot-%s-0' % GS, C.CINDER, None, V1, GS, None,
     frozenset()),
    (R.SNAPSHOT, 'snapshot-%s-1' % GS, C.CINDER, None, V2_KEY, GS, None,
     frozenset()),
    (R.SNAPSHOT, 'ums-%s' % UMS, C.UNMANAGED, UMS, V1, None, None,
     frozenset()),
    (R.SNAPSHOT, 'volume-%s_SS' % V1, C.REPLICA, V1, V1, None, None,
     frozenset()),
    (R.SNAPSHOT, 'nightly', C.FOREIGN, None, V1, None, None, frozenset()),
    (R.EXPORT, 'volume-%s@%s' % (V1, HOST1), C.CINDER, V1, None, None, HOST1,
     _iqn(HOST1)),
    (R.EXPORT, 'volume-%s@%s' % (V2_KEY, HOST9), C.CINDER, V2_KEY, None,
     None, HOST9, _iqn(HOST9)),
}


def _rows(objects):
    return {(o.kind, o.name, o.object_class, o.uuid, o.parent_uuid,
             o.group_uuid, o.host, o.initiators) for o in objects}


def _self_signed_cert(directory):
    """A CA-capable certificate for 127.0.0.1, or None without cryptography."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives import serialization
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    import ipaddress
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         'lefthand-simulator')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .sign(key, hashes.SHA256()))
    certfile = os.path.join(directory, 'cert.pem')
    keyfile = os.path.join(directory, 'key.pem')
    with open(certfile, 'wb') as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(keyfile, 'wb') as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return certfile, keyfile


class LeftHandTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.scenario = _scenario()
        self.sim = self.start(sim_lefthand.LeftHandSimulator.from_scenario(
            self.scenario, 'lh1', username=USER, password=PASSWORD))

    def start(self, sim):
        sim.start()
        self.addCleanup(sim.stop)
        return sim

    def backend(self, url=None, **options):
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        fixture = self.useFixture(config_fixture.Config(conf))
        values = dict(reconciler_driver='hpelefthand',
                      hpelefthand_api_url=url or self.sim.url,
                      hpelefthand_username=USER,
                      hpelefthand_password=PASSWORD,
                      hpelefthand_clustername=CLUSTER)
        values.update(options)
        fixture.load_raw_values(group='lh1', **values)
        return backend_conf.BackendConf(conf, 'lh1')

    def driver(self, **options):
        return self.backend(**options).create_driver()

    def listing(self, **options):
        with self.driver(**options) as d:
            return d.list_objects()

    def assert_closed(self, logouts=1):
        """No session left open on the array; ``logouts`` made."""
        self.assertEqual(0, self.sim.open_sessions)
        self.assertEqual(logouts, self.sim.logouts)


class ListingTest(LeftHandTestCase):

    def test_listing_decodes_every_class(self):
        view = self.listing()
        self.assertEqual(EXPECTED, _rows(view.objects))
        self.assertIsNone(view.pools)
        volumes = [o for o in view.objects if o.kind == R.VOLUME]
        # The volumes, the servers, and one snapshot list a volume.
        self.assertEqual(2 + len(volumes), view.requests)
        self.assertEqual({3.0, 1.0}, {o.size_gib for o in volumes})
        self.assertEqual({CLUSTER}, {o.pool for o in view.objects})
        self.assert_closed()

    def test_other_cluster_is_never_listed(self):
        # The simulator ignores the clusterName filter, like the real API.
        names = {o.name for o in self.listing().objects}
        self.assertNotIn('volume-%s' % sim_lefthand.OTHER_VOLUME, names)
        self.assertNotIn('snapshot-%s' % sim_lefthand.OTHER_SNAPSHOT, names)
        self.assertFalse([n for n in names if sim_lefthand.OTHER_HOST in n])
        with self.driver() as d:
            self.assertIsNone(d.find_volume(sim_lefthand.OTHER_VOLUME))
            self.assertIsNone(d.find_snapshot(sim_lefthand.OTHER_SNAPSHOT,
                                              sim_lefthand.OTHER_VOLUME))

    def test_volume_name_template_is_honoured(self):
        self.sim = self.start(sim_lefthand.LeftHandSimulator.from_scenario(
            self.scenario, 'lh1', volume_name_template='vol_%s_c',
            snapshot_name_template='snap_%s', username=USER,
            password=PASSWORD))
        self.sim.add_volume('volume-%s' % uid('lh:default-name'), CLUSTER)
        backend = self.backend()
        backend.conf.set_override('volume_name_template', 'vol_%s_c')
        backend.conf.set_override('snapshot_name_template', 'snap_%s')
        with backend.create_driver() as d:
            rows = {(o.kind, o.name): (o.object_class, o.uuid)
                    for o in d.list_objects().objects}
            self.assertEqual('vol_%s_c' % V2_KEY, d.find_volume(V2_KEY).name)
        self.assertEqual((C.CINDER, V1), rows[R.VOLUME, 'vol_%s_c' % V1])
        self.assertEqual((C.CINDER, S1), rows[R.SNAPSHOT, 'snap_%s' % S1])
        self.assertEqual((C.REPLICA, V1),
                         rows[R.SNAPSHOT, 'vol_%s_c_SS' % V1])
        self.assertEqual((C.FOREIGN, None),
                         rows[R.VOLUME, 'volume-%s' % uid('lh:default-name')])

    def test_volume_deleted_during_the_listing_is_left_out(self):
        gone = self.sim.add_volume('volume-%s' % uid('lh:gone'), CLUSTER)
        self.sim.faults.append(Fault(
            'error', r'GET /lhos/volumes/%d\?' % gone['id'], status=404))
        self.assertEqual(EXPECTED, _rows(self.listing().objects))

    def test_listing_composes_with_the_engine(self):
        """The planted differences, and only those, become suspects."""
        def volume(v, attached=()):
            return model.CinderVolume(
                v, V2_KEY if v == V2 else None, 'h@lh1#' + CLUSTER,
                'in-use' if attached else 'available',
                attachments=tuple(model.CinderAttachment(h)
                                  for h in attached))
        cinder = model.CinderView(
            'h@lh1',
            (volume(V1, [HOST1]), volume(V2), volume(V3)),
            tuple(model.CinderSnapshot(s, v, 'available', group_snapshot_id=g)
                  for s, v, g in ((S1, V1, None), (S3, V1, None),
                                  (G1, V1, GS), (G2, V2, GS))),
            fetched_at=0)
        got = {s.candidate.identity for s in
               engine.compare(cinder, self.listing()).suspects}
        self.assertEqual({
            (K.ARRAY_ONLY, R.VOLUME, AO), (K.ARRAY_ONLY, R.SNAPSHOT, AOS),
            (K.CINDER_ONLY, R.VOLUME, V3), (K.CINDER_ONLY, R.SNAPSHOT, S3),
            (K.ORPHAN_EXPORT, R.EXPORT, 'volume-%s@%s' % (V2_KEY, HOST9)),
            (K.FOREIGN, R.VOLUME, 'scratch-lun'),
            (K.FOREIGN, R.SNAPSHOT, 'nightly')}, got)

    def test_servers_are_told_apart_by_their_full_name(self):
        # Cinder named the server after the connector's full host name.
        self.sim.grant('volume-%s' % V1, 'compute-7.b.example')
        exports = {o.host: o for o in self.listing().objects
                   if o.kind == R.EXPORT and o.uuid == V1}
        attached = model.CinderVolume(
            V1, None, 'h@lh1#' + CLUSTER, 'in-use', attachments=(
                model.CinderAttachment('compute-7.a.example'),
                model.CinderAttachment(HOST1.upper())))
        self.assertIs(True, engine.export_orphaned(
            attached, exports['compute-7.b.example']))
        self.assertIs(False, engine.export_orphaned(attached,
                                                    exports[HOST1]))
        # Where Cinder shows the initiator, it ties the server too.
        by_iqn = dataclasses.replace(attached, attachments=(
            model.CinderAttachment('elsewhere', initiators=frozenset(
                [scn.initiator('compute-7.b.example')])),))
        self.assertIs(False, engine.export_orphaned(
            by_iqn, exports['compute-7.b.example']))


class LookUpTest(LeftHandTestCase):

    def test_find_volume_uses_the_name_id(self):
        with self.driver() as d:
            self.assertEqual(V1, d.find_volume(V1).uuid)
            self.assertEqual('volume-%s' % V2_KEY, d.find_volume(V2_KEY).name)
            self.assertIsNone(d.find_volume(V2))
            self.assertIsNone(d.find_volume(V3))
            self.assertEqual(C.REPLICA, d.find_volume(REP).object_class)

    def test_find_snapshot(self):
        with self.driver() as d:
            self.assertEqual('snapshot-%s' % S1,
                             d.find_snapshot(S1, V1).name)
            self.assertIsNone(d.find_snapshot(S3, V1))

    def test_find_group_snapshot_member_through_its_volume(self):
        member = 'snapshot-%s-1' % GS
        with self.driver() as d:
            found = d.find_snapshot(G2, V2_KEY, GS)
            self.assertEqual((member, None, GS, V2_KEY, C.CINDER),
                             (found.name, found.uuid, found.group_uuid,
                              found.parent_uuid, found.object_class))
            self.assertIsNone(d.find_snapshot(G2, V2_KEY))
            self.assertIsNone(d.find_snapshot(G2, V2_KEY, uid('lh:other')))
            self.assertIsNone(d.find_snapshot(G2, V3, GS))
            self.sim.remove(member)
            self.assertIsNone(d.find_snapshot(G2, V2_KEY, GS))

    def test_refresh_sees_changes(self):
        with self.driver() as d:
            objects = {o.name: o for o in d.list_objects().objects}
            export = objects['volume-%s@%s' % (V1, HOST1)]
            member = objects['snapshot-%s-1' % GS]
            volume = objects['volume-%s' % AO]
            self.assertEqual(export, d.refresh(export))
            self.assertEqual(member, d.refresh(member))
            self.assertEqual(volume, d.refresh(volume))
            self.sim.revoke('volume-%s' % V1, HOST1)
            self.sim.remove('volume-%s' % V2_KEY)
            self.sim.remove('volume-%s' % AO)
            self.assertIsNone(d.refresh(export))
            self.assertIsNone(d.refresh(member))
            self.assertIsNone(d.refresh(volume))
        self.assert_closed()


class FaultTest(LeftHandTestCase):
    """Every failure fails the listing with its cause, and logs out."""

    def assert_fails(self, error, *fragments, **options):
        e = self.assertRaises(error, self.listing, **options)
        for fragment in fragments:
            self.assertIn(fragment, str(e))
        self.assertNotIn(PASSWORD, str(e))
        return e

    def test_server_error_on_each_listing_call(self):
        for pattern, action in (
                (r'GET /lhos/volumes\?fields', 'list the volumes'),
                (r'GET /lhos/servers$', 'list the servers'),
                (r'GET /lhos/volumes/\d+\?', 'list the snapshots of')):
            self.sim.faults[:] = [Fault('error', pattern, status=503)]
            self.assert_fails(exception.ArrayResponseError, action,
                              'HTTP 503 SERVER_ERROR: Injected fault')
        self.assert_closed(logouts=3)

    def test_late_failure_after_some_snapshot_lists(self):
        self.sim.faults.append(
            Fault('error', r'GET /lhos/volumes/\d+\?', after=2))
        self.assert_fails(exception.ArrayResponseError, 'HTTP 500')
        self.assert_closed()

    def test_dropped_connection(self):
        self.sim.faults.append(Fault('drop', r'GET /lhos/servers'))
        self.assert_fails(exception.ArrayUnreachable,
                          'connection to the LeftHand API at %s failed while '
                          'trying to list the servers' % self.sim.url)
        self.assert_closed()

    def test_slow_answer_times_out(self):
        self.sim.faults.append(Fault('delay', r'GET /lhos/volumes\?',
                                     seconds=5))
        self.assert_fails(exception.ArrayUnreachable,
                          'did not answer within 0.5 s while trying to list '
                          'the volumes', hpelefthand_api_timeout='0.5')
        self.assert_closed()

    def test_expired_session_is_renewed_by_the_client(self):
        self.sim.faults.append(Fault('expire', r'GET /lhos/volumes/', after=2))
        self.assertEqual(EXPECTED, _rows(self.listing().objects))
        self.assertEqual(2, self.sim.logins)
        self.assert_closed()

    def test_expired_session_that_cannot_be_renewed(self):
        self.sim.faults.append(Fault('expire', r'GET /lhos/volumes/', after=2,
                                     lock_out=True))
        self.assert_fails(exception.ArrayAuthError, 'list the snapshots of',
                          'logging in again failed', 'HTTP 401', USER)
        self.assert_closed(logouts=0)   # the array dropped the session

    def test_session_expiring_before_logout(self):
        self.sim.faults.append(Fault('expire', r'DELETE /lhos/credentials'))
        self.listing()
        self.assertEqual(2, self.sim.logins)
        self.assert_closed()

    def test_wrong_password(self):
        wrong = 'Wr0ng-Passw0rd-xyz'
        logs = self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        e = self.assert_fails(
            exception.ArrayAuthError,
            'rejected the login of user %s: bad username or password' % USER,
            'HTTP 401 AUTHENTICATION_FAILED', hpelefthand_password=wrong)
        self.assertNotIn(wrong, str(e))
        self.assertNotIn(wrong, logs.output)
        self.assertNotIn('unsupported', str(e).lower())
        self.assert_closed(logouts=0)

    def test_password_echoed_by_the_array_is_masked(self):
        self.sim.faults.append(Fault(
            'error', 'POST /lhos/credentials', status=400,
            message='bad request {"password": "%s"}' % PASSWORD))
        e = self.assert_fails(exception.ArrayResponseError, 'log in',
                              'HTTP 400', '"password": "***"')
        self.assertNotIn(PASSWORD, str(e))

    def test_unreachable_port(self):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        url = 'http://127.0.0.1:%d/lhos' % port
        self.assert_fails(exception.ArrayUnreachable,
                          'connection to the LeftHand API at %s failed while '
                          'trying to log in' % url, 'Connection refused',
                          url=url)

    def test_login_server_error_is_not_reported_as_a_version(self):
        self.sim.faults.append(Fault('error', 'POST /lhos/credentials'))
        e = self.assert_fails(exception.ArrayResponseError, 'log in',
                              'HTTP 500')
        self.assertNotIn('version', str(e))

    def test_unknown_cluster_is_a_config_error_and_logs_out(self):
        self.assert_fails(exception.ConfigError, 'hpelefthand_clustername',
                          'no-such-cluster',
                          hpelefthand_clustername='no-such-cluster')
        self.assert_closed()

    def test_cluster_look_up_failure_logs_out(self):
        self.sim.faults.append(Fault('error', 'GET /lhos/clusters'))
        self.assert_fails(exception.ArrayResponseError, 'find cluster')
        self.assert_closed()

    def test_failed_look_up_raises(self):
        self.sim.faults.append(Fault('error', r'GET /lhos/snapshots\?name'))
        with self.driver() as d:
            self.assertRaises(exception.ArrayResponseError,
                              d.find_snapshot, S1, V1)
        self.assert_closed()


def _drop(key):
    def edit(doc):
        doc.pop(key, None)
        return doc
    return edit


def _set_members(key, value):
    def edit(doc):
        for member in doc['members']:
            member[key] = value
        return doc
    return edit


class AnswerShapeTest(LeftHandTestCase):
    """Answers of the wrong shape fail the pass; none reads as "absent"."""

    def assert_refused(self, edit, pattern, *fragments, call=None):
        self.sim.faults[:] = [Fault('edit', pattern, edit=edit, times=None)]
        with self.driver() as d:
            e = self.assertRaises(exception.ArrayResponseError,
                                  call or d.list_objects, *(
                                      (d,) if call else ()))
        for fragment in fragments:
            self.assertIn(fragment, str(e))
        self.assert_closed()

    def test_listing_collections_need_members_and_total(self):
        for pattern, what in ((r'GET /lhos/volumes\?fields', 'volumes'),
                              ('GET /lhos/servers', 'servers')):
            self.sim.logouts = 0
            self.assert_refused(_drop('members'), pattern,
                                "the %s without 'members'" % what)
            self.sim.logouts = 0
            self.assert_refused(_drop('total'), pattern,
                                "the %s without 'total'" % what)
            self.sim.logouts = 0
            self.assert_refused(
                lambda doc: dict(doc, total=doc['total'] + 1), pattern,
                'listed %d of' % (len(self.sim._volumes) if what == 'volumes'
                                  else len(self.sim._servers)))

    def test_volume_in_no_known_cluster_is_refused(self):
        for value in (None, ''):
            self.sim.logouts = 0
            self.assert_refused(
                _set_members('clusterName', value),
                r'GET /lhos/volumes\?fields', 'in no known cluster')

    def test_look_up_in_no_known_cluster_is_refused(self):
        def edit(doc):
            doc['clusterName'] = None
            return doc
        self.assert_refused(
            edit, r'GET /lhos/volumes\?name', 'in no known cluster',
            call=lambda d: d.find_volume(V1))

    def test_group_member_look_up_needs_members(self):
        def edit(doc):
            doc['snapshots']['resource'].pop('members')
            return doc
        self.assert_refused(
            edit, r'GET /lhos/volumes/\d+\?fields=snapshots',
            "without 'members'",
            call=lambda d: d.find_snapshot(G2, V2_KEY, GS))


class TLSTest(LeftHandTestCase):

    def setUp(self):
        super().setUp()
        pems = _self_signed_cert(self.useFixture(fixtures.TempDir()).path)
        if pems is None:
            self.skipTest('cryptography is not installed: no certificate '
                          'to serve HTTPS with')
        self.cert = pems[0]
        self.sim = self.start(sim_lefthand.LeftHandSimulator.from_scenario(
            self.scenario, 'lh1', username=USER, password=PASSWORD,
            tls=pems))

    def test_unknown_certificate_is_refused(self):
        e = self.assertRaises(exception.ArrayUnreachable, self.listing)
        self.assertIn('TLS certificate verification of the LeftHand API at '
                      '%s failed while trying to log in' % self.sim.url,
                      str(e))
        self.assertIn('driver_ssl_cert_path', str(e))
        self.assertEqual(0, self.sim.logins)

    def test_https_url_to_plain_http_is_a_protocol_mismatch(self):
        plain = self.start(sim_lefthand.LeftHandSimulator.from_scenario(
            self.scenario, 'lh1', username=USER, password=PASSWORD))
        e = self.assertRaises(
            exception.ArrayUnreachable, self.listing,
            url=plain.url.replace('http://', 'https://'))
        self.assertIn('protocol mismatch', str(e))
        self.assertIn('while trying to log in', str(e))
        self.assertNotIn('certificate', str(e))

    def test_ca_bundle(self):
        view = self.listing(driver_ssl_cert_path=self.cert)
        self.assertEqual(EXPECTED, _rows(view.objects))
        self.assert_closed()

    def test_insecure_switch_warns(self):
        logs = self.useFixture(fixtures.FakeLogger(level=logging.WARNING))
        self.useFixture(fixtures.WarningsCapture())   # urllib3's warnings
        view = self.listing(driver_ssl_cert_verify='false')
        self.assertEqual(EXPECTED, _rows(view.objects))
        self.assertIn('TLS certificate verification is disabled', logs.output)


class ConfigTest(LeftHandTestCase):

    def test_selected_by_cinder_volume_driver(self):
        backend = self.backend(
            reconciler_driver='',
            volume_driver='cinder.volume.drivers.hpe.hpe_lefthand_iscsi.'
                          'HPELeftHandISCSIDriver')
        self.assertIs(lefthand.LeftHandDriver, backend.driver_cls)

    def test_missing_options(self):
        e = self.assertRaises(exception.ConfigError, self.driver,
                              hpelefthand_password='',
                              hpelefthand_clustername='')
        self.assertIn('hpelefthand_password, hpelefthand_clustername',
                      str(e))

    def test_debug_logs_calls_but_no_secret(self):
        logs = self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        self.listing(hpelefthand_debug='true')
        self.assertIn('LeftHand list the volumes took', logs.output)
        self.assertNotIn(PASSWORD, logs.output)
        self.assertNotIn('Authorization', logs.output)

    def test_client_does_not_monkey_patch(self):
        self.listing()
        self.assertEqual('socket', socket.socket.__module__)
        self.assertEqual('threading', threading.Thread.__module__)
        eventlet = sys.modules.get('eventlet')
        if eventlet is not None:
            from eventlet import patcher
            for module in ('socket', 'thread', 'time', 'select', 'os'):
                self.assertFalse(patcher.is_monkey_patched(module), module)


class HostileAnswerTest(LeftHandTestCase):
    """An answer nested beyond any real one: refused before the client's
    own JSON parse, and the session closed.
    """

    def test_deep_answer(self):
        for pattern in (r'GET /lhos/clusters', r'GET /lhos/volumes\?fields',
                        r'GET /lhos/servers$'):
            self.sim.faults[:] = [Fault(
                'payload', pattern, payload=hostile.members(
                    hostile.nested_json()))]
            error, peak = hostile.peak_of(self.listing)
            self.assertIsInstance(error, bounded.LimitExceeded)
            self.assertIn('nested deeper than 64 levels', str(error))
            self.assertIn(self.sim.url, str(error))
            self.assertLess(peak, hostile.MAX_PEAK)
        self.assertEqual(0, self.sim.open_sessions)

    def test_oversized_answer(self):
        self.useFixture(fixtures.MockPatch(
            'reconciler.drivers.bounded.MAX_BYTES', 1000))
        self.sim.faults[:] = [Fault('payload', r'GET /lhos/servers$',
                                    payload=b'[' + b'0,' * 1000 + b'0]')]
        error = self.assertRaises(bounded.LimitExceeded, self.listing)
        self.assertIn('larger than 1000 bytes', str(error))
