"""The fixed vocabularies of published datasets: licenses and update frequencies, with their URIs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class License:
    id: str
    title: str
    url: str


LICENSES: dict[str, License] = {license.id: license for license in (
    License("CC-BY-4.0", "Creative Commons Attribution 4.0 International",
            "https://creativecommons.org/licenses/by/4.0/"),
    License("CC-BY-SA-4.0", "Creative Commons Attribution-ShareAlike 4.0 International",
            "https://creativecommons.org/licenses/by-sa/4.0/"),
    License("CC0-1.0", "Creative Commons Zero v1.0 Universal (public domain dedication)",
            "https://creativecommons.org/publicdomain/zero/1.0/"),
    License("ODbL-1.0", "Open Data Commons Open Database License v1.0",
            "https://opendatacommons.org/licenses/odbl/1-0/"),
    License("PDL-1.0", "公共データ利用規約 第1.0版 (Public Data License Version 1.0)",
            "https://www.digital.go.jp/resources/open_data/public_data_license_v1.0"),
    License("CC-BY-2.1-JP", "クリエイティブ・コモンズ 表示 2.1 日本 (Creative Commons Attribution 2.1 Japan)",
            "https://creativecommons.org/licenses/by/2.1/jp/"),
)}

_EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
FREQUENCIES: dict[str, str] = {
    "continuous": _EU_FREQUENCY + "UPDATE_CONT",
    "hourly": _EU_FREQUENCY + "HOURLY",
    "daily": _EU_FREQUENCY + "DAILY",
    "weekly": _EU_FREQUENCY + "WEEKLY",
    "monthly": _EU_FREQUENCY + "MONTHLY",
    "quarterly": _EU_FREQUENCY + "QUARTERLY",
    "annual": _EU_FREQUENCY + "ANNUAL",
    "irregular": _EU_FREQUENCY + "IRREG",
    "never": _EU_FREQUENCY + "NEVER",
}
"""Kyodo's update-frequency terms → the EU Publications Office frequency authority (DCAT-AP)."""
