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

"""The caller of a request, as keystonemiddleware's headers tell it."""

from oslo_context import context
import webob.dec

ENVIRON_KEY = 'reconciler.context'


class RequestContext(context.RequestContext):

    @property
    def actor(self):
        """Who acts, for the audit: the token's user and project."""
        return ('%s (%s), project %s (%s), cinder-reconciler-api %s' % (
            self.user_name, self.user_id, self.project_name,
            self.project_id or 'system scope', self.request_id))[:255]


def of(req):
    return req.environ[ENVIRON_KEY]


class ContextMiddleware(object):
    """Puts a RequestContext in the environ, from the identity headers
    auth_token set (it removes any a client sent).
    """

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        req.environ[ENVIRON_KEY] = RequestContext.from_environ(req.environ)
        return req.get_response(self.application)


class NoAuthMiddleware(object):
    """``[api] auth_strategy = noauth``: every request is an admin of
    project ``noauth``, whatever it sends (development only).
    """

    IDENTITY = {'HTTP_X_USER_ID': 'noauth', 'HTTP_X_USER_NAME': 'noauth',
                'HTTP_X_PROJECT_ID': 'noauth',
                'HTTP_X_PROJECT_NAME': 'noauth',
                'HTTP_X_ROLES': 'admin,member,reader',
                'HTTP_X_IDENTITY_STATUS': 'Confirmed'}

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        for key in list(req.environ):
            if key.startswith(('HTTP_X_SERVICE_', 'HTTP_X_SYSTEM_',
                               'HTTP_OPENSTACK_SYSTEM_')):
                del req.environ[key]
        req.environ.update(self.IDENTITY)
        return req.get_response(self.application)
