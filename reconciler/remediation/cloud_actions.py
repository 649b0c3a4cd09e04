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

"""Cloud findings: which get an action, and the runbook of an undeletable
volume. Pure: no I/O.

- ``stale_attachment`` -> ``detach``: delete the attachment through
  Cinder's attachments API (Cinder keeps a row for every attachment, those
  of the old attach flow too), after both Nova and Cinder were re-checked.
- ``dangling_bdm`` -> never: Nova owns its block device mappings; the
  reason gives the exact commands.
- ``stuck_status`` -> ``reset`` (Cinder's reset-state to ``error``) only for
  a finding named with ``--finding``; never for an attachment.
- ``orphan_project`` -> never: report only.
- ``stuck_deleting`` -> ``runbook``: disconnect the host devices (the host
  side), remove the exports (the backend), then reset-state to ``error``
  and delete through Cinder's API, each with its own re-check.
"""

from reconciler import model

K = model.FindingKind
R = model.ResourceType

DETACH = 'detach'
RESET = 'reset'
RUNBOOK = 'runbook'
ACTIONS = (DETACH, RESET, RUNBOOK)


def nova_commands(finding):
    """What an operator runs for a dangling BDM (Nova owns it)."""
    server = finding.details.get('server_id')
    volume = finding.details.get('volume_id')
    return ('Nova owns it: inspect with "nova-manage volume_attachment show '
            '%(s)s %(v)s"; to drop the mapping, reboot the server ("openstack '
            'server reboot %(s)s": Nova deletes mappings whose Cinder '
            'attachment is gone); to attach the volume again, stop the '
            'server and run "nova-manage volume_attachment refresh %(s)s '
            '%(v)s <connector.json>" (the connector from "nova-manage '
            'volume_attachment get_connector" on its compute host)'
            % {'s': server, 'v': volume})


def action(finding, quarantine=False, delete_ids=frozenset(), named=()):
    """The action for one cloud finding and why, or (None, reason).

    ``named``: the findings named one by one (``--finding``), the only ones
    a reset may touch.
    """
    kind = finding.kind
    if finding.id in delete_ids:
        return None, 'cloud findings are never deleted with --delete-data'
    if kind == K.STALE_ATTACHMENT:
        return DETACH, 'attachment of %s: %s' % (
            finding.details.get('instance_id'),
            finding.details.get('reason'))
    if kind == K.DANGLING_BDM:
        return None, nova_commands(finding)
    if kind == K.STUCK_STATUS:
        if finding.resource_type == R.ATTACHMENT:
            return None, ('an attachment is not reset: its stale_attachment '
                          'finding (if any) detaches it')
        if finding.id not in named:
            return None, ('reset-state to error only for a finding named '
                          'with --finding %d' % finding.id)
        return RESET, '%s %s since %s' % (
            finding.resource_type, finding.details.get('status'),
            finding.details.get('since'))
    if kind == K.ORPHAN_PROJECT:
        return None, 'report only: its project is gone from Keystone'
    if kind == K.STUCK_DELETING:
        return RUNBOOK, 'error_deleting, %s still on %s' % (
            finding.details.get('array_name'),
            finding.details.get('backend'))
    return None, 'not a cloud finding'


def _listed(text):
    """``[(finding id, rest)]`` of a details list (``id:rest,...``)."""
    found = []
    for item in (text or '').split(','):
        head, _, rest = item.partition(':')
        if head.isdigit():
            found.append((int(head), rest))
    return found


def runbook_findings(finding):
    """``(host finding ids, export finding ids)`` a stuck_deleting finding
    names, in the order the runbook acts on them.
    """
    return ([i for i, _rest in _listed(finding.details.get('host_findings'))],
            [i for i, _rest in _listed(finding.details.get('exports'))])
