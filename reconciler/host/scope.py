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

"""The history scope of a host: ``host:<connector host>``.

Host passes share the ``runs`` and ``findings`` tables with backend passes;
their ``backend`` column holds this name. Backend names never contain ``:``
in practice, and the host unit refuses to run beside one that starts with
the prefix, so the two kinds of scope never meet.
"""

PREFIX = 'host:'


def name(host):
    return PREFIX + host


def host_of(scope):
    """The host of a host scope, None for a backend name."""
    return scope[len(PREFIX):] if scope.startswith(PREFIX) else None
