#!/usr/bin/env python3
"""Generates functions/api/openapi.json (OpenAPI 3.1) — run after changing a route:
python3 functions/api/openapi.py > functions/api/openapi.json. The API serves the JSON at
GET /openapi.json and `make test` checks the function against it with schemathesis."""
import json

def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}

def problem(description):
    return {"description": description, "content": {"application/problem+json": {"schema": ref("Problem")}}}

def ok(schema, description="OK", status="200"):
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}

ERRORS = {
    "400": problem("Invalid input"),
    # Deployed, the HTTP API's JWT authorizer refuses a bad token before the function runs, with
    # API Gateway's own body; a token it admits is checked again by the function (problem+json).
    "401": {"description": "Missing, expired or invalid token", "content": {
        "application/problem+json": {"schema": ref("Problem")},
        "application/json": {"schema": {"type": "object", "required": ["message"],
                                         "properties": {"message": {"type": "string", "const": "Unauthorized"}}}}}},
    "403": problem("Not allowed for this role or tenant"),
    "404": problem("No such resource for this tenant"),
    "503": problem("Temporarily unavailable"),
}

def errors(*codes):
    return {c: ERRORS[c] for c in codes}

TENANT = {"name": "tenant", "in": "query", "required": False,
          "description": "super_admin only: act on this tenant", "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"}}
LIMIT = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}}
CURSOR = {"name": "cursor", "in": "query", "required": False, "description": "next_cursor of the previous page",
          "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$"}}
PHONE = {"name": "phone_number_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}}
TEMPLATE_ID = {"name": "template_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}}
CAMPAIGN_ID = {"name": "campaign_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"}}
DELIVERY = {"type": "string", "enum": ["pending", "sent", "delivered", "read", "played", "failed"]}
SECURED = [{"bearerAuth": []}]

def page_of(item):
    return {"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": item},
        "next_cursor": {"type": ["string", "null"]}}}

def op(summary, responses, params=(), body=None, secured=True, op_id=None):
    if any(p is TENANT for p in params):
        responses = {**responses, "400": ERRORS["400"]}
    o = {"summary": summary, "operationId": op_id, "parameters": list(params), "responses": responses}
    if secured:
        o["security"] = SECURED
    else:
        o["security"] = []
    if body:
        o["requestBody"] = {"required": body[1], "content": {"application/json": {"schema": body[0]}}}
    return o

