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

"""The NEC driver when SSH, the array or its output go wrong.

Every failure is an ArrayError whose message names the cause and no secret,
and arrives within the configured timeout.
"""

import contextlib
import logging
import os
import threading
import time
import xml.etree.ElementTree as ET

import fixtures
import paramiko

from reconciler.drivers import bounded
from reconciler import exception
from reconciler import model
from reconciler.simulators import nec
from reconciler.simulators.scenario import uid
from tests import nec_fixtures
from tests.unit.drivers import hostile
from tests.unit.drivers import test_nec

R = model.ResourceType

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE REQUEST [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<REQUEST><CMD_REQUEST>&g;</CMD_REQUEST></REQUEST>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE REQUEST [<!ENTITY leak SYSTEM "file:///etc/passwd">]>
<REQUEST><CMD_REQUEST><CHAPTER name="Logical Disk">
<OBJECT name="Logical Disk"><SECTION name="LD Detail Information">
<UNIT name="LD Name">&leak;</UNIT></SECTION></OBJECT></CHAPTER>
</CMD_REQUEST></REQUEST>
"""
FAILED_REQUEST = b"""<REQUEST><CMD_REQUEST>
<RETURN_MSG>iSM11770: Configuration is being changed</RETURN_MSG>
<RETURN_CODE>4</RETURN_CODE></CMD_REQUEST></REQUEST>
"""


EMPTY_REQUEST = b"""<REQUEST>
<CMD_REQUEST cmd_name="iSMquery" arg="-cinder -xml -all">
<RETURN_MSG>Command Completed Successfully!!</RETURN_MSG>
<RETURN_CODE>0</RETURN_CODE></CMD_REQUEST></REQUEST>
"""
QUERY = 'iSMquery -cinder -xml -all'


def edited(array, chapter, empty=False):
    """The array's document without the chapter, or with it emptied."""
    root = ET.fromstring(array.xml(QUERY))
    request = root.find('./CMD_REQUEST')
    found = request.find("./CHAPTER[@name='%s']" % chapter)
    if empty:
        for child in list(found):
            found.remove(child)
    else:
        request.remove(found)
    return ET.tostring(root)


class NecFaultTest(test_nec.NecTestCase):

    def setUp(self):
        super().setUp()
        self.array.add_ld(test_nec.NAMES.volume(uid('vol')), 0)
        self.log = self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))

    def assertFails(self, error_class, texts, timeout=8, **overrides):
        """The listing raises ``error_class`` mentioning ``texts``, quickly."""
        start = time.monotonic()
        error = self.assertRaises(error_class, self.listing, **overrides)
        self.assertLess(time.monotonic() - start, timeout)
        for text in texts:
            self.assertIn(text, str(error))
        self.assertNotIn(nec_fixtures.PASSWORD, str(error))
        self.assertNotIn(nec_fixtures.PASSWORD, self.log.output)
        return error

    def test_wrong_password(self):
        wrong = 'Wr0ng-' + nec_fixtures.PASSWORD
        error = self.assertFails(exception.ArrayAuthError,
                                 ('refused', "'admin'", 'nec_ismcli_password'),
                                 nec_ismcli_password=wrong)
        self.assertNotIn(wrong, str(error))
        self.assertNotIn(wrong, self.log.output)

    def test_private_key_login(self):
        key = paramiko.ECDSAKey.generate()
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 'id')
        key.write_private_key_file(path)
        self.simulator.authorize('cinder', key)
        self.assertEqual(1, len(self.listing(
            nec_ismcli_user='cinder', nec_ismcli_password=None,
            nec_ismcli_privkey=path).objects))
        self.simulator.authorized_keys.clear()
        self.assertFails(exception.ArrayAuthError, ('refused',),
                         nec_ismcli_user='cinder', nec_ismcli_password=None,
                         nec_ismcli_privkey=path)
        self.assertFails(exception.ArrayAuthError,
                         ('nec_ismcli_privkey', path + '.missing'),
                         nec_ismcli_password=None,
                         nec_ismcli_privkey=path + '.missing')

    def test_unknown_host_key_is_refused(self):
        empty = os.path.join(self.useFixture(fixtures.TempDir()).path, 'kh')
        open(empty, 'w').close()
        self.assertFails(exception.ArrayAuthError, (
            'not in %s' % empty, self.simulator.host_key.fingerprint,
            'nec_ssh_insecure_host_key'), nec_ssh_known_hosts_file=empty)
        self.assertFails(exception.ArrayAuthError,
                         ('cannot read known_hosts file', empty + '.missing'),
                         nec_ssh_known_hosts_file=empty + '.missing')
        self.assertEqual([], self.simulator.commands)

    def test_changed_host_key_is_refused(self):
        keys = paramiko.HostKeys(self.simulator.known_hosts)
        impostor = paramiko.ECDSAKey.generate()
        for host in keys.keys():
            keys.add(host, impostor.get_name(), impostor)
        keys.save(self.simulator.known_hosts)
        self.assertFails(exception.ArrayAuthError, (
            'differs', self.simulator.host_key.fingerprint))
        self.assertEqual([], self.simulator.commands)

    def test_insecure_opt_out_accepts_any_key_and_warns(self):
        empty = os.path.join(self.useFixture(fixtures.TempDir()).path, 'kh')
        view = self.listing(nec_ssh_known_hosts_file=empty,
                            nec_ssh_insecure_host_key='true')
        self.assertEqual(1, len(view.objects))
        self.assertIn('host key verification is disabled', self.log.output)
        self.assertFalse(os.path.exists(empty))

    def test_unreachable_array(self):
        self.simulator.stop()
        self.assertFails(exception.ArrayUnreachable,
                         ('127.0.0.1:%d' % self.simulator.port,
                          'cannot open an SSH session'))

    def test_command_faults(self):
        for fault, error_class, texts in (
                (nec.Fault.DROP, exception.ArrayUnreachable,
                 ('closed before the command finished',)),
                (nec.Fault.TRUNCATE, exception.ArrayResponseError,
                 ('not complete, well-formed XML',)),
                (nec.Fault.MALFORMED, exception.ArrayResponseError,
                 ('not complete, well-formed XML',)),
                (nec.Fault.EXIT, exception.ArrayResponseError,
                 ('exited with status 1', 'iSM11100'))):
            self.simulator.inject(fault)
            self.assertFails(error_class, texts)

    def test_stalled_command_times_out(self):
        # Never accepted, then accepted but never answered.
        self.simulator.inject(nec.Fault.STALL)
        self.assertFails(exception.ArrayUnreachable,
                         ('did not complete within 2s',), timeout=4,
                         nec_ismcli_timeout='2')
        self.simulator.inject(None)
        self.simulator.delay = 60
        self.assertFails(exception.ArrayUnreachable,
                         ('did not complete within 2s',), timeout=4,
                         nec_ismcli_timeout='2')

    def test_hostile_or_failed_documents_are_refused(self):
        for payload, texts in (
                (BILLION_LAUGHS, ('DTD', 'refused')),
                (EXTERNAL_ENTITY, ('DTD', 'refused')),
                (FAILED_REQUEST, ('RETURN_CODE 4', 'iSM11770')),
                (b'<html>maintenance</html>', ('not an iSMCLI',)),
                (b'', ('not complete',))):
            self.simulator.inject(nec.Fault.PAYLOAD, payload=payload)
            error = self.assertFails(exception.ArrayResponseError, texts,
                                     timeout=3)
            self.assertNotIn('root:', str(error))

    def test_slow_banner_is_a_timeout(self):
        """A server that takes longer than nec_ismcli_timeout to say its
        SSH banner: paramiko's "No existing session" is not the cause.
        """
        self.simulator.banner_delay = 30
        error = self.assertFails(exception.ArrayUnreachable, (
            'timed out', 'had not sent its SSH banner after 1s',
            'nec_ismcli_timeout'), timeout=4, nec_ismcli_timeout='1')
        self.assertNotIn('No existing session', str(error))
        self.assertEqual([], self.simulator.commands)

    def test_documents_in_other_encodings_are_named(self):
        """Cinder's NEC driver reads iSMCLI's output as UTF-8; a Shift_JIS
        or EUC-JP one, declared or not, fails in one line that says so.
        """
        self.array.add_ld('LX:\u30d0\u30c3\u30af\u30a2\u30c3\u30d701', 0)
        text = self.array.xml(QUERY).decode('utf-8')
        for codec, declared in (('shift_jis', 'Shift_JIS'),
                                ('euc_jp', 'EUC-JP')):
            undeclared = text.encode(codec)
            for payload, texts in (
                    (undeclared, ('is not UTF-8', 'at line 26',
                                  'Shift_JIS', 'UTF-8 only')),
                    (b'<?xml version="1.0" encoding="%s"?>\n%s' % (
                        declared.encode(), undeclared),
                     ('declares the encoding %s' % declared,
                      'UTF-8 only'))):
                self.simulator.inject(nec.Fault.PAYLOAD, payload=payload)
                error = self.assertFails(exception.ArrayResponseError, texts)
                self.assertNotIn('\n', str(error))
        self.simulator.inject(None)
        self.assertEqual(2, len(self.listing().objects))

    def test_names_holding_exit_status_are_not_the_status_line(self):
        """Only the legacy CLI's own status line goes: an LD and an LD
        set's initiator named after it are read like any other.
        """
        self.array.add_ld('LX:ExitStatus_bak01', 0)
        vol = test_nec.NAMES.volume(uid('exported'))
        self.array.add_ld(vol, 0)
        ldset = self.array.add_ldset(
            'LX:ExitStatusSet', 'iSCSI',
            ['iqn.2024-01.com.example:ExitStatus:0'])
        self.array.map(vol, None, ldset=ldset)
        for command in ('false', 'true'):
            view = self.listing(nec_queryconfig_view=command)
            self.assertIn('LX:ExitStatus_bak01',
                          [o.name for o in view.objects])
            [export] = [o for o in view.objects if o.kind == R.EXPORT]
            self.assertEqual('%s@LX:ExitStatusSet' % vol, export.name)
            self.assertEqual({'iqn.2024-01.com.example:exitstatus:0'},
                             export.initiators)
        self.assertEqual('clioutmsg xml; iSMview -all',
                         self.simulator.commands[-1])

    def test_missing_unit_is_an_error_not_a_shorter_listing(self):
        good = self.array.xml('iSMquery -cinder -xml -all')
        self.simulator.inject(nec.Fault.PAYLOAD, payload=good.replace(
            b'<UNIT name="Pool No.(h)">0000</UNIT>\n     <UNIT name="Purpose"',
            b'<UNIT name="Purpose"'))
        self.assertFails(exception.ArrayResponseError,
                         ('lacks UNIT "Pool No.(h)" in logical disk #0',))

    def test_missing_chapter_is_an_error_not_an_empty_list(self):
        for chapter in ('Logical Disk', 'Pool', 'Access Control'):
            payload = edited(self.array, chapter)
            self.simulator.inject(nec.Fault.PAYLOAD, payload=payload)
            self.assertFails(exception.ArrayResponseError,
                             ('lacks CHAPTER "%s"' % chapter,))
            # A look-up answered so fails too: it does not read "absent".
            self.simulator.inject(nec.Fault.PAYLOAD, after=1,
                                  payload=payload)
            with self.driver() as driver:
                self.assertEqual(1, len(driver.list_objects().objects))
                error = self.assertRaises(exception.ArrayResponseError,
                                          driver.find_volume, uid('vol'))
                self.assertIn('lacks CHAPTER "%s"' % chapter, str(error))

    def test_empty_chapters_are_arrays_without_such_objects(self):
        self.array.map(test_nec.NAMES.volume(uid('vol')), 'compute-1')
        self.simulator.inject(nec.Fault.PAYLOAD, payload=edited(
            self.array, 'Access Control', empty=True))
        self.assertEqual([R.VOLUME], [o.kind for o in self.listing().objects])
        # An empty Logical Disk chapter lists nothing; the pass's
        # plausibility rules (manager.check_plausible) judge that.
        self.simulator.inject(nec.Fault.PAYLOAD, payload=edited(
            self.array, 'Logical Disk', empty=True))
        self.assertEqual((), self.listing().objects)
        # Without pools, nothing of this backend can be listed.
        self.simulator.inject(nec.Fault.PAYLOAD, payload=edited(
            self.array, 'Pool', empty=True))
        self.assertFails(exception.ArrayResponseError, ('no pool 0, 1',))

    def test_lookup_answered_with_an_empty_document_fails(self):
        """Issue 12 item 2: "not found" in it must not read as "gone"."""
        for payload, text in (
                (EMPTY_REQUEST, 'lacks CHAPTER'),
                (edited(self.array, 'Logical Disk', empty=True),
                 'answered a look-up with 0 LDs in the pools of this '
                 'backend where its listing held 1')):
            self.simulator.inject(nec.Fault.PAYLOAD, after=1,
                                  payload=payload)
            with self.driver() as driver:
                listed = driver.list_objects().objects
                # Alone, or in a round sharing one read: the same checks.
                for round in (contextlib.nullcontext,
                              driver.lookup_round):
                    with round():
                        for lookup in (
                                lambda: driver.find_volume(uid('vol')),
                                lambda: driver.find_snapshot(uid('s'),
                                                             uid('vol')),
                                lambda: driver.refresh(listed[0])):
                            error = self.assertRaises(
                                exception.ArrayResponseError, lookup)
                            self.assertIn(text, str(error))

    def test_lookup_without_our_pools_fails(self):
        with self.driver() as driver:
            driver.list_objects()
            self.array.pools.pop(1)
            error = self.assertRaises(exception.ArrayResponseError,
                                      driver.find_volume, uid('gone'))
            self.assertIn('no pool 1', str(error))

    def test_connection_renewed_before_paramiko_rekeys_it(self):
        # A re-key paramiko starts on a busy session deadlocks (paramiko
        # issue 822): a session that re-lists many times must not get there.
        self.useFixture(fixtures.MonkeyPatch(
            'paramiko.packet.Packetizer.REKEY_BYTES', 64 * 1024))
        for i in range(100):
            self.array.add_ld(test_nec.NAMES.volume(uid('v%d' % i)), 0)
        self.assertGreater(len(self.array.xml('iSMquery -cinder -xml -all')),
                           32 * 1024)
        with self.driver(nec_ismcli_timeout='5') as driver:
            for _ in range(4):
                self.assertEqual(101, len(driver.list_objects().objects))
        self.assertEqual(4, self.simulator.connections)

    def test_fault_after_the_listing_fails_the_lookup(self):
        self.simulator.inject(nec.Fault.EXIT, after=1)
        with self.driver() as driver:
            self.assertEqual(1, len(driver.list_objects().objects))
            self.assertRaises(exception.ArrayResponseError,
                              driver.find_volume, uid('vol'))
            self.simulator.inject(None)
            self.simulator.disconnect()
            error = self.assertRaises(exception.ArrayUnreachable,
                                      driver.find_volume, uid('vol'))
            # 'the SSH connection closed' or 'Connection reset by peer'
            self.assertIn('`iSMquery -cinder -xml -all` failed: ', str(error))

    def test_deep_document_is_refused_cheaply(self):
        self.simulator.inject(nec.Fault.PAYLOAD, payload=hostile.nested_xml())
        error, peak = hostile.peak_of(self.listing)
        self.assertIsInstance(error, bounded.LimitExceeded)
        self.assertIn('nested deeper than 64 levels', str(error))
        self.assertLess(peak, hostile.MAX_PEAK)


