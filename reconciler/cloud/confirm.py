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

"""Re-check cloud candidates with point look-ups, right before they count.

Each re-check reads only what the candidate's details name, so a recorded
finding is re-checked from the history alone, the same way. A look-up that
fails raises: the pass fails and nothing moves. A re-check may sharpen the
candidate's reason (Nova keeps the instance as deleted, or knows nothing of
it on one of its compute hosts) or add what it read (the array object).
"""

import dataclasses

from reconciler.cloud import compare
from reconciler import engine
from reconciler import model

K = model.FindingKind
R = model.ResourceType


@dataclasses.dataclass
class Lookups:
    """What the re-checks read: the inventories of this pass.

    ``driver(backend)`` is the opened driver of a backend group;
    ``compute_hosts`` are Nova's, as this pass listed them.
    """

    cinder: object
    nova: object = None
    keystone: object = None
    driver: object = None
    compute_hosts: frozenset = frozenset()


def _with(cand, **details):
    merged = dict(cand.details)
    merged.update({k: str(v) for k, v in details.items() if v is not None})
    return dataclasses.replace(cand, details=tuple(sorted(merged.items())))


def stale_attachment(cand, look):
    d = dict(cand.details)
    now = look.cinder.get_attachment(cand.resource_id)
    if (now is None or now.status not in compare.LIVE_ATTACHMENT
            or now.instance_id != d.get('instance_id')
            or now.volume_id != d.get('volume_id')):
        return None
    server = look.nova.server(now.instance_id)
    if server is not None:
        if server.partial or server.task_state:
            return None
        mappings = look.nova.volume_attachments(server.id)
        if mappings is None or now.volume_id in mappings:
            return None
        return _with(cand, reason='no block device mapping of the volume',
                     vm_state=server.vm_state)
    if look.nova.deleted(now.instance_id):
        return _with(cand, reason='instance deleted in Nova')
    host = d.get('host')
    if host and host in look.compute_hosts:
        return _with(cand, reason=(
            'instance unknown to Nova (deleted and archived, or never '
            'made) though attached on Nova compute host %s' % host))
    return None     # perhaps another service's instance: not judged


def dangling_bdm(cand, look):
    d = dict(cand.details)
    server_id, volume_id = d.get('server_id'), d.get('volume_id')
    server = look.nova.server(server_id)
    if server is None or server.partial or server.task_state:
        return None
    mappings = look.nova.volume_attachments(server_id)
    if not mappings or volume_id not in mappings:
        return None
    if look.cinder.volume(volume_id) is None:
        return _with(cand, reason='volume not in Cinder')
    attachment_id = mappings[volume_id]
    if attachment_id:
        now = look.cinder.get_attachment(attachment_id)
        if now is not None and now.instance_id == server_id:
            return None
    if look.cinder.attachments_of(server_id, volume_id):
        return None
    return _with(cand, reason=('no Cinder attachment of the volume to the '
                               'server'), attachment_id=attachment_id)


def stuck_status(cand, look):
    d = dict(cand.details)
    rtype = cand.resource_type
    if rtype == R.ATTACHMENT:
        now = look.cinder.get_attachment(cand.resource_id)
        return cand if now is not None and now.status == d.get(
            'status') else None
    if rtype == R.VOLUME:
        now = look.cinder.volume(cand.resource_id)
        status = now and now.status
        if now is not None and d.get('status') == 'migrating' and (
                now.migration_status in compare.MIGRATING):
            status = 'migrating'
    elif rtype == R.SNAPSHOT:
        now = look.cinder.get_snapshot(cand.resource_id)
        status = now and now.status
    else:
        now = look.cinder.get_backup(cand.resource_id)
        status = now and now.status
    # The same status, not touched since: it has not moved.
    if now is None or status != d.get('status') or (
            now.updated_at != d.get('since')):
        return None
    return cand


def orphan_project(cand, look):
    if look.keystone.project_exists(cand.project_id):
        return None
    if cand.resource_type == R.SNAPSHOT:
        now = look.cinder.get_snapshot(cand.resource_id)
    else:
        now = look.cinder.volume(cand.resource_id)
    return cand if now is not None and (
        now.project_id == cand.project_id) else None


def stuck_deleting(cand, look):
    d = dict(cand.details)
    now = look.cinder.volume(cand.resource_id)
    if now is None or now.status != engine.FAILED_DELETE:
        return None
    obj = look.driver(d['backend']).find_volume(now.key)
    if obj is None:
        return None     # gone: the backend scope reports it Cinder-only
    return _with(cand, array_name=obj.name)


RECHECKS = {
    K.STALE_ATTACHMENT: stale_attachment,
    K.DANGLING_BDM: dangling_bdm,
    K.STUCK_STATUS: stuck_status,
    K.ORPHAN_PROJECT: orphan_project,
    K.STUCK_DELETING: stuck_deleting,
}


def confirm(candidates, look):
    """The candidates that still hold now, as the re-checks saw them."""
    kept = []
    for cand in candidates:
        held = RECHECKS[cand.kind](cand, look)
        if held is not None:
            kept.append(held)
    return kept


def keep_confirmed(candidates, confirmed, pass_number, every):
    """Split this pass's candidates: ``(kept, to_recheck)``.

    ``confirmed`` maps the identities of confirmed findings to their
    recorded candidates. A candidate of a confirmed finding whose turn to be
    re-checked (``engine.recheck_due``) this pass is not keeps its recorded
    candidate (with what its last re-check read); the others are
    re-checked.
    """
    kept, others = [], []
    for cand in candidates:
        recorded = confirmed.get(cand.identity)
        if recorded is not None and not engine.recheck_due(
                cand.identity, pass_number, every):
            kept.append(recorded)
        else:
            others.append(cand)
    return kept, others
