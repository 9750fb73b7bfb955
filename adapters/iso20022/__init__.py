"""ISO 20022 message schemas: the official XSDs we generate and read against (``xsd/``, pinned by
SHA-256 in ``xsd/SOURCES.md``) and ``schemas.validate`` that picks one by the root namespace."""
