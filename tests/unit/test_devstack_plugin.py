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

"""The devstack plugin, run in bash against stubbed devstack helpers.

Each phase is sourced the way devstack sources it (settings, then
``plugin.sh <mode> [phase]``); the stubs record every call, so the tests see
exactly which ini values, database, processes and accounts the plugin asks
devstack for.
"""

import configparser
import os
import re
import stat
import subprocess
import textwrap

import fixtures
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslotest import base

from reconciler import conf as reconciler_conf
import tests

REPO = tests.ROOT

STUBS = textwrap.dedent(r'''
    _record() { local IFS=$'\t'; echo "$*" >> "$CALLS"; }
    for f in define_plugin plugin_requires enable_service \
             iniset iniset_rpc_backend recreate_database run_process \
             stop_process create_service_user echo_summary \
             get_or_create_service get_or_create_endpoint \
             configure_keystone_authtoken_middleware; do
        eval "$f() { _record $f \"\$@\"; }"
    done
    # Which virtualenv pip would install into (devstack's pip_install).
    setup_develop() { _record setup_develop "$@" "venv=${PIP_VIRTUAL_ENV:-}"; }
    declare -A -g PROJECT_VENV
    sudo() { _record sudo "$@"; "$@"; }
    is_service_enabled() { [[ ",$ENABLED_SERVICES," == *",$1,"* ]]; }
    database_connection_url() {
        echo "mysql+pymysql://root:dbpw@127.0.0.1/$1?charset=utf8"
    }
    get_python_exec_prefix() { echo "$BIN"; }
    set ${XTRACE:-+}o xtrace
    source "$REPO/devstack/settings"
    source "$REPO/devstack/plugin.sh" "$@"
    _record xtrace_after "$(set +o | grep xtrace)"
''')

BACKENDS = 'lvm:lvmdriver-1,ceph:ceph,nfs:nfs-1'


class DevstackPluginTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.bin = os.path.join(self.tmp, 'bin')
        os.mkdir(self.bin)
        self.calls_file = os.path.join(self.tmp, 'calls')
        # A stand-in cinder-reconciler-manage that records its arguments.
        manage = os.path.join(self.bin, 'cinder-reconciler-manage')
        with open(manage, 'w') as f:
            f.write('#!/bin/bash\n'
                    '(IFS=$\'\\t\'; echo "manage	$*" >> "$CALLS")\n')
        os.chmod(manage, 0o755)
        self.conf_dir = os.path.join(self.tmp, 'etc-cinder-reconciler')
        self.env = {
            'PATH': os.environ['PATH'], 'REPO': REPO, 'CALLS': self.calls_file,
            'BIN': self.bin, 'DEST': '/opt/stack',
            'STACK_USER': subprocess.check_output(['id', '-un'],
                                                  text=True).strip(),
            'ENABLED_SERVICES': 'c-api,c-vol,cinder-reconciler',
            'CINDER_CONF': '/etc/cinder/cinder.conf',
            'CINDER_ENABLED_BACKENDS': BACKENDS,
            'CINDER_RECONCILER_CONF_DIR': self.conf_dir,
            'KEYSTONE_SERVICE_URI': 'http://127.0.0.1/identity',
            'REGION_NAME': 'RegionOne', 'ENABLE_DEBUG_LOG_LEVEL': 'True',
            'SERVICE_PASSWORD': 'svc-secret', 'ADMIN_PASSWORD': 'adm-secret',
            'SERVICE_PROJECT_NAME': 'service',
            'SERVICE_DOMAIN_NAME': 'Default',
            'USE_VENV': 'False', 'TOP_DIR': os.path.join(self.tmp, 'devstack'),
            'CINDER_CONF_DIR': os.path.join(self.tmp, 'etc-cinder'),
        }
        os.makedirs(os.path.join(self.env['CINDER_CONF_DIR'], 'rootwrap.d'))
        # devstack's tools/build_venv.sh, sourced with the venv's path.
        tools = os.path.join(self.env['TOP_DIR'], 'tools')
        os.makedirs(tools)
        with open(os.path.join(tools, 'build_venv.sh'), 'w') as f:
            f.write('_record build_venv "$@"\n')

    @property
    def conf_file(self):
        return os.path.join(self.conf_dir, 'cinder-reconciler.conf')

    def run_phase(self, *args, **env):
        result = subprocess.run(['bash', '-c', STUBS, 'plugin'] + list(args),
                                env=dict(self.env, **env), text=True,
                                capture_output=True)
        self.assertEqual(0, result.returncode, result.stderr)
        self.stderr = result.stderr
        if not os.path.exists(self.calls_file):
            return []
        with open(self.calls_file) as f:
            calls = [tuple(line.rstrip('\n').split('\t')) for line in f]
        os.unlink(self.calls_file)
        return calls

    def calls_of(self, calls, name):
        return [c[1:] for c in calls if c[0] == name]

    def ini(self, calls, path=None):
        ini = {}
        for written, group, key, value in self.calls_of(calls, 'iniset'):
            if path is None:
                self.assertEqual(self.conf_file, written)
            elif written != path:
                continue
            ini.setdefault(group, {})[key] = value
        return ini

    def test_install_develops_the_checkout(self):
        calls = self.run_phase('stack', 'install')
        self.assertEqual([('/opt/stack/cinder-reconciler', '', 'venv=')],
                         self.calls_of(calls, 'setup_develop'))
        self.assertEqual([], self.calls_of(calls, 'build_venv'))
        calls = self.run_phase('stack', 'install',
                               CINDER_RECONCILER_EXTRAS='hpe3par')
        self.assertEqual([('/opt/stack/cinder-reconciler', 'hpe3par',
                           'venv=')],
                         self.calls_of(calls, 'setup_develop'))

    def test_use_venv_installs_and_runs_from_its_own_virtualenv(self):
        checkout = os.path.join(self.tmp, 'cinder-reconciler')
        venv = checkout + '.venv'
        env = dict(USE_VENV='True', CINDER_RECONCILER_DIR=checkout)
        calls = self.run_phase('stack', 'install',
                               ADDITIONAL_VENV_PACKAGES='a,b', **env)
        self.assertEqual([(venv, 'a', 'b')],
                         self.calls_of(calls, 'build_venv'))
        self.assertEqual([(checkout, '', 'venv=' + venv)],
                         self.calls_of(calls, 'setup_develop'))
        # The database sync and the daemon run from the venv.
        os.makedirs(os.path.join(venv, 'bin'))
        manage = os.path.join(venv, 'bin', 'cinder-reconciler-manage')
        with open(manage, 'w') as f:
            f.write('#!/bin/bash\necho "venv-manage	$*" >> "$CALLS"\n')
        os.chmod(manage, 0o755)
        calls = self.run_phase('stack', 'extra', **env)
        self.assertEqual([], self.calls_of(calls, 'manage'))
        self.assertEqual('db sync',
                         self.calls_of(calls, 'venv-manage')[0][0][-7:])
        [(_name, command)] = self.calls_of(calls, 'run_process')
        self.assertEqual(os.path.join(venv, 'bin', 'cinder-reconciler'),
                         command.split()[0])

    def test_xtrace_is_on_inside_and_restored_after(self):
        for before, after in (('+', 'set +o xtrace'),
                              ('-', 'set -o xtrace')):
            calls = self.run_phase('stack', 'post-config', XTRACE=before)
            self.assertEqual([(after,)], self.calls_of(calls, 'xtrace_after'))
            # The plugin's own commands are traced (devstack's logs).
            self.assertIn('+ configure_cinder_reconciler', self.stderr)

    def test_post_config_writes_one_group_per_backend(self):
        ini = self.ini(self.run_phase('stack', 'post-config'))
        self.assertEqual('lvmdriver-1,ceph,nfs-1',
                         ini['DEFAULT']['enabled_backends'])
        self.assertEqual({'reconciler_driver': 'lvm'}, ini['lvmdriver-1'])
        self.assertEqual({'reconciler_driver': 'rbd'}, ini['ceph'])
        self.assertEqual({'reconciler_driver': 'manageable'}, ini['nfs-1'])
        self.assertEqual('True', ini['DEFAULT']['debug'])

    def test_post_config_judges_the_agents_scans(self):
        ini = self.ini(self.run_phase('stack', 'post-config',
                                      DATA_DIR='/opt/stack/data'))
        # The controller judges; it scans nothing itself.
        self.assertEqual({'owned_targets': 'iqn.2010-10.org.openstack:'},
                         ini['host_scan'])
        self.assertEqual({'auth_key': 'svc-secret'}, ini['agents'])
        ini = self.ini(self.run_phase('stack', 'post-config',
                                      CINDER_RECONCILER_HOST_SCAN='False'))
        self.assertNotIn('host_scan', ini)

    @property
    def agent_conf(self):
        return os.path.join(self.conf_dir, 'agent.conf')

    def test_settings_enable_the_agent_where_volumes_attach(self):
        for services, enabled in (('n-cpu', True), ('c-vol', True),
                                  ('c-api,c-sch', False)):
            calls = self.run_phase('stack', 'pre-install',
                                   ENABLED_SERVICES=services)
            self.assertEqual(enabled, ('cinder-reconciler-agent',) in
                             self.calls_of(calls, 'enable_service'),
                             services)

    def test_compute_node_runs_the_agent_only(self):
        env = dict(OS_BRICK_LOCK_PATH='/var/lock/brick',
                   ENABLED_SERVICES='n-cpu,cinder-reconciler,'
                                    'cinder-reconciler-agent')
        calls = self.run_phase('stack', 'install', **env)
        self.assertEqual(1, len(self.calls_of(calls, 'setup_develop')))
        calls = self.run_phase('stack', 'post-config', **env)
        # No controller here: no database, no Cinder credentials.
        self.assertEqual({}, self.ini(calls, self.conf_file))
        self.assertEqual([], self.calls_of(calls, 'create_service_user'))
        ini = self.ini(calls, self.agent_conf)
        self.assertEqual({'lock_path': '/var/lock/brick',
                          'root_helper': 'sudo', 'report_key': ''},
                         ini['host_scan'])
        self.assertEqual({'debug'}, set(ini['DEFAULT']))
        self.assertEqual([('cinder-reconciler', self.agent_conf)],
                         self.calls_of(calls, 'iniset_rpc_backend'))
        [(manage)] = self.calls_of(calls, 'manage')
        self.assertEqual(('agent-key', os.uname().nodename), manage[-2:])
        self.assertNotIn('svc-secret', ' '.join(manage))
        self.assertEqual(0o600, stat.S_IMODE(os.stat(
            self.agent_conf).st_mode))
        calls = self.run_phase('stack', 'extra', **env)
        self.assertEqual(
            [('cinder-reconciler-agent',
              '%s/cinder-reconciler-agent --config-file %s'
              % (self.bin, self.agent_conf))],
            self.calls_of(calls, 'run_process'))
        self.assertEqual([], self.calls_of(calls, 'recreate_database'))
        self.assertEqual([('cinder-reconciler-agent',)], self.calls_of(
            self.run_phase('unstack', **env), 'stop_process'))

    def test_post_config_database_and_notifications(self):
        calls = self.run_phase('stack', 'post-config')
        ini = self.ini(calls)
        self.assertEqual(
            'mysql+pymysql://root:dbpw@127.0.0.1/cinder_reconciler'
            '?charset=utf8', ini['reconciler_database']['connection'])
        self.assertEqual({'driver': 'messagingv2'},
                         ini['oslo_messaging_notifications'])
        self.assertEqual([('cinder-reconciler', self.conf_file)],
                         self.calls_of(calls, 'iniset_rpc_backend'))

    def test_post_config_service_user_with_admin_role(self):
        calls = self.run_phase('stack', 'post-config')
        self.assertEqual([('cinder-reconciler', 'admin')],
                         self.calls_of(calls, 'create_service_user'))
        self.assertEqual({
            'auth_type': 'password',
            'auth_url': 'http://127.0.0.1/identity',
            'region_name': 'RegionOne', 'username': 'cinder-reconciler',
            'password': 'svc-secret', 'project_name': 'service',
            'user_domain_name': 'Default', 'project_domain_name': 'Default',
        }, self.ini(calls)['cinder'])
        # It holds passwords.
        mode = stat.S_IMODE(os.stat(self.conf_file).st_mode)
        self.assertEqual(0o600, mode)

    def test_post_config_devstack_admin(self):
        calls = self.run_phase('stack', 'post-config',
                               CINDER_RECONCILER_SERVICE_USER='admin')
        self.assertEqual([], self.calls_of(calls, 'create_service_user'))
        cinder = self.ini(calls)['cinder']
        self.assertEqual(('admin', 'adm-secret', 'admin'),
                         (cinder['username'], cinder['password'],
                          cinder['project_name']))

    def test_written_file_is_understood_by_the_reconciler(self):
        ini = self.ini(self.run_phase('stack', 'post-config'))
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        parser.read_dict(ini)
        with open(self.conf_file, 'w') as f:
            parser.write(f)
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf(['--config-file', self.conf_file], project='cinder-reconciler')
        self.assertEqual(['lvmdriver-1', 'ceph', 'nfs-1'],
                         conf.enabled_backends)
        self.assertIn('cinder_reconciler', conf.reconciler_database.connection)
        self.assertEqual('RegionOne', conf.cinder.region_name)
        # The auth plugin accepts the [cinder] options written for it (built
        # from them directly: registering plugin options on a ConfigOpts
        # would leak into other tests through the shared OptGroup).
        loader = ks_loading.get_plugin_loader(conf.cinder.auth_type)
        cinder = ini['cinder']
        auth = loader.load_from_options(**{
            o.dest: cinder[o.dest] for o in loader.get_options()
            if o.dest in cinder})
        self.assertEqual('cinder-reconciler', auth._username)
        self.assertEqual('http://127.0.0.1/identity', auth.auth_url)

    def test_extra_syncs_the_database_then_starts_the_daemon(self):
        calls = self.run_phase('stack', 'extra')
        order = [c[0] for c in calls
                 if c[0] in ('recreate_database', 'manage', 'run_process')]
        self.assertEqual(['recreate_database', 'manage', 'run_process'],
                         order)
        self.assertEqual([('cinder_reconciler',)],
                         self.calls_of(calls, 'recreate_database'))
        files = ('--config-file /etc/cinder/cinder.conf '
                 '--config-file %s' % self.conf_file)
        self.assertEqual([tuple(files.split()) + ('db', 'sync')],
                         self.calls_of(calls, 'manage'))
        self.assertEqual(
            [('cinder-reconciler',
              '%s/cinder-reconciler %s' % (self.bin, files))],
            self.calls_of(calls, 'run_process'))

    def test_unstack_stops_and_clean_removes_the_configuration(self):
        self.run_phase('stack', 'post-config')
        self.assertTrue(os.path.exists(self.conf_file))
        self.assertEqual([('cinder-reconciler',)], self.calls_of(
            self.run_phase('unstack'), 'stop_process'))
        self.assertTrue(os.path.exists(self.conf_file))
        self.run_phase('clean')
        self.assertFalse(os.path.exists(self.conf_dir))

    def test_nothing_happens_when_the_service_is_disabled(self):
        for phase in (('stack', 'install'), ('stack', 'post-config'),
                      ('stack', 'extra'), ('unstack',), ('clean',)):
            calls = self.run_phase(*phase, ENABLED_SERVICES='c-api,c-vol')
            self.assertEqual(
                {'define_plugin', 'enable_service', 'xtrace_after'},
                {c[0] for c in calls}, phase)

    API = dict(ENABLED_SERVICES='c-api,c-vol,cinder-reconciler,'
                                'cinder-reconciler-api',
               SERVICE_PROTOCOL='http', SERVICE_HOST='192.0.2.10',
               SERVICE_LISTEN_ADDRESS='0.0.0.0', API_WORKERS='2')

    def test_post_config_of_the_api_holds_no_cinder_credentials(self):
        calls = self.run_phase('stack', 'post-config', **self.API)
        api_conf = os.path.join(self.conf_dir, 'cinder-reconciler-api.conf')
        ini = self.ini(calls, api_conf)
        self.assertEqual({'DEFAULT', 'api', 'reconciler_database'}, set(ini))
        self.assertEqual(
            (os.path.join('/opt/stack/cinder-reconciler', 'etc',
                          'cinder-reconciler', 'api-paste.ini'),
             'mysql+pymysql://root:dbpw@127.0.0.1/cinder_reconciler'
             '?charset=utf8'),
            (ini['api']['api_paste_config'],
             ini['reconciler_database']['connection']))
        self.assertEqual([(api_conf, 'cinder-reconciler-api')],
                         self.calls_of(
                             calls, 'configure_keystone_authtoken_middleware'))
        self.assertEqual(0o600, stat.S_IMODE(os.stat(api_conf).st_mode))
        uwsgi = self.ini(calls, os.path.join(
            self.conf_dir, 'cinder-reconciler-api-uwsgi.ini'))['uwsgi']
        self.assertEqual(
            ('reconciler.wsgi.api:application', '0.0.0.0:8799',
             'OS_CINDER_RECONCILER_API_CONFIG_FILES=' + api_conf, '2',
             'true', 'true'),
            tuple(uwsgi[k] for k in ('module', 'http-socket', 'env',
                                     'processes', 'die-on-term',
                                     'lazy-apps')))

    def test_post_config_registers_the_api_in_the_catalog(self):
        calls = self.run_phase('stack', 'post-config', **self.API)
        self.assertEqual([('cinder-reconciler', 'admin'),
                          ('cinder-reconciler-api',)],
                         self.calls_of(calls, 'create_service_user'))
        self.assertEqual(
            [('cinder-reconciler-api', 'block-storage-reconciliation',
              'Orphan block-storage findings (cinder-reconciler)')],
            self.calls_of(calls, 'get_or_create_service'))
        self.assertEqual(
            [('block-storage-reconciliation', 'RegionOne',
              'http://192.0.2.10:8799')],
            self.calls_of(calls, 'get_or_create_endpoint'))

    def test_extra_starts_the_api_under_uwsgi_and_unstack_stops_it(self):
        uwsgi = os.path.join(self.bin, 'uwsgi')
        with open(uwsgi, 'w') as f:
            f.write('#!/bin/sh\n')
        os.chmod(uwsgi, 0o755)
        calls = self.run_phase('stack', 'extra', PATH='%s:%s' % (
            self.bin, os.environ['PATH']), **self.API)
        self.assertEqual(
            ('cinder-reconciler-api',
             '%s --procname-prefix cinder-reconciler-api --ini %s' % (
                 uwsgi, os.path.join(self.conf_dir,
                                     'cinder-reconciler-api-uwsgi.ini'))),
            self.calls_of(calls, 'run_process')[1])
        self.assertEqual([('cinder-reconciler',), ('cinder-reconciler-api',)],
                         self.calls_of(self.run_phase('unstack', **self.API),
                                       'stop_process'))

    def test_post_config_adds_our_filters_to_cinders_rootwrap(self):
        filters = os.path.join(self.env['CINDER_CONF_DIR'], 'rootwrap.d',
                               'cinder-reconciler.filters')
        self.run_phase('stack', 'post-config', CINDER_RECONCILER_DIR=REPO)
        with open(filters) as f, open(os.path.join(
                REPO, 'etc', 'cinder-reconciler', 'rootwrap.d',
                'cinder-reconciler.filters')) as shipped:
            self.assertEqual(shipped.read(), f.read())
        self.assertEqual(0o644, stat.S_IMODE(os.stat(filters).st_mode))
        self.run_phase('clean')
        self.assertFalse(os.path.exists(filters))


