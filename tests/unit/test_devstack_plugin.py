"""The devstack plugin, run in bash against stubbed devstack helpers.

Each phase is sourced the way devstack sources it (settings, then
``plugin.sh <mode> [phase]``); the stubs record every call, so the tests see
exactly which ini values, database, processes and accounts the plugin asks
devstack for.
"""

import configparser
import os
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
    for f in define_plugin plugin_requires enable_service setup_develop \
             iniset iniset_rpc_backend recreate_database run_process \
             stop_process create_service_user echo_summary; do
        eval "$f() { _record $f \"\$@\"; }"
    done
    sudo() { _record sudo "$@"; "$@"; }
    is_service_enabled() { [[ ",$ENABLED_SERVICES," == *",$1,"* ]]; }
    database_connection_url() {
        echo "mysql+pymysql://root:dbpw@127.0.0.1/$1?charset=utf8"
    }
    get_python_exec_prefix() { echo "$BIN"; }
    source "$REPO/devstack/settings"
    source "$REPO/devstack/plugin.sh" "$@"
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
        }

    @property
    def conf_file(self):
        return os.path.join(self.conf_dir, 'cinder-reconciler.conf')

    def run_phase(self, *args, **env):
        subprocess.run(['bash', '-c', STUBS, 'plugin'] + list(args),
                       env=dict(self.env, **env), check=True)
        if not os.path.exists(self.calls_file):
            return []
        with open(self.calls_file) as f:
            calls = [tuple(line.rstrip('\n').split('\t')) for line in f]
        os.unlink(self.calls_file)
        return calls

    def calls_of(self, calls, name):
        return [c[1:] for c in calls if c[0] == name]

    def ini(self, calls):
        ini = {}
        for path, group, key, value in self.calls_of(calls, 'iniset'):
            self.assertEqual(self.conf_file, path)
            ini.setdefault(group, {})[key] = value
        return ini

    def test_install_develops_the_checkout(self):
        calls = self.run_phase('stack', 'install')
        self.assertEqual([('/opt/stack/cinder-reconciler',)],
                         self.calls_of(calls, 'setup_develop'))

    def test_post_config_writes_one_group_per_backend(self):
        ini = self.ini(self.run_phase('stack', 'post-config'))
        self.assertEqual('lvmdriver-1,ceph,nfs-1',
                         ini['DEFAULT']['enabled_backends'])
        self.assertEqual({'reconciler_driver': 'lvm'}, ini['lvmdriver-1'])
        self.assertEqual({'reconciler_driver': 'rbd'}, ini['ceph'])
        self.assertEqual({'reconciler_driver': 'manageable'}, ini['nfs-1'])
        self.assertEqual('True', ini['DEFAULT']['debug'])

    def test_post_config_enables_the_host_unit(self):
        ini = self.ini(self.run_phase('stack', 'post-config',
                                      DATA_DIR='/opt/stack/data'))
        self.assertEqual({
            'enabled': 'True', 'lock_path': '/opt/stack/data/os_brick',
            'owned_targets': 'iqn.2010-10.org.openstack:',
            'root_helper': 'sudo'}, ini['host_scan'])
        ini = self.ini(self.run_phase('stack', 'post-config',
                                      CINDER_RECONCILER_HOST_SCAN='False'))
        self.assertNotIn('host_scan', ini)

    def test_compute_node_reconciles_its_host_only(self):
        ini = self.ini(self.run_phase(
            'stack', 'post-config', OS_BRICK_LOCK_PATH='/var/lock/brick',
            ENABLED_SERVICES='n-cpu,cinder-reconciler'))
        self.assertEqual('', ini['DEFAULT']['enabled_backends'])
        self.assertNotIn('lvmdriver-1', ini)
        self.assertEqual(('True', '/var/lock/brick'),
                         (ini['host_scan']['enabled'],
                          ini['host_scan']['lock_path']))

    def test_post_config_database_and_notifications(self):
        calls = self.run_phase('stack', 'post-config')
        ini = self.ini(calls)
        self.assertEqual(
            'mysql+pymysql://root:dbpw@127.0.0.1/cinder_reconciler'
            '?charset=utf8', ini['database']['connection'])
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
        self.assertIn('cinder_reconciler', conf.database.connection)
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
                {'define_plugin', 'plugin_requires', 'enable_service'},
                {c[0] for c in calls}, phase)
