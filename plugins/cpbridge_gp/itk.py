"""The NHS ITK (2.x) distribution envelope: ``itk:DistributionEnvelope`` around one payload.

::

    <itk:DistributionEnvelope xmlns:itk="urn:nhs-itk:ns:201005">
      <itk:header service="..." trackingid="...">
        <itk:addresslist>...</itk:addresslist>
        <itk:auditIdentity>...</itk:auditIdentity>
        <itk:manifest count="1"><itk:manifestitem id="P1" mimetype="text/xml" .../></itk:manifest>
      </itk:header>
      <itk:payloads count="1"><itk:payload id="P1"><Bundle xmlns="http://hl7.org/fhir">...</Bundle></itk:payload></itk:payloads>
    </itk:DistributionEnvelope>

Only plain XML payloads are accepted (not base64, compressed or encrypted), one
per envelope, and every envelope needs a ``trackingid``: the mapping uses it as
the message id, so a resent envelope is recognised and not applied twice.
"""

from __future__ import annotations

from lxml import etree

from cpbridge import Fault

ITK_NS = "urn:nhs-itk:ns:201005"
_I = f"{{{ITK_NS}}}"


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str)]


def unwrap_distribution_envelope(root: etree._Element) -> etree._Element | None:
    """The payload element of an ITK distribution envelope, or ``None`` if ``root`` is not one.

    The payload stays attached to the envelope (XPath ``ancestor::itk:DistributionEnvelope``
    reaches the header). A malformed envelope is an ``InvalidRequest`` fault naming the problem.
    """
    if root.tag != f"{_I}DistributionEnvelope":
        return None
    header = root.find(f"{_I}header")
    if header is None:
        raise Fault("InvalidRequest", "ITK distribution envelope has no itk:header", field="header")
    if not (header.get("trackingid") or "").strip():
        raise Fault("InvalidRequest", "ITK distribution envelope header has no trackingid", field="header.trackingid")
    payloads = root.findall(f"{_I}payloads/{_I}payload")
    if len(payloads) != 1:
        raise Fault(
            "InvalidRequest",
            f"ITK distribution envelope must carry exactly one payload for this adapter, not {len(payloads)}",
            field="payloads",
        )
    payload = payloads[0]
    items = {item.get("id"): item for item in header.findall(f"{_I}manifest/{_I}manifestitem")}
    item = items.get(payload.get("id"))
    if item is None:
        raise Fault(
            "InvalidRequest",
            f"ITK payload {payload.get('id')!r} is not listed in the header's manifest",
            field="header.manifest",
        )
    for flag in ("base64", "compressed", "encrypted"):
        if (item.get(flag) or "false").strip().lower() == "true":
            raise Fault("InvalidRequest", f"ITK payload {payload.get('id')!r} is {flag}; only plain XML payloads are accepted", field=f"header.manifest.{flag}")
    body = _elements(payload)
    if len(body) != 1:
        raise Fault("InvalidRequest", f"ITK payload must hold one XML element, not {len(body)}", field="payloads.payload")
    return body[0]
