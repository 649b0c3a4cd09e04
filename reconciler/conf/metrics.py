"""``[metrics]``: the daemon's Prometheus endpoint (off by default)."""

from oslo_config import cfg

GROUP = cfg.OptGroup('metrics',
                     help="The daemon's Prometheus metrics endpoint.")

OPTS = [
    cfg.PortOpt('port', default=0,
                help='TCP port of the Prometheus endpoint (GET /metrics). '
                     '0 disables it.'),
    cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                       help='Address the endpoint listens on. The metrics '
                            'name backends and array objects: keep it on '
                            'loopback or a management network.'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
