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

"""python-openstackclient's plugin interface (``openstack.cli.extension``
entry point ``orphan``): the client on OSC's keystoneauth session.
"""

from osc_lib import exceptions
from osc_lib import utils

from reconcilerclient import client

API_NAME = 'orphan'
API_VERSION_OPTION = 'os_orphan_api_version'
DEFAULT_API_VERSION = client.API_VERSION
API_VERSIONS = ('1',)


def check_api_version(version):
    """A microversion of API 1 (``1.0``...); True skips OSC's own check."""
    major, _, minor = version.partition('.')
    if major != '1' or minor and not minor.isdigit() and minor != 'latest':
        raise exceptions.CommandError(
            'orphan API version %s: only 1.x (e.g. %s) exists'
            % (version, client.API_VERSION))
    return True


def make_client(instance):
    """The API client; OSC calls this on the first command's use."""
    endpoint = instance.get_endpoint_for_service_type(
        client.SERVICE_TYPE, region_name=instance.region_name,
        interface=instance.interface)
    version = instance._api_version.get(API_NAME) or DEFAULT_API_VERSION
    return client.Client(
        instance.session, api_version=version if '.' in version
        else DEFAULT_API_VERSION, endpoint_override=endpoint,
        interface=instance.interface, region_name=instance.region_name)


def build_option_parser(parser):
    parser.add_argument(
        '--os-orphan-api-version', metavar='<orphan-api-version>',
        default=utils.env('OS_ORPHAN_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='cinder-reconciler API microversion (Env: '
             'OS_ORPHAN_API_VERSION; default: %s)' % client.API_VERSION)
    return parser
