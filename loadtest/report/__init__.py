"""The validation report as a typed model: built once, parsed once at the edge, passed inward typed."""
