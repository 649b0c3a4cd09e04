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

"""Files under etc/ for packagers: generator, systemd, logrotate, sudoers."""

import configparser
import os
import re
import shutil
import subprocess
import sys
import tempfile

import fixtures
from oslo_config import cfg
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler.conf import opts
import tests

REPO = tests.ROOT
GENERATOR_CONF = os.path.join(
    REPO, 'etc', 'cinder-reconciler',
    'cinder-reconciler-config-generator.conf')
UNIT = os.path.join(REPO, 'etc', 'systemd', 'cinder-reconciler.service')
LOGROTATE = os.path.join(REPO, 'etc', 'logrotate.d', 'cinder-reconciler')
DROP_IN_DIR = UNIT + '.d'
DROP_IN = os.path.join(DROP_IN_DIR, 'root-helper.conf')
SUDOERS = os.path.join(REPO, 'etc', 'sudoers.d', 'cinder-reconciler')
API_GENERATOR_CONF = os.path.join(
    REPO, 'etc', 'cinder-reconciler',
    'cinder-reconciler-api-config-generator.conf')
API_UNIT = os.path.join(REPO, 'etc', 'systemd',
                        'cinder-reconciler-api.service')
API_UWSGI = os.path.join(REPO, 'etc', 'cinder-reconciler',
                         'cinder-reconciler-api-uwsgi.ini')

# An option line of a generated sample: "#name = default" or "name = value".
_OPTION_LINE = re.compile(r'^#?([A-Za-z0-9_-]+) =')


def sample_defaults(text):
    """``{group: {option: default as written}}`` of a generated sample."""
    groups, group = {}, None
    for line in text.splitlines():
        if line.startswith('[') and line.endswith(']'):
            group = groups.setdefault(line[1:-1], {})
        elif group is not None and (m := _OPTION_LINE.match(line)):
            group.setdefault(m.group(1), line.split(' =', 1)[1].strip())
    return groups


def sample_options(text):
    """``{group: {option names}}`` of a generated sample file."""
    return {g: set(o) for g, o in sample_defaults(text).items()}


def _group_name(group):
    return getattr(group, 'name', group)


class ConfigGeneratorTest(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tmp = tempfile.mkdtemp()
        cls.addClassCleanup(shutil.rmtree, tmp)
        sample = os.path.join(tmp, 'cinder-reconciler.conf.sample')
        # The generator only warns about a namespace it cannot load, so the
        # checks below look for every option rather than at the exit code.
        subprocess.run([sys.executable, '-m', 'oslo_config.generator',
                        '--config-file', GENERATOR_CONF,
                        '--output-file', sample],
                       cwd=REPO, check=True, capture_output=True)
        with open(sample) as f:
            cls.defaults = sample_defaults(f.read())
        cls.groups = {g: set(o) for g, o in cls.defaults.items()}

    def test_every_option_of_our_namespace_is_in_the_sample(self):
        for group, group_opts in opts.list_opts():
            name = _group_name(group)
            self.assertIn(name, self.groups)
            missing = {o.dest for o in group_opts} - self.groups[name]
            self.assertEqual(set(), missing, name)

    def test_every_driver_option_is_under_backend_defaults(self):
        names = set()
        for ext in backend_conf._drivers():
            names.update(o.dest for o in ext.plugin.OPTS)
        self.assertIn('hpe3par_api_url', names)
        self.assertEqual(
            set(), names - self.groups[backend_conf.DEFAULTS_GROUP])

    def test_library_namespaces_are_in_the_sample(self):
        for group in ('reconciler_database', 'oslo_messaging_notifications'):
            self.assertIn(group, self.groups)
        self.assertIn('connection', self.groups['reconciler_database'])
        self.assertIn('connect_timeout', self.groups['reconciler_database'])
        # Cinder's [database] is not ours: the sample has no such group.
        self.assertNotIn('database', self.groups)
        self.assertIn('log_file', self.groups['DEFAULT'])
        # oslo.service.service (the daemon's launcher), oslo.reports (Guru
        # Meditation Reports), oslo.concurrency (oslo.messaging's locks).
        self.assertIn('graceful_shutdown_timeout', self.groups['DEFAULT'])
        self.assertIn('log_dir', self.groups['oslo_reports'])
        self.assertIn('lock_path', self.groups['oslo_concurrency'])

    def test_sample_shows_the_defaults_we_run_with(self):
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], default_config_files=[], default_config_dirs=[])
        self.assertEqual(conf.reconciler_database.connection,
                         self.defaults['reconciler_database']['connection'])
        self.assertEqual('block-storage',
                         self.defaults['cinder']['service_type'])
        self.assertEqual(conf.cinder.service_type,
                         self.defaults['cinder']['service_type'])
        self.assertEqual(','.join(conf.cinder.valid_interfaces),
                         self.defaults['cinder']['valid_interfaces'])


