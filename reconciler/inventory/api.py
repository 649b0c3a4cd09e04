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

"""JSON reads from an OpenStack API through a keystoneauth adapter.

The narrow seam Nova's and Keystone's views share: the adapter is loaded
from the service's config group (:mod:`reconciler.conf.service_auth`), a
read answers a JSON object or None (404, "no such thing"), and every other
failure is one error of the service's class that names the path and never
carries a secret. Bodies stay out of keystoneauth's debug log.
"""

import threading

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading

from reconciler import exception
from reconciler import log_masking


def _safe(error):
    return log_masking.mask('%s: %s' % (type(error).__name__, error))


def load_adapter(conf, group, error=exception.ConfigError):
    """The keystoneauth adapter of ``[group]``: its auth plugin, session
    and adapter options.
    """
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, group)
        if auth is None:
            raise error('[%s] has no auth_type: set its credentials (or '
                        'auth_section = cinder to use [cinder]\'s)' % group)
        session = ks_loading.load_session_from_conf_options(
            conf, group, auth=auth)
        return ks_loading.load_adapter_from_conf_options(
            conf, group, session=session, auth=auth)
    except (ks_exc.ClientException, TypeError) as e:
        raise error('[%s] options: %s' % (group, _safe(e)))


class ApiReader(object):
    """GETs of one service; counts its requests."""

    #: The service's name in messages, and the error its failures raise.
    SERVICE = None
    ERROR = exception.InventoryError

    def __init__(self, adapter, microversion=None):
        self.adapter = adapter
        self.microversion = microversion
        self.requests = 0
        self._counting = threading.Lock()

    def get(self, path, missing_ok=True):
        """The JSON object at ``path``; None for a 404 if ``missing_ok``."""
        with self._counting:
            self.requests += 1
        where = path.split('?')[0]
        extra = {'microversion': self.microversion} if (
            self.microversion) else {}
        try:
            resp = self.adapter.get(path, raise_exc=False, log=False,
                                    **extra)
        except ks_exc.ClientException as e:
            raise self.ERROR('%s GET %s failed: %s'
                             % (self.SERVICE, where, _safe(e)))
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code >= 300:
            raise self.ERROR('%s GET %s failed: HTTP %d%s' % (
                self.SERVICE, where, resp.status_code,
                ' (the credentials lack the admin role?)'
                if resp.status_code in (401, 403) else ''))
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self.ERROR('%s GET %s: body is not a JSON object'
                             % (self.SERVICE, where))
        return body
