"""The local stack: emulated AWS (moto), resources from template.yaml, the real handlers."""