# The gate's local.conf writer (devstack's write-devstack-local-conf role)
# reads every checked-out repository's devstack/settings: ``define_plugin
# NAME`` names it, ``plugin_requires NAME OTHER`` (NAME being its own) makes
# OTHER a dependency, and it writes enable_plugin lines with dependencies
# first, looking each dependency up among the job's plugins (a KeyError
# when it is not one).
_DEFINE = re.compile(r'^define_plugin\s+(\S+)')
_REQUIRE = re.compile(r'^plugin_requires\s+(\S+)\s+(\S+)')


def settings_plugin(text):
    """``(name, {required plugins})`` as the gate reads a settings file."""
    name, requires = None, set()
    for line in text.splitlines():
        if m := _DEFINE.match(line):
            name = m.group(1)
        if (m := _REQUIRE.match(line)) and m.group(1) == name:
            requires.add(m.group(2))
    return name, requires


def enable_plugin_lines(job_plugins, requirements):
    """The local.conf lines for ``{plugin: repository}`` of a job."""
    deps = {name: requirements.get(name, set()) - {name}
            for name in job_plugins}
    lines, seen = [], set()

    def visit(name):
        for dependency in sorted(deps[name]):     # KeyError: not a plugin
            visit(dependency)
        if name not in seen:
            seen.add(name)
            lines.append('enable_plugin %s %s' % (name, job_plugins[name]))
    for name in sorted(job_plugins):
        visit(name)
    return lines


