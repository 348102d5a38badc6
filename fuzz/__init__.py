"""`make fuzz`: schemathesis against the local stack from docs/openapi.json (docs/fuzzing.md)."""
