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

"""Query parameters of listings: filters, ``sort``, ``limit`` and
``marker`` as Cinder takes them, and the ``<name>_links`` of the next page.
"""

import urllib.parse

from oslo_config import cfg
from oslo_utils import timeutils

from reconciler.api import errors


def query(req, allowed):
    """The request's query parameters, each given once and all known."""
    params = {}
    for key, value in req.GET.items():
        if key not in allowed:
            raise errors.bad_request('unknown query parameter %r; known: %s'
                                     % (key, ', '.join(sorted(allowed))))
        if key in params:
            raise errors.bad_request('query parameter %r given twice' % key)
        params[key] = value
    return params


def choice(params, key, choices):
    value = params.get(key)
    if value is not None and value not in choices:
        raise errors.bad_request('%s must be one of %s, not %r' % (
            key, ', '.join(sorted(choices)), value))
    return value


def integer(params, key, minimum=1):
    value = params.get(key)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise errors.bad_request('%s must be an integer of at least %d, '
                                 'not %r' % (key, minimum, value))
    return number


def limit(params):
    """``limit``, at most ``[api] max_limit``, which it defaults to."""
    asked = integer(params, 'limit')
    most = cfg.CONF.api.max_limit
    return most if asked is None else min(asked, most)


def time(params, key):
    """An ISO 8601 time as an epoch (UTC when it names no zone)."""
    value = params.get(key)
    if value is None:
        return None
    try:
        # iso8601 takes a time without a zone as UTC.
        return timeutils.parse_isotime(value).timestamp()
    except ValueError:
        raise errors.bad_request('%s must be an ISO 8601 time, not %r'
                                 % (key, value))


def sort(params, keys):
    """``sort=key[:asc|desc],...`` as ``[(key, direction)]``."""
    text = params.get('sort')
    if not text:
        return []
    result = []
    for item in text.split(','):
        key, _, direction = item.strip().partition(':')
        direction = direction or 'asc'
        if key not in keys or direction not in ('asc', 'desc'):
            raise errors.bad_request(
                'sort takes key[:asc|desc] pairs with keys among %s, not %r'
                % (', '.join(keys), item))
        result.append((key, direction))
    return result


def links(req, name, page, page_limit, params):
    """``{name}_links`` with the next page's URL when this one is full."""
    if len(page) < page_limit:
        return {}
    following = dict(params, limit=str(page_limit), marker=str(page[-1].id))
    return {name + '_links': [{
        'rel': 'next',
        'href': '%s?%s' % (req.path_url, urllib.parse.urlencode(
            sorted(following.items())))}]}
