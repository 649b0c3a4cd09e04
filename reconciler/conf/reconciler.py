"""``[reconciler]``: daemon-wide options that Cinder does not have."""

from oslo_config import cfg

from reconciler import model

DEFAULT_DB = 'sqlite:////var/lib/cinder-reconciler/reconciler.sqlite'

GROUP = cfg.OptGroup('reconciler', help='cinder-reconciler daemon options.')

OPTS = [
    cfg.ListOpt('notify_kinds',
                default=[model.FindingKind.ARRAY_ONLY,
                         model.FindingKind.CINDER_ONLY,
                         model.FindingKind.ORPHAN_EXPORT,
                         model.FindingKind.LEFTOVER_DEVICE,
                         model.FindingKind.FAULTY_MAP,
                         model.FindingKind.FAULTY_ATTACHED,
                         model.FindingKind.STALE_SESSION,
                         model.FindingKind.MISSING_DEVICE],
                item_type=cfg.types.String(
                    choices=[k.value for k in model.FindingKind]),

                help='Finding kinds whose confirmation and resolution are '
                     'announced. Foreign objects are recorded but not '
                     'announced unless listed here.'),
    cfg.IntOpt('outbox_flush_interval', default=60, min=1,
               help='Seconds between retries of notifications that could '
                    'not be sent.'),
    cfg.IntOpt('periodic_fuzzy_delay', default=60, min=0,
               help='Upper bound in seconds of the random delay before a '
                    "backend's first pass, so backends do not all start "
                    'at once.'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
