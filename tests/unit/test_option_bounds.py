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

"""Every numeric option has a minimum and a maximum that oslo.config
enforces: each bound is accepted, one step past it is refused in one line.
"""

import os
import textwrap

import fixtures
from oslo_config import cfg
from oslo_config import types
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler.conf import opts
from reconciler.conf import validation
from reconciler import exception

NUMERIC = (types.Integer, types.Float)


def numeric(options):
    return [o for o in options if isinstance(o.type, NUMERIC)]


def static_options():
    """(group, option) of the daemon-wide groups."""
    return [(getattr(group, 'name', group), opt)
            for group, options in opts.list_opts()
            if getattr(group, 'name', group) != backend_conf.DEFAULTS_GROUP
            for opt in numeric(options)]


def backend_options():
    """(driver, option) of the backend groups, each with a driver that
    registers it.
    """
    found = [('fake', opt) for opt in numeric(backend_conf.OPTS)]
    for ext in sorted(backend_conf._drivers(), key=lambda e: e.name):
        found += [(ext.name, opt) for opt in numeric(ext.plugin.OPTS)]
    return found


def past(opt, bound, step):
    """One step past ``bound`` (``step`` -1 below the minimum, 1 above the
    maximum): 1, or half a fractional bound.
    """
    if isinstance(opt.type, types.Float) and 0 < bound < 1:
        return bound + step * bound / 2
    return bound + step


class BoundsTest(base.BaseTestCase):

    def load(self, text):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'r.conf')
        with open(path, 'w') as f:
            f.write(textwrap.dedent(text))
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf(['--config-file', path], project='x', default_config_files=[],
             default_config_dirs=[])
        return conf

    def test_every_numeric_option_is_bounded(self):
        options = static_options() + backend_options()
        self.assertGreater(len(options), 40)
        self.assertEqual([], ['%s %s' % (where, o.dest) for where, o in options
                              if o.type.min is None or o.type.max is None])

    def test_static_bounds_are_enforced(self):
        for bound in ('min', 'max'):
            by_group = {}
            for group, opt in static_options():
                by_group.setdefault(group, []).append(
                    '%s = %s' % (opt.dest, getattr(opt.type, bound)))
            conf = self.load(''.join(
                '[%s]\n%s\n' % (group, '\n'.join(lines))
                for group, lines in by_group.items()))
            validation.check_static(conf)
            for group, opt in static_options():
                self.assertEqual(getattr(opt.type, bound),
                                 conf[group][opt.dest], (group, opt.dest))
        for group, opt in static_options():
            for bound, step in (('min', -1), ('max', 1)):
                value = past(opt, getattr(opt.type, bound), step)
                conf = self.load('[%s]\n%s = %s\n'
                                 % (group, opt.dest, value))
                e = self.assertRaises(exception.ConfigError,
                                      validation.check_static, conf)
                self.assertTrue(str(e).startswith(
                    '[%s] %s = %s: invalid value (Should be '
                    % (group, opt.dest, value)), str(e))
                self.assertNotIn('\n', str(e))

    def backend(self, driver, opt, value):
        conf = self.load("""
            [DEFAULT]
            enabled_backends = b1
            [b1]
            reconciler_driver = %s
            %s = %s
            """ % (driver, opt.dest, value))
        return backend_conf.BackendConf(conf, 'b1')

    def test_backend_bounds_are_enforced(self):
        for driver, opt in backend_options():
            for bound in ('min', 'max'):
                value = getattr(opt.type, bound)
                self.assertEqual(value, getattr(
                    self.backend(driver, opt, value), opt.dest))
            for bound, step in (('min', -1), ('max', 1)):
                value = past(opt, getattr(opt.type, bound), step)
                e = self.assertRaises(
                    exception.ConfigError, validation.check_backend,
                    self.backend(driver, opt, value))
                self.assertTrue(str(e).startswith(
                    '[b1] %s = %s: invalid value (Should be '
                    % (opt.dest, value)), str(e))

    def test_the_reported_extremes(self):
        conf = self.load("""
            [DEFAULT]
            enabled_backends = b1
            [b1]
            reconciler_driver = fake
            reconciler_interval = 99999999999999999999
            """)
        e = self.assertRaises(exception.ConfigError,
                              validation.enabled_backends, conf)
        self.assertEqual('[b1] reconciler_interval = 99999999999999999999: '
                         'invalid value (Should be less than or equal to '
                         '86400)', str(e))
        conf = self.load("""
            [cinder]
            timeout = 0
            """)
        e = self.assertRaises(exception.ConfigError,
                              validation.check_static, conf)
        self.assertEqual('[cinder] timeout = 0: invalid value (Should be '
                         'greater than or equal to 1)', str(e))
