"""Database failures the API reports: 503 when it cannot be reached (the process keeps serving once it
is back), 504 when a query outlasts KYODO_QUERY_TIMEOUT_MS."""

from __future__ import annotations

from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError

from broker.ngsild.errors import HttpError

DATABASE_UNAVAILABLE = (ConnectionFailure, AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError)
DATABASE_UNAVAILABLE_TYPE = "urn:kyodo:error:DatabaseUnavailable"
QUERY_TIMEOUT_TYPE = "urn:kyodo:error:QueryTimeout"


def query_timed_out(max_time_ms: int) -> HttpError:
    """A query the database stopped at its time limit (maxTimeMS): 504, never a generic 503."""
    return HttpError(504, "Query timeout",
                     f"The query ran longer than {max_time_ms} ms (KYODO_QUERY_TIMEOUT_MS) and was stopped; "
                     "narrow it (type, q, geoQ, scopeQ) or lower its limit", QUERY_TIMEOUT_TYPE)
