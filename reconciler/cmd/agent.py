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

"""``cinder-reconciler-agent``: a compute node's scans, reported over RPC.

    cinder-reconciler-agent --config-file /etc/cinder-reconciler/agent.conf
    cinder-reconciler-agent --config-file ... --once
    cinder-reconciler-agent --config-file ... --host-map VALUE

``--once`` scans and reports once and exits: 0 when the controller
recorded a successful pass. ``--host-map`` prints what ``host-map`` of
cinder-reconciler-manage prints (/dev/sdX, dm-N, a WWID, a volume UUID or
"all": the device's volume, attachment and instance, or the volume's
devices here), from this host's scan and its attachments the controller
serves: no Cinder credentials here.
"""

import json

import sys

from oslo_config import cfg
from oslo_log import log as logging
from oslo_service import service

from reconciler.agent import service as agent_service
from reconciler import conf as reconciler_conf
from reconciler import exception

LOG = logging.getLogger(__name__)


def main(argv=None):
    conf = cfg.ConfigOpts()
    conf.register_cli_opts([
        cfg.BoolOpt('once', default=False,
                    help='Scan and report once, then exit (0: the '
                         'controller recorded a successful pass).'),
        cfg.StrOpt('host-map', metavar='VALUE',
                   help='Print the devices of this host and the volumes, '
                        'attachments and instances they are (/dev/sdX, '
                        'dm-N, a WWID, a volume UUID or "all"), then exit.')])
    # Logs on stderr (or the log file): stdout is --once's and --host-map's.
    reconciler_conf.prepare(conf, sys.argv[1:] if argv is None else argv,
                            project='cinder-reconciler',
                            stdout_is_output=True)
    try:
        agent_service.check(conf)
    except exception.ConfigError as e:
        LOG.error('Configuration error: %s', e)
        return 1
    agent_service.log_ignored(conf)
    if conf.host_map:
        return _host_map(conf)
    if conf.once:
        answer = agent_service.run_once(conf)
        print('Host %s: %s%s' % (
            conf.host_scan.connector_host, answer.get('status'),
            ' run %s (%s)' % (answer['run_id'], answer.get('run_status'))
            if answer.get('run_id') else
            ': %s' % answer.get('detail') if answer.get('detail') else ''))
        return 0 if answer.get('run_status') == 'ok' else 1
    launcher = service.launch(conf, agent_service.AgentService(conf),
                              restart_method='reload')
    launcher.wait()
    return 0


def _host_map(conf):
    from reconciler.host import device_map
    from reconciler.rpc import api
    from reconciler.rpc import host_api
    transport = api.get_transport(conf)
    try:
        reporter = agent_service.reporter_mod.Reporter(
            conf, host_api.HostAPI(conf, transport))
        try:
            cinder_view = reporter.view()
            rows = device_map.rows(reporter.scanner.scan(), cinder_view)
        except exception.ReconcilerError as e:
            LOG.error('host-map: %s', e)
            return 1
    finally:
        transport.cleanup()
    if conf.host_map != 'all':
        rows = device_map.lookup(rows, conf.host_map)
    print(json.dumps(rows, indent=2))
    return 0 if rows else 2
