#!/usr/bin/env python3
"""Validates FHIR R4 JSON read on standard input, independently of rpps-plus's own types.

Usage: scripts/fhir-validate.py [LABEL] < document.json

The input is one FHIR resource (a Bundle's entries are validated too), or a JSON array of
resources validated one by one (several documents in one run). Exits 0 when every document is
valid R4, 1 naming each error otherwise, 2 when the input is not JSON or the validator is
missing.

The model is SMART on FHIR's `fhirclient` (PyPI, pinned by scripts/test), whose classes are
generated from the FHIR 4.0.1 (R4) specification and, in strict mode, reject an element of the
wrong type, an element the resource does not have, and a missing required element. On top of
it, this script checks what those classes let through:
- the R4 JSON rules (https://hl7.org/fhir/R4/json.html): no `null`, no empty string, array or
  object; each array item of the element's type (the model checks the first only), integers
  that are integers (not booleans nor decimals);
- the R4 formats of `id` and of relative references (`Type/id`, with a known resource type);
- the codes of the required bindings of the elements a directory returns (values copied from
  the R4 value sets named below).
"""

import json
import re
import sys

try:
    from fhirclient.models import fhirabstractbase, fhirelementfactory, resource
    from fhirclient.models import (
        address,
        bundle,
        capabilitystatement,
        contactpoint,
        humanname,
        identifier,
        narrative,
        operationoutcome,
    )
except ImportError as e:  # pragma: no cover - reported to the caller
    print(f"fhir-validate: the Python package fhirclient is missing ({e}): "
          "pip install fhirclient==4.4.0", file=sys.stderr)
    sys.exit(2)

try:
    import fhirclient
except ImportError:  # pragma: no cover - the models import above would have failed first
    fhirclient = None
# fhirclient 4.x carries the models of FHIR 4.0.1; other majors carry other FHIR releases.
if fhirclient is None or not getattr(fhirclient, "__version__", "").startswith("4."):
    print("fhir-validate: fhirclient 4.x (the FHIR R4 models) is required, found "
          f"{getattr(fhirclient, '__version__', 'none')}: pip install fhirclient==4.4.0",
          file=sys.stderr)
    sys.exit(2)

# https://hl7.org/fhir/R4/datatypes.html#id
ID = re.compile(r"[A-Za-z0-9\-\.]{1,64}")

