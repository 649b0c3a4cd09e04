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

"""WSGI entry points, for servers that import a module's ``application``
(uWSGI ``--module``, mod_wsgi ``WSGIScriptAlias``, gunicorn).

Entry points like ``reconciler.cmd``: importing this package selects
oslo.service's threading backend (oslo.messaging imports oslo.service)
before anything could fall back to eventlet.
"""

from reconciler import cmd  # noqa: F401
