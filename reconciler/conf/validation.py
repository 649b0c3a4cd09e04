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

"""Early validation: every option a run will read, checked before it runs.

oslo.config converts a value only when it is read, so a bad one would
otherwise surface mid-pass as a traceback. The daemon's start and SIGHUP,
``check`` and the upgrade check all call :func:`enabled_backends`, which
reads every option of the daemon's own groups and of each enabled backend
(its group and ``[backend_defaults]``) and builds each driver without
opening it. Errors name the group, the option and the value (masked for a
secret option) in one line. A backend with an invalid option is left out
and the others run; a reload (SIGHUP) with one is refused as a whole.
"""

import glob
import os

from oslo_config import cfg
from oslo_log import log as logging

from reconciler import conf as reconciler_conf
from reconciler.conf import agents
from reconciler.conf import backend as backend_conf
from reconciler.conf import cinder
from reconciler.conf import cinder_notifications
from reconciler.conf import cloud
from reconciler.conf import coordination
from reconciler.conf import database
from reconciler.conf import default
from reconciler.conf import host_scan
from reconciler.conf import keystone
from reconciler.conf import metrics
from reconciler.conf import nova
from reconciler.conf import reconciler
from reconciler import exception
from reconciler.rpc import api as rpc_api

LOG = logging.getLogger(__name__)

#: Modules of the daemon's own static groups.
STATIC_MODULES = (default, reconciler, coordination, cinder,
                  cinder_notifications, database, metrics, host_scan,
                  agents, cloud, nova, keystone)


def _raw_values(conf):
    """``{(group, option): text}`` as the files give it (last file wins)."""
    paths = list(conf.config_file or ())
    for directory in conf.config_dir and [conf.config_dir] or ():
        paths.extend(sorted(glob.glob(os.path.join(directory, '*.conf'))))
    raw = {}
    for path in paths:
        sections = {}
        try:
            cfg.ConfigParser(path, sections).parse()
        except (OSError, cfg.ParseError):
            continue  # oslo.config itself reported those at parse time
        for group, options in sections.items():
            for key, values in options.items():
                raw[group, key] = values[-1]
    return raw


def _check(conf, group, opts, raw):
    for opt in opts:
        try:
            (conf[group] if group != 'DEFAULT' else conf)[opt.dest]
        except cfg.NoSuchOptError:
            continue  # registered only when used (keystoneauth plugins)
        except (cfg.Error, ValueError) as e:
            reason = e.__context__ if isinstance(
                e, cfg.ConfigSourceValueError) and e.__context__ else e
            value = raw.get((group, opt.dest), raw.get((group, opt.name)))
            if opt.secret:
                value = '****'
            raise exception.ConfigError(
                '[%s] %s = %s: invalid value (%s)'
                % (group, opt.dest, value, '****' if opt.secret else reason))


def check_backend(backend, raw=None):
    """Read every option of one backend, then build its driver unopened."""
    raw = _raw_values(backend.conf) if raw is None else raw
    opts = list(backend_conf.OPTS) + list(backend.driver_cls.OPTS)
    for group in (backend.name, backend_conf.DEFAULTS_GROUP):
        _check(backend.conf, group, opts, raw)
    try:
        backend.create_driver()
    except (cfg.Error, ValueError) as e:
        raise exception.ConfigError('[%s] %s' % (backend.name, e))


def _set_aside(backend):
    """Unset the invalid values of a backend left out.

    Its groups were registered to check it; whatever reads every option
    (a Guru Meditation Report, cotyledon's log of them) then reads None
    there instead of failing on a backend nothing runs. A value that no
    backend can read in ``[backend_defaults]`` left every backend that
    reads it out too.
    """
    conf = backend.conf
    for group in (backend.name, backend_conf.DEFAULTS_GROUP):
        for opt in list(backend_conf.OPTS) + list(backend.driver_cls.OPTS):
            try:
                conf[group][opt.dest]
            except (cfg.Error, ValueError):
                conf.set_override(opt.dest, None, group)


