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

"""The agent's process: a timer of host passes and the agent's RPC server.

Like the daemon, in native threads (oslo.service's threading backend, set
by reconciler.cmd): the pass runs on a dynamic timer every
``[host_scan] interval``, the RPC server (topic ``cinder-reconciler-agent``,
server ``[host_scan] connector_host``) answers the controllers' requests in
threads of its own. SIGTERM stops both; SIGHUP re-reads the configuration
and starts them again.

It reads ``[DEFAULT] transport_url`` and ``[host_scan]``. Other groups
that a shared configuration file may hold (the history database, Cinder's
or an array's credentials) are never read: one log line names them at
start, so an operator can remove them from the host.
"""

import os
import random
import threading

from oslo_log import log as logging
from oslo_service import service

from reconciler.agent import endpoint as agent_endpoint
from reconciler.agent import reporter as reporter_mod
from reconciler.conf import host_scan
from reconciler.conf import validation
from reconciler import exception
from reconciler.rpc import agent_api
from reconciler.rpc import api
from reconciler.rpc import base
from reconciler.rpc import host_api

LOG = logging.getLogger(__name__)

#: Groups holding what only the controller (or the API) may hold.
NOT_FOR_AGENTS = ('reconciler_database', 'database', 'cinder', 'nova',
                  'keystone_authtoken', 'backend_defaults', 'coordination')


def check(conf):
    """Refuse, in one line, what would keep the agent from working."""
    if not api.configured(conf):
        raise exception.ConfigError(
            '[DEFAULT] transport_url is not set: the agent reports to the '
            "controllers over RPC (nova-compute's transport_url will do)")
    raw = validation._raw_values(conf)
    validation._check(conf, 'host_scan', host_scan.OPTS, raw)
    group = conf.host_scan
    if not group.lock_path or not os.path.isdir(group.lock_path):
        raise exception.ConfigError(
            "[host_scan] lock_path must be os-brick's lock directory on "
            'this host (got %r), so scans never race attaches'
            % group.lock_path)


def ignored(conf):
    """The configured groups this process never reads (names only)."""
    raw = validation._raw_values(conf)
    groups = {g for g, _k in raw}
    names = [g for g in NOT_FOR_AGENTS if g in groups]
    backends = [n.strip() for n in conf.enabled_backends if n.strip()]
    names += [b for b in backends if b in groups]
    return names


def log_ignored(conf):
    names = ignored(conf)
    if names:
        LOG.warning('Ignored: [%s]: an agent reads only [DEFAULT] '
                    'transport_url and [host_scan]; remove them from this '
                    'host', '], ['.join(names))


class AgentService(service.Service):
    """``runner``/``execute``/``transport``: a host simulator's and a shared
    transport, for tests, the demo and the benchmark.
    """

    def __init__(self, conf, runner=None, execute=None, transport=None):
        super().__init__()
        self.conf = conf
        self._runner = runner
        self._execute = execute
        self._given = transport

    def start(self):
        super().start()
        self._stop = threading.Event()
        group = self.conf.host_scan
        self._transport = self._given or api.get_transport(self.conf)
        self.reporter = reporter_mod.Reporter(
            self.conf, host_api.HostAPI(self.conf, self._transport),
            self._runner)
        self._server = api.Server(
            self._transport, agent_api.TOPIC, group.connector_host,
            [base.BaseEndpoint(agent_api.BINARY, group.connector_host),
             agent_endpoint.AgentEndpoint(self.conf, self._runner,
                                          self._execute)])
        self._server.start()
        self.tg.add_dynamic_timer_args(
            self._tick, stop_on_exception=False, initial_delay=random.uniform(
                0, self.conf.reconciler.periodic_fuzzy_delay))
        LOG.info('Agent of host %s: scans every %ds, reports to the '
                 'controllers', group.connector_host, group.interval)

    def _tick(self):
        if not self._stop.is_set():
            self.reporter.run_pass()
        return self.conf.host_scan.interval

    def stop(self, graceful=True):
        if hasattr(self, '_stop'):
            self._stop.set()
        super().stop(graceful)
        if getattr(self, '_server', None):
            self._server.stop()
        if getattr(self, '_transport', None) and not self._given:
            self._transport.cleanup()


def run_once(conf, runner=None, transport=None):
    """One pass (``--once``): the controller's answer."""
    own = transport is None
    transport = transport or api.get_transport(conf)
    try:
        return reporter_mod.Reporter(
            conf, host_api.HostAPI(conf, transport), runner).run_pass()
    finally:
        if own:
            transport.cleanup()
