"""The shared catalog as DCAT-AP JSON-LD (DCAT 2 / DCAT-AP 2.1): one dcat:Catalog of dcat:Datasets.

Each dataset has one distribution: the NGSI-LD query of its entity type, to be sent with the header
`NGSILD-Tenant: <tenant>` (said in the distribution's dct:description). A catalog larger than one
page is paged with `?page=N` and described by a hydra:PartialCollectionView (first, previous, next,
last, totalItems) also typed hydra:PagedCollection, which DCAT harvesters such as ckanext-dcat
follow. The shape is checked against schemas/dcat-catalog.schema.json by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.ngsild.names import format_datetime
from tenants.datasets import CATALOG_BASE, access_note, access_url, dataset_url
from tenants.published import OPEN
from tenants.vocabularies import FREQUENCIES, LICENSES

DCAT_PATH = f"{CATALOG_BASE}/dcat"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
    "hydra": "http://www.w3.org/ns/hydra/core#",
}
_EU = "http://publications.europa.eu/resource/authority/"
JSON_LD_FORMAT = _EU + "file-type/JSON_LD"
JSON_LD_MEDIA_TYPE = "https://www.iana.org/assignments/media-types/application/ld+json"
ACCESS_RIGHTS = {OPEN: _EU + "access-right/PUBLIC", "members": _EU + "access-right/RESTRICTED"}


def _texts(localized: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"@value": text, "@language": language} for language, text in sorted((localized or {}).items())]


def _datetime(value: str) -> dict[str, str]:
    return {"@value": value, "@type": "xsd:dateTime"}


def _bbox_wkt(bbox: list[float]) -> str:
    west, south, east, north = bbox
    return f"POLYGON(({west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}))"


def render_dataset(doc: dict[str, Any], base: str, publisher: str) -> dict[str, Any]:
    """One dcat:Dataset; `publisher` is the dataset's own or its tenant's display name."""
    url = dataset_url(base, doc["_id"])
    license_url = LICENSES[doc["license"]].url
    dataset: dict[str, Any] = {
        "@id": url,
        "@type": "dcat:Dataset",
        "dct:identifier": doc["_id"],
        "dct:title": _texts(doc.get("title")),
        "dct:description": _texts(doc.get("description")),
        "dcat:keyword": list(doc.get("keywords") or []),
        "dct:license": {"@id": license_url},
        "dct:accessRights": {"@id": ACCESS_RIGHTS[doc.get("visibility", OPEN)]},
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": publisher},
        "dct:issued": _datetime(format_datetime(doc["issued"])),
        "dct:modified": _datetime(format_datetime(doc["modified"])),
        "dcat:landingPage": {"@id": url},
        "dcat:distribution": [{
            "@id": f"{url}#ngsi-ld",
            "@type": "dcat:Distribution",
            "dct:title": [{"@value": f"NGSI-LD entities of type {doc.get('typeName') or doc['entityType']}",
                           "@language": "en"}],
            "dct:description": [{"@value": access_note(doc), "@language": "en"}],
            "dcat:accessURL": {"@id": access_url(base, doc)},
            "dct:format": {"@id": JSON_LD_FORMAT},
            "dcat:mediaType": {"@id": JSON_LD_MEDIA_TYPE},
            "dct:license": {"@id": license_url},
        }],
    }
    contact = doc.get("contact")
    if contact:
        dataset["dcat:contactPoint"] = {"@type": "vcard:Kind", "vcard:fn": contact["name"],
                                        "vcard:hasEmail": {"@id": f"mailto:{contact['email']}"}}
    frequency = doc.get("updateFrequency")
    if frequency:
        dataset["dct:accrualPeriodicity"] = {"@id": FREQUENCIES[frequency]}
    spatial = doc.get("spatial")
    if spatial:
        location: dict[str, Any] = {"@type": "dct:Location"}
        if spatial.get("name"):
            location["skos:prefLabel"] = spatial["name"]
        if spatial.get("bbox"):
            location["dcat:bbox"] = {"@value": _bbox_wkt(spatial["bbox"]), "@type": "gsp:wktLiteral"}
        dataset["dct:spatial"] = location
    return dataset


def render_catalog(title: str, publisher: str, base: str, datasets: list[dict[str, Any]],
                   page: CatalogPage) -> dict[str, Any]:
    """The dcat:Catalog around one page of rendered datasets; when the catalog has more than one page
    (or a page was asked for), its hydra:PartialCollectionView."""
    catalog = {
        "@context": CONTEXT,
        "@id": f"{base}{DCAT_PATH}",
        "@type": "dcat:Catalog",
        "dct:title": [{"@value": title}],
        "dct:description": [{"@value": "Datasets that the member tenants of this Kyodo platform publish "
                                       "(NGSI-LD entity types)", "@language": "en"}],
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": publisher},
        "foaf:homepage": {"@id": f"{base}{CATALOG_BASE}/datasets"},
        "dcat:dataset": datasets,
    }
    if page.last > 1 or page.asked:
        catalog["hydra:view"] = page.view(f"{base}{DCAT_PATH}")
    return catalog


@dataclass(frozen=True)
class CatalogPage:
    """Which page of the catalog this is (1-based), of how many datasets in all."""

    number: int
    size: int
    total: int
    asked: bool = False
    """The request named a page: the view is given even for a one-page catalog."""

    @property
    def last(self) -> int:
        return max(1, -(-self.total // self.size))

    def view(self, catalog_url: str) -> dict[str, Any]:
        """Hydra paging: a hydra:PartialCollectionView (Hydra Core) that is also typed
        hydra:PagedCollection with the older member names, which is what ckanext-dcat's harvester
        looks for (it reads hydra:next, else hydra:nextPage, of a PagedCollection)."""
        def ref(number: int) -> dict[str, str]:
            return {"@id": f"{catalog_url}?page={number}"}
        view: dict[str, Any] = {**ref(self.number), "@type": ["hydra:PartialCollectionView", "hydra:PagedCollection"],
                                "hydra:totalItems": self.total, "hydra:itemsPerPage": self.size}
        links = {"first": 1, "last": self.last}
        if self.number > 1:
            links["previous"] = min(self.number - 1, self.last)
        if self.number < self.last:
            links["next"] = self.number + 1
        for name, number in links.items():
            view[f"hydra:{name}"] = view[f"hydra:{name}Page"] = ref(number)
        return view
