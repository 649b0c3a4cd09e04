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

"""``cinder-reconciler-status upgrade check``: each check's three outcomes."""

import json
import os
import subprocess
import sys
import textwrap

import fixtures
from oslo_config import cfg
from oslo_upgradecheck import upgradecheck
from oslotest import base

from reconciler.cmd import status
from reconciler import conf as reconciler_conf
from reconciler import history

Code = upgradecheck.Code

NEC = """
[nec-1]
volume_driver = cinder.volume.drivers.nec.volume.MStorageFCDriver
nec_ismcli_fip = 127.0.0.1
nec_ssh_pool_port_number = 1
nec_ismcli_user = sysadmin
nec_pools = 0
"""


class StatusTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.db_url = 'sqlite:///%s/r.sqlite' % self.tmp

    def write(self, name, text, mode=0o600):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def checks(self, *files):
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        argv = []
        for path in files:
            argv += ['--config-file', path]
        conf(argv, project='cinder-reconciler', default_config_files=[])
        return status.Checks(conf)

    def our_conf(self, extra='', backends='fake1', mode=0o600):
        return self.write('ours.conf', textwrap.dedent("""
            [DEFAULT]
            enabled_backends = %s
            [fake1]
            reconciler_driver = fake
            fake_array_file = %s/array.yaml
            [reconciler_database]
            connection = %s
            """) % (backends, self.tmp, self.db_url) + extra, mode)


class DatabaseCheckTest(StatusTestCase):

    def test_success_at_head(self):
        history.History(self.db_url).sync()
        result = self.checks(self.our_conf())._check_database()
        self.assertEqual(Code.SUCCESS, result.code)

    def test_failure_before_db_sync_says_what_to_do(self):
        result = self.checks(self.our_conf())._check_database()
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('cinder-reconciler-manage db sync', result.details)

    def test_failure_when_unreachable(self):
        self.db_url = 'sqlite:///%s/missing-dir/r.sqlite' % self.tmp
        result = self.checks(self.our_conf())._check_database()
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('cannot read the history database', result.details)
        self.assertNotIn('missing-dir', result.details)


