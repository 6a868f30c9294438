"""The HTTP face of the local API server: routing, bodies and content types, tables and printers,
discovery and OpenAPI, protobuf, watch streams. It serves the storage and schema layers and owns no state.
"""
