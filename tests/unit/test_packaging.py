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

"""The sdist and wheel a packager builds, and the array client extras.

The build runs without isolation (the venv's pbr and setuptools, nothing
downloaded), as ``python -m build`` does it: the sdist first, then the wheel
from that sdist, so a file missing from the sdist is missing from the wheel.
"""

import ast
import configparser
import email
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile

import fixtures
from oslotest import base

from reconciler import version
import tests

REPO = tests.ROOT


def _tracked(path):
    """Files of the checkout under ``path``: committed, added or new."""
    out = subprocess.run(['git', 'ls-files', '--cached', '--others',
                          '--exclude-standard', path], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return out.split()


class BuildTest(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = fixtures.TempDir()
        cls.tmp.setUp()
        cls.addClassCleanup(cls.tmp.cleanUp)
        try:
            import build  # noqa: F401
        except ImportError:
            cls.output = None
            return
        # From a copy of the tree: a build writes egg-info beside the
        # sources, which would shadow the installed entry points of every
        # process started in the checkout.
        source = os.path.join(cls.tmp.path, 'src')
        for path in _tracked('.'):
            if os.path.isfile(os.path.join(REPO, path)):
                os.makedirs(os.path.dirname(os.path.join(source, path)),
                            exist_ok=True)
                shutil.copy2(os.path.join(REPO, path),
                             os.path.join(source, path))
        dist = os.path.join(cls.tmp.path, 'dist')
        result = subprocess.run(
            [sys.executable, '-m', 'build', '--no-isolation', '--outdir',
             dist, source], capture_output=True, text=True,
            # pbr takes the version from git, which the copy is not.
            env=dict(os.environ, PBR_VERSION='0.0.0'))
        cls.returncode = result.returncode
        cls.output = result.stdout + result.stderr
        [cls.wheel] = [os.path.join(dist, n) for n in os.listdir(dist)
                       if n.endswith('.whl')] or [None]
        [cls.sdist] = [os.path.join(dist, n) for n in os.listdir(dist)
                       if n.endswith('.tar.gz')] or [None]

    def setUp(self):
        super().setUp()
        if self.output is None:
            self.skipTest('the build package is not installed '
                          '(test-requirements.txt)')
        self.assertEqual(0, self.returncode, self.output[-3000:])
        with zipfile.ZipFile(self.wheel) as wheel:
            self.names = wheel.namelist()
            self.sources = {n: wheel.read(n) for n in self.names
                            if n.endswith('.py')}
            [metadata] = [n for n in self.names
                          if n.endswith('.dist-info/METADATA')]
            self.metadata = email.message_from_bytes(wheel.read(metadata))

    def test_no_package_would_be_ignored(self):
        self.assertNotIn('would be ignored', self.output)
        self.assertNotIn('is absent from the `packages`', self.output)

    def test_every_package_of_the_tree_is_in_the_wheel(self):
        packages = {os.path.dirname(p)
                    for p in _tracked('reconciler') + _tracked(
                        'reconcilerclient') if p.endswith('.py')}
        for package in packages:
            self.assertIn(package + '/__init__.py', self.names)
        self.assertIn('reconciler/history/migrations/script.py.mako',
                      self.names)
        self.assertIn('reconciler/simulators/scenarios/demo.yaml',
                      self.names)

    def test_the_licence_is_shipped_and_declared(self):
        self.assertEqual('Apache-2.0', self.metadata['License-Expression'])
        self.assertEqual(['LICENSE'], self.metadata.get_all('License-File'))
        [licence] = [n for n in self.names
                     if n.endswith('.dist-info/licenses/LICENSE')]
        with zipfile.ZipFile(self.wheel) as wheel:
            text = wheel.read(licence).decode()
        self.assertIn('Apache License', text)
        self.assertIn('Version 2.0, January 2004', text)
        with tarfile.open(self.sdist) as sdist:
            self.assertIn('LICENSE', {n.split('/', 1)[-1]
                                      for n in sdist.getnames()})

    def test_no_tests_in_the_wheel(self):
        self.assertEqual([], [n for n in self.names
                              if n.split('/')[0] == 'tests'])

    def test_etc_is_shipped_as_data_files(self):
        data = {n.split('.data/data/', 1)[1] for n in self.names
                if '.data/data/' in n}
        shipped = set(_tracked('etc'))
        self.assertIn('etc/cinder-reconciler/rootwrap.d/'
                      'cinder-reconciler.filters', shipped)
        self.assertIn('etc/systemd/cinder-reconciler.service.d/'
                      'root-helper.conf', shipped)
        self.assertEqual(shipped, data)

    def test_nothing_in_the_wheel_imports_cinder(self):
        for name, source in self.sources.items():
            for node in ast.walk(ast.parse(source, name)):
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    self.assertNotEqual('cinder', module.split('.')[0],
                                        name)

    def test_the_client_imports_nothing_of_the_service(self):
        # reconcilerclient can move to a repository of its own as it is.
        client = [n for n in self.sources if n.startswith('reconcilerclient/')]
        self.assertIn('reconcilerclient/osc/plugin.py', client)
        for name in client:
            for node in ast.walk(ast.parse(self.sources[name], name)):
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    self.assertNotEqual('reconciler', module.split('.')[0],
                                        name)

    def test_api_entry_points(self):
        entry_points = self.entry_points()
        for line in ('cinder-reconciler-api = reconciler.cmd.api:main',
                     'orphan = reconcilerclient.osc.plugin',
                     'orphan_list = reconcilerclient.osc.v1.orphans:'
                     'ListOrphan',
                     'cinder-reconciler = reconciler.api.policies:'
                     'list_rules',
                     'history_database = reconciler.api.healthcheck:'
                     'HistoryDatabaseCheck'):
            self.assertIn(line, entry_points)

    def test_array_clients_are_extras(self):
        self.assertEqual({'hpe3par', 'hpelefthand', 'all'},
                         set(self.metadata.get_all('Provides-Extra')))
        requires = self.metadata.get_all('Requires-Dist')
        for client, extra in (('python-3parclient', 'hpe3par'),
                              ('python-lefthandclient', 'hpelefthand')):
            lines = [r for r in requires if r.startswith(client)]
            self.assertEqual({'extra == "%s"' % extra, 'extra == "all"'},
                             {r.split(';')[1].strip() for r in lines})
        self.assertIn('cinder-reconciler-rootwrap = oslo_rootwrap.cmd:main',
                      self.entry_points())

    def entry_points(self):
        [name] = [n for n in self.names
                  if n.endswith('.dist-info/entry_points.txt')]
        with zipfile.ZipFile(self.wheel) as wheel:
            return wheel.read(name).decode()


# Run in a child whose import system cannot find the array clients, as on a
# host installed without the extras.
WITHOUT_CLIENTS = textwrap.dedent('''
    import sys
    for name in ('hpe3parclient', 'hpelefthandclient'):
        sys.modules[name] = None
    from oslo_config import cfg
    from reconciler import conf as reconciler_conf
    from reconciler.conf import backend as backend_conf
    from reconciler import exception

    listed = {o.dest for _g, opts in backend_conf.list_opts().items()
              for o in opts}
    assert {'hpe3par_api_url', 'hpelefthand_api_url'} <= listed, listed
    conf = cfg.ConfigOpts()
    reconciler_conf.register(conf)
    conf(['--config-file', sys.argv[1]], default_config_files=[],
         default_config_dirs=[])
    for group in ('3par', 'lh'):
        try:
            backend_conf.BackendConf(conf, group).create_driver()
        except exception.ConfigError as e:
            print(e)
''')


class ExtrasTest(base.BaseTestCase):

    def test_a_driver_without_its_client_refuses_its_backend_only(self):
        conf = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'reconciler.conf')
        with open(conf, 'w') as f:
            f.write('[3par]\nreconciler_driver = hpe3par\n'
                    '[lh]\nreconciler_driver = hpelefthand\n')
        result = subprocess.run(
            [sys.executable, '-c', WITHOUT_CLIENTS, conf],
            capture_output=True, text=True, cwd=REPO)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(
            ['backend 3par: python-3parclient is not installed (pip install '
             'cinder-reconciler[hpe3par])',
             'backend lh: python-lefthandclient is not installed (pip '
             'install cinder-reconciler[hpelefthand])'],
            result.stdout.splitlines())


# What a command needs beside its options to get as far as its config files.
SUBCOMMAND = {'cinder-reconciler-manage': ('findings', 'list'),
              'cinder-reconciler-status': ('upgrade', 'check')}


def _commands():
    """The project's own console scripts (not oslo.rootwrap's)."""
    commands = [e for e in importlib.metadata.distribution(
        'cinder-reconciler').entry_points if e.group == 'console_scripts'
        and e.value.startswith('reconciler.')]
    assert len(commands) >= 3, commands
    return commands


def _run(command, *args):
    """A console script as installed, with Python's default warnings."""
    module, func = command.value.split(':')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    return subprocess.run(
        [sys.executable, '-c', 'import sys; from %s import %s; sys.exit(%s())'
         % (module, func, func)] + list(args),
        capture_output=True, text=True, cwd=REPO, env=env)


class CommandTest(base.BaseTestCase):

    def test_every_command_prints_the_package_version(self):
        # The installed package's own version, a pre-release part included
        # (pbr's version_string() would drop ".devN"), and not one line of
        # a library's warnings (cryptography >= 47 warns on DSA, which
        # dnspython imports: constraints.txt keeps it below).
        expected = importlib.metadata.version('cinder-reconciler')
        self.assertEqual(expected, version.version_string())
        for command in _commands():
            result = _run(command, '--version')
            self.assertEqual((0, expected, ''),
                             (result.returncode, result.stdout.strip(),
                              result.stderr), command.name)

    def test_a_missing_or_broken_config_file_is_one_line(self):
        broken = os.path.join(self.useFixture(fixtures.TempDir()).path,
                              'broken.conf')
        with open(broken, 'w') as f:
            f.write('[DEFAULT]\nno assignment here\n')
        for path, says in (('/nonexistent/reconciler.conf',
                            'Failed to find some config files: '
                            '/nonexistent/reconciler.conf'),
                           (broken, 'Failed to parse %s' % broken)):
            for command in _commands():
                result = _run(command, '--config-file', path,
                              *SUBCOMMAND.get(command.name, ()))
                self.assertNotEqual(0, result.returncode, command.name)
                self.assertEqual('', result.stdout, command.name)
                [line] = result.stderr.splitlines()
                self.assertIn(says, line, command.name)

    def test_report_version_object(self):
        # What oslo.reports' package section reads.
        self.assertEqual('cinder-reconciler', version.product_string())
        self.assertTrue(version.version_string_with_package().startswith(
            version.version_string()))


def _canonical(name):
    return re.sub(r'[-_.]+', '-', name).lower()


class ToxTest(base.BaseTestCase):
    """tox.ini and tools/bootstrap.sh install under one constraints file."""

    CONSTRAINTS = '-c{env:TOX_CONSTRAINTS_FILE:{toxinidir}/constraints.txt}'

    def setUp(self):
        super().setUp()
        self.tox = configparser.ConfigParser(interpolation=None)
        self.tox.read(os.path.join(REPO, 'tox.ini'))

    def test_every_environment_that_installs_is_constrained(self):
        envs = [s for s in self.tox.sections()
                if s == 'testenv' or s.startswith('testenv:')]
        checked = []
        for env in envs:
            deps = self.tox[env].get('deps', '').split()
            if not deps:
                continue
            self.assertEqual(self.CONSTRAINTS, deps[0], env)
            checked.append(env)
        self.assertIn('testenv', checked)
        self.assertIn('testenv:pep8', checked)
        self.assertIn('testenv:docs', checked)

    def test_bootstrap_installs_under_the_same_constraints(self):
        with open(os.path.join(REPO, 'tools', 'bootstrap.sh')) as f:
            self.assertIn('-c "${TOX_CONSTRAINTS_FILE:-constraints.txt}"',
                          f.read())

    def test_every_requirement_is_pinned(self):
        # A requirement added without tools/update-constraints.sh would be
        # installed at whatever version is newest that day.
        with open(os.path.join(REPO, 'constraints.txt')) as f:
            pinned = {_canonical(line.split('===')[0]) for line in f
                      if '===' in line}
        for name in ('requirements.txt', 'test-requirements.txt',
                     'doc/requirements.txt', 'tools/bench-requirements.txt'):
            with open(os.path.join(REPO, name)) as f:
                for line in f:
                    requirement = re.split(r'[<>=!~;\[# ]', line.strip())[0]
                    if requirement and not line.startswith('-'):
                        self.assertIn(_canonical(requirement), pinned,
                                      '%s of %s: run tools/update-'
                                      'constraints.sh' % (requirement, name))

    def test_extras_are_installed_for_the_tests(self):
        self.assertEqual('all', self.tox['testenv']['extras'].strip())
