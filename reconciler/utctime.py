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

"""Times as Cinder and operators write them: ISO 8601 in and out, epoch
seconds inside.

Parsing is oslo.utils' (``timeutils.parse_isotime``; a time without a zone
is UTC, as Cinder's are); oslo.utils no longer formats, so ``iso`` is the
one format string.
"""

import datetime

from oslo_utils import timeutils


def parse(text):
    """Epoch seconds of an ISO 8601 time (naive: UTC); ValueError if it
    is not one.
    """
    return timeutils.parse_isotime(text).timestamp()


def iso(epoch, microseconds=False):
    """``2027-01-31T12:00:00Z`` (``.000000Z`` with ``microseconds``)."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ' if microseconds
                           else '%Y-%m-%dT%H:%M:%SZ')
