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

"""Client of the cinder-reconciler REST API, and its ``openstack`` plugin.

Its own package, importing nothing of the service (``reconciler``): it
needs only keystoneauth1, and osc-lib for the plugin (both come with
python-openstackclient), so it can move to a python-reconcilerclient
repository as it is. It ships in the cinder-reconciler wheel today, and
its ``openstack.cli.extension`` entry point is active wherever
python-openstackclient is installed beside it.
"""
