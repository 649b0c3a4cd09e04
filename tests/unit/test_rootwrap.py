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

"""The shipped rootwrap filters against the LVM driver's real command lines.

The driver runs with ``command.run`` recorded instead of executed, for every
combination of options that changes its argv; each command must then pass
real oslo.rootwrap filter matching with etc/cinder-reconciler/rootwrap.d
(what ``cinder-reconciler-rootwrap`` decides before it executes anything),
and commands that change anything must be refused.
"""

import configparser
import itertools
import json
import os

import fixtures
from oslo_rootwrap import wrapper
from oslotest import base

from reconciler.drivers import lvm
from reconciler.simulators.cinder import cinder_venv
from reconciler.simulators.cinder import CinderCloudError
import tests
from tests.unit.drivers import test_lvm
from tests.unit.drivers import test_nec

ETC = os.path.join(tests.ROOT, 'etc', 'cinder-reconciler')
FILTERS_DIR = os.path.join(ETC, 'rootwrap.d')
ROOTWRAP_CONF = os.path.join(ETC, 'rootwrap.conf')

LVS_REPORT = json.dumps({'report': [{'lv': [
    {'lv_name': 'volume-x', 'lv_attr': '-wi-a-----', 'origin': '',
     'pool_lv': '', 'lv_size': '1.00'}]}]})
OUTPUTS = {'lvs': LVS_REPORT, 'tgtadm': test_lvm.TGTADM,
           'cinder-rtstool': 'iqn.2010-10.org.openstack:volume-x\n'}


def _program(argv):
    return next(a for a in argv if a != 'env' and '=' not in a)


class RootwrapFiltersTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        # Stand-ins for the programs, so the filters resolve them here.
        self.bindir = os.path.join(self.tmp, 'bin')
        os.mkdir(self.bindir)
        for name in ('lvs', 'tgtadm', 'cinder-rtstool', 'lvremove',
                     'lvcreate', 'vgs', 'dd'):
            path = os.path.join(self.bindir, name)
            with open(path, 'w') as f:
                f.write('#!/bin/sh\n')
            os.chmod(path, 0o755)
        self.lvm_conf = os.path.join(self.tmp, 'lvm.conf')
        open(self.lvm_conf, 'w').close()
        self.filters = wrapper.load_filters([FILTERS_DIR])
        self.calls = []

        def run(argv, prefix='', timeout=120):
            self.calls.append((list(argv), prefix))
            return OUTPUTS[_program(argv)]
        self.useFixture(fixtures.MonkeyPatch(
            'reconciler.drivers.command.run', run))

    def driver(self, **options):
        group = {'reconciler_driver': 'lvm', 'volume_group': 'vg1'}
        group.update(options)
        [backend] = test_nec.make_backend(self, {'lvm1': group})
        return backend.create_driver()

    def driver_commands(self):
        """Every argv one pass runs, over the options that shape them."""
        commands = []
        for conf_file, fdwarn, helper in itertools.product(
                (self.lvm_conf, 'None'), ('True', 'False'),
                ('tgtadm', 'lioadm')):
            self.calls = []
            self.driver(lvm_conf_file=conf_file,
                        lvm_suppress_fd_warnings=fdwarn,
                        target_helper=helper).list_objects()
            commands.extend(argv for argv, _prefix in self.calls)
        return commands

    def match(self, argv):
        return wrapper.match_filter(self.filters, list(argv),
                                    exec_dirs=[self.bindir])

    def test_every_command_of_the_driver_is_allowed(self):
        commands = self.driver_commands()
        # Both environments of lvs, both target listings.
        self.assertEqual({'lvs', 'tgtadm', 'cinder-rtstool'},
                         {_program(c) for c in commands})
        self.assertIn('LVM_SYSTEM_DIR=%s' % self.tmp, commands[0])
        self.assertIn('LVM_SUPPRESS_FD_WARNINGS=1', commands[0])
        for argv in commands:
            matched = self.match(argv)
            self.assertEqual(
                os.path.join(self.bindir, _program(argv)),
                matched.get_command(list(argv), [self.bindir])[0], argv)
            self.assertEqual('root', matched.run_as)

    def test_commands_that_change_anything_are_refused(self):
        for argv in (
                ['env', 'LC_ALL=C', 'lvremove', '-f', 'vg1/volume-x'],
                ['env', 'LC_ALL=C', 'lvcreate', '-n', 'x', '-L', '1g', 'vg1'],
                # lvs only with Cinder's environment, nothing injected.
                ['env', 'LC_ALL=C', 'LD_PRELOAD=/tmp/x.so', 'lvs'],
                ['lvs', 'vg1'],
                ['tgtadm', '--lld', 'iscsi', '--op', 'delete', '--mode',
                 'target', '--tid', '1'],
                ['tgtadm', '--lld', 'iscsi', '--op', 'show', '--mode',
                 'target', '--tid', '1', '--force'],
                ['tgtadm', '--op', 'update', '--mode', 'sys', '--name',
                 'State', '-v', 'offline'],
                ['cinder-rtstool', 'delete', 'iqn.x:volume-x'],
                ['cinder-rtstool', 'get-targets', 'extra'],
                ['dd', 'if=/dev/zero', 'of=/dev/vg1/volume-x']):
            self.assertRaises(wrapper.NoFilterMatched, self.match, argv)

    def test_cinder_filters_refuse_the_target_listing(self):
        # Why the reconciler ships its own: Cinder 29's volume.filters.
        try:
            venv = cinder_venv()
        except CinderCloudError as e:
            self.skipTest(str(e))
        cinder_dir = os.path.join(venv, 'etc', 'cinder', 'rootwrap.d')
        if not os.path.isdir(cinder_dir):
            self.skipTest('no %s' % cinder_dir)
        cinder = wrapper.load_filters([cinder_dir])
        lvs, tgtadm = self.driver_commands()[:2]
        wrapper.match_filter(cinder, list(lvs), exec_dirs=[self.bindir])
        self.assertRaises(wrapper.NoFilterMatched, wrapper.match_filter,
                          cinder, list(tgtadm), exec_dirs=[self.bindir])
        # Copied into Cinder's filters_path, ours allow it.
        wrapper.match_filter(cinder + self.filters, list(tgtadm),
                             exec_dirs=[self.bindir])

    def test_shipped_rootwrap_conf(self):
        parser = configparser.RawConfigParser()
        with open(ROOTWRAP_CONF) as f:
            parser.read_file(f)
        conf = wrapper.RootwrapConfig(parser)
        self.assertEqual(['/etc/cinder-reconciler/rootwrap.d'],
                         conf.filters_path)
        self.assertIn('/usr/sbin', conf.exec_dirs)
        self.assertIn('/usr/bin', conf.exec_dirs)

    def test_default_root_helper_is_cinders_rootwrap(self):
        self.driver().list_objects()
        self.assertEqual({'sudo cinder-rootwrap /etc/cinder/rootwrap.conf'},
                         {prefix for _argv, prefix in self.calls})
        self.calls = []
        [backend] = test_nec.make_backend(self, {'lvm1': {
            'reconciler_driver': 'lvm'}})
        backend.conf.set_override('rootwrap_config', '/srv/rootwrap.conf')
        backend.create_driver().list_objects()
        self.assertEqual({'sudo cinder-rootwrap /srv/rootwrap.conf'},
                         {prefix for _argv, prefix in self.calls})

    def test_root_helper_set_or_empty_wins(self):
        own = ('sudo cinder-reconciler-rootwrap '
               '/etc/cinder-reconciler/rootwrap.conf')
        for value in (own, ''):
            self.calls = []
            self.driver(root_helper=value).list_objects()
            self.assertEqual({value}, {p for _a, p in self.calls})
        self.assertIsNone(lvm.OPTS[[o.dest for o in lvm.OPTS].index(
            'root_helper')].default)
