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

"""Options are checked before anything runs: one line naming each error."""

import os
import stat
import subprocess
import sys
import textwrap

import fixtures
from oslotest import base

from reconciler.conf import validation
from reconciler import history

CONF = """
[DEFAULT]
enabled_backends = {backends}
[backend_defaults]
reconciler_driver = fake
[fake1]
fake_array_file = {tmp}/array.yaml
{extra}
[database]
connection = sqlite:///{tmp}/r.sqlite
[oslo_messaging_notifications]
driver = noop
"""


class CommandTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(self.tmp, 'array.yaml'), 'w') as f:
            f.write('{}')

    def write(self, backends='fake1', extra=''):
        path = os.path.join(self.tmp, 'r.conf')
        with open(path, 'w') as f:
            f.write(CONF.format(tmp=self.tmp, backends=backends,
                                extra=textwrap.dedent(extra)))
        return ['--config-file', path]

    def run_cmd(self, module, *argv, **kwargs):
        return subprocess.run(
            [sys.executable, '-c', 'import sys; from reconciler.cmd.%s '
             'import main; sys.exit(main())' % module] + list(argv),
            capture_output=True, text=True, timeout=60, **kwargs)


class CommandsTest(CommandTestCase):

    def setUp(self):
        super().setUp()
        history.History('sqlite:///%s/r.sqlite' % self.tmp).sync()

    def test_check_without_backends_says_so(self):
        result = self.run_cmd('manage', *self.write(backends=''), 'check')
        self.assertEqual(1, result.returncode)
        self.assertEqual(
            'Error: [DEFAULT] enabled_backends names no backend the '
            'reconciler can reconcile and neither [host_scan] nor [cloud] '
            'is enabled',
            result.stderr.strip().splitlines()[-1])
        self.assertNotIn('Traceback', result.stderr)

    def test_check_names_group_option_and_value(self):
        result = self.run_cmd('manage', *self.write(
            extra='reconciler_sightings = many'), 'check')
        self.assertEqual(1, result.returncode)
        self.assertNotIn('Traceback', result.stderr)
        self.assertIn('Error: [fake1] reconciler_sightings = many: invalid '
                      "value (invalid literal for int() with base 10: "
                      "'many')", result.stderr)
        self.assertEqual([], history.History(
            'sqlite:///%s/r.sqlite' % self.tmp).runs())

    def test_daemon_refuses_to_start(self):
        result = self.run_cmd('reconciler', *self.write(
            extra='reconciler_interval = 1'))
        self.assertEqual(1, result.returncode)
        self.assertIn('Configuration error: [fake1] reconciler_interval = 1: '
                      'invalid value', result.stdout + result.stderr)
        self.assertNotIn('Traceback', result.stdout + result.stderr)

    def test_cinder_timeout_zero_is_refused_in_one_line(self):
        argv = self.write(extra='[cinder]\ntimeout = 0')
        line = ('[cinder] timeout = 0: invalid value (Should be greater '
                'than or equal to 1)')
        result = self.run_cmd('manage', *argv, 'check')
        self.assertEqual((1, 'Error: ' + line), (
            result.returncode, result.stderr.strip().splitlines()[-1]))
        result = self.run_cmd('reconciler', *argv)
        self.assertEqual(1, result.returncode)
        output = result.stdout + result.stderr
        self.assertIn('Configuration error: ' + line, output)
        self.assertNotIn('Traceback', output)
        # At SIGHUP: the reload is refused, in the same line.
        self.assertEqual(line, validation.problem(argv, 'cinder-reconciler'))

    def test_one_backend_out_of_bounds_the_others_are_checked(self):
        argv = self.write(backends='fake1,fake2', extra="""
            [fake2]
            fake_array_file = {tmp}/array.yaml
            reconciler_interval = 99999999999999999999
            """.format(tmp=self.tmp))
        result = self.run_cmd('manage', *argv, 'check')
        self.assertEqual(1, result.returncode)
        # fake1's pass ran (and failed: no Cinder here) ...
        self.assertIn('Backend fake1 (', result.stdout)
        self.assertNotIn('fake2', result.stdout)
        # ... fake2 was left out, in one line.
        [line] = [entry for entry in result.stderr.splitlines()
                  if 'fake2' in entry]
        self.assertIn('ERROR', line)
        self.assertTrue(line.endswith(
            'Backend fake2 is left out: [fake2] reconciler_interval = '
            '99999999999999999999: invalid value (Should be less than or '
            'equal to 86400)'), line)
        self.assertEqual(['fake1'], [r.backend for r in history.History(
            'sqlite:///%s/r.sqlite' % self.tmp).runs()])
        # A reload with it is refused as a whole: the running backends
        # all keep running.
        self.assertIn('[fake2] reconciler_interval = 99999999999999999999',
                      validation.problem(argv, 'cinder-reconciler'))

    def test_problem_leaves_the_running_configuration_alone(self):
        argv = self.write()
        self.assertIsNone(validation.problem(argv, 'cinder-reconciler'))
        self.write(extra='reconciler_sightings = 0')
        self.assertIn('[fake1] reconciler_sightings = 0',
                      validation.problem(argv, 'cinder-reconciler'))

    def test_listener_options_are_checked(self):
        argv = self.write(extra='''
            [cinder_notifications]
            retention_days = 0
            ''')
        self.assertIn('[cinder_notifications] retention_days = 0',
                      validation.problem(argv, 'cinder-reconciler'))

    def test_secret_values_are_masked(self):
        result = self.run_cmd('manage', *self.write(
            backends='nec1', extra='''
            [nec1]
            reconciler_driver = nec
            nec_ismcli_fip = 127.0.0.1
            nec_ismcli_password = s3cret
            nec_pools = 0
            nec_ssh_pool_port_number = s3cret-port
            '''), 'check')
        self.assertEqual(1, result.returncode)
        self.assertIn('[nec1] nec_ssh_pool_port_number = s3cret-port',
                      result.stderr)
        self.assertNotIn('s3cret\n', result.stderr)


class FileModeTest(CommandTestCase):
    """Files created outside systemd (umask 022) are not world-readable."""

    def run_cmd(self, module, *argv):
        return super().run_cmd(module, *argv,
                               preexec_fn=lambda: os.umask(0o022))

    def mode(self, name):
        return stat.S_IMODE(os.stat(os.path.join(self.tmp, name)).st_mode)

    def test_database_and_log_file(self):
        argv = self.write()
        self.run_cmd('manage', *argv, '--log-file',
                     os.path.join(self.tmp, 'manage.log'), 'db', 'sync')
        self.assertEqual(0o640, self.mode('r.sqlite'))
        self.assertEqual(0o640, self.mode('manage.log'))

    def test_upgrade_check_creates_nothing_readable(self):
        self.run_cmd('status', *self.write(), 'upgrade', 'check')
        self.assertEqual(0o640, self.mode('r.sqlite'))
