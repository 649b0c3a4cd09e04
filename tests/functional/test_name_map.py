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

"""``cinder-reconciler-manage name-map`` on the demo's NEC and 3PAR arrays."""

import contextlib
import json
import os
import subprocess
import sys

import fixtures
from oslotest import base

from reconciler.drivers import hpe3par_names
from reconciler.drivers import nec_names
from reconciler import name_map as local_name_map
from reconciler.simulators import arrays
from reconciler.simulators import scenario as scn
from tests.functional import fixtures as local_fixtures

# A known pair from Cinder's NEC driver documentation.
NEC_PAIR = ('52f22665-a60c-42d2-8918-5d950ee88136',
            'LX:2WW25PmMhDCbR7BP0i79qo')

CONF = """
[DEFAULT]
host = demo-host
enabled_backends = nec1,3par1

{groups}
"""


class NameMapTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.demo = self.useFixture(local_fixtures.DemoCloud(CONF, groups=''))
        stack = contextlib.ExitStack()
        self.addCleanup(stack.close)
        groups = ''
        for name in ('nec1', '3par1'):
            options = arrays.start(self.demo.scenario, name, self.demo.tmp,
                                   stack)
            groups += '\n[%s]\n' % name + ''.join(
                '%s = %s\n' % kv for kv in options.items())
        self.demo.write_conf(groups=groups)

    def name_map(self, *args):
        return json.loads(self.demo.manage('name-map', *args, '--format',
                                           'json').stdout)

    def test_both_ways(self):
        uuid, ld = NEC_PAIR
        volume, snapshot = self.name_map('nec1', uuid)
        self.assertEqual(('volume', ld), (volume['type'],
                                          volume['array_name']))
        self.assertEqual('snapshot', snapshot['type'])
        for name in (ld, ld[3:]):      # with or without the OS type
            [row] = self.name_map('nec1', name)
            self.assertEqual((uuid, 'cinder-named'),
                             (row['cinder_id'], row['class']))
        vv = hpe3par_names.volume_name(uuid)
        self.assertEqual(vv, self.name_map('3par1', uuid)[0]['array_name'])
        [row] = self.name_map('3par1', vv)
        self.assertEqual(uuid, row['cinder_id'])
        [row] = self.name_map('3par1', 'not-cinder')
        self.assertEqual(('foreign', None), (row['class'], row['cinder_id']))

    def test_migrated_volume_maps_to_its_name_id(self):
        # The array object of a migrated volume is named after name_id.
        migrated = self.demo.scenario.volume(scn.uid('3par-migrated'))
        volume, snapshot = self.name_map('3par1', migrated.id)
        self.assertEqual(hpe3par_names.volume_name(migrated.name_id),
                         volume['array_name'])
        self.assertIn('migrated', volume['note'])
        self.assertIn(migrated.name_id, volume['note'])
        self.assertEqual(hpe3par_names.snapshot_name(migrated.id),
                         snapshot['array_name'])
        # Its name_id names the same object, and says whose it is.
        [volume, _] = self.name_map('3par1', migrated.name_id)
        self.assertEqual(hpe3par_names.volume_name(migrated.name_id),
                         volume['array_name'])
        self.assertIn(migrated.id, volume['note'])
        # The table says it too.
        table = self.demo.manage('name-map', '3par1', migrated.id).stdout
        self.assertIn('migrated: named after name_id', table)

    def test_all_lists_every_cinder_object_with_its_ld(self):
        rows = {r['cinder_id']: r for r in self.name_map('nec1', '--all')}
        names = nec_names.LDNames()
        db, lost = (self.demo.scenario.volume(scn.uid(label))
                    for label in ('nec-db', 'nec-lost'))
        self.assertEqual((names.volume(db.id), True),
                         (rows[db.id]['array_name'], rows[db.id]['on_array']))
        self.assertFalse(rows[lost.id]['on_array'])
        self.assertEqual({'volume', 'snapshot'},
                         {r['type'] for r in rows.values()})

    def test_unknown_backend(self):
        result = self.demo.manage('name-map', 'nope', 'x', check=False)
        self.assertEqual(1, result.returncode)
        self.assertIn('nope', result.stderr)


OFFLINE_CONF = """
[DEFAULT]
host = demo-host
enabled_backends = nec1

[nec1]
reconciler_driver = nec
nec_ismcli_fip = 192.0.2.1
nec_ismcli_user = unused
nec_ismcli_password = unused
nec_pools = 0
"""


class OfflineNameMapTest(base.BaseTestCase):
    """No [cinder] at all, no array reachable: the NEC guide's use, at the
    array's console.
    """

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(60, gentle=True))
        tmp = self.useFixture(fixtures.TempDir()).path
        self.conf = os.path.join(tmp, 'r.conf')
        with open(self.conf, 'w') as f:
            f.write(OFFLINE_CONF)

    def manage(self, *args):
        return subprocess.run(
            [sys.executable, '-c', 'import sys; from reconciler.cmd.manage '
             'import main; sys.exit(main())', '--config-file', self.conf]
            + list(args), capture_output=True, text=True)

    def test_name_computed_from_the_id_with_one_line_on_name_id(self):
        uuid, ld = NEC_PAIR
        result = self.manage('name-map', 'nec1', uuid)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn(ld, result.stdout)
        [line] = [entry for entry in result.stdout.splitlines()
                  if 'name_id' in entry]
        self.assertEqual(local_name_map.OFFLINE_NOTE, line)
        # As JSON: the rows alone on stdout, the line on stderr.
        result = self.manage('name-map', 'nec1', uuid, '--format', 'json')
        self.assertEqual(0, result.returncode, result.stderr)
        volume, _snapshot = json.loads(result.stdout)
        self.assertEqual(('volume', ld, None),
                         (volume['type'], volume['array_name'],
                          volume['note']))
        self.assertEqual(local_name_map.OFFLINE_NOTE,
                         result.stderr.strip().splitlines()[-1])
        # An LD name needs no Cinder either, and no such line.
        result = self.manage('name-map', 'nec1', ld)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn(uuid, result.stdout)
        self.assertNotIn('name_id', result.stdout + result.stderr)

    def test_all_needs_cinder_and_says_so(self):
        result = self.manage('name-map', 'nec1', '--all')
        self.assertEqual(1, result.returncode)
        self.assertEqual(
            "Error: name-map --all lists Cinder's volumes: it needs "
            '[cinder] (auth_type and its credentials)',
            result.stderr.strip().splitlines()[-1])
