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

"""Backend groups: ``[<name>]`` for each name in ``enabled_backends``.

As in Cinder, an option of a backend group that is not set falls back to
``[backend_defaults]``, then to its default. A group copied from cinder.conf
works unchanged: Cinder options we do not know are ignored, and the array
driver is derived from ``volume_driver`` unless ``reconciler_driver`` names it.
"""

import copy

from oslo_config import cfg
from oslo_log import log as logging
import stevedore

from reconciler.conf import remediation
from reconciler import exception

LOG = logging.getLogger(__name__)

DRIVER_NAMESPACE = 'cinder_reconciler.drivers'
DEFAULTS_GROUP = 'backend_defaults'

OPTS = [
    # Cinder's own names.
    cfg.StrOpt('volume_driver',
               help="Cinder's driver path; selects the array driver when "
                    'reconciler_driver is not set.'),
    cfg.StrOpt('volume_backend_name', help="Cinder's backend name."),
    cfg.StrOpt('backend_host',
               help="Cinder's per-backend host override ([DEFAULT] host "
                    'is used when unset).'),
    # Ours.
    cfg.StrOpt('reconciler_driver',
               help='Array driver to use: an entry point name in %s, '
                    'e.g. fake, hpelefthand, hpe3par, nec, lvm, rbd, '
                    'manageable (any backend, through Cinder).'
                    % DRIVER_NAMESPACE),
    cfg.BoolOpt('reconciler_enabled', default=True,
                help='Set to false to skip this backend.'),
    cfg.IntOpt('reconciler_interval', default=600, min=10, max=86400,
               help='Seconds between two passes over this backend.'),
    cfg.IntOpt('reconciler_sightings', default=3, min=1, max=1000,
               help='Consecutive successful passes that must see a finding '
                    'before it is confirmed.'),
    cfg.IntOpt('reconciler_grace_period', default=3600, min=0,
               max=30 * 86400,
               help='Seconds a finding must have been seen for before it is '
                    'confirmed (counted from its first sighting).'),
    cfg.IntOpt('reconciler_stale_temporary_grace_period', default=86400,
               min=0, max=366 * 86400,
               help='Seconds a temporary object Cinder made for an '
                    'operation (an NEC _m/_d/_l LD, a 3PAR tsv-/tss-/omv- '
                    'VV, an RBD .deleted parent without clones) must have '
                    'looked stale (the volume or snapshot it served not in '
                    'transition, or gone) before its stale_temporary '
                    'finding is confirmed. Instead of '
                    'reconciler_grace_period for that kind: an operation '
                    'may run for hours.'),
    cfg.IntOpt('reconciler_confirmed_recheck_passes', default=10, min=1,
               max=1000,
               help='Confirmed findings that the listings still show are '
                    're-checked with point look-ups on one pass in N (this '
                    'value), spread so that each pass re-checks about 1/N '
                    'of them; exports of attached volumes are re-checked on '
                    'every pass. A confirmed finding that stopped being an '
                    'orphan in a way the listings cannot show (e.g. its '
                    'Cinder row moved to another host) resolves within N '
                    'successful passes. 1 re-checks all of them on every '
                    'pass.'),
    cfg.IntOpt('reconciler_max_shrink_percent', default=50, min=1, max=100,
               help='A listing that shrank by more than this percentage '
                    "since the backend's last successful pass fails the "
                    'pass as implausible. Without history, so does a listing '
                    "that lacks more than this percentage of Cinder's "
                    'settled volumes in the pools it covered (one holding '
                    'none of them, for any value below 100).'),
    cfg.IntOpt('reconciler_max_suspect_percent', default=25, min=1, max=100,
               help='A pass whose comparison would add more new suspects '
                    '(differences not already open findings) than this '
                    "percentage of the backend's size (the larger of "
                    "Cinder's volumes plus snapshots and the array's "
                    'objects) fails as implausible, before any point '
                    'look-up. A pass may always add up to 10. 100 disables '
                    'the cap; raise it for one pass to take in a backend '
                    'with that many real orphans.'),
    cfg.IntOpt('reconciler_full_listing_passes', default=12, min=1,
               max=1000,
               help="Cinder's volumes and snapshots are listed in full on "
                    'one pass in N (this value); the passes between list '
                    'only what changed since the previous pass (Cinder API '
                    '3.60 and later) and merge it into the view the daemon '
                    'keeps in memory. A pass also lists in full after the '
                    'daemon starts, after a failed pass, when the counts '
                    'Cinder reports disagree with the merged view, and '
                    'always with an older Cinder API. 1 lists in full on '
                    'every pass.'),
] + remediation.OPTS


