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

"""The installed version (pbr), for ``--version`` and Guru Meditation Reports.

The module itself is the version object oslo.reports expects (Cinder hands
its ``cinder.version`` module over the same way).
"""

from pbr import version as pbr_version

version_info = pbr_version.VersionInfo('cinder-reconciler')


def version_string():
    """The package's whole version, ``0.0.1.dev311`` included: pbr's
    ``version_string()`` drops the pre-release part, which tells a packager
    and a bug report nothing.
    """
    return version_info.release_string()


def vendor_string():
    return 'OpenStack'


def product_string():
    return 'cinder-reconciler'


def version_string_with_package():
    return version_info.release_string()
