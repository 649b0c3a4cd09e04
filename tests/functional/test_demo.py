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

"""README's first command keeps working: the demo finds what it planted."""

import os
import re
import subprocess
import sys

import fixtures
from oslotest import base

from reconciler.simulators import rabbitmq
from reconciler.simulators import scenario as scn
import tests
from tests import servers

PLANTED = ('restored-leftover', 'crashed-delete-snap', 'lost-on-array',
           'lost-snap', 'lh-restored-leftover', 'lh-lost',
           '3par-restored-leftover', '3par-crashed-delete-snap', '3par-lost',
           'nec-restored-leftover', 'nec-crashed-delete-snap', 'nec-lost',
           'stuck-creating', 'stuck-delete')
LEFT_LUN = '36001405aaaaaaaaaaaaaaaaaaaaaaaa2'    # see reconciler/cmd/demo.py
ATTACHED_LUN = '36001405aaaaaaaaaaaaaaaaaaaaaaaa1'
FAULTY_MAP = '36001405aaaaaaaaaaaaaaaaaaaaaaaa4'
FAILING_MAP = '36001405aaaaaaaaaaaaaaaaaaaaaaaa5'  # attached: an alert
STUCK_LUN = '36001405aaaaaaaaaaaaaaaaaaaaaaaa3'  # reconciler/cmd/demo_cloud.py
NEVER = ('being-created', 'being-deleted', 'migrated', 'handed-back',
         'other-1', 'other-2', 'nec-db', '3par-db', 'lh-db',
         '3par-migrating', 'nec-migrating', 'shelved-data')


