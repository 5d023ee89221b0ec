"""The two coordinate reference systems the project uses, named once.

Analysis and routing work in metres on the British National Grid; only GeoJSON output and web maps
use longitude/latitude.
"""

BNG = "EPSG:27700"
WGS84 = "EPSG:4326"
