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

"""A test server that is not installed: skipped by developers, fatal in CI."""

import os
import subprocess
import sys
import unittest

from bindep import depends
import fixtures
from oslotest import base

import tests
from tests import servers


class MissingServerTest(base.BaseTestCase):

    def test_skipped_outside_ci(self):
        self.useFixture(fixtures.EnvironmentVariable('CI'))
        self.assertRaises(unittest.SkipTest, servers.find,
                          'no-such-server-x', '/nonexistent/*/bin/x')

    def test_fails_in_ci(self):
        self.useFixture(fixtures.EnvironmentVariable('CI', 'true'))
        e = self.assertRaises(RuntimeError, servers.find, 'no-such-server-x')
        self.assertIn('install-debs.sh', str(e))

    def test_found(self):
        self.assertEqual('/bin/sh', servers.find('sh', '/bin/sh'))


class BindepTest(base.BaseTestCase):
    """bindep.txt is what tools/install-debs.sh installs."""

    def setUp(self):
        super().setUp()
        with open(os.path.join(tests.ROOT, 'bindep.txt')) as f:
            self.depends = depends.Depends(f.read())

    def test_every_server_the_tests_start_is_declared(self):
        # Distribution packages of the servers tests/servers.py finds.
        declared = {rule[0] for rule in self.depends.active_rules(
            self.depends.platform_profiles() + ['test'])}
        self.assertLessEqual(
            {'redis-server', 'rabbitmq-server', 'postgresql',
             'mariadb-server', 'ceph-mon', 'ceph-osd', 'python3-rados',
             'python3-rbd', 'lvm2', 'tgt', 'shellcheck'}, declared)

    def test_nothing_declared_is_missing_on_this_machine(self):
        # tools/run-tests.sh ran tools/install-debs.sh first.
        if not os.environ.get('CI'):
            self.skipTest('only where tools/run-tests.sh installed them')
        result = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), 'bindep'), '-b',
             '-f', os.path.join(tests.ROOT, 'bindep.txt'), 'test'],
            capture_output=True, text=True)
        self.assertEqual((0, ''), (result.returncode, result.stdout.strip()))