schemas = {
    "Problem": {"type": "object", "required": ["type", "title", "status", "code", "request_id"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "code": {"type": "string"}, "detail": {"type": "string"}, "request_id": {"type": "string"}}},
    "Alert": {"type": "object", "required": ["alert_id", "severity", "kind", "title", "subject", "event_time"], "properties": {
        "alert_id": {"type": "string"}, "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
        "kind": {"type": "string"}, "title": {"type": "string"}, "subject": {"type": "string"}, "event_time": {"type": "integer"}}},
    "Template": {"type": "object", "required": ["template_id"], "properties": {
        "template_id": {"type": "string"}, "name": {"type": "string"}, "language": {"type": "string"},
        "category": {"type": "string"}, "status": {"type": "string"}, "quality": {"type": "string"},
        "previous_quality": {"type": "string"}, "pending_category": {"type": "string"}, "reason": {"type": "string"},
        "open_alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}}},
    "Item": {"type": "object", "description": "A stored record without internal keys", "additionalProperties": True},
    "Campaign": {"type": "object", "required": ["campaign_id", "status", "template_id", "reached", "current", "rates", "pause"], "properties": {
        "campaign_id": {"type": "string"}, "name": {"type": ["string", "null"]}, "status": {"type": "string"},
        "template_id": {"type": "string"}, "phone_number_id": {"type": "string"}, "waba_id": {"type": ["string", "null"]},
        "registered": {"type": "integer"},
        "reached": {"type": "object", "properties": {k: {"type": "integer"} for k in ["sent", "delivered", "read", "failed"]}},
        "current": {"type": "object", "properties": {k: {"type": "integer"} for k in ["sent", "delivered", "read", "played", "failed"]}},
        "rates": {"type": "object", "description": "delivery = delivered / (sent + failed); read = read / delivered; failure = failed / (sent + failed)",
                  "properties": {k: {"type": "number", "minimum": 0, "maximum": 1} for k in ["delivery", "read", "failure"]}},
        "pause": {"type": "object", "properties": {
            "reason": {"type": ["string", "null"]}, "paused_at": {"type": ["integer", "null"]},
            "auto_paused_by": {"type": ["string", "null"]}, "paused_by_user": {"type": "boolean"},
            "holds": {"type": "array", "items": {"type": "string"}}}}}},
    "NewCampaign": {"type": "object", "additionalProperties": False, "required": ["campaign_id", "template_id", "phone_number_id"], "properties": {
        "campaign_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"}, "name": {"type": "string", "maxLength": 256},
        "template_id": {"type": "string", "pattern": "^[0-9]{1,19}$"}, "phone_number_id": {"type": "string", "pattern": "^[0-9]{1,20}$"}}},
    "MessageRegistration": {"type": "object", "additionalProperties": False, "required": ["wamid", "campaign_id"], "properties": {
        "wamid": {"type": "string", "pattern": "^wamid\\.[A-Za-z0-9+/=_-]{1,240}$"}, "campaign_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
        "recipient_id": {"type": "string"}, "template_id": {"type": "string", "pattern": "^[0-9]{1,19}$"}}},
}

paths = {
    "/health": {"get": op("Table reachability (no auth)", {**ok({"type": "object", "properties": {"status": {"type": "string"}}}),
                                                           "503": {"description": "Table unreachable", "content": {"application/json": {"schema": {"type": "object"}}}}},
                          secured=False, op_id="health")},
    "/openapi.json": {"get": op("This document (no auth)", ok({"type": "object"}), secured=False, op_id="openapi")},
    "/dashboard": {"get": op("The live dashboard page (no auth; it asks for a token)",
        {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}, secured=False, op_id="dashboard")},
    "/dashboard/config.json": {"get": op("Where the dashboard finds the live streams (no auth)",
        ok({"type": "object", "required": ["sse_url", "websocket_url"], "properties": {
            "sse_url": {"type": ["string", "null"]}, "websocket_url": {"type": ["string", "null"]}}}), secured=False, op_id="dashboardConfig")},
    "/templates/critical": {"get": op("Templates PAUSED, DISABLED, REJECTED, FLAGGED or RED, with open alerts",
        {**ok({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": ref("Template")}}}), **errors("401", "403", "503")},
        [TENANT], op_id="criticalTemplates")},
    "/templates/quality-summary": {"get": op("Template counts by quality and by status",
        {**ok({"type": "object", "required": ["total", "by_quality", "by_status"], "properties": {
            "total": {"type": "integer"}, "by_quality": {"type": "object", "additionalProperties": {"type": "integer"}},
            "by_status": {"type": "object", "additionalProperties": {"type": "integer"}}}}), **errors("401", "403", "503")},
        [TENANT], op_id="qualitySummary")},
    "/templates": {"get": op("Templates, filtered", {**ok(page_of(ref("Item"))), **errors("400", "401", "403", "503")},
        [TENANT, LIMIT, CURSOR,
         {"name": "status", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[A-Z_]{1,32}$"}},
         {"name": "quality", "in": "query", "required": False, "schema": {"type": "string", "enum": ["GREEN", "YELLOW", "RED", "UNKNOWN"]}},
         {"name": "category", "in": "query", "required": False, "schema": {"type": "string", "enum": ["MARKETING", "UTILITY", "AUTHENTICATION"]}},
         {"name": "number", "in": "query", "required": False, "description": "phone_number_id: the templates of its WABA",
          "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}}],
        op_id="listTemplates")},
    "/templates/{template_id}": {"get": op("One template with its open alerts", {**ok(ref("Template")), **errors("400", "401", "403", "404", "503")},
        [TEMPLATE_ID, TENANT], op_id="getTemplate")},
    "/numbers/{phone_number_id}/templates/{template_id}/status-history": {"get": op("A template's event history, newest first",
        {**ok(page_of(ref("Item"))), **errors("400", "401", "403", "404", "503")}, [PHONE, TEMPLATE_ID, TENANT, LIMIT, CURSOR], op_id="statusHistory")},
    "/numbers/{phone_number_id}/templates/{template_id}/acknowledge-alert": {"post": op("Acknowledge the template's open alerts (org_admin+)",
        {**ok({"type": "object", "required": ["acknowledged", "by", "at"], "properties": {
            "acknowledged": {"type": "integer"}, "by": {"type": "string"}, "at": {"type": "integer"}}}), **errors("400", "401", "403", "404", "503")},
        [PHONE, TEMPLATE_ID, TENANT], op_id="acknowledgeAlert")},
    "/campaigns": {
        "get": op("Campaigns, optionally by status", {**ok(page_of(ref("Item"))), **errors("400", "401", "403", "503")},
                  [TENANT, LIMIT, CURSOR, {"name": "status", "in": "query", "required": False, "schema": {"type": "string", "enum": ["ACTIVE", "PAUSED", "COMPLETED"]}}],
                  op_id="listCampaigns"),
        "post": op("Create a campaign (org_admin+)", {**ok(ref("Campaign"), "Created", "201"), **errors("400", "401", "403", "503"),
                                                      "409": problem("A campaign with this id exists")},
                   [TENANT], body=(ref("NewCampaign"), True), op_id="createCampaign")},
    "/campaigns/{campaign_id}": {"get": op("A campaign: counters, rates, pause state", {**ok(ref("Campaign")), **errors("400", "401", "403", "404", "503")},
        [CAMPAIGN_ID, TENANT], op_id="getCampaign")},
    "/campaigns/{campaign_id}/messages": {"get": op("A campaign's messages (delivery report), optionally by status",
        {**ok(page_of(ref("Item"))), **errors("400", "401", "403", "404", "503")},
        [CAMPAIGN_ID, TENANT, LIMIT, CURSOR, {"name": "status", "in": "query", "required": False, "schema": DELIVERY}], op_id="campaignMessages")},
    "/campaigns/{campaign_id}/pause": {"post": op("Pause a campaign (org_admin+)",
        {**ok(ref("Campaign")), **errors("400", "401", "403", "404", "503"), "409": problem("Not active or paused")},
        [CAMPAIGN_ID, TENANT], body=({"type": "object", "additionalProperties": False, "properties": {"reason": {"type": "string", "maxLength": 512}}}, False),
        op_id="pauseCampaign")},
    "/campaigns/{campaign_id}/resume": {"post": op("Resume a campaign (org_admin+); refused while its template is PAUSED or DISABLED unless forced",
        {**ok(ref("Campaign")), **errors("400", "401", "403", "404", "503"), "409": problem("Template not sendable, or not paused")},
        [CAMPAIGN_ID, TENANT, {"name": "force", "in": "query", "required": False, "schema": {"type": "string", "enum": ["true", "false"]}}],
        body=({"type": "object", "additionalProperties": False, "properties": {"force": {"type": "boolean"}}}, False), op_id="resumeCampaign")},
    "/stats": {"get": op("Totals of the campaigns created in a time range", {**ok({"type": "object", "required": ["campaigns", "totals"], "properties": {
            "from": {"type": "integer"}, "to": {"type": "integer"}, "campaigns": {"type": "integer"},
            "campaigns_by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
            "totals": {"type": "object", "additionalProperties": {"type": "integer"}}}}), **errors("400", "401", "403", "503")},
        [TENANT, {"name": "from", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "maximum": 9999999999}},
         {"name": "to", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "maximum": 9999999999}}], op_id="stats")},
    "/messages": {"post": op("Register sent messages (the send acknowledgement), 1 to 100, idempotent (org_admin+)",
        {**ok({"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": {"type": "object", "required": ["wamid", "result"], "properties": {
            "wamid": {"type": "string"}, "result": {"type": "string", "enum": ["registered", "already_registered", "conflict"]},
            "delivery": DELIVERY, "detail": {"type": "string"}}}}}}), **errors("400", "401", "403", "503")},
        [TENANT], body=({"oneOf": [ref("MessageRegistration"), {"type": "array", "minItems": 1, "maxItems": 100, "items": ref("MessageRegistration")}]}, True),
        op_id="registerMessages")},
    "/alerts": {"get": op("Open alerts", {**ok({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": ref("Alert")}}}), **errors("401", "403", "503")},
        [TENANT], op_id="openAlerts")},
    "/settings": {
        "get": op("Tenant settings", {**ok({"type": "object", "required": ["tenant_id", "auto_resume"], "properties": {"tenant_id": {"type": "string"}, "auto_resume": {"type": "boolean"}}}), **errors("401", "403", "503")},
                  [TENANT], op_id="getSettings"),
        "put": op("Change tenant settings (org_admin+)", {**ok({"type": "object", "required": ["tenant_id", "auto_resume"], "properties": {"tenant_id": {"type": "string"}, "auto_resume": {"type": "boolean"}}}), **errors("400", "401", "403", "503")},
                  [TENANT], body=({"type": "object", "additionalProperties": False, "required": ["auto_resume"], "properties": {"auto_resume": {"type": "boolean"}}}, True),
                  op_id="putSettings")},
    "/audit": {"get": op("Who paused, resumed, acknowledged what; newest first", {**ok(page_of(ref("Item"))), **errors("400", "401", "403", "503")},
        [TENANT, LIMIT, CURSOR], op_id="audit")},
    "/unrouted": {"get": op("Events no tenant could be found for (super_admin)", {**ok(page_of(ref("Item"))), **errors("400", "401", "403", "503")},
        [LIMIT, CURSOR], op_id="unrouted")},
    "/admin/routes/phone-numbers/{phone_number_id}": {"put": op("Route a phone number id to a tenant (super_admin)",
        {**ok({"type": "object"}), **errors("400", "401", "403", "503")}, [PHONE],
        body=({"type": "object", "additionalProperties": False, "required": ["tenant_id", "waba_id"], "properties": {
            "tenant_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"}, "waba_id": {"type": "string", "pattern": "^[0-9]{1,20}$"},
            "display_phone_number": {"type": ["string", "null"], "pattern": "^[0-9]{1,20}$", "description": "null or absent: not known"}}}, True), op_id="routePhoneNumber")},
    "/admin/routes/wabas/{waba_id}": {"put": op("Route a WABA id to a tenant (super_admin)",
        {**ok({"type": "object"}), **errors("400", "401", "403", "503")},
        [{"name": "waba_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}}],
        body=({"type": "object", "additionalProperties": False, "required": ["tenant_id"], "properties": {
            "tenant_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"}}}, True), op_id="routeWaba")},
}

doc = {
    "openapi": "3.1.0",
    "info": {"title": "WhatsApp webhook pipeline API", "version": "1.0.0",
             "description": "Monitoring and management. Tenant and role come only from the verified bearer token "
                            "(claims org_id and role: viewer, org_admin, super_admin). Errors are application/problem+json "
                            "with a stable code; every response carries x-request-id."},
    "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}, "schemas": schemas},
    "security": SECURED,
    "paths": paths,
}
print(json.dumps(doc, indent=1))