# Required bindings, R4 (4.0.1) value sets: (model class, attribute, ValueSet, allowed codes).
REQUIRED_CODES = [
    (bundle.Bundle, "type", "bundle-type",
     {"document", "message", "transaction", "transaction-response", "batch",
      "batch-response", "history", "searchset", "collection"}),
    (bundle.BundleEntrySearch, "mode", "search-entry-mode", {"match", "include", "outcome"}),
    (bundle.BundleEntryRequest, "method", "http-verb",
     {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}),
    (operationoutcome.OperationOutcomeIssue, "severity", "issue-severity",
     {"fatal", "error", "warning", "information"}),
    (operationoutcome.OperationOutcomeIssue, "code", "issue-type",
     {"invalid", "structure", "required", "value", "invariant", "security", "login",
      "unknown", "expired", "forbidden", "suppressed", "processing", "not-supported",
      "duplicate", "multiple-matches", "not-found", "deleted", "too-long", "code-invalid",
      "extension", "too-costly", "business-rule", "conflict", "transient", "lock-error",
      "no-store", "exception", "timeout", "incomplete", "throttled", "informational"}),
    (capabilitystatement.CapabilityStatement, "status", "publication-status",
     {"draft", "active", "retired", "unknown"}),
    (capabilitystatement.CapabilityStatement, "kind", "capability-statement-kind",
     {"instance", "capability", "requirements"}),
    # FHIR-version, restricted to R4's own releases: the point is to be R4.
    (capabilitystatement.CapabilityStatement, "fhirVersion", "FHIR-version (R4)",
     {"4.0.0", "4.0.1"}),
    (capabilitystatement.CapabilityStatementRest, "mode", "restful-capability-mode",
     {"client", "server"}),
    (capabilitystatement.CapabilityStatementRestInteraction, "code",
     "system-restful-interaction",
     {"transaction", "batch", "search-system", "history-system"}),
    (capabilitystatement.CapabilityStatementRestResourceInteraction, "code",
     "type-restful-interaction",
     {"read", "vread", "update", "patch", "delete", "history-instance", "history-type",
      "create", "search-type"}),
    (capabilitystatement.CapabilityStatementRestResourceSearchParam, "type",
     "search-param-type",
     {"number", "date", "string", "token", "reference", "composite", "quantity", "uri",
      "special"}),
    (capabilitystatement.CapabilityStatementRestResource, "versioning", "versioning-policy",
     {"no-version", "versioned", "versioned-update"}),
    (capabilitystatement.CapabilityStatementRestResource, "conditionalRead",
     "conditional-read-status",
     {"not-supported", "modified-since", "not-match", "full-support"}),
    (capabilitystatement.CapabilityStatementRestResource, "conditionalDelete",
     "conditional-delete-status", {"not-supported", "single", "multiple"}),
    (capabilitystatement.CapabilityStatementRestResource, "referencePolicy",
     "reference-handling-policy", {"literal", "logical", "resolves", "enforced", "local"}),
    (humanname.HumanName, "use", "name-use",
     {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"}),
    (identifier.Identifier, "use", "identifier-use",
     {"usual", "official", "temp", "secondary", "old"}),
    (contactpoint.ContactPoint, "system", "contact-point-system",
     {"phone", "fax", "email", "pager", "url", "sms", "other"}),
    (contactpoint.ContactPoint, "use", "contact-point-use",
     {"home", "work", "temp", "old", "mobile"}),
    (address.Address, "use", "address-use", {"home", "work", "temp", "old", "billing"}),
    (address.Address, "type", "address-type", {"postal", "physical", "both"}),
    (narrative.Narrative, "status", "narrative-status",
     {"generated", "extensions", "additional", "empty"}),
]


def resource_class(name):
    """The R4 resource class named `name`, or None (a data type or an unknown name)."""
    if not isinstance(name, str):
        return None
    try:
        instance = fhirelementfactory.FHIRElementFactory.instantiate(name, None)
    except Exception:
        return None
    if isinstance(instance, resource.Resource) and instance.resource_type == name:
        return type(instance)
    return None


def json_rules(value, path, errors):
    """R4 JSON: no null, no empty string, array or object."""
    if value is None:
        errors.append(f"{path}: null is not allowed in FHIR JSON")
    elif isinstance(value, str) and value == "":
        errors.append(f"{path}: an empty string is not allowed")
    elif isinstance(value, list):
        if not value:
            errors.append(f"{path}: an empty array is not allowed")
        for i, item in enumerate(value):
            json_rules(item, f"{path}[{i}]", errors)
    elif isinstance(value, dict):
        if not value:
            errors.append(f"{path}: an empty object is not allowed")
        for k, v in value.items():
            json_rules(v, f"{path}.{k}", errors)


def primitive_ok(value, typ):
    if typ is bool:
        return isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typ is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ is str:
        return isinstance(value, str)
    return True


def model_rules(obj, data, path, errors):
    """Walks the parsed model beside its JSON: every list item's type, codes, ids, references."""
    if not isinstance(obj, fhirabstractbase.FHIRAbstractBase) or not isinstance(data, dict):
        return
    for cls, attr, value_set, codes in REQUIRED_CODES:
        if isinstance(obj, cls):
            v = getattr(obj, attr, None)
            for code in (v if isinstance(v, list) else [v]):
                if code is not None and code not in codes:
                    errors.append(f"{path}.{attr}: {code!r} is not in the R4 value set {value_set}")
    if isinstance(obj, resource.Resource) and obj.id is not None and not ID.fullmatch(obj.id):
        errors.append(f"{path}.id: {obj.id!r} is not an R4 id ([A-Za-z0-9-.]{{1,64}})")
    if type(obj).__name__ == "FHIRReference" and isinstance(obj.reference, str):
        ref = obj.reference
        if not (ref.startswith("#") or re.match(r"^(https?|urn):", ref)):
            parts = ref.split("/")
            if len(parts) < 2 or resource_class(parts[-2]) is None or not ID.fullmatch(parts[-1]):
                errors.append(f"{path}.reference: {ref!r} is not a reference Type/id")
    if isinstance(obj, capabilitystatement.CapabilityStatementRestResource):
        if obj.type is not None and resource_class(obj.type) is None:
            errors.append(f"{path}.type: {obj.type!r} is not an R4 resource type")
    if isinstance(obj, bundle.Bundle) and isinstance(obj.total, int) and obj.total < 0:
        errors.append(f"{path}.total: must not be negative (unsignedInt)")
    for name, jsname, typ, is_list, _of_many, _required in obj.elementProperties():
        raw = data.get(jsname)
        if raw is None:
            continue
        items = raw if is_list and isinstance(raw, list) else [raw]
        parsed = getattr(obj, name, None)
        parsed_items = parsed if isinstance(parsed, list) else [parsed]
        for i, item in enumerate(items):
            where = f"{path}.{jsname}" + (f"[{i}]" if is_list else "")
            if typ in (bool, int, float, str):
                if not primitive_ok(item, typ):
                    errors.append(f"{where}: {item!r} is not of the R4 type of {jsname} "
                                  f"({typ.__name__})")
            elif i < len(parsed_items):
                model_rules(parsed_items[i], item, where, errors)


def flatten(error, path):
    """The leaf messages of the model's nested errors, each with its element path."""
    if isinstance(error, fhirabstractbase.FHIRValidationError):
        if error.path:
            path = f"{path}.{error.path}"
        return [m for e in error.errors for m in flatten(e, path)]
    text = str(error).strip("'\"")
    text = re.sub(r"<(?:class )?'?fhirclient\.models\.[a-z_]+\.(\w+)'?(?: object at 0x[0-9a-f]+)?>",
                  r"\1", text)
    return [f"{path}: {text}"]


def validate(doc, label):
    """The errors of one document, each naming where."""
    errors = []
    if not isinstance(doc, dict):
        return [f"{label}: a FHIR resource is a JSON object"]
    rt = doc.get("resourceType")
    cls = resource_class(rt)
    name = f"{label} ({rt}/{doc.get('id', '-')})"
    if cls is None:
        return [f"{name}: resourceType {rt!r} is not an R4 resource"]
    json_rules(doc, rt, errors)
    try:
        parsed = cls(doc, strict=True)
    except fhirabstractbase.FHIRValidationError as e:
        errors.extend(flatten(e, rt))
        return [f"{name}: {m}" for m in errors]
    except Exception as e:  # the model raises plain exceptions on some malformed values
        errors.append(f"{rt}: {e}")
        return [f"{name}: {m}" for m in errors]
    model_rules(parsed, doc, rt, errors)
    return [f"{name}: {m}" for m in errors]


def main():
    label = sys.argv[1] if len(sys.argv) > 1 else "stdin"
    try:
        doc = json.load(sys.stdin)
    except ValueError as e:
        print(f"fhir-validate: {label}: not JSON: {e}", file=sys.stderr)
        return 2
    docs = doc if isinstance(doc, list) else [doc]
    errors = []
    for i, d in enumerate(docs):
        errors.extend(validate(d, f"{label}[{i}]" if isinstance(doc, list) else label))
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"fhir-validate: {len(errors)} error(s) in {len(docs)} document(s)", file=sys.stderr)
        return 1
    print(f"fhir-validate: {len(docs)} document(s) valid FHIR R4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
