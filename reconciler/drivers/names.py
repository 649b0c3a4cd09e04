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

"""Cinder's name templates as patterns that give the UUID back.

LVM, RBD and the manageable API name objects with Cinder's own
``volume_name_template`` / ``snapshot_name_template`` (``volume-%s``), so
one decoder serves them all; drivers add their own suffixes and escapes.
"""

import re

UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'


def pattern(template, prefix='', suffix=''):
    """An anchored regex for ``template``; group 1 is the UUID."""
    body = re.escape(template).replace(re.escape('%s'), '(%s)' % UUID, 1)
    return re.compile('^%s%s%s$' % (prefix, body, suffix))


class Templates(object):
    """The volume and snapshot templates of ``[DEFAULT]``."""

    def __init__(self, conf):
        self.volume_template = conf.volume_name_template
        self.snapshot_template = conf.snapshot_name_template
        self.volume = pattern(self.volume_template)
        self.snapshot = pattern(self.snapshot_template)

    def volume_name(self, key):
        return self.volume_template % key

    def snapshot_name(self, snapshot_id):
        return self.snapshot_template % snapshot_id

    @staticmethod
    def uuid(regex, name):
        m = regex.match(name or '')
        return m.group(1) if m else None


def first_match(rules, name):
    """``(type, class, uuid)`` of the first ``(regex, type, class)`` rule
    whose regex matches ``name`` (group 1 is the UUID), else None.
    """
    for regex, rtype, cls in rules:
        m = regex.match(name or '')
        if m:
            return rtype, cls, m.group(1)
    return None