class NecSharedArrayTest(test_nec.NecTestCase):
    """Backends sharing an array send it one command at a time."""

    def list_concurrently(self, **per_backend):
        groups = {name: self.nec.options(**overrides)
                  for name, overrides in per_backend.items()}
        drivers = [b.create_driver() for b in test_nec.make_backend(
            self, groups)]
        self.simulator.delay = 0.3
        errors = []

        def run(driver):
            try:
                with driver:
                    for _ in range(2):
                        driver.list_objects()
            except Exception as e:     # reported below
                errors.append(e)

        threads = [threading.Thread(target=run, args=(d,)) for d in drivers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        self.assertEqual([], errors)
        self.assertEqual(2 * len(drivers), len(self.simulator.commands))
        return self.simulator.max_active

    def test_same_array_is_serialised(self):
        self.array.add_ld(test_nec.NAMES.volume(uid('a')), 0)
        self.array.add_ld(test_nec.NAMES.volume(uid('b')), 2)
        self.assertEqual(1, self.list_concurrently(
            a={'nec_pools': '0'}, b={'nec_pools': '2'}))

    def test_different_arrays_run_side_by_side(self):
        # Proves the test above can fail: two names, two locks.
        self.assertEqual(2, self.list_concurrently(
            a={'nec_diskarray_name': 'array-a'},
            b={'nec_diskarray_name': 'array-b'}))
