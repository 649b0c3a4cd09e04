"""``cinder-reconciler-agent``: a compute node's scans, reported over RPC.

    cinder-reconciler-agent --config-file /etc/cinder-reconciler/agent.conf
    cinder-reconciler-agent --config-file ... --once

``--once`` scans and reports once and exits: 0 when the controller
recorded a successful pass.
"""

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
    conf.register_cli_opt(cfg.BoolOpt(
        'once', default=False,
        help='Scan and report once, then exit (0: the controller recorded '
             'a successful pass).'))
    reconciler_conf.prepare(conf, sys.argv[1:] if argv is None else argv,
                            project='cinder-reconciler')
    try:
        agent_service.check(conf)
    except exception.ConfigError as e:
        LOG.error('Configuration error: %s', e)
        return 1
    agent_service.log_ignored(conf)
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
