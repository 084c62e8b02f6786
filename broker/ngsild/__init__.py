"""Pure NGSI-LD semantics (ETSI GS CIM 009): no I/O, no aiohttp, no MongoDB."""
