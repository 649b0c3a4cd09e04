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

"""NEC M-series LD names: Cinder UUIDs written in base 62, both ways.

Cinder's NEC driver names a logical disk (LD) after a UUID's 128-bit value in
base 62 (digits, then upper, then lower case), most significant digit first
and without padding, inside a configurable format (``LX:%s``: ``LX`` is the
LD's OS type). Suffixes mark its temporaries: ``_m`` migration target, ``_d``
migration source awaiting deletion, ``_l`` link volume exporting a snapshot.
A control volume is named after its LD number (``LX:__ControlVolume_%xh``).
Cinder's NEC driver unmanages by doing nothing; the reconciler's quarantine
renames an LD by appending :data:`QUARANTINE_SUFFIX` (``_q``: two characters,
as Cinder's own suffixes, so the name still fits), which reads as unmanaged.

Decoding accepts only what Cinder writes, so that other names stay foreign:
the canonical encoding (no leading ``0``) of a version-4 UUID (Cinder makes
every volume and snapshot id with uuid4), 19 to 22 characters long. Cinder's
own ``get_ldname`` gave, for 1,000,000 uuid4 ids, 871,506 names of 22
characters, 126,398 of 21, 2,062 of 20, 33 of 19 and one of 18: a uuid4
encodes in 18 characters or fewer with probability 5.4e-7 (62**18 / 2**128).
Such an LD reads foreign (reported, never acted on); its Cinder row is still
matched by the look-up of its name, so it is never Cinder-only.

A name can still decode by chance: 1 in 64 base-62 texts of 19 to 21
characters carries uuid4's version and variant bits. Such a name is the only
evidence that an LD is Cinder's, which findings say (``chance_names``).
"""

import re
import uuid as uuidlib

from reconciler import model

ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# Lengths of the base 62 of a uuid4 that Cinder writes (see above).
LENGTHS = range(19, 23)

R = model.ResourceType
C = model.ObjectClass

# Suffix -> (what the decoded UUID names, class of the LD).
SUFFIXES = {
    '_m': (R.VOLUME, C.TEMPORARY),
    '_d': (R.VOLUME, C.TEMPORARY),
    '_l': (R.SNAPSHOT, C.TEMPORARY),
}

# The reconciler's own suffix for a quarantined (unmanaged) LD.
QUARANTINE_SUFFIX = '_q'

DEFAULT_VOLUME_FORMAT = 'LX:%s'
DEFAULT_SNAPSHOT_FORMAT = 'LX:%s'
DEFAULT_CONTROL_FORMAT = 'LX:__ControlVolume_%xh'


def encode(uuid):
    """Base 62 of a UUID, as Cinder writes it (the nil UUID gives '')."""
    num = uuidlib.UUID(uuid).int
    digits = []
    while num:
        num, digit = divmod(num, 62)
        digits.append(ALPHABET[digit])
    return ''.join(reversed(digits))


def decode(text):
    """The uuid4 ``text`` is Cinder's base-62 encoding of, else None."""
    if len(text) not in LENGTHS or text[0] == '0':
        return None
    num = 0
    for char in text:
        digit = _VALUE.get(char)
        if digit is None:
            return None
        num = num * 62 + digit
    if num >> 128:
        return None
    value = uuidlib.UUID(int=num)
    if value.variant != uuidlib.RFC_4122 or value.version != 4:
        return None
    return str(value)


def _pattern(fmt, conversion, group):
    """A regex matching ``fmt`` with its one ``conversion`` replaced."""
    parts = fmt.split(conversion)
    if len(parts) != 2 or '%' in ''.join(parts).replace('%%', ''):
        raise ValueError('LD name format %r must contain %s exactly once'
                         % (fmt, conversion))
    return ''.join((re.escape(parts[0].replace('%%', '%')), group,
                    re.escape(parts[1].replace('%%', '%'))))


class LDNames(object):
    """Encodes and decodes LD names under one backend's name formats."""

    def __init__(self, volume_format=DEFAULT_VOLUME_FORMAT,
                 snapshot_format=DEFAULT_SNAPSHOT_FORMAT,
                 control_format=DEFAULT_CONTROL_FORMAT):
        b62 = '(?P<b62>[0-9A-Za-z]+)'
        self.volume_format = volume_format
        self.snapshot_format = snapshot_format
        self.control_format = control_format
        self._volume = re.compile('%s(?P<suffix>%s)?' % (
            _pattern(volume_format, '%s', b62), '|'.join(SUFFIXES)))
        self._snapshot = re.compile(_pattern(snapshot_format, '%s', b62))
        self._quarantined = [re.compile(_pattern(fmt, '%s', b62) + re.escape(
            QUARANTINE_SUFFIX)) for fmt in (volume_format, snapshot_format)]
        self._control = re.compile(
            _pattern(control_format, '%x', '[0-9a-f]+'))

    def volume(self, uuid):
        return self.volume_format % encode(uuid)

    def snapshot(self, uuid):
        return self.snapshot_format % encode(uuid)

    def control(self, ldn):
        return self.control_format % ldn

    @staticmethod
    def quarantined(name):
        """The name a quarantine gives the LD named ``name``."""
        return name + QUARANTINE_SUFFIX

    def decode(self, name, is_snapshot=None):
        """``(ResourceType, ObjectClass, uuid)`` of the LD named ``name``.

        ``name`` is ``<OS type>:<LD name>`` as Cinder keys LDs.
        ``is_snapshot`` says whether the array shows the LD as a snapshot;
        None when only the name is known, in which case a name that fits
        both formats is read as a volume and a foreign one has no type.
        """
        if self._control.fullmatch(name):
            return R.VOLUME, C.CONTROL, None
        for kind, pattern in zip((R.VOLUME, R.SNAPSHOT), self._quarantined):
            match = pattern.fullmatch(name)
            uuid = match and decode(match['b62'])
            if uuid:
                if is_snapshot is not None:
                    kind = R.SNAPSHOT if is_snapshot else R.VOLUME
                return kind, C.UNMANAGED, uuid
        match = self._volume.fullmatch(name)
        if match and match['suffix']:
            uuid = decode(match['b62'])
            if uuid:
                return SUFFIXES[match['suffix']] + (uuid,)
        for kind, pattern in ((R.VOLUME, self._volume),
                              (R.SNAPSHOT, self._snapshot)):
            if is_snapshot is not None and is_snapshot != (kind == R.SNAPSHOT):
                continue
            match = pattern.fullmatch(name)
            if match and not match.groupdict().get('suffix'):
                uuid = decode(match['b62'])
                if uuid:
                    return kind, C.CINDER, uuid
        if is_snapshot is None:
            return None, C.FOREIGN, None
        return (R.SNAPSHOT if is_snapshot else R.VOLUME), C.FOREIGN, None