class GatePluginParsingTest(base.BaseTestCase):

    URL = 'https://opendev.org/openstack/cinder-reconciler'

    def settings(self):
        with open(os.path.join(REPO, 'devstack', 'settings')) as f:
            return f.read()

    def test_local_conf_writer_accepts_our_settings(self):
        name, requires = settings_plugin(self.settings())
        self.assertEqual('cinder-reconciler', name)
        self.assertEqual(['enable_plugin cinder-reconciler %s' % self.URL],
                         enable_plugin_lines({name: self.URL},
                                             {name: requires}))

    def test_a_requirement_that_names_no_plugin_breaks_the_writer(self):
        # What the settings declared before: Cinder is no plugin.
        name, requires = settings_plugin(
            self.settings() + 'plugin_requires cinder-reconciler cinder\n')
        self.assertEqual({'cinder'}, requires)
        self.assertRaises(KeyError, enable_plugin_lines, {name: self.URL},
                          {name: requires})

    def test_requirements_come_first(self):
        self.assertEqual(
            ['enable_plugin devstack-plugin-ceph c',
             'enable_plugin cinder-reconciler r'],
            enable_plugin_lines(
                {'cinder-reconciler': 'r', 'devstack-plugin-ceph': 'c'},
                {'cinder-reconciler': {'devstack-plugin-ceph'}}))