def _with_stand_in(test, path, command):
    """A copy of the unit at ``path`` whose ExecStart runs a stand-in for
    ``command`` (systemd-analyze verify insists that it exists).
    """
    tmp = test.useFixture(fixtures.TempDir()).path
    stand_in = os.path.join(tmp, command)
    with open(stand_in, 'w') as f:
        f.write('#!/bin/sh\n')
    os.chmod(stand_in, 0o755)
    unit = os.path.join(tmp, os.path.basename(path))
    with open(path) as f, open(unit, 'w') as out:
        out.write(f.read().replace('ExecStart=/usr/bin/%s ' % command,
                                   'ExecStart=%s ' % stand_in))
    return unit


class SystemdUnitTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str
        with open(UNIT) as f:
            parser.read_file(f)
        self.service = parser['Service']

    def test_runs_the_daemon_on_both_configuration_files(self):
        self.assertEqual('simple', self.service['Type'])
        self.assertEqual('cinder', self.service['User'])
        self.assertEqual('on-failure', self.service['Restart'])
        self.assertEqual('/bin/kill -HUP $MAINPID', self.service['ExecReload'])
        argv = self.service['ExecStart'].split()
        self.assertEqual('/usr/bin/cinder-reconciler', argv[0])
        files = [argv[i + 1] for i, a in enumerate(argv)
                 if a == '--config-file']
        # Ours last, so that its options win over Cinder's.
        self.assertEqual(['/etc/cinder/cinder.conf',
                          '/etc/cinder-reconciler/cinder-reconciler.conf'],
                         files)

    def test_hardened_and_writes_only_its_state_and_logs(self):
        for directive, value in (('NoNewPrivileges', 'yes'),
                                 ('ProtectSystem', 'strict'),
                                 ('ProtectHome', 'yes'),
                                 ('PrivateTmp', 'yes')):
            self.assertEqual(value, self.service[directive], directive)
        # And the lock files of the default coordination backend, under
        # Cinder's state_path, where it exists.
        self.assertEqual(
            {'/var/lib/cinder-reconciler', '/var/log/cinder-reconciler',
             '-/var/lib/cinder'},
            set(self.service['ReadWritePaths'].split()))
        log_file = self.service['ExecStart'].split('--log-file ')[1]
        self.assertEqual('/var/log/cinder-reconciler',
                         os.path.dirname(log_file))

    def test_logrotate_covers_the_log_file(self):
        log_file = self.service['ExecStart'].split('--log-file ')[1]
        with open(LOGROTATE) as f:
            pattern = next(line.split()[0] for line in f
                           if line.startswith('/'))
        self.assertEqual(os.path.dirname(log_file),
                         os.path.dirname(pattern))
        self.assertTrue(log_file.endswith(pattern.rsplit('*', 1)[1]))

    def _analyze(self, *args, drop_in=False):
        """``systemd-analyze ARGS`` on a copy of the unit (and drop-in)."""
        tool = shutil.which('systemd-analyze')
        if not tool:
            self.skipTest('systemd-analyze is not installed (Debian package '
                          'systemd); the unit was not verified')
        unit = _with_stand_in(self, UNIT, 'cinder-reconciler')
        if drop_in:
            # Beside the unit, where systemd-analyze looks for drop-ins.
            shutil.copytree(DROP_IN_DIR, unit + '.d')
        result = subprocess.run([tool] + list(args) + [unit],
                                capture_output=True, text=True)
        if 'System has not been booted with systemd' in result.stderr:
            self.skipTest('systemd-analyze cannot run in this sandbox: %s'
                          % result.stderr.strip())
        return result

    def test_systemd_analyze_verify(self):
        for drop_in in (False, True):
            result = self._analyze('verify', drop_in=drop_in)
            # verify exits 0 on directives it cannot parse, but says so.
            self.assertEqual((0, ''),
                             (result.returncode, result.stderr.strip()),
                             drop_in)

    def _security(self, drop_in):
        """``(exposure, {directive: passed})`` of systemd-analyze security."""
        result = self._analyze('security', '--offline=true', drop_in=drop_in)
        if result.returncode and 'offline' in result.stderr:
            self.skipTest('systemd-analyze security --offline needs systemd '
                          '>= 250: %s' % result.stderr.strip())
        self.assertEqual(0, result.returncode, result.stderr)
        exposure = float(re.search(r'Overall exposure level for \S+: '
                                   r'([0-9.]+)', result.stdout).group(1))
        checks = {}
        for line in result.stdout.splitlines():
            m = re.match(r'^\W*([✓✗])\s+(\S+?)=', line)
            if m:
                checks.setdefault(m.group(2), m.group(1) == '✓')
        return exposure, checks

    def test_systemd_analyze_security(self):
        exposure, checks = self._security(drop_in=False)
        # 3.2 with systemd 252 ("OK"); the daemon only talks to the network.
        self.assertLessEqual(exposure, 3.5)
        for directive in ('NoNewPrivileges', 'PrivateDevices',
                          'ProtectSystem', 'RestrictSUIDSGID'):
            self.assertTrue(checks[directive], directive)

    def test_root_helper_drop_in_relaxes_only_what_sudo_and_lvs_need(self):
        exposure, checks = self._security(drop_in=True)
        # Loaded: sudo may gain privileges, lvs sees the block devices.
        self.assertFalse(checks['NoNewPrivileges'])
        self.assertFalse(checks['PrivateDevices'])
        # 4.5 with systemd 252: still "OK", the rest of the hardening stays.
        self.assertLessEqual(exposure, 5.0)
        for directive in ('ProtectSystem', 'ProtectHome', 'PrivateTmp',
                          'RestrictSUIDSGID', 'ProtectKernelModules'):
            self.assertTrue(checks[directive], directive)
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str
        parser.read(DROP_IN)
        self.assertEqual({'NoNewPrivileges', 'CapabilityBoundingSet',
                          'PrivateDevices', 'RestrictAddressFamilies'},
                         set(parser['Service']))
        self.assertIn('CAP_SETUID', parser['Service']['CapabilityBoundingSet'])


