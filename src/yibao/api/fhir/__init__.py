"""The HL7 FHIR R4 edge (``/fhir``): routes, resource builders, request shapes."""
