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

"""``[reconciler]``: daemon-wide options that Cinder does not have."""

from oslo_config import cfg

from reconciler import model

GROUP = cfg.OptGroup('reconciler', help='cinder-reconciler daemon options.')

OPTS = [
    cfg.ListOpt('notify_kinds',
                default=[model.FindingKind.ARRAY_ONLY,
                         model.FindingKind.CINDER_ONLY,
                         model.FindingKind.ORPHAN_EXPORT,
                         model.FindingKind.STALE_TEMPORARY,
                         model.FindingKind.LEFTOVER_DEVICE,
                         model.FindingKind.FAULTY_MAP,
                         model.FindingKind.FAULTY_ATTACHED,
                         model.FindingKind.STALE_SESSION,
                         model.FindingKind.MISSING_DEVICE,
                         model.FindingKind.STALE_ATTACHMENT,
                         model.FindingKind.DANGLING_BDM,
                         model.FindingKind.STUCK_STATUS,
                         model.FindingKind.ORPHAN_PROJECT,
                         model.FindingKind.STUCK_DELETING],
                item_type=cfg.types.String(
                    choices=[k.value for k in model.FindingKind]),

                help='Finding kinds whose confirmation and resolution are '
                     'announced. Foreign objects are recorded but not '
                     'announced unless listed here.'),
    cfg.IntOpt('outbox_flush_interval', default=60, min=1, max=86400,
               help='Seconds between retries of notifications that could '
                    'not be sent.'),
    cfg.IntOpt('history_retention_days', default=0, min=0, max=3650,
               help='Days of history the daemon keeps: once a day it purges '
                    'runs and resolved findings older than this, as '
                    '"cinder-reconciler-manage db purge" does. Open findings '
                    'and what their lifecycle still needs are never purged. '
                    '0 keeps everything.'),
    cfg.IntOpt('notification_retry', default=1, min=0, max=100,
               help='Reconnection attempts to the message broker for one '
                    'notification before the flush gives up until its next '
                    'try (the event stays in the outbox). Each attempt '
                    'waits as [oslo_messaging_rabbit] rabbit_retry_interval '
                    'and kombu_reconnect_delay say, so this bounds how long '
                    'one flush blocks while the broker is down.'),
    cfg.IntOpt('check_flush_timeout', default=30, min=0, max=3600,
               help='Seconds "cinder-reconciler-manage check" spends at most '
                    'sending notifications after its passes; what is left '
                    'stays in the outbox for the daemon or the next check.'),
    cfg.StrOpt('unsupported_backends', default='skip',
               choices=[('skip', 'leave the backend out, with a warning'),
                        ('manageable', "reconcile it through Cinder's "
                                       'manageable-resources API (needs its '
                                       'cinder-volume service running)')],
               help='What to do with an enabled backend whose Cinder '
                    'volume_driver no reconciler driver handles and whose '
                    'group sets no reconciler_driver.'),
    cfg.IntOpt('periodic_fuzzy_delay', default=60, min=0, max=3600,
               help='Upper bound in seconds of the random delay before a '
                    "backend's first pass, so backends do not all start "
                    'at once.'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
