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

"""Cinder's side of remediation: its own API, never its database."""

import time

from cinderclient import exceptions as cinder_exc
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_utils import strutils

from reconciler import exception
from reconciler.inventory import cinder as cinder_inventory
from reconciler import utctime

# Metadata keys Cinder keeps on what the reconciler touched.
FOUND_KEY = 'reconciler_found_uuid'
FINDING_KEY = 'reconciler_finding'
NOTE_KEY = 'reconciler_note'


def _call(what, function, *args, missing_ok=False, **kwargs):
    """``function(*args, **kwargs)``; a 404 is None with ``missing_ok``."""
    try:
        return function(*args, **kwargs)
    except (cinder_exc.ClientException, ks_exc.ClientException) as e:
        if missing_ok and isinstance(e, cinder_exc.NotFound):
            return None
        raise exception.CinderError('Cinder %s failed: %s' % (
            what, strutils.mask_password('%s: %s' % (type(e).__name__, e))))


# Auth plugin options that choose a scope other than a project ID.
_OTHER_SCOPES = ('project_name', 'project_domain_id', 'project_domain_name',
                 'domain_id', 'domain_name', 'system_scope', 'trust_id')


def project_auth(conf, project_id):
    """The ``[cinder]`` auth plugin, its credentials scoped to
    ``project_id``.

    Cinder's manage API (``volume_manage`` ``create``, ``API.manage_existing``)
    takes no project: the volume row gets the request context's project, and
    its quota is charged there. A volume transfer would not help, since its
    accept also lands in the accepting request's project. So the request
    itself must be made in the project: the same plugin and credentials,
    with ``project_id`` replacing whatever scope ``[cinder]`` names. For
    Keystone that is a token scoped to the project (the user needs the
    admin role in it); for a noauth Cinder, cinderclient's ``noauth``
    plugin sends ``user:project``. Plugins with no project scope
    (``admin_token``, application credentials) are refused.
    """
    group = conf.cinder.auth_section or 'cinder'
    name = conf[group].auth_type
    try:
        options = {o.dest for o in
                   ks_loading.get_plugin_loader(name).get_options()}
    except ks_exc.NoMatchingPlugin as e:
        raise exception.ConfigError('[cinder] auth_type: %s' % e)
    if 'project_id' not in options:
        raise exception.ConfigError(
            'reconciler_adopt_project needs a [cinder] auth_type that takes '
            'a project_id; %s does not' % name)
    scope = {o: None for o in _OTHER_SCOPES if o in options}
    try:
        return ks_loading.load_auth_from_conf_options(
            conf, 'cinder', project_id=project_id, **scope)
    except (ks_exc.ClientException, TypeError) as e:
        raise exception.ConfigError('[cinder] options scoped to project %s: '
                                    '%s' % (project_id, strutils.mask_password(
                                        '%s: %s' % (type(e).__name__, e))))


class CinderActions(object):
    """Manage and reset-state calls with the inventory's admin client.

    Volumes are adopted into the backend's ``reconciler_adopt_project`` if
    it names one, through a client whose credentials are scoped to it
    (:func:`project_auth`), made from ``conf`` when first needed.
    """

    def __init__(self, client, backend, conf=None):
        self.client = client
        self.backend = backend
        self.conf = conf
        self._adopter = None

    def adopter(self):
        """The client that sends manage calls."""
        project = self.backend.reconciler_adopt_project
        if not project:
            return self.client
        if self._adopter is None:
            self._adopter = cinder_inventory.managers(
                cinder_inventory.load_client(
                    self.conf, auth=project_auth(self.conf, project)))
        return self._adopter

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
        volume = _call('manage of %s' % obj.name,
                       self.adopter().volumes.manage,
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

    def _manager(self, finding):
        return (self.client.volume_snapshots
                if finding.resource_type == 'snapshot'
                else self.client.volumes)

    def adopted(self, finding):
        """The id of the row an earlier adoption of ``finding``'s object
        made (its ``reconciler_found_uuid`` metadata), or None.

        Cinder renames the object only once its volume service managed
        it: until then the array still shows the old name, and only this
        look-up keeps a second adoption from making a second row.
        """
        found_uuid = finding.cinder_id or finding.resource_id
        rows = _call('look-up of rows adopted from %s' % found_uuid,
                     self._manager(finding).list, search_opts={
                         'all_tenants': 1,
                         'metadata': repr({FOUND_KEY: found_uuid})})
        rows = [r for r in rows
                if (getattr(r, 'metadata', None) or {}).get(FOUND_KEY)
                == found_uuid]
        return rows[0].id if rows else None

    def was_reset(self, finding):
        """Whether the row is in error with this finding's reset note."""
        row = _call('look-up of %s' % finding.resource_id,
                    self._manager(finding).get, finding.resource_id,
                    missing_ok=True)
        note = (getattr(row, 'metadata', None) or {}).get(NOTE_KEY) or ''
        return (getattr(row, 'status', None) == 'error'
                and '(finding %d,' % finding.id in note)

    def reset(self, finding):
        """Metadata saying why and when, then the row's status to error."""
        manager = self._manager(finding)
        note = ('array object missing (finding %d, confirmed %s); reset to '
                'error by cinder-reconciler at %s'
                % (finding.id, utctime.iso(finding.confirmed_at),
                   utctime.iso(time.time())))
        _call('metadata update of %s' % finding.resource_id,
              manager.set_metadata, finding.resource_id, {NOTE_KEY: note})
        _call('reset-state of %s' % finding.resource_id,
              manager.reset_state, finding.resource_id, 'error')
