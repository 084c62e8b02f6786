"""Kyodo: an NGSI-LD context broker for data platforms that prefectures share."""

__version__ = "0.1.0"