def check_static(conf, raw=None):
    """Read every option of the daemon's own groups."""
    raw = _raw_values(conf) if raw is None else raw
    for module in STATIC_MODULES:
        for group, opts in module.list_opts().items():
            _check(conf, getattr(group, 'name', group), opts, raw)


def checked_backends(conf, warn=True, serving_agents=False):
    """``(backends, errors)``: the enabled backends whose options are all
    valid, and one line for each backend left out for an invalid one.

    A bad value in one backend's group never stops the others; one in a
    daemon-wide group (ConfigError) stops everything. ``warn``: log each
    backend left out (see ``backend_conf.enabled``), an invalid one as an
    error. ConfigError if there is nothing to reconcile: no valid backend,
    no host unit (a compute node runs it alone) and no cloud scope; for the
    daemon (``serving_agents``), agents may report to it instead, given a
    ``[DEFAULT] transport_url``.
    """
    raw = _raw_values(conf)
    check_static(conf, raw)
    try:
        backends = backend_conf.enabled(conf, warn=warn)
    except (cfg.Error, ValueError) as e:
        raise exception.ConfigError('[DEFAULT] enabled_backends: %s' % e)
    valid, errors, left_out = [], [], []
    for backend in backends:
        try:
            check_backend(backend, raw)
        except exception.ConfigError as e:
            error = str(e)
        else:
            valid.append(backend)
            continue
        errors.append(error)
        left_out.append(backend)
        if warn:  # out of the handler: one line, no traceback
            LOG.error('Backend %s is left out: %s', backend.name, error)
    for backend in left_out:    # once all are checked
        _set_aside(backend)
    agents = serving_agents and rpc_api.configured(conf)
    if not (valid or conf.host_scan.enabled or conf.cloud.enabled
            or agents):
        raise exception.ConfigError(errors[0] if errors else (
            '[DEFAULT] enabled_backends names no backend the reconciler can '
            'reconcile and neither [host_scan] nor [cloud] is enabled'))
    return valid, errors


def enabled_backends(conf, warn=True, strict=False, serving_agents=False):
    """The enabled backends, every option checked (see
    :func:`checked_backends`); ``strict``: any invalid backend is a
    ConfigError.
    """
    backends, errors = checked_backends(conf, warn=warn and not strict,
                                        serving_agents=serving_agents)
    if strict and errors:
        raise exception.ConfigError(errors[0])
    return backends


def problem(argv, project, strict=True):
    """Why the files ``argv`` names would not run, or None if they would.

    They are parsed into a fresh ConfigOpts and validated as at start, so
    the running configuration is never touched, nor given the option
    groups of a backend with an invalid value (which would fail whatever
    reads every option: cotyledon logs them all). ``strict``: a backend with
    an invalid value is a problem too (a reload keeps the running
    configuration, every backend of it running, rather than drop one).
    """
    candidate = cfg.ConfigOpts()
    try:
        reconciler_conf.register(candidate)
        logging.register_options(candidate)
        candidate(argv, project=project)
        enabled_backends(candidate, warn=False, strict=strict,
                         serving_agents=True)
    except (cfg.Error, exception.ConfigError) as e:
        return str(e)
    except SystemExit:
        return 'the command line no longer parses'
    return None


class ReloadCheckedConf(cfg.ConfigOpts):
    """A ConfigOpts that reloads its files only if they validate.

    oslo.service reloads the configuration on SIGHUP, then restarts the
    worker on it; a file that parses but is invalid would leave a worker
    that cannot start. This one keeps the running configuration instead,
    and logs why.
    """

    def __call__(self, args=None, project=None, **kwargs):
        self._reload_argv, self._reload_project = args, project
        return super().__call__(args=args, project=project, **kwargs)

    def reload_config_files(self):
        error = problem(self._reload_argv, self._reload_project)
        if error:
            LOG.error('Configuration not reloaded, still running on the '
                      'previous one: %s', error)
            return False
        return super().reload_config_files()
