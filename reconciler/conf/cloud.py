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

"""``[cloud]``: the cloud scope, Cinder against Nova and Keystone.

One pass per interval over the whole cloud (scope ``cloud`` in the
history): Cinder's attachments against Nova's instances and their block
device mappings, resources in transitional statuses for too long,
resources of projects Keystone no longer has, and volumes whose delete
failed while their array object remains. See ``doc/source/admin/cloud.rst``.
"""

from oslo_config import cfg

from reconciler import model

GROUP = cfg.OptGroup(
    'cloud', help='The cloud scope: Cinder against Nova and Keystone.')

K = model.FindingKind

# Seconds a status may last, from Cinder's own timings. A status Cinder
# resolves within an API or RPC round trip (rpc_response_timeout 60 s; a
# cinder-volume silent for service_down_time, 60 s, is down) gets an hour:
# sixty times either. A status that copies or converts data (images,
# backups, migrations, clones) gets a day. ``awaiting-transfer`` waits for a
# user and ``error_*`` statuses are final: none of them is judged.
SHORT = 3600
LONG = 86400
STUCK_AFTER = {
    'attaching': SHORT, 'detaching': SHORT, 'reserved': LONG,
    'extending': SHORT, 'managing': SHORT, 'unmanaging': SHORT,
    'updating': SHORT,
    'creating': LONG, 'deleting': LONG, 'downloading': LONG,
    'uploading': LONG, 'backing-up': LONG, 'restoring-backup': LONG,
    'restoring': LONG, 'retyping': LONG, 'migrating': LONG,
    'reverting': LONG, 'maintenance': LONG,
}

OPTS = [
    cfg.BoolOpt('enabled', default=False,
                help='Run the cloud scope on its own timer (needs [nova] '
                     'and [keystone] for the checks that read them).'),
    cfg.IntOpt('interval', default=1800, min=60, max=86400,
               help='Seconds between two passes of the cloud scope. A pass '
                    "lists every volume, snapshot, backup and attachment "
                    "of the cloud, and Nova's servers."),
    cfg.ListOpt('checks', default=sorted(model.CLOUD_KINDS),
                item_type=cfg.types.String(
                    choices=sorted(model.CLOUD_KINDS)),
                help='Finding kinds the cloud scope looks for. '
                     'stale_attachment and dangling_bdm read Nova '
                     '([nova]), orphan_project reads Keystone '
                     '([keystone]), stuck_deleting the arrays of '
                     'enabled_backends; a service no check needs is '
                     'never asked.'),
    cfg.IntOpt('sightings', default=3, min=1, max=1000,
               help='Consecutive successful passes that must see a cloud '
                    'finding before it is confirmed.'),
    cfg.IntOpt('grace_period', default=3600, min=0, max=30 * 86400,
               help='Seconds a cloud finding must have been seen for '
                    'before it is confirmed.'),
    cfg.IntOpt('confirmed_recheck_passes', default=10, min=1,
               max=1000,
               help='A confirmed finding the listings still show is '
                    're-checked with point look-ups on one pass in N.'),
    cfg.IntOpt('max_shrink_percent', default=50, min=1, max=100,
               help="Fail a pass when Cinder's volumes, Nova's servers or "
                    "Keystone's projects shrank by more than this since "
                    "the scope's last successful pass (from at least 10)."),
    cfg.IntOpt('max_suspect_percent', default=25, min=1, max=100,
               help='Fail a pass that would add more new suspects than '
                    'this share of the resources listed (up to 10 always '
                    'pass); 100 disables it.'),
    cfg.Opt('stuck_after', type=cfg.types.Dict(cfg.types.Integer(min=1)),
            default=STUCK_AFTER,
            sample_default=','.join('%s:%d' % kv
                                    for kv in sorted(STUCK_AFTER.items())),
            help='Seconds after which a volume, snapshot, backup or '
                 'attachment still in a transitional status is stuck '
                 '(stuck_status), per status. Statuses not listed are '
                 'never judged. Volumes, snapshots and backups are aged '
                 "from their updated_at by cinder-api's clock; attachments "
                 '(Cinder shows them no time) from the first pass that saw '
                 'them in that status. A "reserved" volume or attachment '
                 'is judged only with Nova read (stale_attachment or '
                 'dangling_bdm checked) and never when its instance is '
                 'shelved and offloaded (Nova keeps its volumes reserved '
                 'then).'),
    cfg.IntOpt('remediation_min_age', default=86400, min=0,
               max=365 * 86400,
               help='Seconds a cloud finding must have been confirmed '
                    'before "remediate --cloud" may act on it.'),
    cfg.IntOpt('remediation_max_actions', default=5, min=1, max=1000,
               help='Most actions one "remediate --cloud" may take; a plan '
                    'with more does nothing and says so.'),
]


def register_opts(conf):
    conf.register_group(cfg.OptGroup(GROUP.name, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)


def list_opts():
    return {GROUP: OPTS}
