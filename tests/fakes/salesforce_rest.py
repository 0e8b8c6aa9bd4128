"""The fake org's REST API under ``/services/data/v<version>/``: sObject rows (upsert by external
id, update, read, delete, create, platform events), sObject Collections upsert, query, limits.

Each handler takes the org (``fake``: its ``store``, ``api_version``, ``api_limit``,
``api_used``, ``published_events``, ``item_failures``) and the ``Call``, and returns an
``Answer`` in the documented shapes: success bodies ``{"id", "success", "errors", "created"}``,
errors a JSON array ``[{"message", "errorCode", "fields"}]``.
"""

from collections.abc import Callable
from typing import Any

from tests.fakes import salesforce_soql
from tests.fakes.salesforce_store import LookupFailure, Store
from tests.fakes.salesforce_wsgi import Answer, Call, error_list, json_answer, not_found

COLLECTION_LIMIT = 200
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}


class SeveralMatches(Exception):
    def __init__(self, ids: list[str]) -> None:
        super().__init__(ids)
        self.ids = ids


def record_url(version: str, sobject: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"


def upsert_record(
    store: Store, sobject: str, ext_field: str, value: str, body: dict, *, update_only=False
) -> tuple[str, bool] | None:
    """Create or update the record whose ``ext_field`` is ``value``: (id, created), or None
    when there is none and ``update_only``. Raises LookupFailure, SeveralMatches."""
    fields = store.resolve(body)
    matches = store.matching(sobject, ext_field, value)
    if len(matches) > 1:
        raise SeveralMatches(matches)
    if matches:
        return store.write(sobject, fields, matches[0])
    if update_only:
        return None
    return store.write(sobject, {**fields, ext_field: value})


def _body(call: Call) -> dict | Answer:
    try:
        body = call.json()
    except ValueError:
        return error_list(400, "JSON_PARSER_ERROR", "The request body is not valid JSON")
    if not isinstance(body, dict):
        return error_list(400, "JSON_PARSER_ERROR", "Expected a JSON object as the request body")
    return body


def upsert(fake, call: Call, sobject: str, ext_field: str, value: str) -> Answer:
    body = _body(call)
    if isinstance(body, Answer):
        return body
    if ext_field in body:
        message = f"{ext_field}: the external id field of this upsert cannot be in the body"
        return error_list(400, "INVALID_FIELD", message, [ext_field])
    update_only = call.query.get("updateOnly", "").lower() == "true"
    try:
        done = upsert_record(fake.store, sobject, ext_field, value, body, update_only=update_only)
    except LookupFailure as failure:
        return error_list(400, "INVALID_FIELD", failure.message, [])
    except SeveralMatches as several:
        return json_answer(300, [record_url(fake.api_version, sobject, i) for i in several.ids])
    if done is None:
        return not_found()
    record_id, created = done
    result = {"id": record_id, "success": True, "errors": [], "created": created}
    return json_answer(201 if created else 200, result)


def _gone_or_missing(store: Store, sobject: str, record_id: str) -> Answer:
    if store.is_deleted(sobject, record_id):
        return error_list(404, "ENTITY_IS_DELETED", "entity is deleted", [])
    return not_found()


def row(fake, call: Call, sobject: str, record_id: str) -> Answer:
    """GET, PATCH (update) or DELETE ``/sobjects/<SObject>/<Id>``."""
    store = fake.store
    record = store.get(sobject, record_id)
    if record is None:
        return _gone_or_missing(store, sobject, record_id)
    if call.method == "GET":
        return json_answer(200, shown(fake.api_version, sobject, record, call.query.get("fields")))
    if call.method == "DELETE":
        store.delete(sobject, record_id)
        return Answer(204)
    body = _body(call)
    if isinstance(body, Answer):
        return body
    try:
        store.write(sobject, store.resolve(body), record["Id"])
    except LookupFailure as failure:
        return error_list(400, "INVALID_FIELD", failure.message, [])
    return Answer(204)


def shown(version: str, sobject: str, record: dict, fields: str | None = None) -> dict:
    """A record as the API shows it: ``attributes`` first, then the fields (all, or those asked)."""
    attributes = {"type": sobject, "url": record_url(version, sobject, record["Id"])}
    if fields:
        picked = {name.strip(): record.get(name.strip()) for name in fields.split(",")}
        return {"attributes": attributes, **picked}
    return {"attributes": attributes, **record}


def by_external_id(fake, call: Call, sobject: str, ext_field: str, value: str) -> Answer:
    if call.method == "PATCH":
        return upsert(fake, call, sobject, ext_field, value)
    matches = fake.store.matching(sobject, ext_field, value)
    if len(matches) > 1:
        return json_answer(300, [record_url(fake.api_version, sobject, i) for i in matches])
    if not matches:
        return not_found()
    return row(fake, call, sobject, matches[0])


def create(fake, call: Call, sobject: str) -> Answer:
    """POST ``/sobjects/<SObject>``: a new record, or a platform event (``…__e``) published."""
    body = _body(call)
    if isinstance(body, Answer):
        return body
    store = fake.store
    if sobject.endswith("__e"):
        event_id = store.new_id(sobject)
        fake.published_events.append(
            (sobject, {k: v for k, v in body.items() if k != "attributes"})
        )
        return json_answer(201, {"id": event_id, "success": True, "errors": []})
    try:
        record_id, _ = store.write(sobject, store.resolve(body))
    except LookupFailure as failure:
        return error_list(400, "INVALID_FIELD", failure.message, [])
    return json_answer(201, {"id": record_id, "success": True, "errors": []})


def _item_error(code: str, message: str, fields: list[str] | None = None) -> dict:
    error = {"statusCode": code, "message": message, "fields": list(fields or [])}
    return {"id": None, "success": False, "errors": [error]}


def _collection_item(fake, sobject: str, ext_field: str, record: Any) -> dict:
    if not isinstance(record, dict) or record.get(ext_field) in (None, ""):
        return _item_error("MISSING_ARGUMENT", f"{ext_field} not specified", [ext_field])
    value = str(record[ext_field])
    if value in fake.item_failures:
        code, message, fields = fake.item_failures.pop(value)
        return _item_error(code, message, fields)
    body = {k: v for k, v in record.items() if k != ext_field}
    try:
        record_id, created = upsert_record(fake.store, sobject, ext_field, value, body)
    except LookupFailure as failure:
        return _item_error("INVALID_FIELD", failure.message, [failure.field_name])
    except SeveralMatches as several:
        message = f"{ext_field}: more than one record found for external id field: {several.ids}"
        return _item_error("DUPLICATE_EXTERNAL_ID", message, [ext_field])
    return {"id": record_id, "success": True, "errors": [], "created": created}


def collection_upsert(fake, call: Call, sobject: str, ext_field: str) -> Answer:
    """PATCH ``/composite/sobjects/<SObject>/<ExtField>``: ≤ 200 records, answered in order,
    200 even when items fail; with allOrNone one failure rolls every item back."""
    body = _body(call)
    if isinstance(body, Answer):
        return body
    records = body.get("records")
    if not isinstance(records, list):
        return error_list(400, "INVALID_FIELD", "records: a list of records is required", [])
    if len(records) > COLLECTION_LIMIT:
        message = f"Maximum number of records allowed is {COLLECTION_LIMIT}, found {len(records)}"
        return json_answer(400, [{"errorCode": "EXCEEDED_ID_LIMIT", "message": message}])
    before = fake.store.snapshot()
    results = [_collection_item(fake, sobject, ext_field, record) for record in records]
    if body.get("allOrNone") and not all(result["success"] for result in results):
        fake.store.restore(before)
        results = [
            result
            if not result["success"]
            else {"id": None, "success": False, "errors": [ROLLED_BACK]}
            for result in results
        ]
    return json_answer(200, results)


def _update_item(fake, record: Any) -> dict:
    if not isinstance(record, dict) or not record.get("Id"):
        return _item_error("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
    sobject = str((record.get("attributes") or {}).get("type") or "")
    stored = fake.store.get(sobject, str(record["Id"]))
    if stored is None:
        return _item_error("ENTITY_IS_DELETED" if fake.store.is_deleted(sobject, str(record["Id"]))
                           else "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])  # fmt: skip
    body = {k: v for k, v in record.items() if k not in ("attributes", "Id")}
    try:
        fake.store.write(sobject, fake.store.resolve(body), stored["Id"])
    except LookupFailure as failure:
        return _item_error("INVALID_FIELD", failure.message, [failure.field_name])
    return {"id": stored["Id"], "success": True, "errors": []}


def collection_update(fake, call: Call) -> Answer:
    """PATCH ``/composite/sobjects``: update ≤ 200 records by Id (each names its type in
    ``attributes``), answered in order; with allOrNone one failure rolls every item back."""
    body = _body(call)
    if isinstance(body, Answer):
        return body
    records = body.get("records")
    if not isinstance(records, list) or len(records) > COLLECTION_LIMIT:
        return error_list(400, "INVALID_FIELD", "records: at most 200 records are required", [])
    before = fake.store.snapshot()
    results = [_update_item(fake, record) for record in records]
    if body.get("allOrNone") and not all(result["success"] for result in results):
        fake.store.restore(before)
        results = [r if not r["success"] else {"id": None, "success": False,
                                                "errors": [ROLLED_BACK]} for r in results]  # fmt: skip
    return json_answer(200, results)


def query(fake, call: Call, *, include_deleted: bool = False) -> Answer:
    soql = call.query.get("q", "")
    try:
        records = salesforce_soql.run(fake.store, soql, include_deleted=include_deleted)
    except salesforce_soql.SoqlError as error:
        return error_list(400, "MALFORMED_QUERY", str(error))
    sobject, rows = records
    shaped = [
        {
            "attributes": {
                "type": sobject,
                "url": record_url(fake.api_version, sobject, record_id),
            },
            **picked,
        }
        for record_id, picked in rows
    ]
    return json_answer(200, {"totalSize": len(shaped), "done": True, "records": shaped})


def limits(fake, call: Call) -> Answer:
    remaining = max(fake.api_limit - fake.api_used, 0)
    return json_answer(200, {"DailyApiRequests": {"Max": fake.api_limit, "Remaining": remaining}})


def resources(fake, call: Call) -> Answer:
    base = f"/services/data/v{fake.api_version}"
    names = ("sobjects", "query", "queryAll", "composite", "limits")
    return json_answer(200, {name: f"{base}/{name}" for name in names})


def query_all(fake, call: Call) -> Answer:
    return query(fake, call, include_deleted=True)


def _endpoint(parts: list[str]) -> tuple[Callable[..., Answer], tuple, tuple[str, ...]] | None:
    """(handler, its arguments after fake and call, allowed methods) for a path, or None."""
    if parts[-1:] == [""]:
        parts = parts[:-1]
    match parts:
        case []:
            return resources, (), ("GET",)
        case ["limits"]:
            return limits, (), ("GET",)
        case ["query"]:
            return query, (), ("GET",)
        case ["queryAll"]:
            return query_all, (), ("GET",)
        case ["sobjects", sobject]:
            return create, (sobject,), ("POST",)
        case ["sobjects", sobject, record_id]:
            return row, (sobject, record_id), ("GET", "PATCH", "DELETE")
        case ["sobjects", sobject, ext_field, *value] if value:
            return by_external_id, (sobject, ext_field, "/".join(value)), ("GET", "PATCH")
        case ["composite", "sobjects"]:
            return collection_update, (), ("PATCH",)
        case ["composite", "sobjects", sobject, ext_field]:
            return collection_upsert, (sobject, ext_field), ("PATCH",)
    return None


def route(fake, call: Call, parts: list[str]) -> Answer:
    """Dispatch the path after ``/services/data/v<version>/`` (split on ``/``)."""
    endpoint = _endpoint(parts)
    if endpoint is None:
        return not_found()
    handler, arguments, allowed = endpoint
    if call.method not in allowed:
        message = f"HTTP Method '{call.method}' not allowed. Allowed are {','.join(allowed)}"
        return json_answer(405, [{"errorCode": "METHOD_NOT_ALLOWED", "message": message}])
    return handler(fake, call, *arguments)
