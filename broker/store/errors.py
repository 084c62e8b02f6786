"""Database failures the API reports as 503 (the process keeps serving once the database is back)."""

from __future__ import annotations

from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError

DATABASE_UNAVAILABLE = (ConnectionFailure, AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError)
DATABASE_UNAVAILABLE_TYPE = "urn:kyodo:error:DatabaseUnavailable"
