"""What the local API server serves: the resource registry, the built-in kinds' validation and defaulting,
CRDs and their structural schemas, ObjectMeta coercion. It never imports the HTTP layer.
"""
