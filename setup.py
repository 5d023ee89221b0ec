"""Build configuration beyond pyproject.toml: the optional C extensions of ingest.

- `hotspots._rowhash`: BLAKE2b ids of ASB rows without holding the GIL.
- `hotspots._csvscan`: reads police.uk's plain CSV text in place, in parallel byte ranges.

Both only speed ingest up. `optional=True` lets installation go on without them where no C
compiler or Python headers are available; ingest then hashes with hashlib and reads with
pyarrow's CSV reader, with the same results.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("hotspots._rowhash", ["hotspots/_rowhash.c"], optional=True),
    Extension("hotspots._csvscan", ["hotspots/_csvscan.c"], optional=True),
])
