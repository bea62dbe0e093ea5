"""Open311 GeoReport v2, the public machine interface for requests."""