class BackendsCheckTest(StatusTestCase):

    def test_success_without_connecting(self):
        # Port 1 on loopback has no array: building the driver must not
        # try to reach it.
        ours = self.our_conf(NEC + 'nec_ismcli_password = pw\n',
                             backends='fake1,nec-1')
        result = self.checks(ours)._check_backends()
        self.assertEqual(Code.SUCCESS, result.code, result.details)

    def test_failure_names_every_missing_option(self):
        ours = self.write('ours.conf', textwrap.dedent("""
            [DEFAULT]
            enabled_backends = fake1,nec-1,odd
            [fake1]
            reconciler_driver = fake
            [odd]
            reconciler_driver = no-such-driver
            """) + NEC)
        result = self.checks(ours)._check_backends()
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('backend fake1: fake_array_file not set', result.details)
        self.assertIn('neither nec_ismcli_password nor nec_ismcli_privkey',
                      result.details)
        self.assertIn("unknown reconciler_driver 'no-such-driver'",
                      result.details)

    def test_failure_without_backends(self):
        result = self.checks(self.our_conf(backends=''))._check_backends()
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('enabled_backends is empty', result.details)

    def test_warning_for_a_backend_without_a_driver(self):
        ours = self.our_conf(textwrap.dedent("""
            [netapp-1]
            volume_driver = cinder.volume.drivers.netapp.common.NetAppDriver
            """), backends='fake1,netapp-1')
        result = self.checks(ours)._check_backends()
        self.assertEqual(Code.WARNING, result.code)
        self.assertIn('backend netapp-1', result.details)
        self.assertIn('NetAppDriver; skipped', result.details)

    def test_success_when_unsupported_go_through_manageable(self):
        ours = self.our_conf(textwrap.dedent("""
            [reconciler]
            unsupported_backends = manageable
            [netapp-1]
            volume_driver = cinder.volume.drivers.netapp.common.NetAppDriver
            """), backends='fake1,netapp-1')
        result = self.checks(ours)._check_backends()
        self.assertEqual(Code.SUCCESS, result.code, result.details)

    def test_a_compute_nodes_daemon_is_told_to_be_an_agent(self):
        checks = self.checks(self.our_conf(
            backends='', extra='[host_scan]\nenabled = true\n'
            'lock_path = %s\n' % self.tmp))
        self.assertEqual(Code.SUCCESS, checks._check_backends().code)
        result = checks._check_host_unit()
        self.assertEqual(Code.WARNING, result.code)
        self.assertIn('run cinder-reconciler-agent instead', result.details)
        # Beside backends (a cinder-volume host), the all-in-one host unit
        # is as expected.
        checks = self.checks(self.our_conf(
            extra='[host_scan]\nenabled = true\nlock_path = %s\n'
            % self.tmp))
        self.assertEqual(Code.SUCCESS, checks._check_host_unit().code)

    def test_unauthenticated_agents_are_a_warning(self):
        transport = '[DEFAULT]\ntransport_url = rabbit://u:p@127.0.0.1//\n'
        checks = self.checks(self.our_conf(extra=transport, backends=''))
        self.assertEqual(Code.SUCCESS, checks._check_backends().code)
        result = checks._check_agents()
        self.assertEqual(Code.WARNING, result.code)
        self.assertIn('[agents] auth_key is not set', result.details)
        checks = self.checks(self.our_conf(
            extra=transport + '[agents]\nauth_key = k\n'))
        self.assertEqual(Code.SUCCESS, checks._check_agents().code)

    def test_host_unit_needs_os_bricks_lock_path(self):
        result = self.checks(self.our_conf(
            extra='[host_scan]\nenabled = true\n'))._check_host_unit()
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('lock_path is not set', result.details)
        result = self.checks(self.our_conf(
            extra='[host_scan]\nenabled = true\nlock_path = %s/none\n'
            % self.tmp))._check_host_unit()
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('is not a directory', result.details)

    def test_failure_names_group_option_and_value(self):
        ours = self.our_conf('[fake1]\nreconciler_sightings = many\n')
        result = self.checks(ours)._check_backends()
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('[fake1] reconciler_sightings = many: invalid value',
                      result.details)

    def test_failure_on_an_option_below_its_minimum(self):
        ours = self.our_conf('[backend_defaults]\nreconciler_interval = 1\n')
        result = self.checks(ours)._check_backends()
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('[backend_defaults] reconciler_interval = 1',
                      result.details)

    def test_failure_on_an_invalid_address_is_no_crash(self):
        ours = self.our_conf(NEC.replace('127.0.0.1', '10.0.0.999')
                             + 'nec_ismcli_password = pw\n',
                             backends='nec-1')
        result = self.checks(ours)._check_backends()
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('[nec-1] nec_ismcli_fip = 10.0.0.999: invalid value',
                      result.details)

    def test_failure_on_a_daemon_option(self):
        ours = self.our_conf('[reconciler]\noutbox_flush_interval = soon\n')
        result = self.checks(ours)._check_backends()
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('[reconciler] outbox_flush_interval = soon',
                      result.details)

    def test_cinder_conf_group_selects_the_driver(self):
        cinder = self.write('cinder.conf', textwrap.dedent("""
            [DEFAULT]
            enabled_backends = nec-1
            [database]
            connection = mysql+pymysql://cinder:pw@127.0.0.1/cinder
            """) + NEC + 'nec_ismcli_password = pw\n')
        ours = self.write('ours.conf',
                          '[reconciler_database]\nconnection = %s\n'
                          % self.db_url)
        result = self.checks(cinder, ours)._check_backends()
        self.assertEqual(Code.SUCCESS, result.code, result.details)


