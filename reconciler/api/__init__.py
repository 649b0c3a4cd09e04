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

"""The REST API (cinder-reconciler-api): the history, read and acted on
with a Keystone token.

A WSGI application in a paste.deploy pipeline (etc/cinder-reconciler/
api-paste.ini): oslo.middleware (CORS, proxy headers, request ids,
/healthcheck), keystonemiddleware's auth_token, microversions with
microversion-parse, oslo.policy rules with defaults in code. The handlers
are plain WebOb functions dispatched by Routes, the way Placement is built:
the smallest stack that OpenStack's own services use, with no framework
of its own to learn.
"""