class ApiFilesTest(base.BaseTestCase):
    """The API's sample configuration, uWSGI file and systemd unit."""

    def test_the_api_sample_has_its_groups_and_no_credentials_of_cinder(self):
        sample = os.path.join(self.useFixture(fixtures.TempDir()).path,
                              'api.conf.sample')
        subprocess.run([sys.executable, '-m', 'oslo_config.generator',
                        '--config-file', API_GENERATOR_CONF,
                        '--output-file', sample],
                       cwd=REPO, check=True, capture_output=True)
        with open(sample) as f:
            groups = sample_options(f.read())
        for group, option in (('api', 'max_limit'),
                              ('reconciler_database', 'connection'),
                              ('keystone_authtoken', 'www_authenticate_uri'),
                              ('oslo_policy', 'policy_file'),
                              ('cors', 'allowed_origin'),
                              ('oslo_middleware',
                               'enable_proxy_headers_parsing'),
                              ('healthcheck', 'detailed'),
                              ('DEFAULT', 'log_file')):
            self.assertIn(option, groups.get(group, ()), group)
        for group in ('cinder', 'coordination', 'backend_defaults',
                      'host_scan'):
            self.assertNotIn(group, groups)

    def test_uwsgi_serves_our_module_with_the_api_configuration(self):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(API_UWSGI)
        uwsgi = parser['uwsgi']
        self.assertEqual('reconciler.wsgi.api:application', uwsgi['module'])
        from reconciler.api import deploy
        self.assertEqual(
            '%s=/etc/cinder-reconciler/cinder-reconciler-api.conf'
            % deploy.CONFIG_ENV, uwsgi['env'])
        for option in ('master', 'lazy-apps', 'need-app', 'die-on-term'):
            self.assertEqual('true', uwsgi[option], option)
        self.assertEqual('Connection: close', uwsgi['add-header'])

    def test_unit_runs_uwsgi_as_its_own_user(self):
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str
        parser.read(API_UNIT)
        service = parser['Service']
        self.assertEqual(
            '/usr/bin/uwsgi --plugin python3 --ini /etc/cinder-reconciler/'
            'cinder-reconciler-api-uwsgi.ini --logto /var/log/'
            'cinder-reconciler/cinder-reconciler-api.log',
            service['ExecStart'])
        # Not cinder: the API never reads cinder.conf's credentials.
        self.assertEqual('cinder-reconciler-api', service['User'])
        self.assertNotIn('cinder.conf', service['ExecStart'])

    def test_systemd_analyze(self):
        tool = shutil.which('systemd-analyze')
        if not tool:
            self.skipTest('systemd-analyze is not installed (Debian package '
                          'systemd); the unit was not verified')
        tmp = self.useFixture(fixtures.TempDir()).path
        uwsgi = os.path.join(tmp, 'uwsgi')
        with open(uwsgi, 'w') as f:
            f.write('#!/bin/sh\n')
        os.chmod(uwsgi, 0o755)
        unit = os.path.join(tmp, 'cinder-reconciler-api.service')
        with open(API_UNIT) as f, open(unit, 'w') as out:
            out.write(f.read().replace('ExecStart=/usr/bin/uwsgi ',
                                       'ExecStart=%s ' % uwsgi))
        result = subprocess.run([tool, 'verify', unit], capture_output=True,
                                text=True)
        if 'System has not been booted with systemd' in result.stderr:
            self.skipTest('systemd-analyze cannot run in this sandbox: %s'
                          % result.stderr.strip())
        self.assertEqual((0, ''), (result.returncode, result.stderr.strip()))
        result = subprocess.run([tool, 'security', '--offline=true', unit],
                                capture_output=True, text=True)
        if result.returncode and 'offline' in result.stderr:
            self.skipTest('systemd-analyze security --offline needs systemd '
                          '>= 250: %s' % result.stderr.strip())
        exposure = float(re.search(r'Overall exposure level for \S+: '
                                   r'([0-9.]+)', result.stdout).group(1))
        self.assertLessEqual(exposure, 3.5)


