"""Build configuration beyond pyproject.toml: the optional C extension `hotspots._rowhash`.

It only speeds up ingest (BLAKE2b ids of ASB rows without holding the GIL). `optional=True`
lets installation go on without it where no C compiler or Python headers are available; the
package then hashes with hashlib and gives the same ids.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("hotspots._rowhash", ["hotspots/_rowhash.c"], optional=True)])
