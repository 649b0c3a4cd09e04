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

"""The v1 REST API on a keystoneauth session, the endpoint from the
catalog (service type ``block-storage-reconciliation``).
"""

from keystoneauth1 import adapter

SERVICE_TYPE = 'block-storage-reconciliation'
#: The microversion header's service name and the newest version known.
MICROVERSION_SERVICE = 'reconciler'
API_VERSION = '1.1'


class ApiError(Exception):
    """An error answer, as the API's error document says it."""

    def __init__(self, response):
        self.status = response.status_code
        try:
            errors = response.json()['errors']
            detail = '; '.join(e['detail'] for e in errors)
            request = errors[0].get('request_id')
        except (ValueError, KeyError, TypeError, IndexError):
            detail = response.text.strip()[:500] or response.reason
            request = response.headers.get('X-OpenStack-Request-ID')
        super().__init__('HTTP %d: %s%s' % (
            self.status, detail, ' (request %s)' % request if request else ''))


class Client(object):

    def __init__(self, session, api_version=API_VERSION, **adapter_kwargs):
        """``adapter_kwargs``: keystoneauth Adapter options (interface,
        region_name, endpoint_override...).
        """
        adapter_kwargs.setdefault('service_type', SERVICE_TYPE)
        self.api_version = api_version
        self.http = adapter.Adapter(session, **adapter_kwargs)

    def _request(self, method, path, **kwargs):
        headers = kwargs.pop('headers', {})
        headers['OpenStack-API-Version'] = '%s %s' % (
            MICROVERSION_SERVICE, self.api_version)
        response = self.http.request('/v1' + path, method, headers=headers,
                                     raise_exc=False, **kwargs)
        if response.status_code >= 400:
            raise ApiError(response)
        return response.json() if response.content else None

    def _list(self, path, key, limit=None, **filters):
        """One page given ``limit``, else every page (following the
        ``<key>_links`` the API gives while a page is full).
        """
        params = {k: v for k, v in filters.items() if v is not None}
        if limit is not None:
            params['limit'] = limit
        body = self._request('GET', path, params=params)
        items = body[key]
        while limit is None and body.get(key + '_links'):
            body = self._request('GET', path, params=dict(
                params, marker=items[-1]['id']))
            items += body[key]
        return items

    def findings(self, limit=None, **filters):
        """filters: backend, host, kind, state, resource_id, project_id,
        since, sort, marker.
        """
        return self._list('/findings', 'findings', limit, **filters)

    def finding(self, finding_id):
        return self._request('GET', '/findings/%s' % finding_id)['finding']

    def ignore(self, finding_id, reason, until=None):
        body = {'reason': reason}
        if until:
            body['until'] = until
        return self._request('PUT', '/findings/%s/ignore' % finding_id,
                             json=body)['finding']

    def unignore(self, finding_id):
        self._request('DELETE', '/findings/%s/ignore' % finding_id)

    def runs(self, limit=None, **filters):
        """filters: backend, status, marker. Newest first."""
        return self._list('/runs', 'runs', limit, **filters)

    def actions(self, limit=None, **filters):
        """filters: backend, finding_id, marker. Newest first."""
        return self._list('/actions', 'actions', limit, **filters)

    def backends(self):
        return self._request('GET', '/backends')['backends']

    def remediate(self, backend, apply=False, kinds=(), finding_ids=(),
                  quarantine=False, limit=None):
        """A backend's remediation plan, applied with ``apply``, by a
        controller (microversion 1.1): its outcome.
        """
        body = {'backend': backend, 'apply': apply, 'kinds': list(kinds),
                'finding_ids': [int(i) for i in finding_ids],
                'quarantine': quarantine}
        if limit is not None:
            body['limit'] = limit
        return self._request('POST', '/remediations',
                             json=body)['remediation']