class DemoTest(base.BaseTestCase):

    def test_demo_reports_the_planted_orphans_and_nothing_else(self):
        self.useFixture(fixtures.Timeout(180, gentle=True))
        servers.find('rabbitmq-server', rabbitmq.SERVER)  # Cinder notifies
        workdir = self.useFixture(fixtures.TempDir()).path
        out = subprocess.run(
            [sys.executable, '-m', 'reconciler.cmd.demo', '--workdir',
             workdir, '--allinone',
             os.path.join(tests.ROOT, 'tests', 'incinder', 'allinone.py')],
            capture_output=True, text=True, timeout=170, check=True).stdout
        findings = out.split('=== Confirmed findings')[1].split(
            '=== The same findings through the REST API')[0]
        for label in PLANTED:
            self.assertIn(scn.uid(label), findings, label)
        for label in NEVER:
            self.assertNotIn(scn.uid(label), findings, label)
        # Stale temporaries, listed by array name (the demo confirms them
        # at once): 3par-old-migration's tsv-, nec-snap's _l; never those
        # of the migrations under way.
        self.assertEqual(2, findings.count('| stale_temporary '))
        self.assertRegex(findings, r'\| 3par1 +\| stale_temporary +\| '
                         r'volume +\| tsv-')
        self.assertRegex(findings, r'\| nec1 +\| stale_temporary +\| '
                         r'snapshot +\| LX:\w+_l ')
        # openstack orphan list, through Keystone and the API, lists
        # exactly the confirmed findings.
        listed = out.split('=== The same findings through the REST API')[
            1].split('=== What')[0]
        # (Resource ID: the manage table's fifth column, after ID,
        # Backend, Kind and Resource Type; the fourth of the one asked
        # with -c.)
        self.assertEqual(
            sorted(line.split('|')[5].strip() for line in findings.split(
                '\n') if line.startswith('| ') and '| Backend ' not in line),
            sorted(line.split('|')[4].strip() for line in listed.split(
                '\n') if line.startswith('| ') and '| ID ' not in line))
        # Every confirmed finding but the foreign and unmanaged ones (not
        # in notify_kinds) was announced once.
        announced = [line for line in findings.splitlines()
                     if line.startswith('| ') and '| foreign ' not in line
                     and '| unmanaged ' not in line
                     and '| Backend ' not in line]
        notified = out.split('=== Notifications received')[1]
        self.assertEqual(len(announced), notified.split('\n\n')[0].count(
            'reconciler.orphan.detected'))
        self.assertNotIn(' failed', out.split('=== Notifications')[0])
        # The host side, on compute-9: the LUN a detach left, the map a
        # detach left with every path failed, an attached volume's map
        # with every path failed, a session without its LUN, an
        # attachment without its device; each confirmed by its second
        # sighting, and nothing else.
        host = r'\| host:compute-9 +\| '
        self.assertRegex(findings, host + r'leftover_device +\| device +\| '
                         + LEFT_LUN)
        self.assertRegex(findings, host + r'faulty_map +\| multipath +\| '
                         + FAULTY_MAP)
        self.assertRegex(findings, host + r'faulty_attached +\| multipath '
                         r'+\| ' + FAILING_MAP)
        self.assertRegex(findings, host + r'stale_session +\| session +\| '
                         r'iqn\.2010-10\.org\.openstack:volume-%s,'
                         % scn.uid('host-stale-session'))
        missing = re.search(
            r'\n    attachment (\S+) +iqn\S+:volume-%s '
            % scn.uid('host-missing-device'), out).group(1)
        self.assertRegex(findings, host + r'missing_device +\| attachment '
                         r'+\| ' + missing)
        # (And the LUN of stuck-delete, which the cloud runbook clears.)
        self.assertEqual(6, len(re.findall(host, findings)))
        self.assertNotIn(ATTACHED_LUN, out)
        self.assertNotIn(scn.uid('host-attached'), findings)
        first, second = out.split('=== Pass 1 ')[1].split('=== Notifications')[
            0].split('=== Pass 2 ')
        for line in ('leftover_device device ' + LEFT_LUN,
                     'faulty_map multipath ' + FAULTY_MAP,
                     'faulty_attached multipath ' + FAILING_MAP,
                     'stale_session session iqn.2010-10.org.openstack:'
                     'volume-%s,127.0.0.1:3260'
                     % scn.uid('host-stale-session'),
                     'missing_device attachment ' + missing):
            self.assertIn(line + ': new -> suspected', first)
            self.assertIn(line + ': suspected -> confirmed', second)
        # The alert says the instance holds the map; the session, where
        # it goes.
        self.assertRegex(second, r'\n    multipath +/dev/dm-1 .* IN USE '
                         r'\(open count 1\)\n')
        self.assertRegex(second, r'\n    session +iqn\S+ +portal '
                         r'127\.0\.0\.1:3260 +volume %s\n'
                         % scn.uid('host-stale-session'))
        # Cinder unmanaged a volume: its object stays on fake1's array, and
        # the events the listener recorded make it unmanaged, never an
        # orphan, named with the event (Cinder's message id) in each pass.
        unmanaged = scn.uid('unmanaged-in-cinder')
        message = re.search(r'\nrecorded: volume\.unmanage\.end of '
                            r'demo-host@fake1#pool1, event \d+ \(Cinder '
                            r'message (\S+)\)', out).group(1)
        finding = re.search(r'\| +(\d+) \| fake1 +\| unmanaged +\| volume '
                            r'+\| %s ' % unmanaged, findings).group(1)
        self.assertEqual(1, findings.count('| unmanaged '))
        pass1, pass2 = out.split('=== Pass 1 ')[1].split('=== Pass 2 ')
        for text in (pass1, pass2):
            self.assertIn("unmanaged (by Cinder's events alone): 1\n    "
                          'volume   %s  (volume-%s)  Cinder message %s\n'
                          % (unmanaged, unmanaged, message), text)
        self.assertIn('unmanaged volume %s: suspected -> confirmed'
                      % unmanaged, pass2)
        # Remediation: a plan, then one adoption and one removed export that
        # the next pass resolves.
        plan, applied = out.split('=== Remediation plan for fake1')[1].split(
            '=== Applied: adopt')
        self.assertIn('5 step(s)', plan)
        self.assertEqual(5, plan.count('-> planned'))
        self.assertIn('not eligible: finding %s: unmanaged objects are '
                      'reported, never acted on' % finding, plan)
        self.assertNotIn(unmanaged, plan)
        self.assertIn('-> done: managed as', applied)
        self.assertIn('-> done: removed volume-%s@compute-3'
                      % scn.uid('scratch'), applied)
        after = out.split('=== The next pass over fake1')[1]
        self.assertIn('array_only volume %s: confirmed -> resolved'
                      % scn.uid('restored-leftover'), after)
        self.assertIn('orphan_export export volume-%s@compute-3: confirmed '
                      '-> resolved' % scn.uid('scratch'), after)
        # On compute-9: the disconnects of the leftover LUN and of the
        # faulty map planned, applied by os-brick's iSCSI connector, and
        # the host pass resolves them; the alert, the session and the
        # missing device are reported, never acted on.
        host_plan, host_applied = out.split(
            '=== Remediation plan for compute-9')[1].split('=== Applied on')
        self.assertIn('2 step(s)', host_plan)
        self.assertEqual(2, host_plan.count('-> planned'))
        self.assertIn('leftover_device device %s: disconnect /dev/sdc'
                      % LEFT_LUN, host_plan)
        self.assertIn('faulty_map multipath %s: disconnect /dev/dm-0'
                      % FAULTY_MAP, host_plan)
        self.assertEqual(3, host_plan.count('not eligible: '))
        for why in ("still attached here: only Nova's detach",
                    'sessions are logged out only with a LUN',
                    'nothing on this host to disconnect'):
            self.assertIn(why, host_plan)
        self.assertIn('applied 2 of 2 step(s)', host_applied)
        self.assertIn('-> done: disconnected sdc (os-brick', host_applied)
        self.assertIn('tee -a /sys/block/sdc/device/delete', host_applied)
        self.assertIn('--logout', host_applied)
        # The faulty map: its flush fails (no path answers), os-brick
        # deletes both paths and the map goes after them.
        self.assertIn('-> done: disconnected sde, sdf, dm-0 (os-brick, '
                      'force=True; forced past: ProcessExecutionError: '
                      'multipath -f mpatha exited 1: mpatha: map in use)',
                      host_applied)
        self.assertIn('multipathd del map mpatha', host_applied)
        steps = host_applied.split('=== The next pass')[0]
        for dev in ('sdb', 'sdg', 'sdh', 'dm-1'):
            self.assertNotIn('/dev/%s' % dev, steps)
            self.assertNotIn('/sys/block/%s/' % dev, steps)
        self.assertNotIn(scn.uid('host-stale-session'), steps)
        # ... by its agent, which the controller asked over RPC, and whose
        # configuration holds neither a database nor Cinder credentials.
        self.assertIn('commands on compute-9: ', host_applied)
        # Two passes, one after the cloud runbook, one after this.
        self.assertEqual(4, out.count('compute-9 (cinder-reconciler-agent): '
                                      'scanned and reported: recorded'))
        with open(os.path.join(workdir, 'cinder-reconciler-agent.conf')) as f:
            sections = {line.strip() for line in f if line.startswith('[')}
        self.assertEqual({'[DEFAULT]', '[host_scan]'}, sections)
        host_after = out.split('=== The next pass over compute-9')[1]
        for line in ('leftover_device device ' + LEFT_LUN,
                     'faulty_map multipath ' + FAULTY_MAP):
            self.assertIn(line + ': confirmed -> resolved', host_after)
        self.assertEqual(2, host_after.split('=== The audit')[0].count(
            ' -> '))
        self.assertIn('consistent: 2 attachments, 1 devices', host_after)
        self.assertIn('faulty maps of attached volumes: 1', host_after)
        self.assertIn('sessions without devices: 1', host_after)
        self.assertIn('attached without a device: 1', host_after)
        # The cloud scope: a create stuck for two days, the volumes of the
        # project deleted in Keystone, the undeletable volume.
        for label, kind in (('stuck-creating', 'stuck_status'),
                            ('lost-on-array', 'orphan_project'),
                            ('lh-lost', 'orphan_project'),
                            ('stuck-delete', 'stuck_deleting')):
            self.assertRegex(findings, r'\| cloud +\| %s +\| volume +\| %s'
                             % (kind, scn.uid(label)))
        # Against the demo's Nova: the attachment of a server Nova
        # deleted, and the mapping of a volume with no Cinder attachment;
        # never the shelved-offloaded server's reserved attachment.
        cloud_pass = out.split('=== Pass 2 ')[1].split('=== Notifications')[0]
        stale = re.search(
            r'\n    attachment (\S+) +volume %s, server \S+: instance '
            r'deleted in Nova' % scn.uid('nova-forgot'), cloud_pass).group(1)
        self.assertRegex(findings, r'\| cloud +\| stale_attachment +\| '
                         r'attachment +\| %s' % stale)
        self.assertRegex(findings, r'\| cloud +\| dangling_bdm +\| bdm +\| '
                         r'%s/%s' % (scn.uid('vm-bdm'),
                                     scn.uid('bdm-dangling')))
        self.assertEqual(1, findings.count('| stale_attachment '))
        self.assertEqual(1, findings.count('| dangling_bdm '))
        self.assertIn('not compared: attachment reserved for a shelved or '
                      'unread instance=1', cloud_pass)
        # The plan: the stale attachment's detach and the runbook; the
        # mapping left to Nova, with its nova-manage command. Applied, the
        # next passes resolve the attachment and the runbook's findings.
        cloud_plan, applied = out.split(
            '=== Remediation plan for the cloud scope')[1].split(
            '=== Applied: the stale attachment deleted')
        self.assertEqual(2, cloud_plan.count('-> planned'))
        self.assertIn('stale_attachment attachment %s: detach' % stale,
                      cloud_plan)
        self.assertIn('stuck_deleting volume %s: runbook'
                      % scn.uid('stuck-delete'), cloud_plan)
        self.assertIn('nova-manage volume_attachment show %s %s' % (
            scn.uid('vm-bdm'), scn.uid('bdm-dangling')), cloud_plan)
        self.assertIn("-> done: deleted attachment %s (Cinder's attachments "
                      'API)' % stale, applied)
        self.assertIn("-> done: reset to error and deleted through Cinder's "
                      'API', applied)
        # The LUN was disconnected by compute-9's agent, audited there.
        audit = applied.split('=== The audit (')[1]
        self.assertRegex(audit, r'disconnect .*commands on compute-9: ')
        self.assertRegex(audit, r'\| detach +\| %s ' % stale)
        resolved = applied.split('=== The next passes')[1].split(
            '=== The audit (')[0]
        for line in ('orphan_export export volume-%s@compute-9'
                     % scn.uid('stuck-delete'),
                     'leftover_device device %s' % STUCK_LUN,
                     'stuck_deleting volume %s' % scn.uid('stuck-delete'),
                     'stale_attachment attachment %s' % stale):
            self.assertIn(line + ': confirmed -> resolved', resolved)
