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

"""``[cinder_notifications]``: the listener of Cinder's notifications.

Cinder announces the lifecycle of volumes and snapshots on its notifications
topic; the daemon records those events as evidence (see
reconciler.cinder_events). The reconciler's own notifications are sent as
``[oslo_messaging_notifications]`` says, and that group is read from the
same files as Cinder's (cinder.conf first). The listener has a group of its
own so the two never have to agree: unset, its transport and topics follow
``[oslo_messaging_notifications]`` (and ``[DEFAULT] transport_url``), that
is Cinder's as long as the reconciler's own file does not override them;
whoever sends the reconciler's events elsewhere sets them here.
"""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'cinder_notifications',
    help="Listener of Cinder's volume and snapshot notifications.")

OPTS = [
    cfg.BoolOpt('enabled', default=True,
                help="Record Cinder's volume and snapshot lifecycle "
                     'notifications in the history, as evidence for the '
                     'passes (an unmanaged volume is then told from one '
                     'whose delete left its object). The listener starts '
                     'only where a transport URL is configured, here, in '
                     '[oslo_messaging_notifications] or in [DEFAULT].'),
    cfg.StrOpt('transport_url', secret=True,
               help="The broker Cinder sends its notifications to. Unset: "
                    '[oslo_messaging_notifications] transport_url, then '
                    '[DEFAULT] transport_url, as Cinder reads them.'),
    cfg.ListOpt('topics',
                help="Cinder's notification topics. Unset: "
                     '[oslo_messaging_notifications] topics.'),
    cfg.StrOpt('exchange',
               help="The exchange Cinder sends its notifications to. "
                    'Unset: [DEFAULT] control_exchange as the configuration '
                    "files (cinder.conf) set it, else oslo.messaging's "
                    "default 'openstack', which Cinder keeps. Never the "
                    "reconciler's own RPC exchange."),
    cfg.StrOpt('pool', default='cinder-reconciler',
               help='Listener pool: a queue of its own on each topic, so '
                    'other consumers (Ceilometer) still get every event. '
                    'All daemons of one deployment share it and each event '
                    'is recorded once.'),
    cfg.IntOpt('retention_days', default=30, min=1, max=3650,
               help="Days the history keeps Cinder's events: the daemon "
                    'purges older ones once a day, as does '
                    '"cinder-reconciler-manage db purge" those older than '
                    'its age. Evidence older than this is gone: a pass '
                    'then reports as if no event had been received.'),
    cfg.IntOpt('restart_interval', default=10, min=1, max=3600,
               help='Seconds between two attempts to start the listener '
                    'while the broker cannot be reached.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return {GROUP: OPTS}
