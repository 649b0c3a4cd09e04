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

"""``cinder-reconciler-status upgrade check``: is the deployment ready?

Run with the daemon's own ``--config-file`` arguments before starting (or
restarting after an upgrade). It connects to nothing but the history
database: drivers are built, which validates their options, never opened.
Exit code 0, 1 or 2 (success, warning, failure), as every ``*-status``.
"""

import os
import stat
import sys

from oslo_config import cfg
from oslo_upgradecheck import upgradecheck
import stevedore

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler.conf import validation
from reconciler import exception
from reconciler import history
from reconciler.rpc import api as rpc_api

Code = upgradecheck.Code
Result = upgradecheck.Result

#: oslo.config namespaces whose secret options may be in our files (those of
#: the sample generator).
SECRET_NAMESPACES = ('cinder-reconciler', 'oslo.concurrency', 'oslo.log',
                     'oslo.messaging', 'oslo.reports', 'oslo.service.service')

#: Options naming a private key file.
KEY_FILE_OPTS = ('nec_ismcli_privkey',)


def secret_option_names():
    names = set()
    for ext in stevedore.NamedExtensionManager(
            'oslo.config.opts', names=SECRET_NAMESPACES, invoke_on_load=True):
        for _group, opts in ext.obj:
            names.update(o.dest for o in opts if o.secret)
    return names


def _exposure(path):
    """Result for a file that must be readable by its owner only."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as e:
        return Code.FAILURE, '%s: %s' % (path, e.strerror)
    if mode & stat.S_IROTH:
        return Code.FAILURE, '%s is readable by anyone (mode %04o)' % (
            path, mode)
    if mode & stat.S_IRGRP:
        return Code.WARNING, '%s is readable by its group (mode %04o)' % (
            path, mode)
    return Code.SUCCESS, None


def _worst(findings):
    """One Result of ``(code, detail)`` pairs: worst code, every detail."""
    code = max((c for c, _d in findings), default=Code.SUCCESS)
    details = [d for c, d in findings if d and c != Code.SUCCESS]
    return Result(code, '; '.join(details) or None)


class Checks(upgradecheck.UpgradeCommands):

    def __init__(self, conf):
        self.conf = conf

    def _backends(self):
        """``(name, BackendConf or ConfigError)`` per enabled backend."""
        for name in self.conf.enabled_backends:
            try:
                yield name, backend_conf.BackendConf(self.conf, name.strip())
            except exception.ConfigError as e:
                yield name, e

    def _check_database(self):
        # One connect attempt, bounded by connect_timeout: a check answers
        # now, whatever the daemon's retry settings.
        try:
            history.History.from_conf(
                self.conf, max_retries=1, retry_interval=0).check_current()
        except exception.ReconcilerError as e:
            return Result(Code.FAILURE, str(e))
        except Exception as e:
            return Result(Code.FAILURE, 'cannot read the history database '
                          '([reconciler_database] connection): %s'
                          % exception.describe(e))
        return Result(Code.SUCCESS)

    def _check_backends(self):
        if not self.conf.enabled_backends:
            if self.conf.host_scan.enabled or rpc_api.configured(self.conf):
                # The host unit, or agents, are all it reconciles.
                return Result(Code.SUCCESS)
            return Result(Code.FAILURE, '[DEFAULT] enabled_backends is empty')
        findings = []
        try:
            validation.check_static(self.conf)
        except exception.ConfigError as e:
            findings.append((Code.FAILURE, str(e)))
        for name, backend in self._backends():
            if isinstance(backend, exception.UnsupportedBackend):
                # Skipped by the daemon, which reconciles the others.
                findings.append((Code.WARNING, str(backend)))
                continue
            if isinstance(backend, exception.ConfigError):
                findings.append((Code.FAILURE, str(backend)))
                continue
            try:
                validation.check_backend(backend)
            except exception.ConfigError as e:
                findings.append((Code.FAILURE, str(e)))
        return _worst(findings)

    def _check_secret_files(self):
        secrets = secret_option_names()
        findings = []
        for path in self.conf.config_file:
            sections = {}
            try:
                cfg.ConfigParser(path, sections).parse()
            except (OSError, cfg.ParseError) as e:
                findings.append((Code.FAILURE, '%s: %s' % (path, e)))
                continue
            if any(key in secrets and any(values)
                   for options in sections.values()
                   for key, values in options.items()):
                findings.append(_exposure(path))
        for _name, backend in self._backends():
            if isinstance(backend, exception.ConfigError):
                continue
            for opt in backend.driver_cls.OPTS:
                if opt.dest in KEY_FILE_OPTS and getattr(backend, opt.dest):
                    findings.append(_exposure(getattr(backend, opt.dest)))
        return _worst(findings)

    def _check_host_unit(self):
        """[host_scan]: os-brick's lock directory must be there; a daemon
        run for its host unit alone should be an agent.
        """
        group = self.conf.host_scan
        if not group.enabled:
            return Result(Code.SUCCESS)
        if not group.lock_path:
            return Result(Code.FAILURE, '[host_scan] lock_path is not set: '
                          "set it to os-brick's lock_path on this host")
        if not os.path.isdir(group.lock_path):
            return Result(Code.FAILURE, '[host_scan] lock_path %s is not a '
                          'directory' % group.lock_path)
        if not [n for n in self.conf.enabled_backends if n.strip()]:
            return Result(Code.WARNING, (
                '[host_scan] enabled with no backend: the daemon runs here '
                "only to scan this host, and holds the history database's "
                "and Cinder's admin credentials for it; on a compute node, "
                'run cinder-reconciler-agent instead (it needs only '
                '[DEFAULT] transport_url and [host_scan]) and disable the '
                'daemon'))
        return Result(Code.SUCCESS)

    def _check_agents(self):
        """Reports of agents: authenticated, or said not to be."""
        if rpc_api.configured(self.conf) and not self.conf.agents.auth_key:
            return Result(Code.WARNING, (
                "[agents] auth_key is not set: agents' reports are not "
                'authenticated, so any holder of the transport credentials '
                'can report for any host; set it and give each agent its '
                '[host_scan] report_key ("cinder-reconciler-manage '
                'agent-key HOST")'))
        return Result(Code.SUCCESS)

    _upgrade_checks = (
        ('History database at head', _check_database),
        ('Backend drivers and options', _check_backends),
        ('Files holding secrets', _check_secret_files),
        ('Host unit', _check_host_unit),
        ('Host agents', _check_agents),
    )


def main(argv=None):
    conf = cfg.CONF
    reconciler_conf.restrict_umask()
    reconciler_conf.register(conf)
    # upgradecheck.main, parsing with --version (its own parse has none).
    upgradecheck.register_cli_options(conf, Checks(conf))
    reconciler_conf.parse(conf, sys.argv[1:] if argv is None else argv)
    upgradecheck.CONF = conf    # as main sets it: check() reads --json there
    return upgradecheck.run(conf)
