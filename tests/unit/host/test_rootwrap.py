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

"""The shipped rootwrap filters allow the scan's commands and nothing else."""

import os

import fixtures
from oslo_rootwrap import wrapper
from oslotest import base

from reconciler.host import runner
import tests

FILTERS = os.path.join(tests.ROOT, 'etc', 'cinder-reconciler', 'rootwrap.d')


class FiltersTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.filters = wrapper.load_filters([FILTERS])
        # Every command resolves in a directory of our own making.
        self.bin = self.useFixture(fixtures.TempDir()).path
        for name in ('multipathd', 'multipath', 'iscsiadm', 'nvme',
                     'dmsetup'):
            path = os.path.join(self.bin, name)
            with open(path, 'w') as f:
                f.write('#!/bin/sh\n')
            os.chmod(path, 0o755)

    def allowed(self, argv):
        try:
            wrapper.match_filter(self.filters, list(argv), [self.bin])
            return True
        except wrapper.NoFilterMatched:
            return False

    def test_each_scan_command_is_allowed(self):
        for argv in runner.COMMANDS:
            self.assertTrue(self.allowed(argv), argv)

    def test_commands_that_change_the_host_are_not(self):
        for argv in (('multipath', '-f', 'mpatha'), ('multipath', '-ll'),
                     ('multipathd', 'del', 'map', 'mpatha'),
                     ('multipathd', 'show', 'maps', 'json', 'x'),
                     ('iscsiadm', '-m', 'session', '-r', '1', '-u'),
                     ('iscsiadm', '-m', 'session', '-R'),
                     ('iscsiadm', '-m', 'node', '--logout'),
                     ('nvme', 'disconnect', '-n', 'nqn.x'),
                     ('nvme', 'list-subsys', '-o', 'json', '--rescan'),
                     ('dmsetup', 'remove', '-f', 'mpatha'),
                     ('dmsetup', 'info', '-c', '--noheadings', '-o',
                      'name,open', 'x')):
            self.assertFalse(self.allowed(argv), argv)
