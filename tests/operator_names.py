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

"""Names operators give array objects: to measure chance collisions.

Each generator yields names in the one shape a driver could read as
Cinder's (its prefix, alphabet and length), written the way people name
LUNs: application, site and role words, counters and dates, in CamelCase,
lower or upper case. A name that a driver reads as Cinder-named is a chance
collision: no Cinder wrote it.

``python -m tests.operator_names [COUNT]`` prints the measured rates.
"""

import random
import string
import sys

WORDS = (
    'app', 'backup', 'data', 'db', 'prod', 'test', 'dev', 'stage', 'log',
    'archive', 'oracle', 'sap', 'hana', 'sql', 'web', 'mail', 'exchange',
    'file', 'share', 'home', 'scratch', 'temp', 'boot', 'swap', 'vm', 'esx',
    'vmfs', 'lun', 'disk', 'vol', 'cluster', 'node', 'rack', 'site', 'dc',
    'primary', 'secondary', 'mirror', 'replica', 'copy', 'clone', 'snap',
    'report', 'finance', 'hr', 'crm', 'erp', 'media', 'video', 'image',
    'repo', 'build', 'ci', 'jenkins', 'git', 'nfs', 'cifs', 'quorum',
    'witness', 'redo', 'undo', 'arch', 'tmp', 'ora', 'mssql', 'pg', 'mysql',
    'mongo', 'kafka', 'elastic', 'splunk', 'vdi', 'citrix', 'tokyo', 'osaka',
    'east', 'west', 'north', 'south', 'blue', 'green', 'old', 'new', 'bak',
)


def _token(rng):
    """A word in one of three cases, or a counter or a date."""
    roll = rng.random()
    if roll < 0.7:
        word = rng.choice(WORDS)
        return rng.choice((word.capitalize(), word.capitalize(), word,
                           word.upper()))
    if roll < 0.85:
        return '%0*d' % (rng.choice((2, 3, 4)), rng.randrange(10000))
    return '20%02d%02d%02d' % (rng.randrange(10, 27), rng.randrange(1, 13),
                               rng.randrange(1, 29))


def text(rng, length, separators=''):
    """Operator-style text of exactly ``length`` characters.

    Tokens joined by one of ``separators`` (none: run together), cut to
    length; it starts with a word, as LUN names do.
    """
    sep = rng.choice(separators) if separators else ''
    word = rng.choice(WORDS)
    out = rng.choice((word.capitalize(), word, word.upper()))
    while len(out) < length:
        out += sep + _token(rng)
    out = out[:length]
    if out[-1] in separators:
        out = out[:-1] + rng.choice(string.digits)
    return out


def nec(rng):
    """``LX:`` + 13 to 22 letters and digits (an LD name's alphabet)."""
    return 'LX:' + text(rng, rng.randint(13, 22))


def hpe3par(rng):
    """``osv-``/``oss-`` + 22 characters of 3PAR's alphabet for Cinder's
    names (letters, digits, ``-`` and ``.``): 26 in all, as Cinder's.
    """
    return rng.choice(('osv-', 'oss-')) + text(rng, 22, '-.')


def template(rng):
    """``volume-``/``snapshot-`` (Cinder's templates) + 8 to 36 lower-case
    letters, digits and dashes (36: the length of a UUID's text).
    """
    return rng.choice(('volume-', 'snapshot-')) + text(
        rng, rng.randint(8, 36), '-').lower()


def names(shape, count, seed=0):
    rng = random.Random(seed)
    return [shape(rng) for _ in range(count)]


def rate(is_cinder, shape, count, seed=0):
    """``(read as Cinder-named, count)`` over ``count`` names of ``shape``."""
    return sum(1 for n in names(shape, count, seed) if is_cinder(n)), count


def deciders():
    """``{driver: (shape, is_cinder)}``: each driver's own decoder."""
    from reconciler.drivers import hpe3par_names
    from reconciler.drivers import names as templates
    from reconciler.drivers import nec_names
    from reconciler import model
    cinder = model.ObjectClass.CINDER
    ld = nec_names.LDNames()
    volume, snapshot = (templates.pattern('volume-%s'),
                        templates.pattern('snapshot-%s'))
    return {
        'nec': (nec, lambda n: ld.decode(n)[1] == cinder),
        'hpe3par': (hpe3par,
                    lambda n: hpe3par_names.parse(n).object_class == cinder),
        'volume-<uuid>': (template, lambda n: bool(
            templates.first_match(((volume, None, cinder),
                                   (snapshot, None, cinder)), n))),
    }


if __name__ == '__main__':
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    for driver, (shape, is_cinder) in deciders().items():
        hits, count = rate(is_cinder, shape, total)
        print('%-14s %6d of %d operator-style names read as Cinder-named '
              '(%.3f%%)' % (driver, hits, count, 100.0 * hits / count))
