"""Cinder's side of remediation: its own API, never its database."""

import time

from cinderclient import exceptions as cinder_exc
from keystoneauth1 import exceptions as ks_exc
from oslo_utils import strutils

from reconciler import exception

# Metadata keys Cinder keeps on what the reconciler touched.
FOUND_KEY = 'reconciler_found_uuid'
FINDING_KEY = 'reconciler_finding'
NOTE_KEY = 'reconciler_note'


def _call(what, function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except (cinder_exc.ClientException, ks_exc.ClientException) as e:
        raise exception.CinderError('Cinder %s failed: %s' % (
            what, strutils.mask_password('%s: %s' % (type(e).__name__, e))))


class CinderActions(object):
    """Manage and reset-state calls with the inventory's admin client."""

    def __init__(self, client, backend):
        self.client = client
        self.backend = backend

    def _name(self, finding):
        return '%s%s' % (self.backend.reconciler_adopt_name_prefix,
                         finding.cinder_id or finding.resource_id)

    def _metadata(self, finding):
        return {FOUND_KEY: finding.cinder_id or finding.resource_id,
                FINDING_KEY: str(finding.id)}

    def adopt_volume(self, finding, obj, ref):
        host = self.backend.cinder_host
        if obj.pool:
            host = '%s#%s' % (host, obj.pool)
        volume = _call('manage of %s' % obj.name, self.client.volumes.manage,
                       host=host, ref=ref, name=self._name(finding),
                       description='Adopted by cinder-reconciler from an '
                                   'array-only volume (finding %d)'
                                   % finding.id,
                       volume_type=self.backend.reconciler_adopt_volume_type,
                       metadata=self._metadata(finding))
        return volume.id

    def adopt_snapshot(self, finding, volume_id, ref):
        snapshot = _call('snapshot manage of %s' % finding.array_name,
                         self.client.volume_snapshots.manage,
                         volume_id=volume_id, ref=ref,
                         name=self._name(finding),
                         description='Adopted by cinder-reconciler '
                                     '(finding %d)' % finding.id,
                         metadata=self._metadata(finding))
        return snapshot.id

    def reset(self, finding):
        """Metadata saying why and when, then the row's status to error."""
        manager = (self.client.volume_snapshots
                   if finding.resource_type == 'snapshot'
                   else self.client.volumes)
        note = ('array object missing (finding %d, confirmed %s); reset to '
                'error by cinder-reconciler at %s'
                % (finding.id, time.strftime(
                    '%Y-%m-%dT%H:%M:%SZ', time.gmtime(finding.confirmed_at)),
                   time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())))
        _call('metadata update of %s' % finding.resource_id,
              manager.set_metadata, finding.resource_id, {NOTE_KEY: note})
        _call('reset-state of %s' % finding.resource_id,
              manager.reset_state, finding.resource_id, 'error')
