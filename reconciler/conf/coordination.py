"""``[coordination]``: Cinder's group and option, read from cinder.conf too.

Several daemons pointed at the same ``backend_url`` split the backends among
themselves (see :mod:`reconciler.coordination`).
"""

from oslo_config import cfg

GROUP = cfg.OptGroup('coordination',
                     help='Coordination of several cinder-reconciler '
                          'daemons (tooz).')

OPTS = [
    cfg.StrOpt('backend_url', secret=True,
               help='tooz coordination backend URL, for example '
                    'redis://controller:6379?timeout=10. Every daemon with '
                    'the same URL reconciles its share of the enabled '
                    'backends and takes over the share of a member that '
                    'died; each backend pass also holds a lock, which '
                    '"cinder-reconciler-manage check" takes too. Unset: '
                    'this daemon reconciles every backend.'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
