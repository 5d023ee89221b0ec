"""The OpenAPI 3.1 description of /api/v1/ (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from flask import request

VERSION = "1.0.0"


def _param(name: str, description: str, schema: dict[str, Any], *, required: bool = False,
           where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema}


PERIOD = _param("period", "An ISO week (2025-W23) or a month (2025-06); default: the latest in the "
                "store. Weeks need day-precision data (police.uk data is monthly).",
                {"type": "string", "examples": ["2025-W23", "2025-06"]})
CATEGORY = _param("category", "Incident category (serious_violence is a proxy for the Home Office "
                  "definition).", {"type": "string", "enum": ["asb", "serious_violence", "all"],
                                   "default": "asb"})
WARDS = _param("wards", "`priority` (the six priority wards), `all`, or ward codes or names "
               "(comma-separated or repeated).", {"type": "string", "default": "priority"})


def _error_responses(*codes: int) -> dict[str, Any]:
    text = {400: "A bad parameter or body (the message names it)", 401: "Not logged in and no valid token",
            403: "The user's role does not allow this", 404: "Not found",
            413: "Too large", 429: "Too many requests", 500: "Server error"}
    return {str(c): {"description": text[c], "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for c in codes}


def openapi_document() -> dict[str, Any]:
    """The API description, with the server URL of the current request."""
    errors = _error_responses(400, 401, 403, 500)
    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "Leeds hotspots API",
            "version": VERSION,
            "description": "ASB and serious-violence hotspots, ward summaries, patrol plans, patrol "
                           "visits and hotspot evaluation for the Leeds priority wards. Demo data "
                           "is synthetic and flagged (`demo`). Every error is "
                           '`{"error": {"code", "message", "details"}}`.',
        },
        "servers": [{"url": request.url_root.rstrip("/") + "/api/v1"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": {
            "/hotspots": {"get": {
                "summary": "Ranked hotspot cells as GeoJSON",
                "description": "An RFC 7946 FeatureCollection (longitude/latitude, no crs member): "
                               "one H3 hexagon per cell with incidents, a hotspot class or a trend, "
                               "best rank first. Role: viewer.",
                "parameters": [PERIOD, CATEGORY, WARDS,
                               _param("resolution", "H3 resolution (10: a 150-250 m patrol box).",
                                      {"type": "integer", "minimum": 7, "maximum": 11}),
                               _param("top", "Only the best `top` cells.", {"type": "integer", "minimum": 1}),
                               _param("weight", "Rank by harm or by count.",
                                      {"type": "string", "enum": ["harm", "count"], "default": "harm"})],
                "responses": {"200": {"description": "The cells", "content": {"application/geo+json": {
                    "schema": {"$ref": "#/components/schemas/HotspotCollection"}}}}, **errors},
            }},
            "/wards": {"get": {
                "summary": "Ward summary: counts, harm, rate per km2, change",
                "description": "Role: viewer.",
                "parameters": [PERIOD, CATEGORY, WARDS],
                "responses": {"200": {"description": "One row per ward", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/WardTable"}}}}, **errors},
            }},
            "/plans": {
                "get": {"summary": "Recent patrol plans", "description": "Role: guardian.",
                        "parameters": [_param("limit", "How many (newest first).",
                                              {"type": "integer", "minimum": 1, "maximum": 500, "default": 50})],
                        "responses": {"200": {"description": "Plans", "content": {"application/json": {
                            "schema": {"type": "object", "properties": {"plans": {
                                "type": "array", "items": {"$ref": "#/components/schemas/Plan"}}}}}}},
                            **errors}},
                "post": {"summary": "Make a patrol plan", "description": "Plans routes for the top "
                         "hotspots of the priority wards and keeps the plan as a draft. Role: guardian. "
                         "Cookie sessions must send the CSRF token as X-CSRFToken.",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/PlanRequest"}}}},
                         "responses": {"201": {"description": "The plan", "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/Plan"}}}}, **errors}},
            },
            "/plans/{plan_id}": {"get": {
                "summary": "One patrol plan", "description": "Role: guardian.",
                "parameters": [_param("plan_id", "Plan id.", {"type": "integer"}, required=True, where="path")],
                "responses": {"200": {"description": "The plan", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Plan"}}}},
                    **_error_responses(400, 401, 403, 404, 500)},
            }},
            "/visits": {"post": {
                "summary": "Log a patrol visit (arrival, departure, or both)",
                "description": "With `action: arrive` (or `arrived_at`) a visit starts; with "
                               "`action: depart` the open visit at that stop ends. Role: guardian.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/VisitRequest"}}}},
                "responses": {"201": {"description": "The visit", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Visit"}}}}, **errors},
            }},
            "/evaluation": {"get": {
                "summary": "Hit rate, PAI and PEI of each period's hotspots against the next",
                "description": "Role: analyst.",
                "parameters": [PERIOD, CATEGORY,
                               _param("periods", "How many test periods, ending with `period`.",
                                      {"type": "integer", "minimum": 1, "maximum": 52, "default": 8}),
                               _param("method", "How last period's hotspots are chosen.",
                                      {"type": "string", "enum": ["gistar", "count", "harm"], "default": "gistar"})],
                "responses": {"200": {"description": "Rows per test period and coverage",
                                      "content": {"application/json": {"schema": {
                                          "$ref": "#/components/schemas/Evaluation"}}}}, **errors},
            }},
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A per-user token made on the Account page."},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "hotspots_session"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message", "details"],
                    "properties": {"code": {"type": "string", "examples": ["invalid_parameter"]},
                                   "message": {"type": "string"},
                                   "details": {"type": "object", "properties": {
                                       "parameter": {"type": "string"}}}}}}},
                "HotspotCollection": {"type": "object", "required": ["type", "features"], "properties": {
                    "type": {"const": "FeatureCollection"},
                    "features": {"type": "array", "items": {"type": "object", "properties": {
                        "type": {"const": "Feature"},
                        "geometry": {"type": "object", "description": "Polygon, longitude/latitude"},
                        "properties": {"type": "object", "properties": {
                            "h3_cell": {"type": "string", "description": "H3 index, hexadecimal"},
                            "ward_code": {"type": "string"}, "ward_name": {"type": "string"},
                            "count": {"type": "integer"}, "harm": {"type": "number"},
                            "gi_z": {"type": "number"}, "gi_p": {"type": "number"},
                            "hot": {"type": "boolean"}, "change": {"type": "number"},
                            "change_pct": {"type": ["number", "null"]},
                            "change_significant": {"type": "boolean"}, "trend": {"type": "string"},
                            "rank": {"type": "integer"}, "reason": {"type": "string"},
                            "map_class": {"type": "string"}}}}}}}},
                "WardTable": {"type": "object", "properties": {
                    "period": {"type": "string"}, "category": {"type": "string"},
                    "demo": {"type": "boolean"}, "wards": {"type": "array", "items": {"type": "object"}}}},
                "PlanRequest": {"type": "object", "properties": {
                    "period": {"type": "string"},
                    "category": {"type": "string", "enum": ["asb", "serious_violence", "both"]},
                    "teams": {"description": "Team names from the teams table (each patrols its "
                                             "designated hotspots and its home wards), or a number: "
                                             "the first N active teams. Default: every active team.",
                              "oneOf": [{"type": "array", "items": {"type": "string"}},
                                        {"type": "integer", "minimum": 1}]},
                    "date": {"type": "string", "format": "date",
                             "description": "The day of the shift (default today)."},
                    "shift_start": {"type": "string", "examples": ["16:00"]},
                    "shift_min": {"type": "integer", "minimum": 15, "maximum": 720},
                    "dwell_min": {"type": "number", "minimum": 10, "maximum": 16},
                    "mode": {"type": ["string", "null"], "enum": ["drive", "walk", None],
                             "description": "Every team's mode; default each team's own."},
                    "stops_per_ward": {"type": "integer", "minimum": 1, "maximum": 50},
                    "any_ward": {"type": "boolean", "default": False,
                                 "description": "Let teams patrol outside their home wards."},
                    "vary": {"type": "boolean", "description": "Vary the order and times of "
                             "designated stops from shift to shift (default: the "
                             "patrol_vary_designated setting)."},
                    "seed": {"type": "integer", "minimum": 0}}},
                "Plan": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}, "period": {"type": "string"},
                    "category": {"type": "string"}, "status": {"type": "string", "enum": ["draft", "saved"]},
                    "shift_date": {"type": ["string", "null"], "format": "date"},
                    "shift": {"type": ["string", "null"]},
                    "approximate": {"type": "boolean"}, "demo": {"type": "boolean"},
                    "assignments": {"type": "object"}, "plan": {"type": "object"},
                    "links": {"type": "object"}}},
                "VisitRequest": {"type": "object", "required": ["plan_id", "team", "stop"], "properties": {
                    "plan_id": {"type": "integer"}, "team": {"type": ["string", "integer"]},
                    "stop": {"type": "integer"}, "action": {"type": "string", "enum": ["arrive", "depart"]},
                    "arrived_at": {"type": "string", "format": "date-time"},
                    "departed_at": {"type": "string", "format": "date-time"}, "note": {"type": "string"}}},
                "Visit": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "plan_id": {"type": "integer"}, "team": {"type": "string"},
                    "stop": {"type": "integer"}, "h3_cell": {"type": "string"},
                    "arrived_at": {"type": "string"}, "departed_at": {"type": ["string", "null"]},
                    "minutes": {"type": ["number", "null"]}}},
                "Evaluation": {"type": "object", "properties": {
                    "rows": {"type": "array", "items": {"type": "object", "properties": {
                        "train_period": {"type": "string"}, "test_period": {"type": "string"},
                        "coverage": {"type": "number"}, "hit_rate": {"type": "number"},
                        "pai": {"type": "number"}, "pei": {"type": "number"}}}}}},
            },
        },
    }
    from webapp.programme_api import openapi_paths

    doc["paths"].update(openapi_paths(_param, _error_responses))
    return doc