def _drivers():
    return stevedore.ExtensionManager(DRIVER_NAMESPACE, invoke_on_load=False)


def driver_class(name):
    try:
        return stevedore.DriverManager(DRIVER_NAMESPACE, name,
                                       invoke_on_load=False).driver
    except stevedore.exception.NoMatches:
        raise exception.ConfigError(
            'unknown reconciler_driver %r; known: %s'
            % (name, ', '.join(sorted(_drivers().names()))))


def _register_pair(conf, group, opts):
    """Register ``opts`` in ``group`` (unset = None) and in the defaults."""
    conf.register_opts(opts, group=DEFAULTS_GROUP)
    unset = []
    for opt in opts:
        opt = copy.deepcopy(opt)
        opt.default = None
        unset.append(opt)
    conf.register_opts(unset, group=group)


class BackendConf(object):
    """The options of one backend group, with Cinder's fallback rule."""

    def __init__(self, conf, name):
        if name in (DEFAULTS_GROUP, 'DEFAULT') or not name:
            raise exception.ConfigError('invalid backend name %r' % name)
        self.conf = conf
        self.name = name
        _register_pair(conf, name, OPTS)
        self.driver_cls = driver_class(self._driver_name())
        _register_pair(conf, name, self.driver_cls.OPTS)

    def _driver_name(self):
        if self.reconciler_driver:
            return self.reconciler_driver
        if not self.volume_driver:
            raise exception.ConfigError(
                'backend %s sets neither reconciler_driver nor volume_driver'
                % self.name)
        for ext in _drivers():
            if self.volume_driver in ext.plugin.CINDER_VOLUME_DRIVERS:
                return ext.name
        if self.conf.reconciler.unsupported_backends == 'manageable':
            return 'manageable'
        raise exception.UnsupportedBackend(
            'backend %s: no reconciler driver handles volume_driver %s; '
            'skipped (set reconciler_driver = manageable in its group, or '
            '[reconciler] unsupported_backends = manageable, to reconcile it '
            "through Cinder's manageable API)"
            % (self.name, self.volume_driver))

    def __getattr__(self, opt_name):
        value = self.conf[self.name][opt_name]
        if value is None:
            value = self.conf[DEFAULTS_GROUP][opt_name]
        return value

    @property
    def cinder_host(self):
        """The ``host@backend`` Cinder records for this backend's volumes."""
        return '%s@%s' % (self.backend_host or self.conf.host, self.name)

    @property
    def cinder_cluster(self):
        """``cluster@backend`` of a clustered backend (active/active), or
        None: Cinder's volumes then carry the host of the member that made
        them, and this cluster name.
        """
        cluster = (self.conf.cluster or '').strip()
        return '%s@%s' % (cluster, self.name) if cluster else None

    def create_driver(self):
        return self.driver_cls(self)


def enabled(conf, warn=True):
    """BackendConf for every enabled backend, in configuration order.

    A backend no reconciler driver handles (NetApp, Pure... in Cinder's
    enabled_backends) is left out, with a warning unless ``warn`` is false;
    it never stops the others.
    """
    names = [n.strip() for n in conf.enabled_backends if n.strip()]
    if len(set(names)) != len(names):
        raise exception.ConfigError('enabled_backends lists a name twice')
    backends = []
    for name in names:
        try:
            backends.append(BackendConf(conf, name))
        except exception.UnsupportedBackend as e:
            if warn:
                LOG.warning('%s', e)
    return backends


def backend_host(conf, name):
    """``backend_host`` of backend group ``name`` (or of
    ``[backend_defaults]``), None when unset; for any backend, whether a
    reconciler driver handles it or not.
    """
    _register_pair(conf, name, [o for o in OPTS if o.dest == 'backend_host'])
    return conf[name].backend_host or conf[DEFAULTS_GROUP].backend_host


def list_opts():
    """Backend options as the generator shows them: under backend_defaults."""
    opts = list(OPTS)
    for ext in sorted(_drivers(), key=lambda e: e.name):
        opts.extend(ext.plugin.OPTS)
    return {DEFAULTS_GROUP: opts}
