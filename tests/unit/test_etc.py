"""Files under etc/ for packagers: the sample generator, systemd, logrotate."""

import configparser
import os
import re
import shutil
import subprocess
import sys
import tempfile

import fixtures
from oslotest import base

from reconciler.conf import backend as backend_conf
from reconciler.conf import opts
import tests

REPO = tests.ROOT
GENERATOR_CONF = os.path.join(
    REPO, 'etc', 'cinder-reconciler',
    'cinder-reconciler-config-generator.conf')
UNIT = os.path.join(REPO, 'etc', 'systemd', 'cinder-reconciler.service')
LOGROTATE = os.path.join(REPO, 'etc', 'logrotate.d', 'cinder-reconciler')

# An option line of a generated sample: "#name = default" or "name = value".
_OPTION_LINE = re.compile(r'^#?([A-Za-z0-9_-]+) =')


def sample_options(text):
    """``{group: {option names}}`` of a generated sample file."""
    groups, group = {}, None
    for line in text.splitlines():
        if line.startswith('[') and line.endswith(']'):
            group = groups.setdefault(line[1:-1], set())
        elif group is not None and (m := _OPTION_LINE.match(line)):
            group.add(m.group(1))
    return groups


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
            cls.groups = sample_options(f.read())

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
        self.assertEqual(
            {'/var/lib/cinder-reconciler', '/var/log/cinder-reconciler'},
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

    def test_systemd_analyze_verify(self):
        tool = shutil.which('systemd-analyze')
        if not tool:
            self.skipTest('systemd-analyze is not installed (Debian package '
                          'systemd); the unit was not verified')
        tmp = self.useFixture(fixtures.TempDir()).path
        # verify insists that ExecStart exists: point it at a stand-in.
        daemon = os.path.join(tmp, 'cinder-reconciler')
        with open(daemon, 'w') as f:
            f.write('#!/bin/sh\n')
        os.chmod(daemon, 0o755)
        with open(UNIT) as f:
            text = f.read().replace('ExecStart=/usr/bin/cinder-reconciler ',
                                    'ExecStart=%s ' % daemon)
        unit = os.path.join(tmp, 'cinder-reconciler.service')
        with open(unit, 'w') as f:
            f.write(text)
        result = subprocess.run([tool, 'verify', unit],
                                capture_output=True, text=True)
        if 'System has not been booted with systemd' in result.stderr:
            self.skipTest('systemd-analyze cannot run in this sandbox: %s'
                          % result.stderr.strip())
        # verify exits 0 on directives it cannot parse, but says so.
        self.assertEqual((0, ''), (result.returncode, result.stderr.strip()))