class SecretFilesCheckTest(StatusTestCase):

    def check(self, *files):
        return self.checks(*files)._check_secret_files()

    def test_success_when_only_the_owner_reads_secrets(self):
        ours = self.our_conf('[cinder]\npassword = s3cret\n', mode=0o600)
        public = self.write('public.conf', '[DEFAULT]\ndebug = true\n',
                            mode=0o644)
        result = self.check(public, ours)
        self.assertEqual(Code.SUCCESS, result.code, result.details)

    def test_an_empty_secret_is_no_secret(self):
        ours = self.our_conf('[cinder]\npassword =\n', mode=0o644)
        result = self.check(ours)
        # [reconciler_database] connection is a secret.
        self.assertEqual(Code.FAILURE, result.code)
        nodb = self.write('nodb.conf', '[cinder]\npassword =\n', mode=0o644)
        self.assertEqual(Code.SUCCESS, self.check(nodb).code)

    def test_warning_when_group_readable(self):
        ours = self.our_conf('[cinder]\npassword = s3cret\n', mode=0o640)
        result = self.check(ours)
        self.assertEqual(Code.WARNING, result.code)
        self.assertIn('%s is readable by its group (mode 0640)' % ours,
                      result.details)
        self.assertNotIn('s3cret', result.details)

    def test_failure_when_world_readable(self):
        cinder = self.write(
            'cinder.conf',
            '[DEFAULT]\ntransport_url = rabbit://c:s3cret@127.0.0.1:5672/\n',
            mode=0o644)
        result = self.check(cinder, self.our_conf())
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('%s is readable by anyone (mode 0644)' % cinder,
                      result.details)
        self.assertNotIn('s3cret', result.details)

    def test_backend_password_in_a_backend_group(self):
        ours = self.our_conf(NEC + 'nec_ismcli_password = pw\n',
                             backends='nec-1', mode=0o604)
        self.assertEqual(Code.FAILURE, self.check(ours).code)

    def test_private_key_file(self):
        key = self.write('id_rsa', 'not really a key', mode=0o600)
        ours = self.our_conf(NEC + 'nec_ismcli_privkey = %s\n' % key,
                             backends='nec-1')
        self.assertEqual(Code.SUCCESS, self.check(ours).code)
        os.chmod(key, 0o640)
        self.assertEqual(Code.WARNING, self.check(ours).code)
        os.chmod(key, 0o644)
        result = self.check(ours)
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn(key, result.details)
        os.unlink(key)
        result = self.check(ours)
        self.assertEqual(Code.FAILURE, result.code)
        self.assertIn('No such file', result.details)

    def test_namespaces_are_the_sample_generators(self):
        path = os.path.join(os.path.dirname(reconciler_conf.__file__),
                            '..', '..', 'etc', 'cinder-reconciler',
                            'cinder-reconciler-config-generator.conf')
        with open(path) as f:
            namespaces = [line.split('=', 1)[1].strip() for line in f
                          if line.startswith('namespace')]
        self.assertEqual(sorted(namespaces),
                         sorted(status.SECRET_NAMESPACES))


class CommandTest(StatusTestCase):

    def test_upgrade_check_json_and_exit_code(self):
        history.History(self.db_url).sync()
        self.write('array.yaml', '{}')
        ours = self.our_conf(mode=0o640)
        result = subprocess.run(
            [sys.executable, '-c',
             'import sys; from reconciler.cmd.status import main; '
             'sys.exit(main())', '--config-file', ours,
             'upgrade', 'check', '--json'],
            capture_output=True, text=True)
        self.assertEqual(Code.WARNING, result.returncode, result.stderr)
        checks = {c['check']: c['result']
                  for c in json.loads(result.stdout)['checks']}
        self.assertEqual({'History database at head': Code.SUCCESS,
                          'Backend drivers and options': Code.SUCCESS,
                          'Files holding secrets': Code.WARNING,
                          'Host unit': Code.SUCCESS,
                          'Host agents': Code.SUCCESS}, checks)

    def test_invalid_values_fail_the_command_in_one_line(self):
        history.History(self.db_url).sync()
        ours = self.our_conf(NEC.replace('127.0.0.1', '10.0.0.999')
                             + 'nec_ismcli_password = pw\n'
                             '[fake1]\nreconciler_sightings = many\n',
                             backends='fake1,nec-1')
        result = subprocess.run(
            [sys.executable, '-c',
             'import sys; from reconciler.cmd.status import main; '
             'sys.exit(main())', '--config-file', ours,
             'upgrade', 'check', '--json'],
            capture_output=True, text=True)
        self.assertEqual(Code.FAILURE, result.returncode, result.stderr)
        [check] = [c for c in json.loads(result.stdout)['checks']
                   if c['check'] == 'Backend drivers and options']
        self.assertEqual(Code.FAILURE, check['result'])
        self.assertIn('reconciler_sightings = many', check['details'])
        self.assertIn('nec_ismcli_fip = 10.0.0.999', check['details'])
        self.assertNotIn('Traceback', result.stderr)
