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

"""The real daemon on a compute node: no backends, the host unit only.

The scan commands run through the production runner and a root helper: a
script standing in for sudo/rootwrap that answers from recorded outputs.
"""

import os
import signal
import stat
import subprocess
import time

import fixtures
from oslotest import base

from reconciler import history
from tests.functional import fixtures as local_fixtures
from tests.unit.host import fixtures as host_fixtures
from tests.unit.host import test_compare as tc

CONF = """
[DEFAULT]
host = compute-9
enabled_backends =

[reconciler]
periodic_fuzzy_delay = 0

[host_scan]
enabled = true
connector_host = compute-9
interval = 3600
sightings = 1
grace_period = 0
root_prefix = {root}
root_helper = {helper}
lock_path = {tmp}
owned_targets = iqn.2010-10.org.openstack:

[oslo_messaging_notifications]
driver = log
"""

# processutils runs the commands through the root helper unless the daemon
# already runs as root; either way the recorded ones come first on PATH.
_HELPER = """#!/bin/sh
exec "$@"
"""


class HostDaemonTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.host = self.useFixture(host_fixtures.HostRoot())
        self.host.add_disk('sda', '0:0:0:0', model='SAMSUNG')
        self.host.mount('/dev/sda', '/')
        self.host.add_disk('sdb', '3:0:0:1', tc.WWID[0],
                           iscsi=(tc.P1, tc.LVM_IQN % tc.VOL[0], 1))
        tmp = self.useFixture(fixtures.TempDir()).path
        bin_dir = self.host.install_commands(os.path.join(tmp, 'bin'))
        helper = os.path.join(tmp, 'root-helper')
        self._script(helper, _HELPER)
        self.useFixture(fixtures.EnvironmentVariable(
            'PATH', bin_dir + os.pathsep + os.environ['PATH']))
        self.demo = self.useFixture(local_fixtures.DemoCloud(
            CONF, root=self.host.root, helper=helper))
        self.demo.manage('db', 'sync')
        self.history = history.History('sqlite:///%s/r.sqlite'
                                       % self.demo.tmp)

    @staticmethod
    def _script(path, text):
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, stat.S_IRWXU)

    def test_compute_node_daemon_reports_the_leftover(self):
        log = open(os.path.join(self.demo.tmp, 'daemon.log'), 'w')
        self.addCleanup(log.close)
        daemon = subprocess.Popen(self.demo.command('reconciler'), stdout=log,
                                  stderr=subprocess.STDOUT)
        self.addCleanup(lambda: daemon.poll() is None and daemon.kill())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = [r for r in self.history.runs()
                    if r.status != 'running']
            if runs:
                break
            time.sleep(0.2)
        self.assertTrue(runs, open(log.name).read()[-3000:])
        [run] = runs
        self.assertEqual(('host:compute-9', 'ok'),
                         (run.backend, run.status), run.error)
        [finding] = self.history.findings(backend='host:compute-9')
        self.assertEqual(('leftover_device', tc.WWID[0], 'confirmed'),
                         (finding.kind, finding.resource_id, finding.state))
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(0, daemon.wait(timeout=30))