class SudoersTest(base.BaseTestCase):

    def test_visudo_accepts_the_rule_for_our_rootwrap_only(self):
        with open(SUDOERS) as f:
            rules = [line for line in f
                     if line.strip() and not line.startswith(('#', 'Def'))]
        self.assertEqual(
            ['cinder ALL = (root) NOPASSWD: /usr/bin/cinder-reconciler-'
             'rootwrap /etc/cinder-reconciler/rootwrap.conf *\n'], rules)
        tool = shutil.which('visudo')
        if not tool:
            self.skipTest('visudo is not installed (Debian package sudo)')
        result = subprocess.run([tool, '-c', '-f', SUDOERS],
                                capture_output=True, text=True)
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)


AGENT_UNIT = os.path.join(REPO, 'etc', 'systemd',
                          'cinder-reconciler-agent.service')
AGENT_SUDOERS = os.path.join(REPO, 'etc', 'sudoers.d',
                             'cinder-reconciler-agent')


class AgentUnitTest(base.BaseTestCase):
    """The compute nodes' unit: the agent, on its own file only."""

    def setUp(self):
        super().setUp()
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str
        with open(AGENT_UNIT) as f:
            parser.read_file(f)
        self.service = parser['Service']

    def test_runs_the_agent_on_its_own_file_only(self):
        argv = self.service['ExecStart'].split()
        self.assertEqual('/usr/bin/cinder-reconciler-agent', argv[0])
        self.assertEqual(['/etc/cinder-reconciler/agent.conf'],
                         [argv[i + 1] for i, a in enumerate(argv)
                          if a == '--config-file'])
        # os-brick's lock files on a compute node are nova-compute's.
        self.assertEqual(('nova', 'on-failure'),
                         (self.service['User'], self.service['Restart']))
        log_file = self.service['ExecStart'].split('--log-file ')[1]
        with open(LOGROTATE) as f:
            pattern = next(line.split()[0] for line in f
                           if line.startswith('/'))
        self.assertEqual(os.path.dirname(pattern), os.path.dirname(log_file))
        self.assertTrue(log_file.endswith(pattern.rsplit('*', 1)[1]))

    def test_systemd_analyze_verify(self):
        tool = shutil.which('systemd-analyze')
        if not tool:
            self.skipTest('systemd-analyze is not installed')
        unit = _with_stand_in(self, AGENT_UNIT, 'cinder-reconciler-agent')
        result = subprocess.run([tool, 'verify', unit], capture_output=True,
                                text=True)
        if 'System has not been booted with systemd' in result.stderr:
            self.skipTest(result.stderr.strip())
        self.assertEqual((0, ''), (result.returncode, result.stderr.strip()))

    def test_sudoers_rule_is_for_our_rootwrap_only(self):
        with open(AGENT_SUDOERS) as f:
            rules = [line for line in f
                     if line.strip() and not line.startswith(('#', 'Def'))]
        self.assertEqual(
            ['nova ALL = (root) NOPASSWD: /usr/bin/cinder-reconciler-'
             'rootwrap /etc/cinder-reconciler/rootwrap.conf *\n'], rules)
        tool = shutil.which('visudo')
        if not tool:
            self.skipTest('visudo is not installed (Debian package sudo)')
        result = subprocess.run([tool, '-c', '-f', AGENT_SUDOERS],
                                capture_output=True, text=True)
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)
